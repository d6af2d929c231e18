/* nodemesh tc_steer: TCX ingress program on every interface of a node's network namespace.
 * Packets of sockets that already live in the node (the proxy's) are assigned to them; a pure SYN
 * from an enrolled pod is assigned to the outbound listener, one to an enrolled pod to the inbound
 * listener (or, for its port 15008, to the HBONE tunnel listener). Everything else passes (fail open), except an enrolled SYN with no listener (fail closed). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "shared.h"

/* Macros that BTF (vmlinux.h) cannot carry. */
#define TC_ACT_UNSPEC (-1) /* under TCX: TCX_NEXT, the next program (another CNI's) decides */
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define ETH_P_IP 0x0800
#define IP_OFFSET_MASK 0x1fff
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10
#define TCP_FLAGS_BYTE 13 /* offset of the flags byte in the TCP header */
/* Bytes the program reads: Ethernet, IPv4 with the longest options, the fixed TCP header. */
#define MAX_HDR_LEN (sizeof(struct ethhdr) + 60 + sizeof(struct tcphdr))

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MESH_MAX_WORKLOADS);
	__type(key, __u32); /* pod IPv4, network byte order */
	__type(value, struct mesh_workload);
} mesh_workloads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MESH_MAX_LOCAL_ADDRS);
	__type(key, __u32); /* node-local IPv4, network byte order */
	__type(value, struct mesh_local_addr);
} mesh_local_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MESH_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} mesh_counters SEC(".maps");

enum parse_result { PARSE_TCP, PARSE_NOT_TCP, PARSE_MALFORMED };

/* The parts of an IPv4 TCP packet the decision needs. */
struct flow {
	struct bpf_sock_tuple tuple; /* ipv4 member: addresses and ports in network byte order */
	bool pure_syn;               /* SYN set, ACK clear: the only packet that may open a steered flow */
};

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&mesh_counters, &idx);

	if (v)
		*v += 1; /* per-CPU slot: no atomics needed */
}

/* Not ours: let the next program in the TCX chain, or the stack, have it. */
static __always_inline int pass(__u32 idx)
{
	count(idx);
	return TC_ACT_UNSPEC;
}

/* Assigned to a proxy socket: final, no later program may redirect it. */
static __always_inline int assigned(__u32 idx)
{
	count(idx);
	return TC_ACT_OK;
}

/* Parses eth/IPv4/TCP with bounds checks into f. Pulls non-linear headers in first. */
static __always_inline enum parse_result parse(struct __sk_buff *skb, struct flow *f)
{
	__u32 want = skb->len < MAX_HDR_LEN ? skb->len : MAX_HDR_LEN;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;

	if (data + want > end) {
		bpf_skb_pull_data(skb, want); /* on failure the bounds checks below decide */
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
	}

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return PARSE_MALFORMED;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return PARSE_NOT_TCP;

	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return PARSE_MALFORMED;
	__u8 ver_ihl = *(__u8 *)ip; /* version in the high nibble, header length in 32-bit words low */
	__u32 ihl = (ver_ihl & 0x0f) * 4;
	if ((ver_ihl >> 4) != 4 || ihl < sizeof(struct iphdr))
		return PARSE_MALFORMED;
	if (ip->protocol != IPPROTO_TCP)
		return PARSE_NOT_TCP;
	if (ip->frag_off & bpf_htons(IP_OFFSET_MASK))
		return PARSE_NOT_TCP; /* a later fragment carries no TCP header */

	struct tcphdr *th = (void *)ip + ihl;
	if ((void *)(th + 1) > end)
		return PARSE_MALFORMED;
	__u8 flags = ((__u8 *)th)[TCP_FLAGS_BYTE];

	f->tuple.ipv4.saddr = ip->saddr;
	f->tuple.ipv4.daddr = ip->daddr;
	f->tuple.ipv4.sport = th->source;
	f->tuple.ipv4.dport = th->dest;
	f->pure_syn = (flags & TCP_FLAG_SYN) && !(flags & TCP_FLAG_ACK);
	return PARSE_TCP;
}

static __always_inline struct bpf_sock *lookup(struct __sk_buff *skb, struct bpf_sock_tuple *t)
{
	return bpf_skc_lookup_tcp(skb, t, sizeof(t->ipv4), BPF_F_CURRENT_NETNS, 0);
}

/* Assigns the packet to sk and releases sk; marks it for the local-delivery route on success. */
static __always_inline long assign(struct __sk_buff *skb, struct bpf_sock *sk)
{
	long err = bpf_sk_assign(skb, sk, 0);

	bpf_sk_release(sk);
	if (!err)
		skb->mark = MESH_MARK;
	return err;
}

static __always_inline bool captured(__u32 addr)
{
	struct mesh_workload *wl = bpf_map_lookup_elem(&mesh_workloads, &addr);

	return wl && (wl->flags & MESH_WL_CAPTURE);
}

/* Hands a SYN to the proxy listener on port (host order); no listener drops it (fail closed). */
static __always_inline int steer(struct __sk_buff *skb, struct flow *f, __u16 port, __u32 ok_counter)
{
	struct bpf_sock_tuple t = f->tuple;

	t.ipv4.dport = bpf_htons(port); /* the proxy listens on 0.0.0.0:port */
	struct bpf_sock *sk = lookup(skb, &t);
	if (!sk) {
		count(MESH_CNT_DROP_NO_LISTENER);
		return TC_ACT_SHOT; /* the client retransmits its SYN once the agent listens again */
	}
	if (sk->state != BPF_TCP_LISTEN) {
		bpf_sk_release(sk);
		count(MESH_CNT_DROP_NO_LISTENER);
		return TC_ACT_SHOT;
	}
	if (assign(skb, sk))
		return pass(MESH_CNT_ERR_ASSIGN);
	return assigned(ok_counter);
}

SEC("tc")
int tc_steer(struct __sk_buff *skb)
{
	struct flow f = {};

	switch (parse(skb, &f)) {
	case PARSE_NOT_TCP:
		return pass(MESH_CNT_PASS_NOT_TCP);
	case PARSE_MALFORMED:
		return pass(MESH_CNT_ERR_MALFORMED);
	default:
		break;
	}

	/* A packet of a socket in this namespace (the proxy's accepted or upstream socket, or a
	 * request socket of its listener) goes to that socket. A listener alone decides nothing. */
	struct bpf_sock *sk = lookup(skb, &f.tuple);
	if (sk) {
		if (sk->state != BPF_TCP_LISTEN) {
			if (assign(skb, sk))
				return pass(MESH_CNT_ERR_ASSIGN);
			return assigned(MESH_CNT_ASSIGN_EXISTING);
		}
		bpf_sk_release(sk);
	}

	/* Only a pure SYN opens a steered flow: replies and flows older than enrollment pass. */
	if (!f.pure_syn)
		return pass(MESH_CNT_PASS_NOT_SYN);
	if (bpf_map_lookup_elem(&mesh_local_addrs, &f.tuple.ipv4.daddr))
		return pass(MESH_CNT_PASS_LOCAL);
	if (captured(f.tuple.ipv4.saddr))
		return steer(skb, &f, MESH_PORT_OUTBOUND, MESH_CNT_STEER_OUTBOUND);
	if (captured(f.tuple.ipv4.daddr)) {
		/* A peer node proxy (or ztunnel) dials <pod IP>:15008 for an HBONE tunnel. */
		if (f.tuple.ipv4.dport == bpf_htons(MESH_PORT_TUNNEL))
			return steer(skb, &f, MESH_PORT_TUNNEL, MESH_CNT_STEER_TUNNEL);
		return steer(skb, &f, MESH_PORT_INBOUND, MESH_CNT_STEER_INBOUND);
	}
	return pass(MESH_CNT_PASS_NOT_ENROLLED);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
