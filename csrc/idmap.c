/*
** idmap.c: the user namespace of an idmapped mount.
**
**   lj_idmapns(proc, uid, touid, gid, togid, &fd)   (mount.c's bind)
**
** mount_setattr(2) with MOUNT_ATTR_IDMAP takes a user namespace by fd,
** and reads only its maps: a process "in" it is never needed.  So a
** helper lives for a moment: clone(2) with CLONE_NEWUSER and a pidfd,
** its uid_map "touid uid 1" and gid_map "togid gid 1" written by us (as
** root: CAP_SETUID and CAP_SETGID in the parent namespace), its
** namespace opened, then the helper killed and reaped by its pidfd.  In
** the mount's view the files of touid (on disk) are uid's, and what uid
** creates is stored as touid's.
**
** The helper's pid is read from proc's fdinfo of the pidfd ("Pid:", in
** the pid namespace of that proc): in a sandbox's setup the runner is in
** a pid namespace of its own and clone's answer is in it, while the
** host's proc (proc, e.g. "/oldroot/proc") numbers the host's.  The
** helper is our unreaped child until the end: its pid cannot be reused.
** Async-signal-safe: system calls only (the runner calls it between
** clone and exec; a direct core.bind in the calling process).
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lj.h"

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif


/* {====== Text by hand ======} */

typedef struct Txt { char b[256]; size_t n; } Txt;

static void add (Txt *t, const char *s) {
  while (*s && t->n + 1 < sizeof t->b) t->b[t->n++] = *s++;
  t->b[t->n] = '\0';
}

static void addnum (Txt *t, unsigned long v) {
  char d[24];
  int k = 0;
  do d[k++] = (char)('0' + v % 10); while ((v /= 10) > 0);
  while (k > 0 && t->n + 1 < sizeof t->b) t->b[t->n++] = d[--k];
  t->b[t->n] = '\0';
}

/* proc "/" pid "/" file */
static void procfile (Txt *t, const char *proc, int pid, const char *file) {
  t->n = 0;
  add(t, proc);
  add(t, "/");
  addnum(t, (unsigned long)pid);
  add(t, "/");
  add(t, file);
}

/* }====== */


/* the pid of pidfd in proc's pid namespace, or 0 */
static int procpid (const char *proc, int pidfd) {
  char buf[1024], *p;
  Txt t = { "", 0 };
  ssize_t n;
  int fd, pid = 0;
  add(&t, proc);
  add(&t, "/self/fdinfo/");
  addnum(&t, (unsigned long)pidfd);
  if ((fd = open(t.b, O_RDONLY | O_CLOEXEC)) < 0) return 0;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  for (p = buf; (p = strstr(p, "Pid:")) != NULL; p++)
    if (p == buf || p[-1] == '\n') break;
  if (p == NULL) return 0;
  for (p += 4; *p == ' ' || *p == '\t'; p++) {}
  while (*p >= '0' && *p <= '9') pid = pid * 10 + (*p++ - '0');
  return pid;                      /* "-1" (gone) reads as 0 */
}

/* "inside outside 1\n" into proc/pid/file */
static int writemap (const char *proc, int pid, const char *file,
                     unsigned long inside, unsigned long outside) {
  Txt path, map = { "", 0 };
  int fd, err = 0;
  procfile(&path, proc, pid, file);
  addnum(&map, inside);
  add(&map, " ");
  addnum(&map, outside);
  add(&map, " 1\n");
  if ((fd = open(path.b, O_WRONLY | O_CLOEXEC)) < 0) return errno;
  if (write(fd, map.b, map.n) != (ssize_t)map.n) err = errno ? errno : EIO;
  close(fd);
  return err;
}

/* a child in a new user namespace that waits to be killed; its pid */
static long helper (int *pidfd) {
  struct {                         /* struct clone_args, version 0 */
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
             stack_size, tls;
  } a;
  pid_t parent = getpid();
  long pid;
  memset(&a, 0, sizeof a);
  a.flags = CLONE_NEWUSER | CLONE_PIDFD;
  a.pidfd = (uint64_t)(uintptr_t)pidfd;
  a.exit_signal = 0;               /* no SIGCHLD for the caller */
  pid = syscall(SYS_clone3, &a, sizeof a);
  if (pid < 0 && errno == ENOSYS)
    pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | CLONE_PIDFD),
                  0, pidfd, 0, 0);
  if (pid == 0) {                  /* the helper: nothing but waiting */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    for (;;) pause();
  }
  return pid;
}

int lj_idmapns (const char *proc, unsigned uid, unsigned touid,
                unsigned gid, unsigned togid, int *nsfd) {
  siginfo_t si;
  Txt path;
  int pidfd = -1, pid, err = 0;
  *nsfd = -1;
  if (helper(&pidfd) < 0) return errno;
  if ((pid = procpid(proc, pidfd)) <= 0) err = ENOENT;   /* no proc */
  if (!err) err = writemap(proc, pid, "uid_map", touid, uid);
  if (!err) err = writemap(proc, pid, "gid_map", togid, gid);
  if (!err) {
    procfile(&path, proc, pid, "ns/user");
    if ((*nsfd = open(path.b, O_RDONLY | O_CLOEXEC)) < 0) err = errno;
  }
  syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);  /* or gone */
  while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) != 0
         && errno == EINTR) {}
  close(pidfd);
  if (err && *nsfd >= 0) { close(*nsfd); *nsfd = -1; }
  return err;
}
