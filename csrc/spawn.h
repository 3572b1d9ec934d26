/*
** spawn.h: the flat plan the parent builds before clone, shared with the
** child runner (child.c, which may only read it and write progress), and
** the child object (process.c).
*/

#ifndef lj_spawn_h
#define lj_spawn_h

#include "lj.h"

#define LJ_CHILD     "lunajail.Child"
#define LJ_MAXFDS    1024          /* fds a plan may pass */

/* report pipe records: {kind, step index, errno} */
enum { LJ_REP_FATAL = 1, LJ_REP_OPTIONAL = 2, LJ_REP_TRACE = 3 };

typedef struct ljFdPair {
  int target, source, tmp;
} ljFdPair;

typedef struct ljPlan {
  ljStep *steps;                   /* user steps, then fds and exec */
  int nsteps;
  int cloneflags;                  /* namespaces */
  int pdeathsig;                   /* 0: the child outlives us */
  int trace;                       /* report every step */
  int reportfd, syncfd;            /* the child's ends */
  int parentfds[2];                /* the parent's ends: closed in child */
  ljFdPair *fds;                   /* sorted by target */
  int nfds;
  int base;                        /* report fd, init fd land here, +1 */
  int initfd;                      /* sealed memfd of lunajail-init, or -1 */
  const char *path;                /* what to exec */
  const char *execpath;            /* path, or where search() found it */
  int search;                      /* look path up in pathenv */
  const char *pathenv;
  const char **argv, **envp;
  const char *initargv[3];         /* lunajail-init PAYLOADPID */
  char initpid[16];
  volatile int payloaderr;         /* the payload's failed exec */
  char resolved[4096];             /* the PATH search result */
  volatile int progress;           /* index of the step being applied */
} ljPlan;

int lj_child_main (void *plan);    /* child.c: the clone entry point */
extern const ljOp lj_op_fds, lj_op_exec;

typedef struct ljChild {
  int pid;                         /* 0 before spawn */
  int pidfd;                       /* -1 once closed */
  int fd[3];                       /* our ends: stdin (w), stdout, stderr */
  int reaped;                      /* status is final */
  int status;                      /* raw wait status */
  int hostreaped;                  /* someone else reaped it (ECHILD) */
  double utime, stime;             /* rusage of the reaped child */
  long maxrss;
} ljChild;

ljChild *lj_newchild (lua_State *L);
int lj_reaper_sweep (lua_State *L);
void lj_open_process (lua_State *L);

#endif
