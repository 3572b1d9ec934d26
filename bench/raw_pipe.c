/*
** bench/raw_pipe.c: the plain-pipe baseline of bench/stdio.lua.
**   raw_pipe MB KB [-fd FD PATH]... ARGV...
**                           runs ARGV with its stdin and stdout on pipes
**                           (of KB kilobytes; 0: the kernel's default)
**                           and pumps MB megabytes through it with poll,
**                           discarding the output; prints the seconds.
**                           -fd: PATH opened read-only at fd FD in the
**                           child (bwrap's --seccomp FD).
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main (int argc, char **argv) {
  static char chunk[1 << 20], sink[1 << 20];
  long long total, sent = 0, got = 0;
  int in[2], out[2], status;
  struct timespec t0, t1;
  pid_t pid;
  char **cmd = argv + 3, **fdargs = argv + 3;
  int nfd = 0, i;
  if (argc < 4) {
    fprintf(stderr, "usage: raw_pipe MB KB [-fd FD PATH]... ARGV...\n");
    return 2;
  }
  while (cmd[0] && strcmp(cmd[0], "-fd") == 0 && cmd[1] && cmd[2]) {
    cmd += 3;
    nfd++;
  }
  if (!cmd[0]) { fprintf(stderr, "raw_pipe: no ARGV\n"); return 2; }
  total = atoll(argv[1]) << 20;
  memset(chunk, 'x', sizeof chunk);
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) return 1;
  if (atoi(argv[2]) > 0) {
    fcntl(in[1], F_SETPIPE_SZ, atoi(argv[2]) * 1024);
    fcntl(out[0], F_SETPIPE_SZ, atoi(argv[2]) * 1024);
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if ((pid = fork()) == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    for (i = 0; i < nfd; i++) {
      int want = atoi(fdargs[3 * i + 1]);
      int fd = open(fdargs[3 * i + 2], O_RDONLY | O_CLOEXEC);
      if (fd < 0 || (fd == want ? fcntl(fd, F_SETFD, 0)
                                : dup2(fd, want) - want) != 0) {
        perror(fdargs[3 * i + 2]);
        _exit(127);
      }
    }
    execvp(cmd[0], cmd);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  while (got < total) {
    struct pollfd p[2] = { { out[0], POLLIN, 0 }, { in[1], POLLOUT, 0 } };
    poll(p, sent < total ? 2 : 1, -1);
    if (sent < total && (p[1].revents & POLLOUT)) {
      size_t n = total - sent < (long long)sizeof chunk
                 ? (size_t)(total - sent) : sizeof chunk;
      ssize_t w = write(in[1], chunk, n);
      if (w > 0) sent += w;
      if (sent >= total) close(in[1]);
    }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      ssize_t r;
      while ((r = read(out[0], sink, sizeof sink)) > 0) got += r;
      if (r == 0) break;
    }
  }
  waitpid(pid, &status, 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (got != total) { fprintf(stderr, "got %lld of %lld\n", got, total); return 1; }
  printf("%.4f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  return 0;
}
