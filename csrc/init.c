/*
** init.c: lunajail-init, the PID 1 of a sandbox's pid namespace.
**
** The spawner's child applies every step, then execs this program (from a
** sealed memfd) in place of the payload:
**     lunajail-init REPORTFD EXECSTEP PATH ARGV0 ARGV1 ...
** It forks the payload, which execs PATH with ARGV and the environment,
** reporting a failed exec on REPORTFD exactly as the spawner's own exec
** step would: {kind 1, EXECSTEP, errno}.  Then it reaps every orphan,
** forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the
** payload, and exits with the payload's status: its exit code, or 128+n
** when a signal n killed it.  Exiting tears the namespace down: the
** kernel kills every process left in it.
**
** No libc: raw system calls (sys.h), no allocation.  It holds no fd once
** the payload is started, and is not dumpable, so the payload can neither
** ptrace it nor read its memory.
*/

#include "sys.h"

#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGUSR1 10
#define SIGUSR2 12
#define SIGTERM 15
#define SIGCHLD 17
#define WNOHANG 1
#define F_SETFD 2
#define FD_CLOEXEC 1
#define PR_SET_DUMPABLE 4
#define SIG_SETMASK 2
#define CLOSE_RANGE_CLOEXEC 4
#define EINTR 4
#define EAGAIN 11

typedef unsigned long sigset;      /* the kernel's 64-signal set */

static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1,
                                 SIGUSR2 };

static void die (int code) {
  for (;;) lj_sys(SYS_exit_group, code, 0, 0, 0);
}

static long number (const char *s) {
  long v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
  return v;
}

static void report (int fd, int step, int err) {
  int rec[3];
  rec[0] = 1;                      /* fatal, as in the spawner */
  rec[1] = step;
  rec[2] = err;
  lj_sys(SYS_write, fd, rec, sizeof rec, 0);
}

/* the payload: an empty signal mask (init set no handler), then exec */
static void payload (int repfd, int step, char **argv, char **envp) {
  sigset none = 0;
  long r;
  lj_sys(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, sizeof none);
  r = lj_sys(SYS_execve, argv[0], argv + 1, envp, 0);
  report(repfd, step, (int)-r);
  die(127);
}

static int decode (int status) {
  if ((status & 0x7f) == 0) return (status >> 8) & 0xff;   /* exited */
  return 128 + (status & 0x7f);                            /* signaled */
}

int lj_main (long *sp);

int lj_main (long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1), **envp = argv + argc + 1;
  int repfd, step, i;
  sigset all = ~0UL;
  long pid;
  if (argc < 5) die(127);
  repfd = (int)number(argv[1]);
  step = (int)number(argv[2]);
  lj_sys(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, sizeof all);
  lj_sys(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0);
  lj_sys(SYS_fcntl, repfd, F_SETFD, FD_CLOEXEC, 0);
  pid = lj_sys(SYS_clone, SIGCHLD, 0, 0, 0);
  if (pid == 0) payload(repfd, step, argv + 3, envp);
  if (pid < 0) { report(repfd, step, (int)-pid); die(127); }
  lj_sys(SYS_close_range, 0, ~0U, 0, 0);  /* let the payload's pipes EOF */
  for (;;) {
    char info[128];                /* siginfo_t: si_signo first */
    long sig = lj_sys(SYS_rt_sigtimedwait, &all, info, 0, sizeof all);
    if (sig == SIGCHLD) {
      int status;
      long r;
      while ((r = lj_sys(SYS_wait4, -1, &status, WNOHANG, 0))
             > 0)
        if (r == pid) die(decode(status));
    }
    else if (sig > 0)
      for (i = 0; i < (int)(sizeof forwarded / sizeof forwarded[0]); i++)
        if (forwarded[i] == sig) lj_sys(SYS_kill, pid, sig, 0, 0);
  }
}

LJ_START;

#ifndef LJ_FREESTANDING
int main (int argc, char **argv) {
  (void)argc;
  return lj_main((long *)argv - 1);
}
#endif
