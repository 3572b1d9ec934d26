/*
** net.c: joining the network namespace of a running process: a pod.
**
**   core.netns_join(pidfd, pid)
**
** setns(pidfd, CLONE_NEWNET) where the kernel takes a pidfd (Linux 5.8);
** before that (EINVAL), /proc/PID/ns/net is opened and then pidfd is asked
** whether its process is still there (pidfd_send_signal with signal 0): a
** pid is not reused while its process exists, so an open that happened
** before a successful check opened that process's namespace, never that
** of a process that got the pid since.  In a spawned child this runs
** before the new root, while /proc is still the host's.  Joining needs
** CAP_SYS_ADMIN over the namespace's owner (its user namespace) and in
** the caller's own user namespace.
**
** The links, addresses and routes are netlink.c's.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lj.h"

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

static void join_decode (ljArgs *A, ljStep *s) {
  s->i[0] = s->usefd = lj_argfd(A, 1);
  s->i[1] = lj_argint(A, 2, 1, INT32_MAX);
}

/* "/proc/PID/ns/net" into buf, without stdio */
static void nspath (char *buf, int64_t pid) {
  char digits[16];
  int n = 0;
  do { digits[n++] = (char)('0' + pid % 10); pid /= 10; } while (pid);
  memcpy(buf, "/proc/", 6);
  buf += 6;
  while (n) *buf++ = digits[--n];
  memcpy(buf, "/ns/net", 8);
}

static int join_apply (const ljStep *s, ljCtx *c) {
  char path[40];
  int pidfd = (int)s->i[0], fd, err = 0;
  (void)c;
  if (setns(pidfd, CLONE_NEWNET) == 0) return 0;
  if (errno != EINVAL) return errno;     /* EINVAL: no pidfd setns (< 5.8) */
  nspath(path, s->i[1]);
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return errno;
  if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) != 0) err = errno;
  else if (setns(fd, CLONE_NEWNET) != 0) err = errno;
  close(fd);
  return err;
}

static void join_describe (const ljStep *s, ljBuf *b) {
  lj_bufadd(b, "pidfd ");
  lj_bufaddint(b, s->i[0]);
  lj_bufadd(b, ", pid ");
  lj_bufaddint(b, s->i[1]);
}

static const ljOp op_netns_join = {
  "netns_join", "pidfd,pid", LJ_PARENT(join_decode), join_apply, LJ_PARENT(join_describe), 0
};

const ljOp *const lj_ops_net[] = { &op_netns_join, NULL };
