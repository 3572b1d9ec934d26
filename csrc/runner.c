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
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* the parent holds the report pipe's read end until we exec */
static int parent_gone (Run *R) {
  struct pollfd p = { R->reportfd, POLLOUT, 0 };
  return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

static uint32_t usecs (const struct timespec *a, const struct timespec *b) {
  int64_t d = (int64_t)(b->tv_sec - a->tv_sec) * 1000000
              + (b->tv_nsec - a->tv_nsec) / 1000;
  return d < 0 ? 0 : d > 0xffffffff ? 0xffffffff : (uint32_t)d;
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

static void load (Run *R, int fd) {
  struct stat st;
  ljProg *g;
  const ljProgStep *ps;
  const int32_t *fp;
  int k, j;
  if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof *g) _exit(127);
  g = (ljProg *)mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
                     MAP_SHARED, fd, 0);
  if (g == MAP_FAILED || g->magic != LJ_PROG_MAGIC
      || g->size != (uint32_t)st.st_size)
    _exit(127);
  close(fd);
  R->g = g;
  R->reportfd = g->reportfd;
  R->statusfd = g->statusfd;
  R->leasefd = g->leasefd;
  R->steps = (ljStep *)calloc((size_t)g->nsteps + 1, sizeof *R->steps);
  R->fds = (ljFdPair *)calloc((size_t)g->nfds + 1, sizeof *R->fds);
  if (R->steps == NULL || R->fds == NULL) _exit(127);
  ps = (const ljProgStep *)((char *)g + g->steps);
  for (k = 0; k < g->nsteps; k++) {
    ljStep *s = &R->steps[k];
    if ((s->op = lj_opbyindex(ps[k].op)) == NULL) _exit(127);
    s->optional = ps[k].optional;
    s->index = ps[k].index;
    for (j = 0; j < LJ_NSTR; j++) s->s[j] = LJ_PROGSTR(g, ps[k].s[j]);
    for (j = 0; j < LJ_NINT; j++) s->i[j] = ps[k].i[j];
    s->p = ps[k].plen ? (const char *)g + ps[k].p : NULL;
    s->plen = ps[k].plen;
    s->usefd = ps[k].usefd;
  }
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

/* PID 1: the payload as pid 2, then reap and forward until it ends */
static void init (Run *R, const char *path) {
  int index = R->g->execindex, status, sig;
  sigset_t all;
  long pid;
  sigfillset(&all);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  prctl(PR_SET_NAME, "lunajail-init", 0, 0, 0);
  if (R->argslen > sizeof "lunajail-init") {   /* and so /proc/1/cmdline */
    memset(R->args, 0, R->argslen);
    memcpy(R->args, "lunajail-init", sizeof "lunajail-init");
  }
  pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);   /* fork, no atfork */
  if (pid == 0) fail(R, index, execpayload(R, path, 1));
  if (pid < 0) fail(R, index, errno);
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
  int index = R->g->execindex, alive[2];
  long pid;
  struct pollfd p;
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  prctl(PR_SET_NAME, "lunajail-relay", 0, 0, 0);
  if (pipe2(alive, O_CLOEXEC) != 0) fail(R, index, errno);
  pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);   /* fork, no atfork */
  if (pid == 0) {
    close(alive[1]);
    if (R->statusfd >= 0) close(R->statusfd);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    p.fd = alive[0];
    p.events = POLLIN;
    if (poll(&p, 1, 0) != 0) _exit(127);      /* the runner is gone */
    fail(R, index, execpayload(R, path, 1));
  }
  if (pid < 0) fail(R, index, errno);
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
    const ljStep *s = &R.steps[k];
    g->progress = k + 1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    err = s->op->apply(s, &c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    usec[k] = usecs(&t0, &t1);
    if ((s->op->flags & LJ_OPF_CREDS) && c.pdeathsig) {
      prctl(PR_SET_PDEATHSIG, c.pdeathsig, 0, 0, 0);  /* cleared by ids */
      if (parent_gone(&R)) _exit(127);
    }
    if (err && !s->optional) fail(&R, k + 1, err);
    if (err) report(&R, LJ_REP_OPTIONAL, k + 1, err);
  }
  g->progress = g->nsteps + 1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if ((err = arrange(&R)) != 0) fail(&R, g->nsteps + 1, err);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  usec[g->nsteps] = usecs(&t0, &t1);
  g->progress = g->nsteps + 2;
  fail(&R, g->nsteps + 2, execstep(&R));
  return 127;
}
