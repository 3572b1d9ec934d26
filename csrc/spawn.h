/*
** spawn.h: the flat plan the parent builds before clone, shared with the
** child runner (child.c, which may only read it and write progress), and
** the child object (process.c).
*/

#ifndef lj_spawn_h
#define lj_spawn_h

#include "lj.h"

#define LJ_CHILD     "lunajail.Child"
#define LJ_LEASE     "lunajail.Lease"
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
  int statusfd;                    /* for init to write the payload's
                                      status; lands at base+2 */
  int ctty;                        /* fd 0 is a pty: make it the payload's
                                      controlling terminal */
  int leasefd;                     /* an id lease (idalloc.c), or -1: init
                                      holds it at base+3 */
  const char *path;                /* what to exec */
  const char *execpath;            /* path, or where search() found it */
  int search;                      /* look path up in pathenv */
  const char *pathenv;
  const char **argv, **envp;
  const char **initargv;           /* lunajail-init REPORTFD STATUSFD
                                      EXECSTEP FLAGS PATH ARGV... */
  char initrep[16], initstatus[16], initstep[16], initflags[16];
  char initpath[32];               /* /proc/self/fd/N of the init memfd */
  char resolved[4096];             /* the PATH search result */
  volatile int progress;           /* index of the step being applied */
} ljPlan;

int lj_child_main (void *plan);    /* child.c: the clone entry point */
extern const ljOp lj_op_fds, lj_op_exec;

/* an id leased to a sandbox (idalloc.c): the lock lives as long as fd's
** open file description, which spawn moves to the child object */
typedef struct ljLease {
  int fd;                          /* -1: released or handed to a child */
  int64_t id;
} ljLease;

typedef struct ljBuf2 {           /* bytes at p[off .. off+len) */
  char *p;
  size_t off, len, cap;
} ljBuf2;

typedef struct ljChild {
  int pid;                         /* 0 before spawn */
  int pidfd;                       /* -1 once closed */
  int fd[3];                       /* our ends: stdin (w), stdout, stderr */
  int ptyfd;                       /* the pty's master, for resize */
  int statusfd;                    /* lunajail-init's word on the payload */
  int leasefd;                     /* its id lease: closed once reaped */
  int epfd;                        /* the aggregate fd, made on demand */
  unsigned epmask[4];              /* what epfd watches: in, out, err, pid */
  int epfds[4];
  ljBuf2 buf[3];                   /* stdin's queue, stdout's and stderr's */
  size_t limit;                    /* per buffer: back-pressure */
  int closein;                     /* close stdin once the queue is out */
  double deadline;                 /* killafter: when (monotonic), 0 none */
  int deadsig;                     /* ... and what */
  int killsig;                     /* what close and gc send; 0 nothing */
  int reaped;                      /* status is final */
  int status;                      /* raw wait status */
  int hostreaped;                  /* someone else reaped it (ECHILD) */
  double utime, stime;             /* rusage of the reaped child */
  long maxrss;
  lua_Alloc alloc;                 /* for the buffers */
  void *ud;
} ljChild;

ljChild *lj_newchild (lua_State *L);
int lj_reaper_sweep (lua_State *L);
void lj_open_process (lua_State *L);

#endif
