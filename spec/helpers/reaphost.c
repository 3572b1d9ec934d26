/*
** spec/helpers/reaphost.c: an nginx-style host for spec/embed_core_spec.lua.
** Preloaded (LD_PRELOAD) into a throwaway lua5.4, it installs a SIGCHLD
** handler that reaps every exited child with waitpid(-1, WNOHANG), as
** nginx's master does: the kernel runs it at the signal's delivery, before
** the process's next instruction, so the host wins every race with
** lunajail's own waitid for a child that has exited.  Built by the spec:
**   cc -shared -fPIC -o reaphost.so reaphost.c
*/

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

static void onchld (int sig) {
  int saved = errno, st;
  (void)sig;
  while (waitpid(-1, &st, WNOHANG) > 0) {}
  errno = saved;
}

__attribute__((constructor)) static void install (void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = onchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, NULL);
}
