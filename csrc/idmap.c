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
**
**   lj_nosetid(tree, uid, gid)   (mount.c's bind, before the mapping)
**
** The kernel clears a file's set-id bits on write(2), truncate and
** chown by a process without CAP_FSETID, but not on a store through a
** shared writable mapping: a set-uid program of the owner's already in
** the tree could be given new code and keep its bit.  So the tree is
** walked first (from the detached clone: what the bind will show, no
** submount, no symlink followed) and refused (EPERM) when it holds a
** regular file with S_ISUID or S_ISGID whose owner is uid or whose
** group is gid, the ids the mapping hands over.  Deeper than MAXDEPTH
** directories is ELOOP: not checked, so not bound.
*/

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
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
  Txt t = { "", 0 };
  int pid;
  add(&t, proc);
  add(&t, "/self/fdinfo/");
  addnum(&t, (unsigned long)pidfd);
  pid = lj_fdinfopid(t.b);
  return pid > 0 ? pid : 0;        /* gone reads as 0 */
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


/* {====== No set-id file of the owner's ======} */

#define MAXDEPTH 256               /* directories deep: an fd each */

typedef struct Dent {              /* getdents64(2)'s record, its head */
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
} Dent;

#define DENTHEAD 19                /* bytes before the name */

static int setidfile (const struct stat *st, unsigned uid, unsigned gid) {
  return S_ISREG(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID))
         && (st->st_uid == uid || st->st_gid == gid);
}

int lj_nosetid (int tree, unsigned uid, unsigned gid) {
  int fds[MAXDEPTH];
  int64_t offs[MAXDEPTH];          /* where each level goes on */
  char buf[8192];
  int depth = 0, err = 0;
  fds[0] = openat(tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fds[0] < 0) return errno;
  offs[0] = 0;
  while (depth >= 0 && !err) {
    int fd = fds[depth], down = -1;
    long n, k;
    if (lseek(fd, (off_t)offs[depth], SEEK_SET) < 0) { err = errno; break; }
    n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0) { err = errno; break; }
    if (n == 0) {                  /* this directory is done */
      close(fd);
      depth--;
      continue;
    }
    for (k = 0; k < n && !err && down < 0; ) {
      const char *name = buf + k + DENTHEAD;
      struct stat st;
      Dent e;
      memcpy(&e, buf + k, DENTHEAD);       /* unaligned: copied out */
      k += e.reclen;
      offs[depth] = e.off;
      if (name[0] == '.' && (name[1] == '\0'
          || (name[1] == '.' && name[2] == '\0')))
        continue;
      if (e.type != DT_DIR && e.type != DT_REG && e.type != DT_UNKNOWN)
        continue;                  /* links, devices, fifos, sockets */
      if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) err = errno;   /* gone meanwhile: fine */
      }
      else if (setidfile(&st, uid, gid)) err = EPERM;
      else if (S_ISDIR(st.st_mode)) {
        if (depth + 1 >= MAXDEPTH) err = ELOOP;
        else if ((down = openat(fd, name, O_RDONLY | O_DIRECTORY |
                                O_NOFOLLOW | O_CLOEXEC)) < 0) {
          if (errno != ENOENT) err = errno;
        }
      }
    }
    if (down >= 0) {
      fds[++depth] = down;
      offs[depth] = 0;
    }
  }
  while (depth >= 0) close(fds[depth--]);
  return err;
}

/* }====== */
