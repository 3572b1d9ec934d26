/*
** init.c: lunajail-init, the PID 1 of a sandbox's pid namespace.
**
** The spawner's child applies every step and then execs this program
** (from a sealed memfd) in its own place:
**     lunajail-init REPORTFD STATUSFD EXECSTEP FLAGS PATH ARGV0 ARGV1 ...
** with the payload's environment.  Before anything else runs in the
** sandbox, it blocks every signal and makes itself non-dumpable; only then
** does it fork the payload, as pid 2, which execs PATH with ARGV.  So no
** process of the sandbox ever shares memory with the spawner or sees init
** dumpable: there is nothing to ptrace.
**
** The payload, before its exec: closes STATUSFD, makes REPORTFD
** close-on-exec, with FLAGS bit 1 (a pty on fd 0) starts a session whose
** controlling terminal is fd 0, with FLAGS & 2 (an id lease at
** STATUSFD+1) closes that lease, and unblocks every signal.  A failed exec
** (or fork) writes {1, EXECSTEP, errno} to REPORTFD, the spawner's report
** pipe, which then fails the spawn at its exec step.
**
** Init closes every fd but STATUSFD and the lease (the payload's pipes
** reach EOF when the payload closes them; the lease keeps the sandbox's
** uid leased until init exits, see idalloc.c), reaps every orphan, forwards SIGTERM, SIGINT,
** SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to the payload, and exits with its
** status: its exit code, or 128+n when a signal n killed it.  Before, it
** writes the payload's raw wait status to STATUSFD, a pipe to the
** spawner: the child object reports what really ended the payload, even
** when the host reaps init itself.  Exiting tears the namespace down: the
** kernel kills every process left in it.
**
** No libc: raw system calls (sys.h), no allocation.  Signals are taken
** with sigtimedwait, so a SIGCHLD from a payload that died at once is
** still pending.
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
#define PR_SET_DUMPABLE 4
#define PR_SET_NAME 15
#define SIG_SETMASK 2
#define F_SETFD 2
#define FD_CLOEXEC 1
#define TIOCSCTTY 0x540E
#define FLAG_CTTY 1
#define FLAG_LEASE 2
#define LJ_REP_FATAL 1

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

static int decode (int status) {
  if ((status & 0x7f) == 0) return (status >> 8) & 0xff;   /* exited */
  return 128 + (status & 0x7f);                            /* signaled */
}

int lj_main (long *sp);

/* pid 2: exec the payload, or report why not */
static void payload (char **argv, char **envp, long rfd, long sfd,
                     long flags, int rec[3]) {
  sigset none = 0;
  long r = 0;
  lj_sys(SYS_close, sfd, 0, 0, 0);
  if (flags & FLAG_LEASE) lj_sys(SYS_close, sfd + 1, 0, 0, 0);
  lj_sys(SYS_fcntl, rfd, F_SETFD, FD_CLOEXEC, 0);
  if (flags & FLAG_CTTY) {
    if ((r = lj_sys(SYS_setsid, 0, 0, 0, 0)) >= 0)
      r = lj_sys(SYS_ioctl, 0, TIOCSCTTY, 0, 0);
  }
  if (r >= 0) {
    lj_sys(SYS_rt_sigprocmask, SIG_SETMASK, &none, 0, sizeof none);
    r = lj_sys(SYS_execve, argv[5], argv + 6, envp, 0);
  }
  rec[2] = (int)-r;
  lj_sys(SYS_write, rfd, rec, 3 * sizeof(int), 0);
  die(127);
}

int lj_main (long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  sigset all = ~0UL;
  char info[128];                  /* siginfo_t: si_signo first */
  long pid, rfd, sfd, sig, keep;
  int i, rec[3];
  lj_sys(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, sizeof all);
  lj_sys(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0);
  lj_sys(SYS_prctl, PR_SET_NAME, "lunajail-init", 0, 0);  /* not memfd:... */
  if (argc < 7) die(127);
  rfd = number(argv[1]);
  sfd = number(argv[2]);
  rec[0] = LJ_REP_FATAL;
  rec[1] = (int)number(argv[3]);
  pid = lj_sys(SYS_clone, SIGCHLD, 0, 0, 0);   /* fork */
  if (pid == 0) payload(argv, envp, rfd, sfd, number(argv[4]), rec);
  if (pid < 0) {
    rec[2] = (int)-pid;
    lj_sys(SYS_write, rfd, rec, sizeof rec, 0);
    die(127);
  }
  keep = number(argv[4]) & FLAG_LEASE ? 2 : 1;   /* status, lease */
  if (sfd > 0) lj_sys(SYS_close_range, 0, sfd - 1, 0, 0);
  lj_sys(SYS_close_range, sfd + keep, ~0U, 0, 0);
  for (sig = SIGCHLD;; sig = lj_sys(SYS_rt_sigtimedwait, &all, info, 0,
                                    sizeof all)) {
    /* a first pass before any wait: the payload may be gone already */
    if (sig == SIGCHLD) {
      int status;
      long r;
      while ((r = lj_sys(SYS_wait4, -1, &status, WNOHANG, 0)) > 0)
        if (r == pid) {
          lj_sys(SYS_write, sfd, &status, sizeof status, 0);
          die(decode(status));
        }
      if (r < 0) die(127);         /* no child at all: nothing to wait for */
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
