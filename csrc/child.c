/*
** child.c: the spawner's child, from clone to exec.
**
** It runs in the parent's memory (CLONE_VM) on its own stack, while the
** parent waits on the report pipe.  It shares the parent thread's TLS and
** so its errno: until the parent's "go" nothing here may fail (the parent
** may be writing our uid/gid maps); after it, the parent only reads the
** report pipe with every signal blocked and never looks at errno.  Only system calls here: no Lua, no
** malloc, no stdio, nothing that takes a lock -- the host may have other
** threads.  It reads the plan, writes plan->progress and the report pipe,
** and touches nothing else of the parent's.
**
**   1. close the parent's pipe ends; reset every signal disposition
**      (the parent blocked all signals around clone, so no host handler
**      can run here first); arm the parent-death signal
**   2. wait for the parent's "go" (uid/gid maps written); EOF means the
**      parent died before we armed it: exit
**   3. apply the steps in order: the user's, then "fds" (stdio and passed
**      fds at their numbers, everything else close-on-exec), then "exec"
**   a failed step writes {LJ_REP_FATAL, index, errno} and exits 127.
**
** With PID 1 (a pid namespace), exec runs lunajail-init (init.c) in our
** place, which forks the payload as pid 2 and execs it: no process of
** the sandbox exists while we still share the parent's memory.  The
** report fd, init's status fd and an id lease's fd stay open across that
** exec; the payload reports its own failed exec, at this same step.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "spawn.h"

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

static void report (ljPlan *P, int kind, int index, int err) {
  int rec[3];
  rec[0] = kind;
  rec[1] = index;
  rec[2] = err;
  while (write(P->reportfd, rec, sizeof rec) < 0 && errno == EINTR) {}
}

/* the parent holds the report pipe's read end until we exec */
static int parent_gone (ljPlan *P) {
  struct pollfd p = { P->reportfd, POLLOUT, 0 };
  return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}


/* {====== The fds step ======}
** Every source first moves above every target (so a swap of 3 and 4, or
** a source that is another pair's target, cannot clobber), then lands on
** its target.  Ours land above: the report fd at base, the init memfd at
** base+1, init's status fd at base+2, and when init runs, the id lease at
** base+3 (init holds it while the sandbox lives; the payload never gets
** it).  Then everything but the targets is close-on-exec, except the
** report, status and lease fds when init runs.
*/

#define NOURS 4                    /* report, init, status, lease */

static int closegaps (ljPlan *P, int top) {
  unsigned next = 0;
  int i;
  for (i = 0; i < P->nfds; i++) {
    unsigned t = (unsigned)P->fds[i].target;
    if (t > next && syscall(SYS_close_range, next, t - 1, 0) != 0)
      return errno;
    next = t + 1;
  }
  if ((unsigned)P->base > next)
    syscall(SYS_close_range, next, (unsigned)P->base - 1, 0);
  return syscall(SYS_close_range, (unsigned)top, ~0U, 0) == 0 ? 0 : errno;
}

static int fds_apply (const ljStep *s, ljCtx *c) {
  ljPlan *P = (ljPlan *)c->plan;
  int *ours[NOURS], tmp[NOURS], i, k, low = P->base + NOURS, err;
  int lease = -1;                  /* the lease only for init */
  (void)s;
  ours[0] = &P->reportfd;
  ours[1] = &P->initfd;
  ours[2] = &P->statusfd;
  ours[3] = P->initfd >= 0 ? &P->leasefd : &lease;
  /* first everything above every number that will be taken ... */
  for (k = 0; k < NOURS; k++)
    if ((tmp[k] = *ours[k] < 0 ? -1
                  : fcntl(*ours[k], F_DUPFD_CLOEXEC, low)) < 0 && *ours[k] >= 0)
      return errno;
  for (i = 0; i < P->nfds; i++)
    if ((P->fds[i].tmp = fcntl(P->fds[i].source, F_DUPFD_CLOEXEC, low)) < 0)
      return errno;
  /* ... then each at its number */
  for (i = 0; i < P->nfds; i++)
    if (dup3(P->fds[i].tmp, P->fds[i].target, 0) < 0) return errno;
  for (k = 0; k < NOURS; k++)
    if (tmp[k] >= 0) {
      if (dup3(tmp[k], P->base + k, O_CLOEXEC) < 0) return errno;
      *ours[k] = P->base + k;
    }
  if (syscall(SYS_close_range, 0, ~0U, CLOSE_RANGE_CLOEXEC) == 0) {
    for (i = 0; i < P->nfds; i++)
      if (fcntl(P->fds[i].target, F_SETFD, 0) != 0) return errno;
  }
  else if ((err = closegaps(P, P->base + (*ours[3] >= 0 ? 4 : 3))) != 0)
    return err;                            /* before 5.11: close the rest */
  if (P->initfd >= 0                       /* for init, across its exec */
      && (fcntl(P->statusfd, F_SETFD, 0) != 0
          || fcntl(P->reportfd, F_SETFD, 0) != 0
          || (P->leasefd >= 0 && fcntl(P->leasefd, F_SETFD, 0) != 0)))
    return errno;
  return 0;
}

static void fds_describe (const ljStep *s, ljBuf *b) {
  ljPlan *P = (ljPlan *)s->p;
  int i;
  for (i = 0; i < P->nfds && i < 16; i++) {
    if (i) lj_bufadd(b, ", ");
    lj_bufaddint(b, P->fds[i].target);
    lj_bufadd(b, "<-");
    lj_bufaddint(b, P->fds[i].source);
  }
  if (P->nfds > 16) lj_bufadd(b, ", ...");
}

const ljOp lj_op_fds = {
  "fds", "", NULL, fds_apply, fds_describe, 0
};

/* }====== */


/* {====== The exec step ======} */

/* P->path in $PATH, like execvp, into P->resolved */
static int search (ljPlan *P) {
  const char *dir = P->pathenv ? P->pathenv : "/usr/local/bin:/usr/bin:/bin";
  size_t flen = strlen(P->path);
  int eacces = 0;
  while (1) {
    size_t dlen = strcspn(dir, ":");
    char *out = P->resolved;
    struct stat st;
    if (dlen == 0) out[dlen++] = '.';
    else memcpy(out, dir, dlen);
    if (dlen + flen + 2 <= sizeof P->resolved) {
      out[dlen] = '/';
      memcpy(out + dlen + 1, P->path, flen + 1);
      if (access(out, X_OK) == 0 && stat(out, &st) == 0
          && S_ISREG(st.st_mode))
        return 0;
      if (errno == EACCES) eacces = 1;
    }
    if (dir[strcspn(dir, ":")] == '\0') break;
    dir += strcspn(dir, ":") + 1;
  }
  return eacces ? EACCES : ENOENT;
}

static void unblock (int on) {
  sigset_t set;
  if (on) sigemptyset(&set);
  else sigfillset(&set);
  sigprocmask(SIG_SETMASK, &set, NULL);
}

/* a pty on fd 0 becomes the controlling terminal of our new session
** (init does it for the payload) */
static int ctty (ljPlan *P) {
  return !P->ctty || ioctl(0, TIOCSCTTY, 0) == 0 ? 0 : errno;
}

static int exec_apply (const ljStep *s, ljCtx *c) {
  ljPlan *P = (ljPlan *)c->plan;
  int err;
  (void)s;
  P->execpath = P->path;
  if (P->search) {
    if ((err = search(P)) != 0) return err;
    P->execpath = P->resolved;
  }
  if (P->initfd < 0) {
    if ((err = ctty(P)) != 0) return err;
    unblock(1);
    execve(P->execpath, (char *const *)P->argv, (char *const *)P->envp);
    err = errno;
    unblock(0);
    return err;
  }
  P->initargv[5] = P->execpath;    /* the rest is the parent's */
  syscall(SYS_execveat, P->initfd, "", (char *const *)P->initargv,
          (char *const *)P->envp, AT_EMPTY_PATH);
  err = errno;                     /* no execveat (< 3.19, valgrind): */
  execve(P->initpath, (char *const *)P->initargv, (char *const *)P->envp);
  return err;
}

static void exec_describe (const ljStep *s, ljBuf *b) {
  const ljPlan *P = (const ljPlan *)s->p;
  lj_bufaddq(b, P->path);
}

const ljOp lj_op_exec = {
  "exec", "", NULL, exec_apply, exec_describe, 0
};

/* }====== */


int lj_child_main (void *arg) {
  ljPlan *P = (ljPlan *)arg;
  ljCtx c;
  long dfl[8];                     /* the kernel's sigaction: all zero is
                                      SIG_DFL, no flags, on every arch */
  char go = 0;
  int i;
  close(P->parentfds[0]);
  close(P->parentfds[1]);
  memset(dfl, 0, sizeof dfl);
  /* raw: glibc refuses its own 32 and 33.  No call here may fail until
  ** "go": errno is the parent's, which may be writing our maps */
  for (i = 1; i < _NSIG; i++)
    if (i != SIGKILL && i != SIGSTOP)
      syscall(SYS_rt_sigaction, i, dfl, NULL, _NSIG / 8);
  if (P->pdeathsig && prctl(PR_SET_PDEATHSIG, P->pdeathsig, 0, 0, 0) != 0)
    _exit(127);
  if (read(P->syncfd, &go, 1) != 1 || go != 'g')
    _exit(127);                    /* the parent died or gave up */
  close(P->syncfd);
  memset(&c, 0, sizeof c);
  c.pdeathsig = P->pdeathsig;
  c.plan = P;
  for (i = 0; i < P->nsteps; i++) {
    const ljStep *s = &P->steps[i];
    int err;
    P->progress = i + 1;
    err = s->op->apply(s, &c);
    if ((s->op->flags & LJ_OPF_CREDS) && c.pdeathsig) {
      prctl(PR_SET_PDEATHSIG, c.pdeathsig, 0, 0, 0);  /* cleared by ids */
      if (parent_gone(P)) _exit(127);
    }
    if (err && !s->optional) {
      report(P, LJ_REP_FATAL, i + 1, err);
      _exit(127);
    }
    if (err || P->trace)
      report(P, err ? LJ_REP_OPTIONAL : LJ_REP_TRACE, i + 1, err);
  }
  _exit(127);                      /* not reached: exec is the last step */
}
