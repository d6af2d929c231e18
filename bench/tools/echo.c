// echo: the bench's server for the new-connection-rate cell. One epoll thread per CPU (SO_REUSEPORT)
// accepts and echoes every byte back until the peer closes; it never closes first, so connrate's
// client side does the active close. Built by bench/run.ts with cc; runs in the server pods.
// Usage: echo PORT

#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int port;

static int listener(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { perror("socket"); exit(1); }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = { htonl(INADDR_ANY) } };
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("bind"); exit(1); }
  if (listen(fd, 4096) != 0) { perror("listen"); exit(1); }
  return fd;
}

static void *serve(void *arg) {
  (void)arg;
  int lfd = listener();
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  struct epoll_event evs[256];
  char buf[65536];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); exit(1); }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          int one = 1;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event ce = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = c };
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
        }
        continue;
      }
      for (;;) {
        ssize_t k = read(fd, buf, sizeof buf);
        if (k > 0) {
          /* replies are small (the request size); a short write of a 1 KB reply does not happen on
             an empty socket buffer, and if it did the rest is written blocking-style by retrying */
          ssize_t off = 0;
          while (off < k) {
            ssize_t w = write(fd, buf + off, (size_t)(k - off));
            if (w < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (w <= 0) break;
            off += w;
          }
          continue;
        }
        if (k < 0 && (errno == EAGAIN || errno == EINTR)) break;
        close(fd); /* EOF or error: the peer closed first */
        break;
      }
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 2 || (port = atoi(argv[1])) <= 0 || port > 65535) {
    fprintf(stderr, "usage: echo PORT\n");
    return 2;
  }
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1) cpus = 1;
  if (cpus > 8) cpus = 8;
  pthread_t t[8];
  for (long i = 1; i < cpus; i++) pthread_create(&t[i], NULL, serve, NULL);
  serve(NULL);
  return 0;
}
