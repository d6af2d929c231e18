/* BPF_PROG_RUN test of tc_steer's steer/pass decisions. Runs in a fresh network namespace of its
 * own (only `lo`), loads build/bpf/tc_steer.bpf.o without pinning, seeds the maps, feeds crafted
 * Ethernet/IPv4/TCP packets and checks the verdict, skb->mark and the exact counter deltas.
 * Usage: tc_steer_test OBJECT.o (root). Prints "N passed, M failed"; exits 1 on any failure. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "shared.h"

static const char *counter_names[MESH_CNT_MAX] = {
	"steer_outbound", "steer_inbound",  "assign_existing", "pass_not_tcp",  "pass_not_enrolled",
	"pass_local",     "pass_not_syn",   "drop_no_listener", "err_assign",   "err_malformed",
	"steer_tunnel",
};

static int prog_fd, workloads_fd, local_fd, counters_fd, ncpus;
static int passed, failed;
static int listen_fds[3] = {-1, -1, -1};

/* Addresses used by the cases (host order, converted on use). */
#define POD_A 0x0ac8010a   /* 10.200.1.10, enrolled */
#define POD_B 0x0ac8010b   /* 10.200.1.11, enrolled without the capture flag */
#define POD_C 0x0ac8010c   /* 10.200.1.12, enrolled */
#define POD_X 0x0ac8020a   /* 10.200.2.10, not enrolled */
#define POD_Y 0x0ac8020b   /* 10.200.2.11, not enrolled */
#define NODE_GW 0x0ac80101 /* 10.200.1.1, node-local */
#define LOOPBACK 0x7f000001

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "tc_steer_test: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, ap);
}

/* ---- environment: own netns, lo up, transparent listeners ---- */

static void enter_private_netns(void)
{
	if (unshare(CLONE_NEWNET))
		die("unshare(CLONE_NEWNET): %s (run as root)", strerror(errno));
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};

	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) || (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr)))
		die("bringing lo up: %s", strerror(errno));
	close(s);
}

static int tcp_listen(__u32 addr, int port, bool transparent)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(addr)};

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		die("socket: %s", strerror(errno));
	if (transparent && setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)))
		die("IP_TRANSPARENT: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16))
		die("listen on port %d: %s", port, strerror(errno));
	return fd;
}

static void proxy_listeners(bool up)
{
	for (int i = 0; i < 3; i++) {
		if (listen_fds[i] >= 0)
			close(listen_fds[i]);
		listen_fds[i] = -1;
	}
	if (up) {
		listen_fds[0] = tcp_listen(INADDR_ANY, MESH_PORT_OUTBOUND, true);
		listen_fds[1] = tcp_listen(INADDR_ANY, MESH_PORT_INBOUND, true);
		listen_fds[2] = tcp_listen(INADDR_ANY, MESH_PORT_TUNNEL, true);
	}
}

/* ---- maps ---- */

static void set_workload(__u32 ip, __u32 index, __u32 flags)
{
	__u32 key = htonl(ip);
	struct mesh_workload wl = {.index = index, .flags = flags};

	if (bpf_map_update_elem(workloads_fd, &key, &wl, BPF_ANY))
		die("seeding mesh_workloads: %s", strerror(errno));
}

static void set_local(__u32 ip)
{
	__u32 key = htonl(ip);
	struct mesh_local_addr v = {0};

	if (bpf_map_update_elem(local_fd, &key, &v, BPF_ANY))
		die("seeding mesh_local_addrs: %s", strerror(errno));
}

static void read_counters(__u64 out[MESH_CNT_MAX])
{
	__u64 vals[ncpus];

	for (__u32 i = 0; i < MESH_CNT_MAX; i++) {
		if (bpf_map_lookup_elem(counters_fd, &i, vals))
			die("reading mesh_counters[%u]: %s", i, strerror(errno));
		out[i] = 0;
		for (int c = 0; c < ncpus; c++)
			out[i] += vals[c];
	}
}

/* ---- packets ---- */

struct pkt {
	__u32 saddr, daddr; /* host order */
	__u16 sport, dport;
	__u8 proto;     /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 tcp_flags; /* TCP_FLAG_* bits of the flags byte */
	__u16 ethertype;
	__u16 frag_off; /* host order, IP_OFFSET bits */
	int ip_opt_words;
	int truncate_to; /* 0: full length */
	int bad_ihl;     /* nonzero: write this IHL instead of the real one */
};

#define F_SYN 0x02
#define F_ACK 0x10

static __u16 ip_csum(const void *hdr, int len)
{
	const __u16 *p = hdr;
	__u32 sum = 0;

	for (; len > 1; len -= 2)
		sum += *p++;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static int build(const struct pkt *p, unsigned char *buf, size_t cap)
{
	struct ethhdr *eth = (void *)buf;
	struct iphdr *ip = (void *)(eth + 1);
	int iphl = 20 + 4 * p->ip_opt_words;
	int l4len = p->proto == IPPROTO_UDP ? (int)sizeof(struct udphdr) : (int)sizeof(struct tcphdr);
	int len = sizeof(*eth) + iphl + l4len;

	if ((size_t)len > cap)
		die("packet buffer too small");
	memset(buf, 0, len);
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	eth->h_proto = htons(p->ethertype ? p->ethertype : ETH_P_IP);
	ip->version = 4;
	ip->ihl = iphl / 4;
	ip->ttl = 64;
	ip->protocol = p->proto ? p->proto : IPPROTO_TCP;
	ip->tot_len = htons(iphl + l4len);
	ip->frag_off = htons(p->frag_off);
	ip->saddr = htonl(p->saddr);
	ip->daddr = htonl(p->daddr);
	memset((unsigned char *)ip + 20, 1, iphl - 20); /* NOP options */
	if (p->bad_ihl)
		ip->ihl = p->bad_ihl;
	ip->check = ip_csum(ip, iphl);
	if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *uh = (void *)((unsigned char *)ip + iphl);

		uh->source = htons(p->sport);
		uh->dest = htons(p->dport);
		uh->len = htons(l4len);
	} else {
		struct tcphdr *th = (void *)((unsigned char *)ip + iphl);

		th->source = htons(p->sport);
		th->dest = htons(p->dport);
		th->seq = htonl(1000);
		th->doff = 5;
		((unsigned char *)th)[13] = p->tcp_flags;
		th->window = htons(65535);
	}
	return p->truncate_to ? p->truncate_to : len;
}

/* ---- one case ---- */

struct expect {
	int retval;  /* TC_ACT_* */
	int counter; /* the one counter that must grow by exactly 1; all others stay */
	bool marked; /* skb->mark must be MESH_MARK afterwards */
};

static void check(const char *name, const struct pkt *p, struct expect e)
{
	unsigned char buf[256];
	int len = build(p, buf, sizeof(buf));
	struct __sk_buff ctx_in = {0}, ctx_out = {0};
	__u64 before[MESH_CNT_MAX], after[MESH_CNT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = buf, .data_size_in = len, .ctx_in = &ctx_in,
		    .ctx_size_in = sizeof(ctx_in), .ctx_out = &ctx_out, .ctx_size_out = sizeof(ctx_out),
		    .repeat = 1);
	char why[512] = "";
	int n = 0;

	read_counters(before);
	if (bpf_prog_test_run_opts(prog_fd, &opts)) {
		n += snprintf(why + n, sizeof(why) - n, " BPF_PROG_RUN failed: %s;", strerror(errno));
	} else {
		read_counters(after);
		if ((int)opts.retval != e.retval)
			n += snprintf(why + n, sizeof(why) - n, " verdict %d, want %d;", opts.retval, e.retval);
		for (int i = 0; i < MESH_CNT_MAX; i++) {
			__u64 want = i == e.counter ? 1 : 0, got = after[i] - before[i];

			if (got != want)
				n += snprintf(why + n, sizeof(why) - n, " %s +%llu, want +%llu;", counter_names[i],
					      (unsigned long long)got, (unsigned long long)want);
		}
		if (e.marked != (ctx_out.mark == MESH_MARK))
			n += snprintf(why + n, sizeof(why) - n, " mark 0x%x, want %s;", ctx_out.mark,
				      e.marked ? "MESH_MARK" : "untouched");
	}
	if (n) {
		failed++;
		printf("FAIL %s:%s\n", name, why);
	} else {
		passed++;
		printf("ok   %s\n", name);
	}
}

/*
 * What BPF_PROG_RUN can and cannot show (kernel 6.18): a test skb is never "at tc ingress"
 * (skb->tc_at_ingress stays 0), so bpf_sk_assign() returns -EOPNOTSUPP for every socket. A steered
 * SYN or a packet of an existing socket therefore ends in err_assign with verdict OK and no mark
 * here; on a real TCX ingress hook the same path counts steer_* / assign_existing and marks. What
 * the test does prove is that the right socket was found: with only one proxy listener up, a SYN
 * for the other direction is dropped (drop_no_listener) while its own direction reaches the assign.
 * Real steering (counters and mark) is exercised by the netns end-to-end tier.
 */
static const struct expect ASSIGN_TRIED = {TC_ACT_UNSPEC, MESH_CNT_ERR_ASSIGN, false};
static const struct expect NO_LISTENER = {TC_ACT_SHOT, MESH_CNT_DROP_NO_LISTENER, false};
#define PASSED(cnt) ((struct expect){TC_ACT_UNSPEC, (cnt), false})

/* A real established connection inside the namespace: packets of its tuple must be assigned. */
static void case_existing_socket(void)
{
	int srv = tcp_listen(LOOPBACK, 8080, false), cli = socket(AF_INET, SOCK_STREAM, 0), acc;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(8080), .sin_addr.s_addr = htonl(LOOPBACK)};
	socklen_t sl = sizeof(sa);

	if (cli < 0 || connect(cli, (struct sockaddr *)&sa, sizeof(sa)) || (acc = accept(srv, NULL, NULL)) < 0)
		die("loopback connection: %s", strerror(errno));
	if (getsockname(cli, (struct sockaddr *)&sa, &sl))
		die("getsockname: %s", strerror(errno));
	__u16 cport = ntohs(sa.sin_port);

	check("ACK of an established socket in the node reaches its assign",
	      &(struct pkt){.saddr = LOOPBACK, .daddr = LOOPBACK, .sport = cport, .dport = 8080, .tcp_flags = F_ACK},
	      ASSIGN_TRIED); /* would be assign_existing + mark at real ingress */
	check("SYN to a non-proxy listener only is not steered (listener alone decides nothing)",
	      &(struct pkt){.saddr = LOOPBACK, .daddr = LOOPBACK, .sport = 40999, .dport = 8080, .tcp_flags = F_SYN},
	      PASSED(MESH_CNT_PASS_NOT_ENROLLED));
	close(acc);
	close(cli);
	close(srv);
}

int main(int argc, char **argv)
{
	const char *obj_path = argc > 1 ? argv[1] : "build/bpf/tc_steer.bpf.o";

	libbpf_set_print(libbpf_print);
	enter_private_netns();

	struct bpf_object *obj = bpf_object__open_file(obj_path, NULL);
	if (!obj)
		die("opening %s: %s (run scripts/build-bpf.sh)", obj_path, strerror(errno));
	if (bpf_object__load(obj))
		die("loading %s: %s (verifier log above)", obj_path, strerror(errno));
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "tc_steer");
	struct bpf_map *wl = bpf_object__find_map_by_name(obj, "mesh_workloads");
	struct bpf_map *la = bpf_object__find_map_by_name(obj, "mesh_local_addrs");
	struct bpf_map *cn = bpf_object__find_map_by_name(obj, "mesh_counters");
	if (!prog || !wl || !la || !cn)
		die("object lacks tc_steer or one of the mesh_* maps");
	prog_fd = bpf_program__fd(prog);
	workloads_fd = bpf_map__fd(wl);
	local_fd = bpf_map__fd(la);
	counters_fd = bpf_map__fd(cn);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		die("libbpf_num_possible_cpus: %d", ncpus);

	set_workload(POD_A, 1, MESH_WL_CAPTURE);
	set_workload(POD_B, 2, 0);
	set_workload(POD_C, 3, MESH_WL_CAPTURE);
	set_local(NODE_GW);
	proxy_listeners(true);

	check("SYN from an enrolled pod reaches the outbound listener (assign)",
	      &(struct pkt){.saddr = POD_A, .daddr = POD_X, .sport = 40000, .dport = 80, .tcp_flags = F_SYN},
	      ASSIGN_TRIED);
	check("SYN to an enrolled pod reaches the inbound listener (assign)",
	      &(struct pkt){.saddr = POD_X, .daddr = POD_A, .sport = 40001, .dport = 80, .tcp_flags = F_SYN},
	      ASSIGN_TRIED);
	check("SYN with IP options from an enrolled pod reaches the listener (assign)",
	      &(struct pkt){.saddr = POD_A, .daddr = POD_X, .sport = 40002, .dport = 80, .tcp_flags = F_SYN,
			    .ip_opt_words = 2},
	      ASSIGN_TRIED);
	check("SYN between two pods that are not enrolled passes",
	      &(struct pkt){.saddr = POD_X, .daddr = POD_Y, .sport = 40003, .dport = 80, .tcp_flags = F_SYN},
	      PASSED(MESH_CNT_PASS_NOT_ENROLLED));
	check("SYN of a pod enrolled without the capture flag passes",
	      &(struct pkt){.saddr = POD_B, .daddr = POD_X, .sport = 40004, .dport = 80, .tcp_flags = F_SYN},
	      PASSED(MESH_CNT_PASS_NOT_ENROLLED));
	check("SYN from an enrolled pod to a node-local address passes",
	      &(struct pkt){.saddr = POD_A, .daddr = NODE_GW, .sport = 40005, .dport = 15001, .tcp_flags = F_SYN},
	      PASSED(MESH_CNT_PASS_LOCAL));
	check("ACK with no socket in the node passes (fail open)",
	      &(struct pkt){.saddr = POD_A, .daddr = POD_X, .sport = 40006, .dport = 80, .tcp_flags = F_ACK},
	      PASSED(MESH_CNT_PASS_NOT_SYN));
	check("SYN-ACK to an enrolled pod passes (never steer replies)",
	      &(struct pkt){.saddr = POD_X, .daddr = POD_A, .sport = 80, .dport = 40007, .tcp_flags = F_SYN | F_ACK},
	      PASSED(MESH_CNT_PASS_NOT_SYN));
	check("UDP from an enrolled pod passes",
	      &(struct pkt){.saddr = POD_A, .daddr = POD_X, .sport = 40008, .dport = 53, .proto = IPPROTO_UDP},
	      PASSED(MESH_CNT_PASS_NOT_TCP));
	check("IPv6 ethertype passes",
	      &(struct pkt){.saddr = POD_A, .daddr = POD_X, .sport = 40009, .dport = 80, .tcp_flags = F_SYN,
			    .ethertype = ETH_P_IPV6},
	      PASSED(MESH_CNT_PASS_NOT_TCP));
	check("later IP fragment passes (no TCP header in it)",
	      &(struct pkt){.saddr = POD_A, .daddr = POD_X, .sport = 40010, .dport = 80, .tcp_flags = F_SYN,
			    .frag_off = 100},
	      PASSED(MESH_CNT_PASS_NOT_TCP));
	/* BPF_PROG_RUN itself refuses an IPv4 frame shorter than Ethernet + 20 bytes (EINVAL), so
	 * the header-length checks are exercised with frames that reach the program. */
	check("IPv4 header length beyond the frame passes and counts malformed",
	      &(struct pkt){.saddr = POD_A, .daddr = POD_X, .sport = 40011, .dport = 80, .tcp_flags = F_SYN,
			    .ip_opt_words = 10, .truncate_to = 14 + 20 + 20},
	      PASSED(MESH_CNT_ERR_MALFORMED));
	check("IPv4 header length below 20 passes and counts malformed",
	      &(struct pkt){.saddr = POD_A, .daddr = POD_X, .sport = 40016, .dport = 80, .tcp_flags = F_SYN,
			    .bad_ihl = 4},
	      PASSED(MESH_CNT_ERR_MALFORMED));
	check("TCP header cut short passes and counts malformed",
	      &(struct pkt){.saddr = POD_A, .daddr = POD_X, .sport = 40012, .dport = 80, .tcp_flags = F_SYN,
			    .truncate_to = 14 + 20 + 12},
	      PASSED(MESH_CNT_ERR_MALFORMED));
	case_existing_socket();

	/* Which listener each direction looks for: only one of the two is up at a time. */
	proxy_listeners(false);
	listen_fds[0] = tcp_listen(INADDR_ANY, MESH_PORT_OUTBOUND, true);
	check("outbound SYN finds the :15001 listener",
	      &(struct pkt){.saddr = POD_A, .daddr = POD_X, .sport = 40020, .dport = 80, .tcp_flags = F_SYN},
	      ASSIGN_TRIED);
	check("inbound SYN does not use the :15001 listener",
	      &(struct pkt){.saddr = POD_X, .daddr = POD_A, .sport = 40021, .dport = 80, .tcp_flags = F_SYN},
	      NO_LISTENER);
	proxy_listeners(false);
	listen_fds[1] = tcp_listen(INADDR_ANY, MESH_PORT_INBOUND, true);
	check("inbound SYN finds the :15006 listener",
	      &(struct pkt){.saddr = POD_X, .daddr = POD_A, .sport = 40022, .dport = 80, .tcp_flags = F_SYN},
	      ASSIGN_TRIED);
	check("outbound SYN does not use the :15006 listener",
	      &(struct pkt){.saddr = POD_A, .daddr = POD_X, .sport = 40023, .dport = 80, .tcp_flags = F_SYN},
	      NO_LISTENER);
	check("SYN to an enrolled pod's port 15008 does not use the :15006 listener",
	      &(struct pkt){.saddr = POD_X, .daddr = POD_A, .sport = 40025, .dport = MESH_PORT_TUNNEL, .tcp_flags = F_SYN},
	      NO_LISTENER);
	proxy_listeners(false);
	listen_fds[2] = tcp_listen(INADDR_ANY, MESH_PORT_TUNNEL, true);
	check("SYN to an enrolled pod's port 15008 finds the :15008 tunnel listener",
	      &(struct pkt){.saddr = POD_X, .daddr = POD_A, .sport = 40026, .dport = MESH_PORT_TUNNEL, .tcp_flags = F_SYN},
	      ASSIGN_TRIED);
	check("SYN to an enrolled pod's other ports does not use the :15008 listener",
	      &(struct pkt){.saddr = POD_X, .daddr = POD_A, .sport = 40027, .dport = 80, .tcp_flags = F_SYN},
	      NO_LISTENER);
	proxy_listeners(false);
	listen_fds[1] = tcp_listen(INADDR_ANY, MESH_PORT_INBOUND, true);
	check("SYN between two enrolled pods is outbound first (source wins)",
	      &(struct pkt){.saddr = POD_A, .daddr = POD_C, .sport = 40024, .dport = 80, .tcp_flags = F_SYN},
	      NO_LISTENER);

	proxy_listeners(false);
	check("SYN from an enrolled pod with no proxy listener is dropped (fail closed)",
	      &(struct pkt){.saddr = POD_A, .daddr = POD_X, .sport = 40013, .dport = 80, .tcp_flags = F_SYN},
	      (struct expect){TC_ACT_SHOT, MESH_CNT_DROP_NO_LISTENER, false});
	check("SYN to an enrolled pod with no proxy listener is dropped (fail closed)",
	      &(struct pkt){.saddr = POD_X, .daddr = POD_A, .sport = 40014, .dport = 80, .tcp_flags = F_SYN},
	      (struct expect){TC_ACT_SHOT, MESH_CNT_DROP_NO_LISTENER, false});
	check("SYN between pods that are not enrolled still passes with no listener",
	      &(struct pkt){.saddr = POD_X, .daddr = POD_Y, .sport = 40015, .dport = 80, .tcp_flags = F_SYN},
	      PASSED(MESH_CNT_PASS_NOT_ENROLLED));

	bpf_object__close(obj);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
