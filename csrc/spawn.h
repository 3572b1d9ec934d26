/*
** spawn.h: what the parent (spawn.c), the runner (runner.c) and the child
** object (process.c) share.
**
** A plan crosses from the parent to the runner as a *program*: one flat
** block in a memfd, without a pointer in it -- every string, list and
** step blob is an offset from the block's start.  The parent writes it
** before clone; the runner maps it shared, so what the runner writes in
** the header (the step it is at, each step's time) the parent reads
** without a system call.
*/

#ifndef lj_spawn_h
#define lj_spawn_h

#include "lj.h"

#define LJ_CHILD     "lunajail.Child"
#define LJ_LEASE     "lunajail.Lease"
#define LJ_MAXFDS    1024          /* fds a plan may pass */
#define LJ_MAXCGPROCS 16           /* cgroup.procs fds (v1 hierarchies) */

/* report pipe records: {kind, step index, errno} */
enum { LJ_REP_FATAL = 1, LJ_REP_OPTIONAL = 2 };

typedef struct ljFdPair {
  int target, source, tmp;
} ljFdPair;


/* {====== The program ======} */

#define LJ_PROG_MAGIC  0x6c6a7072   /* "ljpr" */

enum {                             /* ljProg.flags */
  LJ_PROG_PID1 = 1,                /* the runner becomes PID 1, forks */
  LJ_PROG_CTTY = 2,                /* fd 0 is a pty: the payload's ctty */
  LJ_PROG_SEARCH = 4,              /* path is looked up in pathenv */
  LJ_PROG_TRACE = 8,               /* every step reported */
  LJ_PROG_AMBIENT = 16,            /* capabilities came as ambient ones */
  LJ_PROG_FORK = 32                /* the runner forks the payload and
                                      relays its status (plan.fork) */
};

typedef struct ljProgStep {
  int32_t op;                      /* lj_opindex */
  int32_t optional;
  int32_t index;                   /* its number in errors */
  uint32_t s[LJ_NSTR];             /* offsets of strings, 0 for NULL */
  int64_t i[LJ_NINT];
  uint32_t p, plen;                /* the step's blob */
  int32_t usefd;                   /* an fd it uses, kept open (0: none) */
} ljProgStep;

typedef struct ljProg {
  uint32_t magic, size;            /* LJ_PROG_MAGIC, bytes in all */
  int32_t flags, pdeathsig;
  int32_t reportfd, statusfd;      /* as the runner finds them */
  int32_t leasefd;                 /* an id lease init holds, or -1 */
  int32_t nsteps;                  /* the plan's, without fds and exec */
  uint32_t steps;                  /* ljProgStep[nsteps] */
  int32_t nfds;
  uint32_t fds;                    /* int32 {target, source}[nfds] */
  int32_t fdsindex, execindex;     /* the spawner's two last steps */
  uint32_t path, pathenv;          /* strings (pathenv 0: the default) */
  uint32_t argv, envp;             /* uint32 offsets, 0-terminated */
  /* written by the runner, read by the parent */
  volatile int32_t progress;       /* 1-based: the step being applied;
                                      nsteps + 1 fds, + 2 exec */
  volatile int32_t pid1;           /* the payload's pid, in its namespace */
  uint32_t usec;                   /* uint32 [nsteps + 2]: microseconds
                                      each step took */
} ljProg;

#define LJ_PROGSTR(g, off)  ((off) ? (const char *)(g) + (off) : NULL)

/* }====== */


/* {====== The parent's decoded plan ======} */

typedef struct ljPlan {
  ljStep *steps;                   /* user steps, then fds and exec */
  int nsteps;
  int cloneflags;                  /* namespaces */
  int pdeathsig;                   /* 0: the child outlives us */
  int trace;                       /* report every step */
  ljFdPair *fds;                   /* sorted by target */
  int nfds;
  int pid1;                        /* the runner stays as PID 1 */
  int fork;                        /* ... or forks the payload, relays */
  int ctty;                        /* fd 0 is a pty: make it the payload's
                                      controlling terminal */
  double setup_timeout;            /* seconds from clone to exec */
  int async;                       /* return before setup is over */
  int leasefd;                     /* an id lease (idalloc.c), or -1: init
                                      holds it at base+3 */
  const char *path;                /* what to exec */
  int search;                      /* look path up in pathenv */
  const char *pathenv;
  const char **argv, **envp;
  int cgroupfd;                    /* cgroup: clone into it (v2), or -1 */
  int cgprocs[LJ_MAXCGPROCS];      /* ... its cgroup.procs fds: the pid
                                      goes there before "go" (v1) */
  int ncgprocs;
} ljPlan;

/* }====== */


/* {====== The child object ======} */

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
  int reportfd;                    /* the runner's reports, until exec */
  ljProg *prog;                    /* the program, mapped, until exec */
  void *run;                       /* the spawn's state, until exec (in
                                      the arena, the uservalue 2) */
  double setupdl;                  /* when setup times out (monotonic) */
  int setup;                       /* 1 in setup, 0 started, -1 failed */
  int leasefd;                     /* its id lease: closed once reaped */
  int epfd;                        /* the aggregate fd, made on demand */
  unsigned epmask[5];              /* what epfd watches: in, out, err,
                                      pid, report */
  int epfds[5];
  ljBuf2 buf[3];                   /* stdin's queue, stdout's and stderr's */
  size_t limit;                    /* per buffer: back-pressure */
  int closein;                     /* close stdin once the queue is out */
  double deadline;                 /* killafter: when (monotonic), 0 none */
  int deadsig;                     /* ... and what */
  int killsig;                     /* what close and gc send; 0 nothing */
  int lastsig;                     /* the last signal we sent */
  int reaped;                      /* status is final */
  int status;                      /* raw wait status */
  int hostreaped;                  /* someone else reaped it (ECHILD) */
  double utime, stime;             /* rusage of the reaped child */
  long maxrss;
  lua_Alloc alloc;                 /* for the buffers */
  void *ud;
} ljChild;

ljChild *lj_newchild (lua_State *L);
void lj_child_close (lua_State *L, ljChild *c, int wait);
double lj_monotonic (void);        /* CLOCK_MONOTONIC, seconds */
int lj_reaper_sweep (lua_State *L);
void lj_open_process (lua_State *L);

/* spawn.c, for the child object of an asynchronous spawn: reads what the
** runner reported; 1 when setup is over (then c->setup says how, and a
** failure's error object is in the child's uservalue 2) */
int lj_setup_step (lua_State *L, int idx, ljChild *c);

/* }====== */


/* {====== Shared by the spawner and lj.call (call.c) ======} */

/* plan.steps[k] (the table on top of the stack) into s; raises as
** "who: plan.steps[k] ..." on misuse */
void lj_decodestep (lua_State *L, ljArena *a, const char *who, int k,
                    ljStep *s);

/* plan.cgroup (argument 1 of A): a cgroup's fd (v2), or the cgroup.procs
** fds of its hierarchies (v1, at most LJ_MAXCGPROCS); lj_cgplace puts
** pid there */
void lj_argcgroup (ljArgs *A, int *fd, int *procs, int *nprocs);
int lj_cgplace (int pid, int dirfd, const int *procs, int nprocs);

/* the parent of a payload it forked (the runner's fork mode, lj.call's
** relay): waits for pid, forwarding SIGTERM, SIGINT, SIGHUP, SIGQUIT,
** SIGUSR1 and SIGUSR2 to it, writes its raw wait status to statusfd and
** exits with its code, or 128 + n for a signal n.  System calls only */
__attribute__((noreturn)) void lj_relay (long pid, int statusfd);

/* }====== */

#endif
