// connrate: the bench's new-connection-rate client. P threads each loop for T seconds: connect,
// send an N-byte request, read an N-byte reply, close; it prints one JSON line with connections/s
// and the connection-time percentiles (connect() start to close, µs). Built by bench/run.ts with cc.
// Usage: connrate -c IP -p PORT [-t SECONDS] [-P PARALLEL] [-s BYTES]

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct worker {
  pthread_t thread;
  uint32_t *times_us; /* one per finished connection */
  size_t n, cap;
  uint64_t errors;
  int first_errno;
  const char *first_step;
};

static struct sockaddr_in target;
static size_t msg_size = 1024;
static volatile int stop_flag;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fail(struct worker *w, const char *step) {
  if (w->errors++ == 0) {
    w->first_errno = errno;
    w->first_step = step;
  }
}

/* one connection; 0 on success */
static int one(struct worker *w, char *buf) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) { fail(w, "socket"); return -1; }
  int one_ = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one_, sizeof one_);
  if (connect(fd, (struct sockaddr *)&target, sizeof target) != 0) { fail(w, "connect"); close(fd); return -1; }
  size_t off = 0;
  while (off < msg_size) {
    ssize_t k = send(fd, buf + off, msg_size - off, MSG_NOSIGNAL);
    if (k <= 0) { if (k < 0 && errno == EINTR) continue; fail(w, "send"); close(fd); return -1; }
    off += (size_t)k;
  }
  off = 0;
  while (off < msg_size) {
    ssize_t k = recv(fd, buf + off, msg_size - off, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) { if (k == 0) errno = ECONNRESET; fail(w, k == 0 ? "recv (early EOF)" : "recv"); close(fd); return -1; }
    off += (size_t)k;
  }
  close(fd);
  return 0;
}

static void *run(void *arg) {
  struct worker *w = arg;
  char *buf = malloc(msg_size);
  if (!buf) return NULL;
  memset(buf, 'x', msg_size);
  while (!stop_flag) {
    uint64_t t0 = now_ns();
    if (one(w, buf) != 0) { usleep(1000); continue; }
    uint64_t us = (now_ns() - t0) / 1000;
    if (w->n == w->cap) {
      size_t cap = w->cap ? w->cap * 2 : 65536;
      uint32_t *p = realloc(w->times_us, cap * sizeof *p);
      if (!p) break;
      w->times_us = p;
      w->cap = cap;
    }
    w->times_us[w->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
  }
  free(buf);
  return NULL;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static double pct(const uint32_t *v, size_t n, double p) {
  if (n == 0) return 0;
  size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
  return v[i < n ? i : n - 1];
}

static void usage(void) {
  fprintf(stderr, "usage: connrate -c IP -p PORT [-t SECONDS] [-P PARALLEL] [-s BYTES]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *ip = NULL;
  int port = 0, seconds = 5, parallel = 16, opt;
  while ((opt = getopt(argc, argv, "c:p:t:P:s:")) != -1) {
    switch (opt) {
      case 'c': ip = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 't': seconds = atoi(optarg); break;
      case 'P': parallel = atoi(optarg); break;
      case 's': msg_size = (size_t)atol(optarg); break;
      default: usage();
    }
  }
  if (!ip || port <= 0 || port > 65535 || seconds <= 0 || parallel <= 0 || parallel > 1024 || msg_size == 0 || msg_size > (1u << 20)) usage();
  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, ip, &target.sin_addr) != 1) usage();

  struct worker *ws = calloc((size_t)parallel, sizeof *ws);
  if (!ws) return 1;
  uint64_t t0 = now_ns();
  for (int i = 0; i < parallel; i++) {
    if (pthread_create(&ws[i].thread, NULL, run, &ws[i]) != 0) { perror("pthread_create"); return 1; }
  }
  struct timespec d = { seconds, 0 };
  while (nanosleep(&d, &d) != 0 && errno == EINTR) {}
  stop_flag = 1;
  for (int i = 0; i < parallel; i++) pthread_join(ws[i].thread, NULL);
  double wall = (double)(now_ns() - t0) / 1e9;

  size_t total = 0;
  uint64_t errors = 0;
  const struct worker *first = NULL;
  for (int i = 0; i < parallel; i++) {
    total += ws[i].n;
    errors += ws[i].errors;
    if (!first && ws[i].errors) first = &ws[i];
  }
  uint32_t *all = malloc((total ? total : 1) * sizeof *all);
  if (!all) return 1;
  size_t k = 0;
  for (int i = 0; i < parallel; i++) {
    memcpy(all + k, ws[i].times_us, ws[i].n * sizeof *all);
    k += ws[i].n;
  }
  qsort(all, total, sizeof *all, cmp_u32);
  printf("{\"connections\":%zu,\"errors\":%llu,\"seconds\":%.3f,\"parallel\":%d,\"msg_size\":%zu,"
         "\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f,\"p999_us\":%.0f,\"max_us\":%.0f",
         total, (unsigned long long)errors, wall, parallel, msg_size,
         pct(all, total, 50), pct(all, total, 90), pct(all, total, 99), pct(all, total, 99.9), total ? (double)all[total - 1] : 0.0);
  if (first) printf(",\"first_error\":\"%s: %s\"", first->first_step, strerror(first->first_errno));
  printf("}\n");
  return total > 0 ? 0 : 1;
}
