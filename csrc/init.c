/*
** init.c: lunajail-init, the PID 1 of a sandbox's pid namespace.
**
** The spawner's child applies every step, starts the payload as pid 2,
** and once the payload has exec'd, execs this program (from a sealed
** memfd) in its own place:
**     lunajail-init PAYLOADPID STATUSFD
** It reaps every orphan, forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT,
** SIGUSR1 and SIGUSR2 to the payload, and exits with the payload's
** status: its exit code, or 128+n when a signal n killed it.  Before, it
** writes the payload's raw wait status to STATUSFD, a pipe to the
** spawner: the child object reports what really ended the payload, even
** when the host reaps init itself.  Exiting tears the namespace down: the
** kernel kills every process left in it.
**
** No libc: raw system calls (sys.h), no allocation.  It closes every fd
** but STATUSFD (the payload's pipes reach EOF when the payload closes
** them) and is not
** dumpable, so the payload can neither ptrace it nor read its memory.
** Every signal arrives blocked (the spawner's child blocks them all) and
** stays so: they are taken with sigtimedwait, and a SIGCHLD that came
** before the exec is still pending.
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

int lj_main (long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  sigset all = ~0UL;
  char info[128];                  /* siginfo_t: si_signo first */
  long pid, sfd, sig;
  int i;
  if (argc < 3 || (pid = number(argv[1])) <= 0) die(127);
  sfd = number(argv[2]);
  lj_sys(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, sizeof all);
  lj_sys(SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0);
  lj_sys(SYS_prctl, PR_SET_NAME, "lunajail-init", 0, 0);  /* not memfd:... */
  if (sfd > 0) lj_sys(SYS_close_range, 0, sfd - 1, 0, 0);
  lj_sys(SYS_close_range, sfd + 1, ~0U, 0, 0);
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
