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

/* report pipe records: {kind, step index, errno} (and a stepper's,
** below) */
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
  LJ_PROG_PAUSED = 32,             /* a stepper's: stop before the fds
                                      step, take requests on ctlfd */
  LJ_PROG_SUBREAPER = 64,          /* init without a pid namespace (a
                                      forked stepper's exec) */
  LJ_PROG_FORK = 128,              /* the runner forks the payload and
                                      relays its status (plan.fork) */
  LJ_PROG_NOTIFY = 256             /* a seccomp listener: a forked payload
                                      execs once the runner has closed
                                      its report fd (notify.c) */
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
  int32_t ctlfd;                   /* a stepper's control socket, or -1 */
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


/* {====== A stepper's control socket (stepper.c, runner.c) ======}
** A stepper's runner (LJ_PROG_PAUSED) stops before its fds step and
** takes requests on a SOCK_SEQPACKET socket, one message each: an int32
** kind and
**   LJ_CTL_STEPS  a program (a memfd, by SCM_RIGHTS): its steps applied
**   LJ_CTL_EXEC   a program: its steps (a chdir), the fds step, then exec
**                 with the program's path, argv and environment
**   LJ_CTL_STATE  nothing: the answer is its state, as text
**   LJ_CTL_FORK   an ljCtlFork and the maps' texts; by SCM_RIGHTS the new
**                 runner's stdio (those not inherited)
** It answers with report records {kind, position, errno}: an
** LJ_REP_OPTIONAL for each optional step that failed, then one of
**   LJ_REP_DONE    done (a fork's: with the new runner's control socket,
**                  pidfd and status pipe, by SCM_RIGHTS)
**   LJ_REP_FAILED  the step at position failed: it waits for the next
**   LJ_REP_FATAL   the fds or exec step failed: it exits
**   LJ_REP_DATA    {kind, bytes, 0} and the bytes (state's), until DONE
** EOF: it exec'd, or died (the program's progress tells which).
*/

enum { LJ_CTL_STEPS = 1, LJ_CTL_EXEC, LJ_CTL_STATE, LJ_CTL_FORK };
enum { LJ_REP_DONE = 3, LJ_REP_FAILED = 4, LJ_REP_DATA = 5 };

#define LJ_CTL_DATA  16384          /* bytes of state per message */

/* the pid of a pidfd in the pid namespace of our /proc, or 0 */
int lj_pidfdpid (int pidfd);

/* ASan: a child running in our memory on a stack of ours (the spawn's
** trampoline, netpool's maker) marks that stack's shadow and never
** unmarks it: the stack is made clean before each clone and again before
** it is unmapped or used again */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* valgrind runs a CLONE_VM child only as a thread: under it the spawn's
** trampoline gets a copy of our memory instead (spawn.c's startchild),
** and netpool is off; the runner itself, an exec'd program, runs outside
** valgrind */
#if defined(__has_include) && __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* clone3.S: a child in our memory on its own stack (clone3(2) as glibc's
** clone() does clone(2)), and a system call that leaves errno alone */
#if defined(__x86_64__) || defined(__aarch64__)
#define HAVE_CLONE3 1
long lj_clone3 (void *args, size_t size, int (*fn) (void *), void *arg);
long lj_rawsys (long nr, long a, long b, long c, long d, long e, long f);
#endif

/* netpool.c: a fresh network namespace made ahead of time, close-on-exec,
** for a spawn whose first new one it may stand in for, or -1 */
int lj_netpool_take (lua_State *L);
void lj_netpool_collect (lua_State *L);   /* core.reap's: what a maker made */
void lj_netpool_forget (lua_State *L);    /* a fork's copy: close nothing */

typedef struct ljCtlFork {
  int32_t kind;                    /* LJ_CTL_FORK */
  int32_t cloneflags;              /* its namespaces */
  int32_t stdio;                   /* bit k: stdio k comes with it */
  uint32_t uidlen, gidlen;         /* the maps' texts, after this */
} ljCtlFork;

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
  int notify;                      /* the seccomp step with notify rules:
                                      its position in steps, 1-based, or 0 */
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

/* the first n steps of P, its fds, path, argv and environment as a
** program in a new memfd, behind a copy of h (the header fields the
** caller decides: flags, pdeathsig, report, status, lease and control
** fds): core.spawn packs a plan with it, the stepper each request.  0
** or an errno; *g is the program, mapped */
int lj_pack (const ljPlan *P, int n, const ljProg *h, int *fd, ljProg **g);

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

typedef struct ljNotify ljNotify;   /* notify.c */

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
  ljArena *arena;                  /* ... which is freed then, not left
                                      to a GC that cannot see its size */
  double setupdl;                  /* when setup times out (monotonic) */
  int setup;                       /* 1 in setup, 0 started, -1 failed */
  int leasefd;                     /* its id lease: closed once reaped */
  int epfd;                        /* the aggregate fd, made on demand */
  unsigned epmask[6];              /* what epfd watches: in, out, err,
                                      pid, report, notify */
  int epfds[6];
  ljNotify *notify;                /* a seccomp listener's, or NULL */
  ljBuf2 buf[3];                   /* stdin's queue, stdout's and stderr's */
  size_t limit;                    /* per buffer: back-pressure */
  int closein;                     /* close stdin once the queue is out */
  double deadline;                 /* killafter: when (monotonic), 0 none */
  int deadsig;                     /* ... and what */
  int killsig;                     /* what close and gc send; 0 nothing */
  int lastsig;                     /* the last signal we sent */
  int killed;                      /* we sent SIGKILL while it ran */
  int timedout;                    /* ... the killafter deadline sent one */
  int initlease;                   /* init holds a copy of leasefd */
  int reaped;                      /* status is final */
  int status;                      /* raw wait status */
  int hostreaped;                  /* someone else reaped it (ECHILD) */
  int lost;                        /* ... and its status is unknown */
  double utime, stime;             /* rusage of the reaped child */
  long maxrss;
  lua_Alloc alloc;                 /* for the buffers */
  void *ud;
} ljChild;

ljChild *lj_newchild (lua_State *L);
void lj_child_close (lua_State *L, ljChild *c, int wait);
void lj_child_endsetup (ljChild *c);   /* program, reports, arena: gone */
int lj_child_signal (ljChild *c, int sig);  /* by its pidfd, else kill(2)
                                          while unreaped (ENOSYS: valgrind) */
void lj_unwatch (ljChild *c, int fd);   /* out of the aggregate fd */
double lj_monotonic (void);        /* CLOCK_MONOTONIC, seconds */
int lj_reaper_sweep (lua_State *L);
void lj_reaper_add (lua_State *L, int pidfd, int leasefd);  /* owns both */
void lj_reaper_forget (lua_State *L);   /* a fork's copy: drop, close nothing */
void lj_open_process (lua_State *L);

/* notify.c: a seccomp listener's supervisor.  lj_notify_new takes sock
** (our end of the seccomp step's socket; ENOMEM closes it; runnerstays:
** the runner is init or the relay, c->pid, whose calls are ours); _fd is what
** to watch (that socket, then the listener; -1); _take receives the
** listener (0, or an errno: EAGAIN not yet); _serve answers what waits
** (see notify.c); _held: a call waits for the handler in the object */
int lj_notify_new (ljChild *c, int sock, int runnerstays);
void lj_notify_close (ljChild *c);
int lj_notify_fd (ljChild *c);
int lj_notify_take (ljChild *c);
int lj_notify_held (ljChild *c);
int lj_notify_serve (lua_State *L, int idx, ljChild *c, int handle, int fn);
void lj_notify_methods (lua_State *L);

/* spawn.c, for the child object of an asynchronous spawn: reads what the
** runner reported; 1 when setup is over (then c->setup says how, and a
** failure's error object is in the child's uservalue 2) */
int lj_setup_step (lua_State *L, int idx, ljChild *c);

/* spawn.c, for the stepper (stepper.c): core.spawn with the plan at
** index 1 (ctlfd: the runner's end of a stepper's control socket, or
** -1; *timeout: the plan's setup_timeout); the step decoder of plans
** (fmt: "spawn: plan.steps[%d] %s", the number and the op's name); the
** spawner's own steps; a step that went well, as a report */
int lj_spawnplan (lua_State *L, int ctlfd, double *timeout);
void lj_decodestep (lua_State *L, ljArena *a, int t, const char *fmt, int k,
                    ljStep *s);
extern const ljOp lj_op_fds, lj_op_exec;
void lj_pushstepok (lua_State *L, const ljStep *s);
void lj_open_stepper (lua_State *L);

/* }====== */


/* {====== Shared by the spawner and lj.call (call.c) ======} */

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
