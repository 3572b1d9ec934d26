/*
** runner.c: lunajail-runner, the first program of every sandbox.
**
** core.spawn clones a child in the caller's memory only long enough to
** exec this program (spawn.c, like posix_spawn); the plan's steps run
** here, in a process of their own, built from the same concern files as
** core.so (compiled with LJ_RUNNER: every op's apply, none of its Lua).
** So nothing of the sandbox shares the caller's memory, the caller goes
** on at once (an asynchronous spawn) or waits on the report pipe (the
** blocking one), and a long or stuck setup never holds the caller.
**
**     lunajail-runner PROGFD
**
** PROGFD is a memfd holding the program (spawn.h): the steps, fds, argv
** and environment.  The runner maps it shared and writes there the step
** it is at and each step's time; the parent reads them.
**
**   1. keep only the fds the program names (the parent has written our
**      uid/gid maps before our exec: we start as uid 0 of a new user
**      namespace, with its capabilities)
**   2. apply the steps in order; a failed one writes {LJ_REP_FATAL,
**      position, errno} to the report fd and exits 127; an optional one
**      that fails, {LJ_REP_OPTIONAL, ...}, and goes on
**   3. the fds step: stdio and the plan's fds at their numbers, nothing
**      else open but our report and status fds (close-on-exec)
**   4. exec: without PID 1, exec the payload here.  With it, become the
**      sandbox's init: block every signal, become non-dumpable, fork the
**      payload (pid 2), which execs; reap every orphan, forward SIGTERM,
**      SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the payload, write
**      its raw wait status to the status fd (the child object reports
**      what really ended it, even when the host reaps us itself) and
**      exit with its code, or 128+n for a signal n.  Exiting tears the
**      namespace down: the kernel kills whatever is left in it.  With
**      fork (a pid namespace joined by a setns step: child:enter), fork
**      the payload and relay its status, PID 1 of nothing (forkpayload)
** The report fd is close-on-exec: the parent reads EOF when the payload
** has exec'd.  A failed exec is reported at the exec step.
*/

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include "spawn.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

typedef struct Run {
  ljProg *g;
  char *args;                      /* our own argv's strings */
  size_t argslen;
  ljStep *steps;
  ljFdPair *fds;
  int nfds, reportfd, statusfd, leasefd;
  int ctlfd, parentfd, sigfd;      /* paused (a stepper's): the control
                                      socket; a forked one's parent runner,
                                      its pidfd; SIGCHLD, for our forks */
  int nested;                      /* a forked stepper: 2 with a pid
                                      namespace of its own */
  char beneath[4096];              /* a stepper's "beneath" root */
  const char **argv, **envp;
  const char *path, *pathenv;
  char resolved[4096];             /* the PATH search result */
} Run;

static void report (Run *R, int kind, int index, int err) {
  int rec[3];
  rec[0] = kind;
  rec[1] = index;
  rec[2] = err;
  while (write(R->reportfd, rec, sizeof rec) < 0 && errno == EINTR) {}
}

static void fail (Run *R, int index, int err) {
  report(R, LJ_REP_FATAL, index, err);
  _exit(127);
}

/* the parent holds the report pipe's read end until we exec (a
** stepper's: the control socket's other end, and a forked stepper's
** parent runner is watched through its pidfd) */
static int parent_gone (Run *R) {
  struct pollfd p[2] = { { R->reportfd, POLLOUT, 0 },
                         { R->parentfd, POLLIN, 0 } };
  return poll(p, R->parentfd >= 0 ? 2 : 1, 0) > 0
         && ((p[0].revents & (POLLERR | POLLHUP)) || p[1].revents);
}

static uint32_t usecs (const struct timespec *a, const struct timespec *b) {
  int64_t d = (int64_t)(b->tv_sec - a->tv_sec) * 1000000
              + (b->tv_nsec - a->tv_nsec) / 1000;
  return d < 0 ? 0 : d > 0xffffffff ? 0xffffffff : (uint32_t)d;
}

/* one step, timed into *usec; its errno */
static int runstep (Run *R, ljCtx *c, const ljStep *s, uint32_t *usec) {
  struct timespec t0, t1;
  int err;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  err = s->op->apply(s, c);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  *usec = usecs(&t0, &t1);
  if ((s->op->flags & LJ_OPF_CREDS) && c->pdeathsig) {
    prctl(PR_SET_PDEATHSIG, c->pdeathsig, 0, 0, 0);  /* cleared by ids */
    if (parent_gone(R)) _exit(127);
  }
  return err;
}


/* {====== The program ======} */

static const char **strings (ljProg *g, uint32_t off) {
  const uint32_t *o = (const uint32_t *)((char *)g + off);
  size_t n = 0, k;
  const char **v;
  while (o[n]) n++;
  if ((v = (const char **)calloc(n + 1, sizeof *v)) == NULL) _exit(127);
  for (k = 0; k < n; k++) v[k] = (const char *)g + o[k];
  return v;
}

/* a program's memfd, mapped shared; NULL if it is none */
static ljProg *mapprog (int fd) {
  struct stat st;
  ljProg *g;
  if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof *g) return NULL;
  g = (ljProg *)mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
                     MAP_SHARED, fd, 0);
  if (g == MAP_FAILED) return NULL;
  if (g->magic != LJ_PROG_MAGIC || g->size != (uint32_t)st.st_size) {
    munmap(g, (size_t)st.st_size);
    return NULL;
  }
  return g;
}

/* its steps into steps[0 .. g->nsteps); 0 if an op is unknown */
static int loadsteps (ljProg *g, ljStep *steps) {
  const ljProgStep *ps = (const ljProgStep *)((char *)g + g->steps);
  int k, j;
  for (k = 0; k < g->nsteps; k++) {
    ljStep *s = &steps[k];
    if ((s->op = lj_opbyindex(ps[k].op)) == NULL) return 0;
    s->optional = ps[k].optional;
    s->index = ps[k].index;
    for (j = 0; j < LJ_NSTR; j++) s->s[j] = LJ_PROGSTR(g, ps[k].s[j]);
    for (j = 0; j < LJ_NINT; j++) s->i[j] = ps[k].i[j];
    s->p = ps[k].plen ? (const char *)g + ps[k].p : NULL;
    s->plen = ps[k].plen;
    s->usefd = ps[k].usefd;
  }
  return 1;
}

static void load (Run *R, int fd) {
  ljProg *g;
  const int32_t *fp;
  int k;
  if ((g = mapprog(fd)) == NULL) _exit(127);
  close(fd);
  R->g = g;
  R->reportfd = g->reportfd;
  R->statusfd = g->statusfd;
  R->leasefd = g->leasefd;
  R->ctlfd = g->ctlfd;
  R->steps = (ljStep *)calloc((size_t)g->nsteps + 1, sizeof *R->steps);
  R->fds = (ljFdPair *)calloc((size_t)g->nfds + 1, sizeof *R->fds);
  if (R->steps == NULL || R->fds == NULL || !loadsteps(g, R->steps))
    _exit(127);
  fp = (const int32_t *)((char *)g + g->fds);
  R->nfds = g->nfds;
  for (k = 0; k < g->nfds; k++) {
    R->fds[k].target = fp[2 * k];
    R->fds[k].source = fp[2 * k + 1];
  }
  R->path = LJ_PROGSTR(g, g->path);
  R->pathenv = LJ_PROGSTR(g, g->pathenv);
  R->argv = strings(g, g->argv);
  R->envp = strings(g, g->envp);
}

/* back to the capability sets a clone gives: what came over as ambient
** capabilities stays permitted and effective, for the steps */
static void unambient (void) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (syscall(SYS_capget, &h, d) != 0) return;
  d[0].inheritable = d[1].inheritable = 0;
  syscall(SYS_capset, &h, d);
}

static int cmpint (const void *a, const void *b) {
  return *(const int *)a - *(const int *)b;
}

/* close every fd but those in keep (sorted): the caller's other fds
** never reach a step or the payload */
static void closeothers (int *keep, int n) {
  unsigned next = 0;
  int k;
  DIR *d;
  struct dirent *e;
  for (k = 0; k <= n; k++) {
    unsigned upto = k < n ? (unsigned)keep[k] : ~0U;
    if (k < n && keep[k] < 0) continue;
    if (upto > next && syscall(SYS_close_range, next, upto - 1, 0) != 0)
      break;                       /* no close_range (< 5.9): by hand */
    next = upto + 1;
    if (k == n) return;
  }
  if ((d = opendir("/proc/self/fd")) == NULL) return;
  while ((e = readdir(d)) != NULL) {
    int fd = atoi(e->d_name);
    if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(d)) continue;
    if (!bsearch(&fd, keep, (size_t)n, sizeof *keep, cmpint)) close(fd);
  }
  closedir(d);
}

static void keeponly (Run *R) {
  int keep[2 * LJ_MAXFDS + 8], n = 0, k;
  for (k = 0; k < R->g->nsteps && n < LJ_MAXFDS; k++)   /* the steps' */
    if (R->steps[k].usefd > 0) keep[n++] = R->steps[k].usefd;
  keep[n++] = R->reportfd;
  if (R->statusfd >= 0) keep[n++] = R->statusfd;
  if (R->leasefd >= 0) keep[n++] = R->leasefd;
  if (R->ctlfd >= 0) keep[n++] = R->ctlfd;
  for (k = 0; k < R->nfds; k++) keep[n++] = R->fds[k].source;
  qsort(keep, (size_t)n, sizeof *keep, cmpint);
  closeothers(keep, n);
}

/* }====== */


/* {====== The fds step ======}
** Every source first moves above every target (so a swap of 3 and 4, or
** a source that is another pair's target, cannot clobber), then lands on
** its target; our report and status fds stay above the targets, close-on-
** exec; nothing else stays open.
*/

static int arrange (Run *R) {
  int low = 3, k, keep[LJ_MAXFDS + 8], n = 0;
  for (k = 0; k < R->nfds; k++)
    if (R->fds[k].target >= low) low = R->fds[k].target + 1;
  for (k = 0; k < R->nfds; k++)
    if ((R->fds[k].tmp = fcntl(R->fds[k].source, F_DUPFD_CLOEXEC, low)) < 0)
      return errno;
  if ((R->reportfd = fcntl(R->reportfd, F_DUPFD_CLOEXEC, low)) < 0
      || (R->statusfd >= 0
          && (R->statusfd = fcntl(R->statusfd, F_DUPFD_CLOEXEC, low)) < 0)
      || (R->leasefd >= 0
          && (R->leasefd = fcntl(R->leasefd, F_DUPFD_CLOEXEC, low)) < 0))
    return errno;
  for (k = 0; k < R->nfds; k++)
    if (dup3(R->fds[k].tmp, R->fds[k].target, 0) < 0) return errno;
  for (k = 0; k < R->nfds; k++) keep[n++] = R->fds[k].target;
  keep[n++] = R->reportfd;
  if (R->statusfd >= 0) keep[n++] = R->statusfd;
  if (R->leasefd >= 0) keep[n++] = R->leasefd;
  qsort(keep, (size_t)n, sizeof *keep, cmpint);
  closeothers(keep, n);
  return 0;
}

/* }====== */


/* {====== The exec step ======} */

/* the path in $PATH, like execvp, into R->resolved */
static int search (Run *R) {
  const char *dir = R->pathenv ? R->pathenv : "/usr/local/bin:/usr/bin:/bin";
  size_t flen = strlen(R->path);
  int eacces = 0;
  while (1) {
    size_t dlen = strcspn(dir, ":");
    char *out = R->resolved;
    struct stat st;
    if (dlen == 0) out[dlen++] = '.';
    else memcpy(out, dir, dlen);
    if (dlen + flen + 2 <= sizeof R->resolved) {
      out[dlen] = '/';
      memcpy(out + dlen + 1, R->path, flen + 1);
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

static void mask (int how) {
  sigset_t set;
  if (how) sigemptyset(&set);
  else sigfillset(&set);
  sigprocmask(SIG_SETMASK, &set, NULL);
}

/* a pty on fd 0 becomes the controlling terminal (of our session when
** we exec the payload ourselves, of the payload's new one under init) */
static int execpayload (Run *R, const char *path, int newsession) {
  if ((R->g->flags & LJ_PROG_CTTY)
      && ((newsession && setsid() < 0) || ioctl(0, TIOCSCTTY, 0) != 0))
    return errno;
  mask(1);
  execve(path, (char *const *)R->argv, (char *const *)R->envp);
  mask(0);
  return errno;
}

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1,
                                 SIGUSR2 };

static int decode (int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

/* {====== The exec gate ======}
** With a seccomp listener (LJ_PROG_NOTIFY) the parent allows the calls
** it is notified of until the report pipe's EOF without asking its
** handler: until then they are ours (notify.c).  A payload we fork
** would otherwise run while we still hold the pipe, and its first calls
** would pass as ours; so it waits at a gate until we have closed our
** report fd.
*/

static void gateopen (Run *R, int index, int gate[2]) {
  gate[0] = gate[1] = -1;
  if ((R->g->flags & LJ_PROG_NOTIFY) && pipe2(gate, O_CLOEXEC) != 0)
    fail(R, index, errno);
}

static void gatewait (int gate[2]) {      /* the payload, before exec */
  char c;
  if (gate[0] < 0) return;
  close(gate[1]);
  while (read(gate[0], &c, 1) < 0 && errno == EINTR) {}
  close(gate[0]);
}

static void gatepass (Run *R, int gate[2]) {   /* we, once it is forked */
  if (gate[0] < 0) return;
  close(R->reportfd);              /* nothing to report after the fork */
  close(gate[0]);
  close(gate[1]);                  /* EOF: it may exec */
}

/* }====== */


/* PID 1: the payload as pid 2, then reap and forward until it ends */
static void init (Run *R, const char *path) {
  int index = R->g->execindex, status, sig, gate[2];
  sigset_t all;
  long pid, me;
  sigfillset(&all);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  prctl(PR_SET_NAME, "lunajail-init", 0, 0, 0);
  if (R->argslen > sizeof "lunajail-init") {   /* and so /proc/1/cmdline */
    memset(R->args, 0, R->argslen);
    memcpy(R->args, "lunajail-init", sizeof "lunajail-init");
  }
  me = 0;
  if (R->g->flags & LJ_PROG_SUBREAPER) {        /* not PID 1: orphans */
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    me = getpid();
  }
  gateopen(R, index, gate);
  pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);   /* fork, no atfork */
  if (pid == 0) {
    if ((R->g->flags & LJ_PROG_SUBREAPER)        /* ... and dies with us */
        && (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0
            || getppid() != me))
      _exit(127);
    gatewait(gate);
    fail(R, index, execpayload(R, path, 1));
  }
  if (pid < 0) fail(R, index, errno);
  gatepass(R, gate);
  R->g->pid1 = (int32_t)pid;
  munmap(R->g, R->g->size);
  {                                /* all but the status fd and the id
                                      lease (which the payload never
                                      had: close-on-exec) */
    int keep[2] = { R->statusfd, R->leasefd };
    qsort(keep, 2, sizeof *keep, cmpint);
    closeothers(keep, 2);
  }
  for (sig = SIGCHLD;; sig = sigtimedwait(&all, NULL, NULL)) {
    /* a first pass before any wait: the payload may be gone already */
    if (sig == SIGCHLD) {
      long r;
      while ((r = waitpid(-1, &status, WNOHANG)) > 0)
        if (r == pid) {
          while (write(R->statusfd, &status, sizeof status) < 0
                 && errno == EINTR) {}
          _exit(decode(status));
        }
      if (r < 0 && errno == ECHILD) _exit(127);   /* nothing to wait for */
    }
    else if (sig > 0) {
      size_t k;
      for (k = 0; k < sizeof forwarded / sizeof forwarded[0]; k++)
        if (forwarded[k] == sig) kill((pid_t)pid, sig);
    }
  }
}

/* {====== The fork mode (plan.fork) ======}
** A pid namespace joined with setns takes only the children made after
** it: the runner, not PID 1 of anything, forks the payload after the
** steps (it is then a process of the sandbox's pid namespace, with
** everything the steps gave the runner) and relays: forwards signals,
** writes the payload's raw wait status to the status fd, exits with its
** code (lj_relay, call.c).  The payload dies with the runner (its
** parent-death signal is SIGKILL, whatever the plan's die_with_parent:
** the child object's close kills the runner); a pipe whose write end
** only the runner holds tells the payload whether the runner is gone
** already (its parent is in another pid namespace: getppid() says 0).
*/

static void forkpayload (Run *R, const char *path) {
  int index = R->g->execindex, alive[2], gate[2];
  long pid;
  struct pollfd p;
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  prctl(PR_SET_NAME, "lunajail-relay", 0, 0, 0);
  if (pipe2(alive, O_CLOEXEC) != 0) fail(R, index, errno);
  gateopen(R, index, gate);
  pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);   /* fork, no atfork */
  if (pid == 0) {
    close(alive[1]);
    if (R->statusfd >= 0) close(R->statusfd);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    p.fd = alive[0];
    p.events = POLLIN;
    if (poll(&p, 1, 0) != 0) _exit(127);      /* the runner is gone */
    gatewait(gate);
    fail(R, index, execpayload(R, path, 1));
  }
  if (pid < 0) fail(R, index, errno);
  gatepass(R, gate);
  munmap(R->g, R->g->size);
  {                                /* all but the status fd and our end
                                      of the pipe */
    int keep[2] = { R->statusfd, alive[1] };
    qsort(keep, 2, sizeof *keep, cmpint);
    closeothers(keep, 2);
  }
  lj_relay(pid, R->statusfd);
}

/* }====== */

static int execstep (Run *R) {
  const char *path = R->path;
  int err;
  if (R->g->flags & LJ_PROG_SEARCH) {
    if ((err = search(R)) != 0) return err;
    path = R->resolved;
  }
  if (R->g->flags & LJ_PROG_PID1) init(R, path);
  if (R->g->flags & LJ_PROG_FORK) forkpayload(R, path);
  return execpayload(R, path, 0);
}

/* }====== */


/* {====== Paused: a stepper's runner (stepper.c) ======}
** With LJ_PROG_PAUSED the runner stops before its fds step.  It becomes
** non-dumpable: while it waits, nothing on the host may ptrace it, read
** its memory or open its namespaces without CAP_SYS_PTRACE over it (the
** owner of its user namespace has that: docs/security.md, "What is not
** protected").  It tells
** the parent setup is over (progress at the exec step, then the report
** pipe's EOF) and serves the requests of its control socket (spawn.h)
** until one execs it or the socket closes: the stepper was closed, or
** the parent is gone, and it exits.  A failed step changes nothing else:
** it waits for the next request.  A fork is a copy of this process with
** namespaces of its own, paused likewise; its exec goes through init (a
** subreaper without a pid namespace of its own), whose status pipe
** tells the host -- not its parent -- how the payload ended.
*/

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

static void serve (Run *R, ljCtx *c);

static void closeall (const int *fds, int n) {
  while (n-- > 0) close(fds[n]);
}

/* one request: its bytes and up to *nfds fds (close-on-exec); its
** length, 0 at EOF */
static ssize_t receive (int ctl, char *buf, size_t len, int *fds, int *nfds) {
  union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int) * 3)]; } u;
  struct iovec iov = { buf, len };
  struct msghdr m;
  struct cmsghdr *h;
  int max = *nfds, k, fd;
  ssize_t r;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = u.b;
  m.msg_controllen = sizeof u.b;
  *nfds = 0;
  do r = recvmsg(ctl, &m, MSG_CMSG_CLOEXEC); while (r < 0 && errno == EINTR);
  for (h = r >= 0 ? CMSG_FIRSTHDR(&m) : NULL; h; h = CMSG_NXTHDR(&m, h))
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
      for (k = 0; (size_t)k < (h->cmsg_len - CMSG_LEN(0)) / sizeof fd; k++) {
        memcpy(&fd, CMSG_DATA(h) + k * sizeof fd, sizeof fd);
        if (*nfds < max) fds[(*nfds)++] = fd;
        else close(fd);
      }
  return r;
}

/* a record {kind, position, errno}, with n fds (a fork's) */
static void answer (Run *R, int kind, int pos, int err, const int *fds,
                    int n) {
  union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int) * 3)]; } u;
  int rec[3];
  struct iovec iov = { rec, sizeof rec };
  struct msghdr m;
  rec[0] = kind;
  rec[1] = pos;
  rec[2] = err;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (n > 0) {
    memset(&u, 0, sizeof u);
    m.msg_control = u.b;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
    u.h.cmsg_level = SOL_SOCKET;
    u.h.cmsg_type = SCM_RIGHTS;
    u.h.cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(&u.h), fds, sizeof(int) * (size_t)n);
  }
  while (sendmsg(R->ctlfd, &m, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
}

/* the children we forked, once they end */
static void reap (Run *R) {
  struct signalfd_siginfo si;
  if (R->sigfd >= 0)
    while (read(R->sigfd, &si, sizeof si) > 0) {}
  while (waitpid(-1, NULL, WNOHANG) > 0) {}
}

/* a request's steps in order: the position of the one that failed (its
** errno in *err), or 0; a "beneath" root outlives its request */
static int runall (Run *R, ljCtx *c, ljProg *q, ljStep *steps, int *err) {
  uint32_t *usec = (uint32_t *)((char *)q + q->usec);
  int k, pos = 0;
  for (k = 0; k < q->nsteps && !pos; k++) {
    q->progress = k + 1;
    if ((*err = runstep(R, c, &steps[k], &usec[k])) == 0) continue;
    if (!steps[k].optional) pos = k + 1;
    else answer(R, LJ_REP_OPTIONAL, k + 1, *err, NULL, 0);
  }
  if (!pos) q->progress = q->nsteps + 1;
  if (c->beneath && c->beneath != R->beneath) {
    size_t n = strlen(c->beneath);
    if (n >= sizeof R->beneath) n = sizeof R->beneath - 1;
    memcpy(R->beneath, c->beneath, n);
    R->beneath[n] = '\0';
    c->beneath = R->beneath;
  }
  return pos;
}

/* a request's program and steps, or NULL (*err says why) */
static ljProg *loadreq (int fd, ljStep **steps, int *err) {
  ljProg *q = mapprog(fd);
  close(fd);
  *steps = NULL;
  *err = EINVAL;
  if (q == NULL) return NULL;
  if ((*steps = (ljStep *)calloc((size_t)q->nsteps + 1, sizeof **steps))
      == NULL || !loadsteps(q, *steps)) {
    if (*steps) free(*steps);
    else *err = ENOMEM;
    munmap(q, q->size);
    return NULL;
  }
  return q;
}

static void stepsreq (Run *R, ljCtx *c, int fd) {
  ljStep *steps;
  int err, pos;
  ljProg *q = loadreq(fd, &steps, &err);
  if (q == NULL) {
    answer(R, LJ_REP_FAILED, 0, err, NULL, 0);
    return;
  }
  err = 0;
  pos = runall(R, c, q, steps, &err);
  answer(R, pos ? LJ_REP_FAILED : LJ_REP_DONE, pos ? pos : q->nsteps, err,
         NULL, 0);
  free(steps);
  munmap(q, q->size);
}

/* the exec step's path, checked before the fds step, so that a payload
** that is not there leaves the stepper paused */
static int resolve (Run *R, int lookup) {
  struct stat st;
  int err;
  if (lookup) {
    if ((err = search(R)) != 0) return err;
    R->path = R->resolved;
    return 0;
  }
  if (access(R->path, X_OK) != 0 || stat(R->path, &st) != 0) return errno;
  return S_ISREG(st.st_mode) ? 0 : EACCES;
}

/* the last request: its steps (a chdir), then the fds and exec steps
** with its path, argv and environment, as main's */
static void execreq (Run *R, ljCtx *c, int fd) {
  ljStep *steps;
  int err, pos;
  ljProg *q = loadreq(fd, &steps, &err);
  const char **argv, **envp;
  if (q == NULL) {
    answer(R, LJ_REP_FAILED, 0, err, NULL, 0);
    return;
  }
  err = 0;
  if ((pos = runall(R, c, q, steps, &err)) != 0) {
    answer(R, LJ_REP_FAILED, pos, err, NULL, 0);
    free(steps);
    munmap(q, q->size);
    return;
  }
  argv = R->argv;
  envp = R->envp;
  R->path = LJ_PROGSTR(q, q->path);
  R->pathenv = LJ_PROGSTR(q, q->pathenv);
  R->argv = strings(q, q->argv);
  R->envp = strings(q, q->envp);
  if ((err = resolve(R, q->flags & LJ_PROG_SEARCH)) != 0) {
    free((void *)R->argv);
    free((void *)R->envp);
    R->argv = argv;
    R->envp = envp;
    answer(R, LJ_REP_FAILED, q->execindex, err, NULL, 0);
    free(steps);
    munmap(q, q->size);
    return;
  }
  R->g->flags &= ~LJ_PROG_SEARCH;
  if (R->nested)
    R->g->flags |= LJ_PROG_PID1 | (R->nested == 1 ? LJ_PROG_SUBREAPER : 0);
  R->g->execindex = q->execindex;
  q->progress = q->fdsindex;
  if ((err = arrange(R)) != 0) fail(R, q->fdsindex, err);
  q->progress = q->execindex;
  fail(R, q->execindex, execstep(R));
}


/* {====== State: what the stepper is now, as text ======}
** One "key value" line each (backslash and newline escaped in names
** and paths); each mountinfo line as "mount LINE".  stepper.lua parses.
*/

typedef struct Out {
  Run *R;
  size_t n;
  char b[LJ_CTL_DATA];
} Out;

static void flush (Out *o) {
  int rec[3];
  struct iovec iov[2];
  struct msghdr m;
  if (o->n == 0) return;
  rec[0] = LJ_REP_DATA;
  rec[1] = (int)o->n;
  rec[2] = 0;
  iov[0].iov_base = rec;
  iov[0].iov_len = sizeof rec;
  iov[1].iov_base = o->b;
  iov[1].iov_len = o->n;
  memset(&m, 0, sizeof m);
  m.msg_iov = iov;
  m.msg_iovlen = 2;
  while (sendmsg(o->R->ctlfd, &m, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
  o->n = 0;
}

static void outbytes (Out *o, const char *p, size_t n) {
  while (n > 0) {
    size_t k = sizeof o->b - o->n;
    if (k == 0) { flush(o); continue; }
    if (k > n) k = n;
    memcpy(o->b + o->n, p, k);
    o->n += k;
    p += k;
    n -= k;
  }
}

static void outs (Out *o, const char *s) {
  outbytes(o, s, strlen(s));
}

static void outesc (Out *o, const char *s) {
  for (; *s; s++)
    if (*s == '\\') outs(o, "\\\\");
    else if (*s == '\n') outs(o, "\\n");
    else outbytes(o, s, 1);
}

static void outf (Out *o, const char *fmt, ...) {
  char t[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t, sizeof t, fmt, ap);
  va_end(ap);
  outs(o, t);
}

/* a file, each line after prefix; 0 or the errno */
static int outfile (Out *o, const char *path, const char *prefix) {
  char buf[4096];
  int fd = open(path, O_RDONLY | O_CLOEXEC), bol = 1;
  ssize_t r, k;
  if (fd < 0) return errno;
  while ((r = read(fd, buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR))
    for (k = 0; k < r; k++) {
      if (bol) outs(o, prefix);
      outbytes(o, &buf[k], 1);
      bol = buf[k] == '\n';
    }
  close(fd);
  if (!bol) outs(o, "\n");
  return 0;
}

static const char *const nsnames[] = {
  "user", "mnt", "pid", "pid_for_children", "net", "uts", "ipc", "cgroup",
  "time", "time_for_children", NULL
};

static void outcreds (Out *o) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  uid_t u[3] = { 0, 0, 0 };
  gid_t g[3] = { 0, 0, 0 };
  uint64_t set[5] = { 0, 0, 0, 0, 0 };
  gid_t *list;
  int n, k, r;
  getresuid(&u[0], &u[1], &u[2]);
  getresgid(&g[0], &g[1], &g[2]);
  outf(o, "uid %u %u %u\ngid %u %u %u\ngroups", u[0], u[1], u[2], g[0],
       g[1], g[2]);
  n = getgroups(0, NULL);
  list = n > 0 ? (gid_t *)calloc((size_t)n, sizeof *list) : NULL;
  if (list && (n = getgroups(n, list)) > 0)
    for (k = 0; k < n; k++) outf(o, " %u", list[k]);
  free(list);
  memset(d, 0, sizeof d);
  if (syscall(SYS_capget, &h, d) == 0) {
    set[0] = d[0].effective | (uint64_t)d[1].effective << 32;
    set[1] = d[0].permitted | (uint64_t)d[1].permitted << 32;
    set[2] = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
  }
  for (k = 0; k < 64 && (r = prctl(PR_CAPBSET_READ, k, 0, 0, 0)) >= 0; k++) {
    if (r == 1) set[3] |= (uint64_t)1 << k;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, k, 0, 0) == 1)
      set[4] |= (uint64_t)1 << k;
  }
  outf(o, "\ncaps %llx %llx %llx %llx %llx\n", (unsigned long long)set[0],
       (unsigned long long)set[1], (unsigned long long)set[2],
       (unsigned long long)set[3], (unsigned long long)set[4]);
  outf(o, "securebits %d\nno_new_privs %d\nseccomp %d\ndumpable %d\n",
       prctl(PR_GET_SECUREBITS, 0, 0, 0, 0),
       prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
       prctl(PR_GET_SECCOMP, 0, 0, 0, 0), prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
}

static void state (Run *R) {
  Out o;
  struct utsname un;
  struct rlimit rl;
  char buf[4096];
  const char *const *ns;
  ssize_t r;
  int k, err;
  o.R = R;
  o.n = 0;
  outf(&o, "pid %d\n", (int)getpid());
  outcreds(&o);
  if (uname(&un) == 0) {
    outs(&o, "hostname ");
    outesc(&o, un.nodename);
    outs(&o, "\ndomainname ");
    outesc(&o, un.domainname);
    outs(&o, "\n");
  }
  if (getcwd(buf, sizeof buf)) {
    outs(&o, "cwd ");
    outesc(&o, buf);
    outs(&o, "\n");
  }
  for (k = 0; k < RLIM_NLIMITS; k++)
    if (getrlimit(k, &rl) == 0)
      outf(&o, "rlimit %d %lld %lld\n", k,
           rl.rlim_cur == RLIM_INFINITY ? -1LL : (long long)rl.rlim_cur,
           rl.rlim_max == RLIM_INFINITY ? -1LL : (long long)rl.rlim_max);
  for (ns = nsnames; *ns; ns++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/ns/%s", *ns);
    if ((r = readlink(path, buf, sizeof buf - 1)) > 0) {
      buf[r] = '\0';
      outf(&o, "ns %s %s\n", *ns, buf);
    }
  }
  if ((err = outfile(&o, "/proc/self/mountinfo", "mount ")) != 0)
    outf(&o, "mounts %d\n", err);        /* no /proc here: the host reads */
  flush(&o);
  answer(R, LJ_REP_DONE, 0, 0, NULL, 0);
}

/* }====== */


/* {====== Fork: a stepper inside this one ======} */

/* fork-like, with namespaces and a pidfd */
static long clonepidfd (int flags, int *pidfd) {
  struct {                         /* struct clone_args, version 0 */
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
             stack_size, tls;
  } a;
  long pid;
  memset(&a, 0, sizeof a);
  a.flags = (uint64_t)(unsigned)flags | CLONE_PIDFD;
  a.pidfd = (uint64_t)(uintptr_t)pidfd;
  a.exit_signal = SIGCHLD;
  pid = syscall(SYS_clone3, &a, sizeof a);
  if (pid >= 0 || errno != ENOSYS) return pid;
  return syscall(SYS_clone, (unsigned long)(unsigned)flags | CLONE_PIDFD
                 | SIGCHLD, 0, pidfd, 0, 0);
}

/* the new user namespace's maps (empty: our own ids to 0) */
static int forkmaps (int pidfd, const ljCtlFork *f, const char *maps) {
  char uid[4096], gid[4096];
  int err, pid = lj_pidfdpid(pidfd);  /* clone's answer is in our pid
                                        namespace, /proc's may be older */
  if (pid <= 0) return ENOENT;     /* no /proc here */
  if (f->uidlen) snprintf(uid, sizeof uid, "%.*s", (int)f->uidlen, maps);
  else snprintf(uid, sizeof uid, "0 %u 1\n", (unsigned)geteuid());
  if (f->gidlen)
    snprintf(gid, sizeof gid, "%.*s", (int)f->gidlen, maps + f->uidlen);
  else snprintf(gid, sizeof gid, "0 %u 1\n", (unsigned)getegid());
  if (!lj_hascap(CAP_SETGID)
      && (err = lj_writeproc(pid, "setgroups", "deny")) != 0)
    return err;
  if ((err = lj_writeproc(pid, "uid_map", uid)) != 0) return err;
  return lj_writeproc(pid, "gid_map", gid);
}

/* in the new runner: our own control socket, status pipe and stdio in
** place of the parent's; armed to die with it; paused on "go" */
static void forked (Run *R, ljCtx *c, const ljCtlFork *f, const int *sv,
                    const int *st, int me, const int *fds) {
  int k, j = 0, old[3], nold = 0;
  char ch;
  close(sv[0]);
  close(st[0]);
  close(R->ctlfd);
  if (R->sigfd >= 0) close(R->sigfd);
  if (R->parentfd >= 0) close(R->parentfd);
  if (R->statusfd >= 0) close(R->statusfd);
  if (R->leasefd >= 0) close(R->leasefd);
  R->sigfd = R->leasefd = -1;
  R->parentfd = me;
  R->ctlfd = R->reportfd = sv[1];
  R->statusfd = st[1];
  for (k = 0; k < 3; k++)          /* fds[0..2] are stdin, out, err */
    if (f->stdio & (1 << k)) {
      old[nold++] = R->fds[k].source;
      R->fds[k].source = fds[j++];
    }
  for (k = 0; k < nold; k++) {     /* the parent's, unless still used */
    int used = 0, m;
    for (m = 0; m < R->nfds; m++) used |= R->fds[m].source == old[k];
    for (m = 0; m < k; m++) used |= old[m] == old[k];
    if (!used) close(old[k]);
  }
  R->nested = (f->cloneflags & CLONE_NEWPID) ? 2 : 1;
  R->g->flags &= ~LJ_PROG_CTTY;
  R->g->pdeathsig = c->pdeathsig = SIGKILL;
  /* "ready" after the parent-death signal is armed: if the parent died
  ** before, nothing reads it */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0
      || send(R->ctlfd, "r", 1, MSG_NOSIGNAL) != 1
      || recv(R->ctlfd, &ch, 1, 0) != 1 || ch != 'g')
    _exit(127);
  serve(R, c);
}

static void forkreq (Run *R, ljCtx *c, const char *msg, size_t len,
                     int *fds, int nfds) {
  const ljCtlFork *f = (const ljCtlFork *)msg;
  int sv[2] = { -1, -1 }, st[2] = { -1, -1 }, me = -1, pidfd = -1, err = 0;
  int k, want = 0;
  long pid = -1;
  char ch;
  for (k = 0; k < 3; k++) want += len >= sizeof *f && (f->stdio >> k) & 1;
  if (len < sizeof *f || f->uidlen >= 4096 || f->gidlen >= 4096
      || len - sizeof *f < (size_t)f->uidlen + f->gidlen || want != nfds)
    err = EINVAL;
  else if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0
           || pipe2(st, O_CLOEXEC | O_NONBLOCK) != 0
           || (me = (int)syscall(SYS_pidfd_open, getpid(), 0)) < 0)
    err = errno;
  else if ((pid = clonepidfd(f->cloneflags, &pidfd)) == 0)
    forked(R, c, f, sv, st, me, fds);     /* never returns */
  else if (pid < 0) err = errno;
  closeall(fds, nfds);
  if (sv[1] >= 0) close(sv[1]);
  if (st[1] >= 0) close(st[1]);
  if (me >= 0) close(me);
  if (!err && recv(sv[0], &ch, 1, 0) != 1) err = ECHILD;  /* it died */
  if (!err && (f->cloneflags & CLONE_NEWUSER))
    err = forkmaps(pidfd, f, msg + sizeof *f);
  if (!err && send(sv[0], "g", 1, MSG_NOSIGNAL) != 1) err = errno;
  if (err) {
    if (pidfd >= 0) {
      syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
      waitpid((pid_t)pid, NULL, 0);
      close(pidfd);
    }
    if (sv[0] >= 0) close(sv[0]);
    if (st[0] >= 0) close(st[0]);
    answer(R, LJ_REP_FAILED, 0, err, NULL, 0);
    return;
  }
  {
    int out[3];
    out[0] = sv[0];
    out[1] = pidfd;
    out[2] = st[0];
    answer(R, LJ_REP_DONE, (int)pid, 0, out, 3);
    closeall(out, 3);
  }
}

/* }====== */


/* the requests, one at a time, until one execs us or the socket closes */
static void serve (Run *R, ljCtx *c) {
  char msg[sizeof(ljCtlFork) + 8192];
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  R->sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  for (;;) {
    struct pollfd p[2] = { { R->ctlfd, POLLIN, 0 }, { R->sigfd, POLLIN, 0 } };
    int fds[3], nfds = 3, kind;
    ssize_t r;
    if (poll(p, 2, -1) < 0) continue;
    if (p[1].revents) reap(R);
    if (!p[0].revents) continue;
    r = receive(R->ctlfd, msg, sizeof msg, fds, &nfds);
    if (r < 0 && errno == EAGAIN) continue;
    if (r < (ssize_t)sizeof kind) _exit(0);      /* closed, or orphaned */
    memcpy(&kind, msg, sizeof kind);
    if (kind == LJ_CTL_FORK) forkreq(R, c, msg, (size_t)r, fds, nfds);
    else if (kind == LJ_CTL_STATE && nfds == 0) state(R);
    else if (kind == LJ_CTL_STEPS && nfds == 1) stepsreq(R, c, fds[0]);
    else if (kind == LJ_CTL_EXEC && nfds == 1) execreq(R, c, fds[0]);
    else {
      closeall(fds, nfds);
      answer(R, LJ_REP_FAILED, 0, EINVAL, NULL, 0);
    }
    if (R->sigfd < 0) reap(R);
  }
}

static void paused (Run *R, ljCtx *c) {
  ljProg *h = (ljProg *)mmap(NULL, sizeof *h, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (h == MAP_FAILED) fail(R, R->g->execindex, errno);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  memcpy(h, R->g, sizeof *h);      /* our own: a fork's must not be ours */
  h->size = sizeof *h;
  R->g->progress = R->g->execindex;      /* setup is over: paused */
  munmap(R->g, R->g->size);
  R->g = h;
  close(R->reportfd);              /* EOF: the parent's spawn returns */
  R->reportfd = R->ctlfd;
  serve(R, c);
}

/* }====== */


int main (int argc, char **argv) {
  Run R;
  ljCtx c;
  struct timespec t0, t1;
  uint32_t *usec;
  ljProg *g;
  int k, err;
  mask(0);                         /* the parent blocked them: still so */
  if (argc < 2) _exit(127);
  memset(&R, 0, sizeof R);
  R.parentfd = R.sigfd = -1;
  R.args = argv[0];
  R.argslen = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) - argv[0]);
  load(&R, atoi(argv[1]));
  g = R.g;
  keeponly(&R);
  if (g->flags & LJ_PROG_AMBIENT) unambient();
  usec = (uint32_t *)((char *)g + g->usec);
  memset(&c, 0, sizeof c);
  c.pdeathsig = g->pdeathsig;
  c.plan = &R;
  for (k = 0; k < g->nsteps; k++) {
    g->progress = k + 1;
    err = runstep(&R, &c, &R.steps[k], &usec[k]);
    if (err && !R.steps[k].optional) fail(&R, k + 1, err);
    if (err) report(&R, LJ_REP_OPTIONAL, k + 1, err);
  }
  if (g->flags & LJ_PROG_PAUSED) paused(&R, &c);     /* a stepper's */
  g->progress = g->nsteps + 1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if ((err = arrange(&R)) != 0) fail(&R, g->nsteps + 1, err);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  usec[g->nsteps] = usecs(&t0, &t1);
  g->progress = g->nsteps + 2;
  fail(&R, g->nsteps + 2, execstep(&R));
  return 127;
}
