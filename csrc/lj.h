/*
** lj.h: shared definitions of lunajail.core.
**
** The core's one mechanism is the *step*.  Every primitive that acts on
** the calling process (mount, setresuid, seccomp, ...) is an ljOp with
**   decode    Lua arguments -> ljStep (raises on misuse; parent only)
**   apply     ljStep -> 0 or an errno (async-signal-safe: syscalls only)
**   describe  ljStep -> "mount(\"/usr\", \"/r/usr\")" for error messages
** core.X(args) decodes, applies and reports in the calling process; a
** spawn plan's {"X", args} is decoded by the parent into the same ljStep
** and applied in the child by the same apply function, between clone and
** exec.  One vocabulary, two places to run it.
**
** Memory a step needs beyond its fixed fields (strings, lists, BPF) lives
** in an ljArena, a Lua userdata freed by __gc/__close, so a raise midway
** through decoding leaks nothing.
*/

#ifndef lj_h
#define lj_h

#include <stddef.h>
#include <stdint.h>

#ifndef CLONE_PIDFD                /* older headers than the kernel */
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#include "lua.h"
#include "lauxlib.h"

#define LJ_EXPORT  __attribute__((visibility("default")))

#define LJ_ARENA   "lunajail.Arena"
#define LJ_STEPERR "lunajail.StepError"

#define lj_countof(a)  (sizeof(a) / sizeof((a)[0]))


/* {====== Arena ======} */

typedef struct ljArena ljArena;

ljArena *lj_newarena (lua_State *L);           /* pushes it; to-be-closed */
ljArena *lj_newarena_kept (lua_State *L);      /* pushes it; __gc frees */
void lj_arenafree (ljArena *a);                /* now; idempotent */
void *lj_alloc (lua_State *L, ljArena *a, size_t n);  /* zeroed; raises */
const char *lj_strdup (lua_State *L, ljArena *a, const char *s, size_t n);

/* }====== */


/* {====== Arguments: raise on misuse, naming the argument ======}
**
** Every checked argument goes through an ljArgs cursor, so a direct call
** says "mount: bad argument #2 (target): ..." and the same decoder inside
** a plan says "steps[3] mount: bad argument #2 (target): ...".
*/

#define LJ_MAXTIME  1e9            /* seconds, about 31 years: any time */

typedef struct ljArgs {
  lua_State *L;
  int base;                        /* stack index of argument 1 */
  int n;                           /* number of arguments present */
  const char *where;               /* "mount" or "steps[3] mount" */
  const char *names;               /* "source,target,...": for messages */
  ljArena *arena;                  /* for lists and blocks a step needs */
  int copy;                        /* copy strings into the arena (plans) */
} ljArgs;

void lj_args (ljArgs *A, lua_State *L, const char *where, const char *names);
__attribute__((noreturn))
int lj_argerror (ljArgs *A, int n, const char *fmt, ...);   /* raises */
int lj_isnone (ljArgs *A, int n);          /* absent or nil */
int lj_isstring (ljArgs *A, int n);        /* a real string (not a number) */
int lj_argidx (ljArgs *A, int n);          /* stack index of argument n */
lua_Integer lj_argint (ljArgs *A, int n, lua_Integer min, lua_Integer max);
lua_Integer lj_optint (ljArgs *A, int n, lua_Integer min, lua_Integer max,
                       lua_Integer def);
int lj_argbool (ljArgs *A, int n);         /* booleans only: 0 is true! */
int lj_optbool (ljArgs *A, int n, int def);
const char *lj_argstr (ljArgs *A, int n, size_t *len);   /* no NUL */
const char *lj_optstr (ljArgs *A, int n, const char *def);
const char *lj_argbytes (ljArgs *A, int n, size_t *len);  /* NULs allowed */
const char *lj_argpath (ljArgs *A, int n);  /* non-empty, no NUL */
const char *lj_argabs (ljArgs *A, int n);   /* and absolute */
unsigned lj_argmode (ljArgs *A, int n, unsigned def);  /* "0755" */
/* seconds: a number in [min, max]; NaN, infinities, strings raise */
double lj_argtime (ljArgs *A, int n, double min, double max);
const char *lj_pushnum (lua_State *L, double v);  /* "0.5", "NaN" */
int lj_argfd (ljArgs *A, int n);
int lj_argtable (ljArgs *A, int n);        /* checks; returns stack index */
/* a table of strings -> NULL-terminated array in the arena */
const char **lj_argstrlist (ljArgs *A, int n, size_t *count);
/* ... -> "a\0b\0" in the arena (a flat step blob); *len bytes */
const char *lj_argpacked (ljArgs *A, int n, size_t *count, size_t *len);

/* }====== */


/* {====== Names: flags, signals, resources by name or number ======} */

typedef struct ljName {
  const char *name;                /* short, lower case: "bind", "term" */
  lua_Integer value;
  const char *cname;               /* C spelling if not prefix+NAME */
} ljName;

typedef struct ljNames {
  const char *what;                /* "mount flag": used in messages */
  const char *prefix;              /* "MS_": the C spelling is prefix+NAME */
  const ljName *list;              /* ends with {NULL, 0} */
} ljNames;

extern const ljNames lj_signals, lj_errnos, lj_nsflags, lj_mountflags,
  lj_umountflags, lj_rlimits, lj_securebits, lj_landlock_fs;

/* one name or an integer -> value */
lua_Integer lj_argname (ljArgs *A, int n, const ljNames *t);
/* a list of names, a comma-separated string, or an integer -> OR;
** absent -> 0 */
lua_Integer lj_argflags (ljArgs *A, int n, const ljNames *t);
int lj_argsignal (ljArgs *A, int n);       /* by name or 1.._NSIG-1 */
int lj_argsignal0 (ljArgs *A, int n);      /* and the number 0 (none) */
const char *lj_nameof (const ljNames *t, lua_Integer v);  /* or NULL */
/* the C spelling of v ("ENOENT") into buf; NULL if v has no name */
const char *lj_cname (const ljNames *t, lua_Integer v, char *buf,
                      size_t size);
int lj_findname (const ljNames *t, const char *s, size_t len,
                 lua_Integer *v);
void lj_pushnames (lua_State *L, const ljNames *t);  /* both ways */
void lj_pushflagnames (lua_State *L, const ljNames *t, lua_Integer v);

/* }====== */


/* {====== Steps ======} */

#define LJ_NSTR  4
#define LJ_NINT  4

typedef struct ljStep {
  const struct ljOp *op;
  int optional;                    /* a failure is reported, not fatal */
  int index;                       /* its number in errors: plan.steps[k]
                                      is k; the spawner's own are 0 */
  const char *s[LJ_NSTR];          /* string arguments (NULL: absent) */
  int64_t i[LJ_NINT];              /* integer arguments */
  const void *p;                   /* op-specific data in the arena: */
  size_t plen;                     /* plen bytes, flat, without pointers
                                      (the runner gets a copy) */
  int usefd;                       /* an fd of the caller's the step uses:
                                      the runner keeps it (0: none -- fd 0
                                      is kept anyway) */
} ljStep;

/* what apply may need beyond its step (child side) */
typedef struct ljCtx {
  int pdeathsig;                   /* re-armed after credential changes */
  void *plan;                      /* the runner's plan, in a sandbox */
  const char *beneath;             /* a "beneath" step's root, or NULL */
  int beneathfd;                   /* ... opened O_PATH */
} ljCtx;

typedef struct ljBuf { char *b; size_t n, size; } ljBuf;

typedef struct ljOp {
  const char *name;
  const char *args;                /* "source,target,...": for messages */
  void (*decode) (ljArgs *A, ljStep *s);
  int (*apply) (const ljStep *s, ljCtx *c);    /* returns 0 or errno */
  void (*describe) (const ljStep *s, ljBuf *b);  /* NULL: quoted s[] */
  int flags;                       /* LJ_OPF_* */
} ljOp;

#define LJ_OPF_CREDS   1           /* changes ids: re-arm pdeathsig */
#define LJ_OPF_PLAN    2           /* a plan's step only: no core.X */

/* An op's decode and describe run in the parent only: in the runner's
** build (lunajail-runner, which applies a plan's steps in the sandbox)
** they are left out, and with them every call into Lua and libraries. */
#ifdef LJ_RUNNER
#define LJ_PARENT(f)  NULL
#else
#define LJ_PARENT(f)  f
#endif

const ljOp *lj_findop (const char *name);
int lj_opindex (const ljOp *op);                /* its number, or -1 */
const ljOp *lj_opbyindex (int index);           /* or NULL */
void lj_pushopnames (lua_State *L);             /* "mount, umount, ..." */
void lj_describe (const ljStep *s, ljBuf *b);   /* op(args) */
void lj_bufadd (ljBuf *b, const char *s);
void lj_bufaddq (ljBuf *b, const char *s);      /* "quoted" */
void lj_bufaddint (ljBuf *b, int64_t v);
void lj_bufaddflags (ljBuf *b, const ljNames *t, int64_t v);  /* "a,b" */
void lj_pusherrtext (lua_State *L, int err);    /* "No such file (ENOENT)" */
int lj_pushfail (lua_State *L, const char *what, int err);  /* nil,msg,e */
int lj_pushsteperr (lua_State *L, const ljStep *s, int index, int err);

/* }====== */


/* {====== Shared by several concerns ======} */

struct rusage;
void lj_pushstatus (lua_State *L, int status, const struct rusage *ru);
const char **lj_argenv (ljArgs *A, int n);     /* nil: environ */
const char **lj_argargv (ljArgs *A, int n);    /* non-empty */
int lj_writeproc (int pid, const char *file, const char *text);
/* the maps of pid's user namespace (text "inside outside count\n...",
** NULL for none; setgroups 1 "deny", 2 "allow", 0 as needed), as root
** or through newuidmap and newgidmap; *what names a failure's file */
int lj_writemaps (int pid, const char *uid, const char *gid, int setgroups,
                  const char **what);
int lj_hascap (int cap);
/* a user namespace mapping uid and gid onto touid and togid, by a helper
** of a moment (idmap.c); proc shows our own process */
int lj_idmapns (const char *proc, unsigned uid, unsigned touid,
                unsigned gid, unsigned togid, int *nsfd);
/* 0, or EPERM when the tree holds a set-id file of uid's or gid's */
int lj_nosetid (int tree, unsigned uid, unsigned gid);
void lj_argidmap (ljArgs *A, int n, luaL_Buffer *b);

/* the pid a pidfd's fdinfo file (path) names: 0 if unreadable or no
** pidfd's, -1 if its process is gone (ns.c; async-signal-safe) */
int lj_fdinfopid (const char *path);

/* paths (path.c), async-signal-safe; O_PATH fds, close-on-exec */
const char *lj_inroot (ljCtx *c, const char *path);  /* "/x" below the
                                     beneath root ("/" for it), or NULL */
int lj_openin (ljCtx *c, const char *rel, int flags);  /* inside it */
int lj_opennolinks (const char *path, int flags);  /* ELOOP at a symlink */

/* Lua values as bytes and back (values.c), for lj.call's results */
#define LJ_VALMAX    (64 << 20)    /* bytes */
#define LJ_VALDEPTH  100           /* levels of tables */

typedef struct ljEnc {             /* the encoder's state: never raises */
  lua_State *L;
  char *p;                         /* malloc'd */
  size_t n, cap;
  int seen;                        /* stack index: the tables on the path */
  char path[256];                  /* where it is, for messages */
  size_t plen;
  char err[512];                   /* why it stopped: 0 returned */
} ljEnc;

void lj_encinit (ljEnc *E, lua_State *L);      /* pushes a table */
int lj_encput (ljEnc *E, const void *p, size_t n);
int lj_enctag (ljEnc *E, char tag);
int lj_encu32 (ljEnc *E, uint32_t v);
int lj_encstring (ljEnc *E, const char *s, size_t len);
int lj_encvalue (ljEnc *E, int idx);          /* 1, or 0 and E->err */

typedef struct ljDec {             /* untrusted bytes p[off .. n) */
  lua_State *L;
  const char *p;
  size_t n, off;
} ljDec;

__attribute__((noreturn)) void lj_decfail (ljDec *D, const char *what);
void lj_dectake (ljDec *D, void *out, size_t n);
uint32_t lj_decu32 (ljDec *D);
void lj_decvalue (ljDec *D);                  /* pushes it, or raises */

/* }====== */


/* {====== Per-concern registration ======} */

extern const ljOp *const lj_ops_ns[], *const lj_ops_mount[],
  *const lj_ops_ids[], *const lj_ops_prctl[], *const lj_ops_rlimit[],
  *const lj_ops_caps[], *const lj_ops_seccomp[], *const lj_ops_landlock[],
  *const lj_ops_net[], *const lj_ops_netlink[], *const lj_ops_sched[],
  *const lj_ops_tty[], *const lj_ops_gate[],
  *const lj_ops_path[];

void lj_open_steps (lua_State *L);
void lj_pushsteperr_meta (lua_State *L);
void lj_open_ns (lua_State *L);
void lj_open_mount (lua_State *L);
void lj_open_path (lua_State *L);
void lj_open_ids (lua_State *L);
void lj_open_rlimit (lua_State *L);
void lj_open_prctl (lua_State *L);
void lj_open_caps (lua_State *L);
void lj_open_seccomp (lua_State *L);
const char *lj_seccomp_archname (uint32_t token);   /* "x86_64", NULL */
void lj_seccomp_pushname (lua_State *L, uint32_t arch, int nr);  /* or nil */
void lj_open_landlock (lua_State *L);
void lj_open_proc (lua_State *L);
void lj_open_spawn (lua_State *L);
void lj_open_idalloc (lua_State *L);
void lj_open_cgroup (lua_State *L);
void lj_open_tty (lua_State *L);
int lj_sendfd (int sock, int fd);     /* tty.c: an fd by SCM_RIGHTS */
int lj_recvfd (int sock);            /* ... received, or -1 */
void lj_open_call (lua_State *L);
void lj_open_sched (lua_State *L);
void lj_open_gate (lua_State *L);
void lj_open_netpool (lua_State *L);
void lj_open_values (lua_State *L);

/* }====== */

#endif
