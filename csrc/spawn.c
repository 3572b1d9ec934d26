/*
** spawn.c: core.spawn(plan), the parent side.
**
**   core.spawn{
**     argv = {"sh", "-c", "echo hi"},  path = "/bin/sh" (default argv[1],
**       looked up in env's PATH when it has no "/"),
**     env = {"PATH=/usr/bin"} or {PATH = "/usr/bin"} (default: empty),
**     namespaces = {"user", "mount", "pid", "net", "uts", "ipc"},
**     uidmap = {{0, 1000, 1}}, gidmap = {{0, 1000, 1}},
**     steps = { {"mount", "tmpfs", "/tmp", "tmpfs"}, {"chdir", "/"}, ... },
**     cwd = "/", stdio = {"pipe", "pipe", "inherit"}, fds = {[3] = fd},
**     pid1 = true, die_with_parent = true, new_session = true,
**     trace = false, setup_timeout = 5, async = false,
**     lease = core.idlease{...},
**     cgroup = {fd = dirfd} (v2) or {procs = {fd, ...}} (v1),
**     time_offsets = {monotonic = 3600, boottime = 0},  (needs "time")
**   }  -> child object | nil, err (err.step, err.op, err.errno, ...)
**
** A lease (idalloc.c) moves into the child object when the spawn succeeds
** (it is spent then: a plan's lease serves one spawn) and stays the
** caller's when it fails.  With lunajail-init, init gets its own copy of
** the lease's fd, so the id stays leased while the sandbox lives, even
** after we are gone (die_with_parent = false).
**
** Decoding raises on misuse and happens before anything is acquired; from
** the first fd on nothing raises, and every failure path closes what it
** opened.  The plan becomes a *program* (spawn.h) in a memfd; a child
** cloned in our memory (CLONE_VM: no copy of a large heap) waits for
** our "go" -- we write its uid/gid maps first -- and execs
** lunajail-runner (runner.c) from a sealed memfd, which applies the
** steps in a process of its own.  We wait for that exec, as posix_spawn
** does (microseconds).  Then:
**   blocking   wait on the report pipe until the payload has exec'd (EOF)
**              or a step failed, for at most setup_timeout seconds (then
**              the runner is killed: the step it was at is the error,
**              ETIMEDOUT), and return the child or nil, err;
**   async      return the child object at once; its pollfd is readable
**              when setup is over, child:step() says {started = true}
**              or {setup_error = err}, child:started() tells which.
** The only work done synchronously, between clone and "go", is what the
** runner cannot do itself: the id maps (through newuidmap for ranges),
** a time namespace's offsets, which must be written before its first
** process runs (the trampoline enters it at its exec), and, with a
** cgroup, putting the child in it (see "The cgroup").
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#include "spawn.h"

#define STACKSIZE  (64 * 1024)   /* the trampoline's stack */

/* setup_timeout: the default, and what a plan may ask for.  A setup is
** milliseconds of system calls; the deadline is there for one that
** blocks (a FIFO, a hung file system), so it is short.  Under valgrind
** the runner runs outside it, but we (reading its reports) inside: the
** default is then longer */
#define SETUP_TIMEOUT  5.0
#define SETUP_VALGRIND 20        /* ... times that, under valgrind */
#define SETUP_MIN      0.001
#define SETUP_MAX      3600.0

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

extern const char lj_runnerbin[];
extern const uint64_t lj_runnerbin_size;


/* {====== The runner binary, a sealed memfd per Lua state ======} */

typedef struct RunnerFd { int fd; } RunnerFd;

static int runnerfd_gc (lua_State *L) {
  RunnerFd *p = (RunnerFd *)lua_touserdata(L, 1);
  if (p->fd >= 0) close(p->fd);
  p->fd = -1;
  return 0;
}

static int makerunnerfd (void) {
  size_t len = (size_t)lj_runnerbin_size, off = 0;
  int fd = memfd_create("lunajail-runner", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  while (off < len) {
    ssize_t w = write(fd, lj_runnerbin + off, len - off);
    if (w <= 0) { close(fd); return -1; }
    off += (size_t)w;
  }
  /* sealed: the payload may reach it through /proc/1/exe (CVE-2019-5736) */
  if (fchmod(fd, 0555) != 0
      || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
               | F_SEAL_SEAL) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int getrunnerfd (lua_State *L) {
  RunnerFd *p;
  if (lua_getfield(L, LUA_REGISTRYINDEX, "lunajail.runnerfd")
      == LUA_TUSERDATA) {
    p = (RunnerFd *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    return p->fd;
  }
  lua_pop(L, 1);
  p = (RunnerFd *)lua_newuserdatauv(L, sizeof *p, 0);
  p->fd = -1;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, runnerfd_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  if ((p->fd = makerunnerfd()) < 0)
    luaL_error(L, "spawn: cannot create the runner memfd: %s",
               strerror(errno));
  lua_setfield(L, LUA_REGISTRYINDEX, "lunajail.runnerfd");
  return p->fd;
}

/* }====== */


/* {====== The spawner's own two steps, for messages ======}
** The runner applies them (runner.c); here they are only described. */

static void fds_describe (const ljStep *s, ljBuf *b) {
  const ljPlan *P = (const ljPlan *)s->p;
  int i;
  for (i = 0; i < P->nfds && i < 16; i++) {
    if (i) lj_bufadd(b, ", ");
    lj_bufaddint(b, P->fds[i].target);
    lj_bufadd(b, "<-");
    lj_bufaddint(b, P->fds[i].source);
  }
  if (P->nfds > 16) lj_bufadd(b, ", ...");
}

static void exec_describe (const ljStep *s, ljBuf *b) {
  const ljPlan *P = (const ljPlan *)s->p;
  lj_bufaddq(b, P->path);
}

const ljOp lj_op_fds = { "fds", "", NULL, NULL, fds_describe, 0 };
const ljOp lj_op_exec = { "exec", "", NULL, NULL, exec_describe, 0 };

/* }====== */


/* {====== Decoding the plan (raises on misuse) ======} */

static const char *const planfields[] = {
  "argv", "path", "env", "cwd", "namespaces", "uidmap", "gidmap",
  "setgroups", "steps", "stdio", "fds", "pid1", "die_with_parent",
  "new_session", "trace", "setup_timeout", "async", "lease", "cgroup",
  "time_offsets", "fork", NULL
};

/* a field of the plan as argument #1 of an ljArgs named "plan.FIELD" */
typedef struct Field {
  ljArgs A;
  char where[48];
} Field;

static ljArgs *field (lua_State *L, Field *f, ljArena *a, const char *name) {
  memset(f, 0, sizeof *f);
  snprintf(f->where, sizeof f->where, "spawn: plan.%s", name);
  lua_getfield(L, 1, name);
  f->A.L = L;
  f->A.base = lua_gettop(L);
  f->A.n = 1;
  f->A.where = f->where;
  f->A.names = NULL;
  f->A.arena = a;
  f->A.copy = 1;
  return &f->A;
}

static void checkfields (lua_State *L) {
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    const char *const *f;
    const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    for (f = planfields; *f; f++)
      if (strcmp(*f, k) == 0) break;
    if (*f == NULL) {
      luaL_Buffer b;
      luaL_buffinit(L, &b);
      for (f = planfields; *f; f++) {
        if (f != planfields) luaL_addstring(&b, ", ");
        luaL_addstring(&b, *f);
      }
      const char *valid, *name;
      luaL_pushresult(&b);
      valid = lua_tostring(L, -1);
      name = luaL_tolstring(L, -3, NULL);
      luaL_error(L, "spawn: unknown plan field '%s' (valid: %s)", name, valid);
    }
    lua_pop(L, 1);
  }
}

/* the largest positive integer key of table t (nil holes allowed) */
static int maxindex (lua_State *L, int t) {
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_isinteger(L, -2) && lua_tointeger(L, -2) > n
        && lua_tointeger(L, -2) <= 64)
      n = (int)lua_tointeger(L, -2);
    lua_pop(L, 1);
  }
  return n;
}

/* the where of a step's messages, without its op: fmt with no name */
static const char *pushwhere (lua_State *L, const char *fmt, int k) {
  const char *w = lua_pushfstring(L, fmt, k, "");
  lua_pushlstring(L, w, strlen(w) - 1);        /* the space before it */
  lua_remove(L, -2);
  return lua_tostring(L, -1);
}

/* the step table at t = {"name", args..., optional = bool} into s, as
** step k; fmt names it in messages ("spawn: plan.steps[%d] %s": the
** number, then the op's name).  Raises on misuse; leaves the stack */
void lj_decodestep (lua_State *L, ljArena *a, int t, const char *fmt, int k,
                    ljStep *s) {
  int top = lua_gettop(L), n, j;
  const char *name;
  ljArgs A;
  t = lua_absindex(L, t);
  if (!lua_istable(L, t))
    luaL_error(L, "%s: {\"name\", args...} expected, got %s",
               pushwhere(L, fmt, k), luaL_typename(L, t));
  lua_rawgeti(L, t, 1);
  name = lua_tostring(L, -1);
  if (lua_type(L, -1) != LUA_TSTRING || (s->op = lj_findop(name)) == NULL) {
    const char *valid;
    name = luaL_tolstring(L, -1, NULL);
    lj_pushopnames(L);
    valid = lua_tostring(L, -1);
    luaL_error(L, "%s: unknown step '%s' (valid: %s)", pushwhere(L, fmt, k),
               name, valid);
  }
  lua_getfield(L, t, "optional");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    luaL_error(L, "%s.optional: boolean expected", pushwhere(L, fmt, k));
  s->optional = lua_toboolean(L, -1);
  s->index = k;
  lua_pushfstring(L, fmt, k, name);
  n = maxindex(L, t) - 1;
  luaL_checkstack(L, n + 4, "too many step arguments");
  for (j = 2; j <= n + 1; j++) lua_rawgeti(L, t, j);
  A.L = L;
  A.base = lua_gettop(L) - n + 1;
  A.n = n;
  A.where = lua_tostring(L, A.base - 1);
  A.names = s->op->args;
  A.arena = a;
  A.copy = 1;
  s->op->decode(&A, s);
  lua_settop(L, top);
}

static int cmppair (const void *x, const void *y) {
  return ((const ljFdPair *)x)->target - ((const ljFdPair *)y)->target;
}

/* the parts of the plan only the parent uses */
typedef struct Side {
  const char *uid, *gid;           /* "inside outside count\n..." or NULL */
  int setgroups;                   /* 1 deny, 2 allow, 0 default */
  const char *stdpath[3];          /* stdio files */
  int stdflags[3];
  ljLease *lease;                  /* moves into the child object */
  const char *timens;              /* "monotonic S N\nboottime S N\n" */
} Side;

/* stdio and fds, decoded into pairs; what the parent opens later, in
** prepare(), is marked with a negative source */
enum { SRC_PIPE = -1, SRC_NULL = -2, SRC_MERGE = -3, SRC_FILE = -4,
       SRC_PTY = -5 };

/* stdio[k] = "/path" or {path = "/path", append = true} */
static void decodefile (ljArgs *A, Side *M, int k) {
  lua_State *L = A->L;
  const char *path;
  int append = 0;
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "append");
    append = lua_toboolean(L, -1);
    lua_getfield(L, -2, "path");
    lua_replace(L, -3);
    lua_pop(L, 1);
  }
  path = lua_tostring(L, -1);
  if (lua_type(L, -1) != LUA_TSTRING || path[0] != '/'
      || strlen(path) != lua_rawlen(L, -1))
    lj_argerror(A, 1, "stdio[%d]: an absolute path expected", k + 1);
  M->stdpath[k] = lj_strdup(L, A->arena, path, strlen(path));
  M->stdflags[k] = k == 0 ? O_RDONLY
                   : O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC);
}

/* an fd: an integer, or a float with an integer value (luasocket's
** getfd() returns 5.0), from 0 below 2^30; made an integer in place */
static int isfd (lua_State *L, int idx) {
  lua_Integer v;
  int ok = 0;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
  v = lua_tointegerx(L, idx, &ok);
  if (!ok || v < 0 || v >= (1 << 30)) return 0;
  lua_pushinteger(L, v);
  lua_replace(L, idx);
  return 1;
}

static void decodefds (lua_State *L, ljPlan *P, Side *M, ljArena *a) {
  static const char *const stdnames[] = { "stdin", "stdout", "stderr" };
  Field f;
  ljArgs *A = field(L, &f, a, "stdio");
  int k, n = 3, idx = A->base;
  ljFdPair *p = (ljFdPair *)lj_alloc(L, a, sizeof(ljFdPair) * (LJ_MAXFDS + 3));
  if (lj_isstring(A, 1) && strcmp(lua_tostring(L, idx), "pty") == 0) {
    lua_createtable(L, 3, 0);              /* "pty": all three */
    for (k = 1; k <= 3; k++) {
      lua_pushliteral(L, "pty");
      lua_rawseti(L, -2, k);
    }
    lua_replace(L, idx);
  }
  if (!lj_isnone(A, 1)) lj_argtable(A, 1);
  for (k = 0; k < 3; k++) {
    p[k].target = k;
    p[k].source = SRC_PIPE;
    if (lj_isnone(A, 1) || lua_rawgeti(L, idx, k + 1) == LUA_TNIL) {
      if (!lj_isnone(A, 1)) lua_pop(L, 1);
      continue;
    }
    if (isfd(L, -1))
      p[k].source = (int)lua_tointeger(L, -1);
    else if (lua_type(L, -1) == LUA_TSTRING) {
      const char *s = lua_tostring(L, -1);
      if (strcmp(s, "pipe") == 0) p[k].source = SRC_PIPE;
      else if (strcmp(s, "null") == 0) p[k].source = SRC_NULL;
      else if (strcmp(s, "inherit") == 0) p[k].source = k;
      else if (strcmp(s, "pty") == 0) p[k].source = SRC_PTY;
      else if (k == 2 && strcmp(s, "stdout") == 0) p[k].source = SRC_MERGE;
      else if (s[0] == '/') { decodefile(A, M, k); p[k].source = SRC_FILE; }
      else lj_argerror(A, 1, "%s: \"pipe\", \"null\", \"inherit\", "
                       "\"pty\"%s, a path or an fd expected, got \"%s\"",
                       stdnames[k], k == 2 ? ", \"stdout\"" : "", s);
    }
    else if (lua_istable(L, -1)) { decodefile(A, M, k); p[k].source = SRC_FILE; }
    else lj_argerror(A, 1, "%s: \"pipe\", \"null\", \"inherit\", \"pty\", "
                     "a path or an fd expected", stdnames[k]);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  A = field(L, &f, a, "fds");
  idx = A->base;
  if (!lj_isnone(A, 1)) {
    lj_argtable(A, 1);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 3
          || lua_tointeger(L, -2) >= (1 << 20))
        lj_argerror(A, 1, "target fds 3 and up expected as keys");
      if (!isfd(L, -1))
        lj_argerror(A, 1, "fd %I: source fd expected", lua_tointeger(L, -2));
      if (n >= LJ_MAXFDS) lj_argerror(A, 1, "more than %d fds", LJ_MAXFDS);
      p[n].target = (int)lua_tointeger(L, -2);
      p[n].source = (int)lua_tointeger(L, -1);
      n++;
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  qsort(p, (size_t)n, sizeof *p, cmppair);
  P->fds = p;
  P->nfds = n;
}

static const char *pathof (const char **envp) {
  for (; *envp; envp++)
    if (strncmp(*envp, "PATH=", 5) == 0) return *envp + 5;
  return NULL;
}

static const char *decodemap (lua_State *L, ljArena *a, const char *name) {
  Field f;
  ljArgs *A = field(L, &f, a, name);
  const char *text = NULL;
  if (!lj_isnone(A, 1)) {
    luaL_Buffer b;
    size_t len;
    luaL_buffinit(L, &b);
    lj_argidmap(A, 1, &b);
    luaL_pushresult(&b);
    text = lua_tolstring(L, -1, &len);
    text = lj_strdup(L, a, text, len);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return text;
}

/* the outside id that map text gives to inside id 0, or -1 */
static long long outsidezero (const char *map) {
  while (map && *map) {
    unsigned long long in, out, count;
    if (sscanf(map, "%llu %llu %llu", &in, &out, &count) == 3 && in == 0)
      return (long long)out;
    map = strchr(map, '\n');
    if (map) map++;
  }
  return -1;
}

/* with a user namespace whose 0 is not us, become 0 inside first: the
** caller's own ids are unmapped there, so nothing could create a file */
static void becomezero (ljPlan *P, const Side *M) {
  long long u = outsidezero(M->uid), g = outsidezero(M->gid);
  if (g >= 0 && g != (long long)getegid()) {
    ljStep *s = &P->steps[P->nsteps++];
    s->op = lj_findop("setresgid");
  }
  if (u >= 0 && u != (long long)geteuid()) {
    ljStep *s = &P->steps[P->nsteps++];
    s->op = lj_findop("setresuid");
  }
}

/* {====== The cgroup (lua/lunajail/cgroup.lua makes it) ======}
** plan.cgroup = {fd = dirfd} on cgroup v2: clone3 puts the child there
** (CLONE_INTO_CGROUP, Linux 5.7), so nothing of the sandbox ever runs
** outside it; {procs = {fd, ...}} on v1: each hierarchy's cgroup.procs,
** open for writing, where we write the child's pid before its "go" (as
** where v2 has no clone3 for it).  A cgroup namespace is then made by
** the first step, once the child is in its cgroup: made by the clone, it
** would be rooted at ours.
*/

static int cgroupfd (ljArgs *A, int idx, const char *key) {
  lua_State *L = A->L;
  if (!lua_isinteger(L, idx) || lua_tointeger(L, idx) < 0
      || lua_tointeger(L, idx) >= (1 << 30))
    lj_argerror(A, 1, "%s: an fd expected, got %s", key,
                luaL_typename(L, idx));
  return (int)lua_tointeger(L, idx);
}

/* plan.cgroup, argument 1 of A, into a cgroup's fd (v2) or its
** cgroup.procs fds (v1); absent: *fd = -1, *nprocs = 0 */
void lj_argcgroup (ljArgs *A, int *fd, int *procs, int *nprocs) {
  lua_State *L = A->L;
  int t = A->base, k;
  *fd = -1;
  *nprocs = 0;
  if (!lj_isnone(A, 1)) {
    lj_argtable(A, 1);
    lua_pushnil(L);
    while (lua_next(L, t)) {
      const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2)
                                                       : "";
      if (strcmp(key, "fd") == 0) *fd = cgroupfd(A, -1, "fd");
      else if (strcmp(key, "procs") == 0) {
        int n = lua_istable(L, -1) ? (int)lua_rawlen(L, -1) : -1;
        if (n < 0 || n > LJ_MAXCGPROCS)
          lj_argerror(A, 1, "procs: a list of at most %d fds expected",
                      LJ_MAXCGPROCS);
        for (k = 1; k <= n; k++) {
          lua_rawgeti(L, -1, k);
          procs[(*nprocs)++] = cgroupfd(A, -1, "procs");
          lua_pop(L, 1);
        }
      }
      else lj_argerror(A, 1, "unknown key '%s' (valid: fd, procs)", key);
      lua_pop(L, 1);
    }
    if (*fd < 0 && *nprocs == 0) lj_argerror(A, 1, "fd or procs expected");
  }
}

static void decodecgroup (lua_State *L, ljArena *a, ljPlan *P) {
  Field f;
  lj_argcgroup(field(L, &f, a, "cgroup"), &P->cgroupfd, P->cgprocs,
               &P->ncgprocs);
  lua_pop(L, 1);
}

/* The namespaces the child makes itself, in a first step (step 0
** unshare), not the clone: clone(2) runs in the parent, which would wait
** while the kernel builds them (a network namespace alone is several
** hundred microseconds, most of a spawn's time in the caller); made by
** the runner, after the trampoline's exec, they cost the caller nothing.
** They are owned by the same user namespace either way (the child's,
** made by the clone), and no step runs before them.  A cgroup namespace
** is then rooted at the cgroup the parent has put the child in.  The
** user, pid and time namespaces stay the clone's: the parent writes the
** id maps and the time offsets before "go", and the runner must be the
** pid namespace's first process. */
#define LATENS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET \
                | CLONE_NEWCGROUP)

static void latens (ljPlan *P) {
  if (P->cloneflags & LATENS) {
    ljStep *s = &P->steps[P->nsteps++];
    s->op = lj_findop("unshare");
    s->i[0] = P->cloneflags & LATENS;
    P->cloneflags &= ~LATENS;
  }
}

/* }====== */

/* time_offsets = {monotonic = s, boottime = s}: seconds, as the lines
** /proc/PID/timens_offsets takes */
static const char *decodetime (lua_State *L, ljArena *a, int cloneflags) {
  static const char *const clocks[] = { "monotonic", "boottime" };
  Field f;
  ljArgs *A = field(L, &f, a, "time_offsets");
  char text[128];
  size_t n = 0;
  int k;
  if (lj_isnone(A, 1)) { lua_pop(L, 1); return NULL; }
  lj_argtable(A, 1);
  if (!(cloneflags & CLONE_NEWTIME))
    lj_argerror(A, 1, "time offsets need the \"time\" namespace");
  lua_pushnil(L);
  while (lua_next(L, A->base)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    if (strcmp(key, clocks[0]) != 0 && strcmp(key, clocks[1]) != 0)
      lj_argerror(A, 1, "unknown clock '%s' (valid: monotonic, boottime)",
                  luaL_tolstring(L, -2, NULL));
    lua_pop(L, 1);
  }
  for (k = 0; k < 2; k++) {
    double v, sec;
    lua_getfield(L, A->base, clocks[k]);
    if (!lua_isnil(L, -1)) {
      if (!lua_isnumber(L, -1) || lua_type(L, -1) != LUA_TNUMBER)
        lj_argerror(A, 1, "%s: seconds expected", clocks[k]);
      v = lua_tonumber(L, -1);
      if (!(v >= -1e9 && v <= 1e9))
        lj_argerror(A, 1, "%s: seconds from -1e9 to 1e9 expected", clocks[k]);
      sec = (double)(long long)v;        /* the nanoseconds >= 0 */
      if (sec > v) sec -= 1;
      n += (size_t)snprintf(text + n, sizeof text - n, "%s %lld %ld\n",
                            clocks[k], (long long)sec,
                            (long)((v - sec) * 1e9));
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return n ? lj_strdup(L, a, text, n) : NULL;
}

static void decodeplan (lua_State *L, ljArena *a, ljPlan *P, Side *M) {
  Field f;
  ljArgs *A;
  int nsteps = 0, k, extra, pid1;
  const ljOp *seccomp = lj_findop("seccomp");
  checkfields(L);
  A = field(L, &f, a, "argv");
  P->argv = lj_argargv(A, 1);
  lua_pop(L, 1);
  A = field(L, &f, a, "path");
  P->path = lj_isnone(A, 1) ? P->argv[0] : lj_argpath(A, 1);
  P->search = strchr(P->path, '/') == NULL;
  lua_pop(L, 1);
  A = field(L, &f, a, "env");
  if (lj_isnone(A, 1)) {
    P->envp = (const char **)lj_alloc(L, a, sizeof(char *));
  }
  else P->envp = lj_argenv(A, 1);
  P->pathenv = pathof(P->envp);
  lua_pop(L, 1);
  A = field(L, &f, a, "namespaces");
  P->cloneflags = (int)lj_argflags(A, 1, &lj_nsflags);
  lua_pop(L, 1);
  decodecgroup(L, a, P);
  M->uid = decodemap(L, a, "uidmap");
  M->gid = decodemap(L, a, "gidmap");
  M->timens = decodetime(L, a, P->cloneflags);
  A = field(L, &f, a, "setgroups");
  if (!lj_isnone(A, 1)) {
    const char *s = lj_argstr(A, 1, NULL);
    if (strcmp(s, "deny") == 0) M->setgroups = 1;
    else if (strcmp(s, "allow") == 0) M->setgroups = 2;
    else lj_argerror(A, 1, "\"deny\" or \"allow\" expected");
  }
  lua_pop(L, 1);
  if ((M->uid || M->gid) && !(P->cloneflags & CLONE_NEWUSER))
    luaL_error(L, "spawn: plan.uidmap/gidmap need the \"user\" namespace");
  A = field(L, &f, a, "pid1");
  pid1 = lj_optbool(A, 1, (P->cloneflags & CLONE_NEWPID) != 0);
  if (pid1 && !(P->cloneflags & CLONE_NEWPID))
    lj_argerror(A, 1, "pid1 needs the \"pid\" namespace");
  lua_pop(L, 1);
  A = field(L, &f, a, "fork");
  P->fork = lj_optbool(A, 1, 0);
  if (P->fork && pid1)
    lj_argerror(A, 1, "fork and pid1 exclude each other (PID 1 forks)");
  lua_pop(L, 1);
  A = field(L, &f, a, "die_with_parent");
  P->pdeathsig = lj_optbool(A, 1, 1) ? SIGKILL : 0;
  lua_pop(L, 1);
  A = field(L, &f, a, "trace");
  P->trace = lj_optbool(A, 1, 0);
  lua_pop(L, 1);
  A = field(L, &f, a, "lease");
  P->leasefd = -1;
  if (!lj_isnone(A, 1)) {
    if ((M->lease = (ljLease *)luaL_testudata(L, A->base, LJ_LEASE)) == NULL)
      lj_argerror(A, 1, "a lease (core.idlease) expected");
    if ((P->leasefd = M->lease->fd) < 0)
      lj_argerror(A, 1, "the lease is released or already given to a child");
  }
  lua_pop(L, 1);
  A = field(L, &f, a, "new_session");
  extra = lj_optbool(A, 1, 1);         /* a setsid step first */
  lua_pop(L, 1);
  A = field(L, &f, a, "steps");
  if (!lj_isnone(A, 1)) {
    lj_argtable(A, 1);
    nsteps = (int)lua_rawlen(L, A->base);
    if (nsteps > 100000) lj_argerror(A, 1, "more than 100000 steps");
  }
  P->steps = (ljStep *)lj_alloc(L, a, sizeof(ljStep) * (size_t)(nsteps + 7));
  latens(P);
  becomezero(P, M);
  if (extra) P->steps[P->nsteps++].op = lj_findop("setsid");
  for (k = 1; k <= nsteps; k++) {
    const ljStep *s = &P->steps[P->nsteps];
    lua_rawgeti(L, A->base, k);
    lj_decodestep(L, a, -1, "spawn: plan.steps[%d] %s", k,
                  &P->steps[P->nsteps++]);
    lua_pop(L, 1);
    if (s->op == seccomp && s->i[1]) {   /* a filter with notify rules */
      if (P->notify)
        luaL_error(L, "spawn: plan.steps[%d] seccomp: a second filter with "
                   "notify rules (a sandbox has one listener: the kernel "
                   "refuses another, EBUSY)", k);
      P->notify = P->nsteps;
    }
  }
  lua_pop(L, 1);
  A = field(L, &f, a, "cwd");
  if (!lj_isnone(A, 1)) {
    ljStep *s = &P->steps[P->nsteps++];
    s->op = lj_findop("chdir");
    s->s[0] = lj_argpath(A, 1);
    s->index = ++nsteps;
  }
  lua_pop(L, 1);
  decodefds(L, P, M, a);
  P->ctty = P->fds[0].source == SRC_PTY;
  if (P->ctty && !pid1 && !P->fork && !extra)
    luaL_error(L, "spawn: a pty on stdin needs new_session (or pid1)");
  P->steps[P->nsteps].op = &lj_op_fds;
  P->steps[P->nsteps].index = ++nsteps;
  P->steps[P->nsteps++].p = P;
  P->steps[P->nsteps].op = &lj_op_exec;
  P->steps[P->nsteps].index = ++nsteps;
  P->steps[P->nsteps++].p = P;
  P->pid1 = pid1;
  A = field(L, &f, a, "setup_timeout");
  P->setup_timeout = !lj_isnone(A, 1) ? lj_argtime(A, 1, SETUP_MIN, SETUP_MAX)
                     : RUNNING_ON_VALGRIND ? SETUP_TIMEOUT * SETUP_VALGRIND
                     : SETUP_TIMEOUT;
  lua_pop(L, 1);
  A = field(L, &f, a, "async");
  P->async = lj_optbool(A, 1, 0);
  lua_pop(L, 1);
}

/* }====== */
/* {====== Starting the runner (nothing raises from here on) ======} */

/* what the trampoline needs, in our memory (it shares it) */
typedef struct Tramp {
  int runnerfd, reportfd, pdeathsig;
  int syncfd, parentfds[3];        /* "go"; our ends, closed first */
  int ambient;                     /* carry the capabilities over */
  int keep[2 * LJ_MAXFDS + 8], nkeep;   /* fds the runner inherits */
  char *argv[3];
  char name[16], progarg[16], path[32];
} Tramp;

typedef struct Run {
  int rep[2], syn[2];              /* report and sync pipes */
  int netfd;                       /* a pooled network namespace, or -1 */
  int xp[2];                       /* EOF: the trampoline exec'd */
  int ours[3];                     /* our ends of stdio pipes */
  int opened[3];                   /* fds we opened for the child */
  int status[2];                   /* init's status pipe */
  int pty;                         /* a pty's master, or -1; with a pty
                                      step, our end of its socket */
  int ptystep;                     /* that step's position, 1-based, or 0 */
  int ptyout;                      /* stdin (1), stdout (2): the master */
  int nsock[2];                    /* a seccomp listener's socket: ours,
                                      the step's (until the clone) */
  int notifystep;                  /* that step's position, or 0 */
  int pidfd, pid;
  int progfd;                      /* the program's memfd */
  int ctlfd;                       /* a stepper's control socket (the
                                      runner's end), or -1 */
  ljProg *g;                       /* ... mapped */
  void *stack;
  Tramp T;
  ljPlan *P;
  int (*recs)[3];                  /* what the runner reported: at most */
  int maxrecs, nrecs, fatal;       /* one per step, plus our own */
  int rec[3];                      /* a record being read */
  size_t got;
  int eof, timedout, dead;         /* how setup ended */
  int placed;                      /* cloned into plan.cgroup's fd */
  int waitstatus;
  const char *what;                /* a failure before the first step */
} Run;

static void closefd (int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* a pty pair: our master (non-blocking) and the child's slave */
static int openpty (Run *R, int *slave) {
  char name[64];
  R->pty = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (R->pty < 0 || grantpt(R->pty) != 0 || unlockpt(R->pty) != 0
      || ptsname_r(R->pty, name, sizeof name) != 0)
    return errno;
  if ((*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) return errno;
  return fcntl(R->pty, F_SETFL, O_NONBLOCK) == 0 ? 0 : errno;
}

/* the plan's pty step (tty.c), or NULL: the pty comes from the
** sandbox's own devpts then.  It gets one end of a socketpair, which is
** the stdio source until the step puts the slave in its place; the
** master comes back over our end (finish) */
static int ptysocket (ljPlan *P, Run *R, int *slave) {
  const ljOp *op = lj_findop("pty");
  int k, sv[2];
  for (k = 0; k < P->nsteps - 2; k++)
    if (P->steps[k].op == op) break;
  if (k >= P->nsteps - 2) return -1;
  R->what = "socketpair";
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) return errno;
  R->pty = sv[0];
  *slave = sv[1];
  P->steps[k].i[0] = sv[1];
  P->steps[k].usefd = sv[1];
  R->ptystep = k + 1;
  return 0;
}

/* the plan's seccomp step with notify rules (seccomp.c), if any: one
** end of a socketpair, over which its listener comes back */
static int notifysocket (ljPlan *P, Run *R) {
  ljStep *s = P->notify ? &P->steps[P->notify - 1] : NULL;
  if (s == NULL) return 0;
  R->what = "socketpair";
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, R->nsock) != 0)
    return errno;
  s->i[2] = s->usefd = R->nsock[1];
  R->notifystep = P->notify;
  return 0;
}

/* a stdio file: never through a symlink (a payload may have left
** /work/log -> /etc/shadow for a root caller to truncate), except below
** /dev and /proc, the kernel's own (/dev/stdout is one); ELOOP else */
static int openstdio (const char *path, int flags) {
  const char *slash = strrchr(path, '/');
  char dir[4096];
  int dfd, fd;
  if (strncmp(path, "/dev/", 5) == 0 || strncmp(path, "/proc/", 6) == 0)
    return open(path, flags, 0644);
  if ((size_t)(slash - path) >= sizeof dir) return errno = ENAMETOOLONG, -1;
  memcpy(dir, path, (size_t)(slash - path));
  dir[slash - path] = '\0';
  if ((dfd = lj_opennolinks(slash == path ? "/" : dir,
                            O_PATH | O_DIRECTORY)) < 0)
    return -1;
  fd = openat(dfd, slash + 1, flags | O_NOFOLLOW, 0644);
  if (fd < 0) {
    int err = errno;
    close(dfd);
    return errno = err, -1;
  }
  close(dfd);
  return fd;
}

/* pipes, files, /dev/null and a pty for stdio: the child's ends replace
** the markers */
static int prepare (ljPlan *P, const Side *M, Run *R) {
  int k, mergeout = -1, slave = -1, err;
  for (k = 0; k < 3; k++) {
    ljFdPair *p = &P->fds[k];
    if (p->source == SRC_PIPE) {
      int fds[2];
      R->what = "pipe2";
      if (pipe2(fds, O_CLOEXEC) != 0) return errno;
      R->ours[k] = fds[k == 0 ? 1 : 0];
      R->opened[k] = fds[k == 0 ? 0 : 1];
      if (fcntl(R->ours[k], F_SETFL, O_NONBLOCK) != 0) return errno;
      /* bigger pipes: fewer wake-ups for a chatty child */
      fcntl(R->ours[k], F_SETPIPE_SZ, 256 * 1024);
      p->source = R->opened[k];
    }
    else if (p->source == SRC_NULL || p->source == SRC_FILE) {
      const char *path = p->source == SRC_NULL ? "/dev/null" : M->stdpath[k];
      int fl;
      R->what = path;
      /* never blocks (a FIFO without a reader is ENXIO), never becomes
      ** our terminal; then blocking, as the payload expects */
      if ((R->opened[k] = openstdio(path, (p->source == SRC_NULL ? O_RDWR
                                      : M->stdflags[k]) | O_NONBLOCK
                                      | O_NOCTTY | O_CLOEXEC)) < 0
          || (fl = fcntl(R->opened[k], F_GETFL)) < 0
          || fcntl(R->opened[k], F_SETFL, fl & ~O_NONBLOCK) != 0)
        return errno;
      p->source = R->opened[k];
    }
    else if (p->source == SRC_PTY) {
      if (slave < 0) {
        if ((err = ptysocket(P, R, &slave)) > 0) return err;
        R->what = "posix_openpt";
        if (err < 0 && (err = openpty(R, &slave)) != 0) return err;
        R->opened[k] = slave;            /* closed once, after clone */
      }
      p->source = slave;
      if (k < 2 && R->ptystep) R->ptyout |= 1 << k;   /* once it is here */
      else if (k < 2 && (R->ours[k] = fcntl(R->pty, F_DUPFD_CLOEXEC, 0)) < 0)
        return errno;
    }
    else if (p->source == SRC_MERGE) p->source = mergeout;
    if (k == 1) mergeout = p->source;
  }
  if (P->pid1 || P->fork) {              /* init's word on the payload */
    R->what = "pipe2";
    if (pipe2(R->status, O_CLOEXEC | O_NONBLOCK) != 0) return errno;
  }
  return notifysocket(P, R);
}


/* {====== The program: the plan, flat, in a memfd ======} */

typedef struct Pack {
  char *base;                      /* NULL: only measure */
  size_t off;
} Pack;

static uint32_t put (Pack *k, const void *p, size_t n) {
  size_t off = (k->off + 7) & ~(size_t)7;
  if (k->base && p && n) memcpy(k->base + off, p, n);
  k->off = off + n;
  return (uint32_t)off;
}

static uint32_t putstr (Pack *k, const char *s) {
  return s ? put(k, s, strlen(s) + 1) : 0;
}

static uint32_t putstrings (Pack *k, const char **v) {
  size_t n = 0, i;
  uint32_t at, *o;
  if (v == NULL) return 0;
  while (v[n]) n++;
  at = put(k, NULL, sizeof(uint32_t) * (n + 1));
  for (i = 0; i <= n; i++) {
    uint32_t s = i < n ? putstr(k, v[i]) : 0;
    o = k->base ? (uint32_t *)(k->base + at) : NULL;
    if (o) o[i] = s;
  }
  return at;
}

/* the first n steps of P, its fds, path, argv and environment, behind a
** copy of the header t (the fields its caller decides) */
static void layout (Pack *k, const ljPlan *P, int n, const ljProg *t) {
  ljProg *g = (ljProg *)k->base, h = *t;
  int j, m;
  ljProgStep *ps;
  int32_t *fp;
  k->off = 0;
  put(k, NULL, sizeof h);
  h.steps = put(k, NULL, sizeof(ljProgStep) * (size_t)n);
  h.fds = put(k, NULL, sizeof(int32_t) * 2 * (size_t)P->nfds);
  h.usec = put(k, NULL, sizeof(uint32_t) * (size_t)(n + 2));
  ps = k->base ? (ljProgStep *)(k->base + h.steps) : NULL;
  fp = k->base ? (int32_t *)(k->base + h.fds) : NULL;
  for (j = 0; j < n; j++) {
    const ljStep *s = &P->steps[j];
    ljProgStep x;
    memset(&x, 0, sizeof x);
    x.op = lj_opindex(s->op);
    x.optional = s->optional;
    x.index = s->index;
    for (m = 0; m < LJ_NSTR; m++) x.s[m] = putstr(k, s->s[m]);
    for (m = 0; m < LJ_NINT; m++) x.i[m] = s->i[m];
    x.plen = (uint32_t)s->plen;
    x.usefd = s->usefd;
    x.p = s->plen ? put(k, s->p, s->plen) : 0;
    if (ps) ps[j] = x;
  }
  for (j = 0; fp && j < P->nfds; j++) {
    fp[2 * j] = P->fds[j].target;
    fp[2 * j + 1] = P->fds[j].source;
  }
  h.path = putstr(k, P->path);
  h.pathenv = putstr(k, P->pathenv);
  h.argv = putstrings(k, P->argv);
  h.envp = putstrings(k, P->envp);
  if (g == NULL) return;
  h.magic = LJ_PROG_MAGIC;
  h.size = (uint32_t)k->off;
  h.nsteps = n;
  h.nfds = P->nfds;
  h.fdsindex = n + 1;
  h.execindex = n + 2;
  memcpy(g, &h, sizeof h);
}

int lj_pack (const ljPlan *P, int n, const ljProg *h, int *fd, ljProg **g) {
  Pack k = { NULL, 0 };
  size_t size;
  void *m;
  int err;
  *g = NULL;
  layout(&k, P, n, h);
  size = k.off;
  if (size > 0xffffffffu) return E2BIG;
  if ((*fd = memfd_create("lunajail-plan", MFD_CLOEXEC)) < 0) return errno;
  if (ftruncate(*fd, (off_t)size) != 0
      || (m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0))
         == MAP_FAILED) {
    err = errno;
    close(*fd);
    *fd = -1;
    return err;
  }
  *g = (ljProg *)m;
  k.base = (char *)m;
  layout(&k, P, n, h);
  return 0;
}

/* the plan, but for the spawner's own fds and exec steps (the runner's) */
static int pack (ljPlan *P, Run *R) {
  ljProg h;
  memset(&h, 0, sizeof h);
  h.flags = (P->pid1 ? LJ_PROG_PID1 : 0) | (P->ctty ? LJ_PROG_CTTY : 0)
            | ((P->cloneflags & CLONE_NEWUSER) ? LJ_PROG_AMBIENT : 0)
            | (P->search ? LJ_PROG_SEARCH : 0) | (P->trace ? LJ_PROG_TRACE : 0)
            | (R->ctlfd >= 0 ? LJ_PROG_PAUSED : 0)
            | (P->fork ? LJ_PROG_FORK : 0)
            | (R->notifystep ? LJ_PROG_NOTIFY : 0);
  h.pdeathsig = P->pdeathsig;
  h.reportfd = R->rep[1];
  h.statusfd = R->status[1];
  h.leasefd = P->pid1 ? P->leasefd : -1;   /* init holds it */
  h.ctlfd = R->ctlfd;
  R->what = "the program's memfd";
  return lj_pack(P, P->nsteps - 2, &h, &R->progfd, &R->g);
}

/* }====== */


/* {====== The trampoline: from clone to the runner's exec ======}
** In our memory, on its own stack: the signal dispositions back to the
** defaults (the ignored ones survive an exec), the parent-death signal
** armed; then it waits for our "go" -- we write its uid/gid maps first,
** and only a process that is uid 0 in its user namespace keeps its
** capabilities across the exec -- then every fd but the runner's close-
** on-exec, and exec.  It shares our errno (the same TLS): nothing here
** may fail before "go", while we write the maps.  A failure is step 0's.
** We wait for its exec (EOF on the exec pipe) before we go on, as vfork
** would: its stack is ours.
*/

/* In a new user namespace we hold every capability, but keep them across
** an exec only as its uid 0: when our uid maps to another inside (the
** default map of an unprivileged caller: us to the sandbox's uid), they
** cross as ambient capabilities, which the runner clears at once (so the
** payload's exec sees what it always saw) */
static void ambient (void) {
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  int cap;
  if (syscall(SYS_capget, &h, d) != 0) return;
  d[0].inheritable = d[0].permitted;
  d[1].inheritable = d[1].permitted;
  if (syscall(SYS_capset, &h, d) != 0) return;
  for (cap = 0; cap < 64; cap++)   /* the kernel's own refuse: EINVAL */
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
}

static int trampoline (void *arg) {
  Tramp *T = (Tramp *)arg;
  long dfl[8];                     /* the kernel's sigaction: all zero is
                                      SIG_DFL, no flags, on every arch */
  char *envp[1] = { NULL };
  int i, rec[3];
  memset(dfl, 0, sizeof dfl);
  for (i = 1; i < _NSIG; i++)      /* raw: glibc refuses its own 32, 33 */
    if (i != SIGKILL && i != SIGSTOP)
      syscall(SYS_rt_sigaction, i, dfl, NULL, _NSIG / 8);
  for (i = 0; i < 3; i++) close(T->parentfds[i]);
  if (T->pdeathsig && prctl(PR_SET_PDEATHSIG, T->pdeathsig, 0, 0, 0) != 0)
    _exit(127);
  if (read(T->syncfd, rec, 1) != 1 || ((char *)rec)[0] != 'g')
    _exit(127);                    /* we died or gave up */
  if (T->ambient) ambient();
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);  /* < 5.11: the
                                      runner closes the rest itself */
  for (i = 0; i < T->nkeep; i++) fcntl(T->keep[i], F_SETFD, 0);
  syscall(SYS_execveat, T->runnerfd, "", T->argv, envp, AT_EMPTY_PATH);
  execve(T->path, T->argv, envp);  /* no execveat (< 3.19, valgrind) */
  rec[0] = LJ_REP_FATAL;
  rec[1] = 0;
  rec[2] = errno;
  if (write(T->reportfd, rec, sizeof rec) < 0) {}
  _exit(127);
}

static void tramp (ljPlan *P, Run *R, int runnerfd) {
  Tramp *T = &R->T;
  int k;
  T->runnerfd = runnerfd;
  T->reportfd = R->rep[1];
  T->pdeathsig = P->pdeathsig;
  T->nkeep = 0;
  T->keep[T->nkeep++] = R->progfd;
  T->keep[T->nkeep++] = R->rep[1];
  T->syncfd = R->syn[0];
  T->ambient = (P->cloneflags & CLONE_NEWUSER) != 0;
  T->parentfds[0] = R->rep[0];
  T->parentfds[1] = R->syn[1];
  T->parentfds[2] = R->xp[0];
  if (R->status[1] >= 0) T->keep[T->nkeep++] = R->status[1];
  if (R->ctlfd >= 0) T->keep[T->nkeep++] = R->ctlfd;
  if (P->pid1 && P->leasefd >= 0) T->keep[T->nkeep++] = P->leasefd;
  for (k = 0; k < P->nfds; k++) T->keep[T->nkeep++] = P->fds[k].source;
  for (k = 0; k < P->nsteps - 2; k++)    /* fds the steps use */
    if (P->steps[k].usefd > 0 && T->nkeep < (int)lj_countof(T->keep))
      T->keep[T->nkeep++] = P->steps[k].usefd;
  snprintf(T->progarg, sizeof T->progarg, "%d", R->progfd);
  snprintf(T->path, sizeof T->path, "/proc/self/fd/%d", runnerfd);
  memcpy(T->name, "lunajail-runner", sizeof "lunajail-runner");
  T->argv[0] = T->name;
  T->argv[1] = T->progarg;
  T->argv[2] = NULL;
}

/*
** clone3(CLONE_VM | CLONE_PIDFD | namespaces) on our
** stack, or clone(2) where clone3 is missing (before Linux 5.3, or
** another machine): the same child, except that a time namespace then
** needs clone3.  Under valgrind, which cannot run such a child, a
** fork-style clone.
*/
static int startchild (ljPlan *P, Run *R, int *err) {
  int pid, vm = CLONE_VM;
  if (RUNNING_ON_VALGRIND) vm = 0;
#ifdef HAVE_CLONE3
  if (vm) {
    struct {                       /* struct clone_args, version 2 */
      uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
               stack_size, tls, set_tid, set_tid_size, cgroup;
    } args;
    size_t size = 64;              /* version 0: any clone3 */
    long r;
    memset(&args, 0, sizeof args);
    args.flags = (uint64_t)vm | CLONE_PIDFD | (unsigned)P->cloneflags;
    args.pidfd = (uint64_t)(uintptr_t)&R->pidfd;
    args.exit_signal = SIGCHLD;
    args.stack = (uint64_t)(uintptr_t)R->stack;
    args.stack_size = STACKSIZE;
    if (P->cgroupfd >= 0) {        /* straight into its cgroup (5.7) */
      args.flags |= CLONE_INTO_CGROUP;
      args.cgroup = (uint64_t)P->cgroupfd;
      size = sizeof args;
    }
    r = lj_clone3(&args, size, trampoline, &R->T);
    if (r == -E2BIG && size > 64) {        /* 5.3 to 5.6: placed later */
      args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
      r = lj_clone3(&args, 64, trampoline, &R->T);
      size = 64;
    }
    R->placed = r >= 0 && size > 64;
    if (r >= 0) return (int)r;
    if (r != -ENOSYS) { *err = (int)-r; return -1; }
  }
#endif
  if (P->cloneflags & CLONE_NEWTIME) { *err = ENOSYS; return -1; }
  pid = clone(trampoline, (char *)R->stack + STACKSIZE,
              vm | CLONE_PIDFD | P->cloneflags | SIGCHLD, &R->T, &R->pidfd);
  *err = errno;
  return pid;
}

/* the child into its cgroup before "go", where clone3 has not put it
** there: its pid into each cgroup.procs (v1; v2 without clone3) */
static int placecgroup (ljPlan *P, Run *R) {
  if (R->placed || (P->cgroupfd < 0 && P->ncgprocs == 0)) return 0;
  R->what = "cgroup.procs";
  return lj_cgplace(R->pid, P->cgroupfd, P->cgprocs, P->ncgprocs);
}

/* pid into its cgroup: each cgroup.procs of procs, or dirfd's */
int lj_cgplace (int pid, int dirfd, const int *procs, int nprocs) {
  char s[16];
  int k, fd, err = 0;
  snprintf(s, sizeof s, "%d", pid);
  for (k = 0; k < nprocs; k++)
    if (write(procs[k], s, strlen(s)) < 0) return errno;
  if (nprocs > 0) return 0;
  if ((fd = openat(dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC)) < 0)
    return errno;
  if (write(fd, s, strlen(s)) < 0) err = errno;
  close(fd);
  return err;
}

static int writemaps (int pid, const Side *M, Run *R) {
  return lj_writemaps(pid, M->uid, M->gid, M->setgroups, &R->what);
}

/* "go" to the runner, without a SIGPIPE for us if it is gone already
** (its exec failed, and it said why: the report pipe tells) */
static void go (Run *R) {
  sigset_t pipe, old;
  struct timespec zero = { 0, 0 };
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old);
  if (write(R->syn[1], "g", 1) != 1 && errno == EPIPE
      && !sigismember(&old, SIGPIPE))
    while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR) {}
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  closefd(&R->syn[1]);
}

/* the trampoline has exec'd, or died: its stack is free */
static void waitexec (Run *R) {
  char c;
  while (read(R->xp[0], &c, 1) < 0 && errno == EINTR) {}
  closefd(&R->xp[0]);
}

static int run (ljPlan *P, const Side *M, Run *R, int runnerfd) {
  sigset_t all, old;
  int err, k;
  if (pipe2(R->rep, O_CLOEXEC) != 0 || pipe2(R->syn, O_CLOEXEC) != 0
      || pipe2(R->xp, O_CLOEXEC) != 0) {
    R->what = "pipe2";
    return errno;
  }
  if ((err = prepare(P, M, R)) != 0 || (err = pack(P, R)) != 0) return err;
  R->stack = mmap(NULL, STACKSIZE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (R->stack == MAP_FAILED) {
    R->stack = NULL;
    R->what = "mmap";
    return errno;
  }
  UNPOISON(R->stack, STACKSIZE);
  tramp(P, R, runnerfd);
  /* no handler of the host may run in the trampoline before it resets
  ** them: it starts with every signal blocked */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  R->pid = startchild(P, R, &err);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  closefd(&R->rep[1]);
  closefd(&R->syn[0]);
  closefd(&R->xp[1]);
  closefd(&R->status[1]);
  closefd(&R->progfd);
  closefd(&R->nsock[1]);
  for (k = 0; k < 3; k++) closefd(&R->opened[k]);
  if (R->pid < 0) {
    R->pid = 0;
    R->what = "clone";
    return err;
  }
  err = placecgroup(P, R);
  if (!err && (P->cloneflags & CLONE_NEWUSER)) err = writemaps(R->pid, M, R);
  if (err == 0 && M->timens) {     /* before the first process runs in it */
    R->what = "timens_offsets";
    err = lj_writeproc(R->pid, "timens_offsets", M->timens);
  }
  if (err) closefd(&R->syn[1]);    /* the trampoline reads EOF, exits */
  else go(R);
  waitexec(R);
  UNPOISON(R->stack, STACKSIZE);        /* its frames' marks must not
                                           outlive it: the next mapping
                                           there (a plan's memfd) is ours */
  munmap(R->stack, STACKSIZE);
  R->stack = NULL;
  fcntl(R->rep[0], F_SETFL, O_NONBLOCK);
  return err;
}

static void cleanup (Run *R) {
  int k;
  closefd(&R->xp[0]);
  closefd(&R->xp[1]);
  closefd(&R->rep[1]);
  closefd(&R->syn[0]);
  closefd(&R->syn[1]);
  closefd(&R->status[1]);
  closefd(&R->progfd);
  closefd(&R->nsock[1]);
  closefd(&R->netfd);              /* the runner's, if it has started */
  for (k = 0; k < 3; k++) closefd(&R->opened[k]);
  if (R->stack) munmap(R->stack, STACKSIZE);
  R->stack = NULL;
}

/* }====== */


/* {====== Setup: what the runner reports ======}
** Records {kind, position, errno} until EOF: EOF without a fatal record
** is the payload's exec -- unless the runner died before its exec step
** (a seccomp kill, an OOM kill, our own SIGKILL at the deadline), which
** the position in the program's header tells.
*/

/* reads what has arrived; 1 once setup is over */
static int readreports (ljChild *c, Run *R) {
  for (;;) {
    ssize_t r = read(c->reportfd, (char *)R->rec + R->got,
                     sizeof R->rec - R->got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return 0;           /* EAGAIN: more to come */
    if (r == 0) { R->eof = 1; return 1; }
    R->got += (size_t)r;
    if (R->got < sizeof R->rec) continue;
    R->got = 0;
    if (R->nrecs < R->maxrecs) {
      memcpy(R->recs[R->nrecs], R->rec, sizeof R->rec);
      if (R->rec[0] == LJ_REP_FATAL && R->fatal < 0) R->fatal = R->nrecs;
      R->nrecs++;
    }
    if (R->fatal >= 0) return 1;   /* it exits now */
  }
}

/* the runner died in setup without a word: how, from its wait status
** (it is exiting: its report fd is closed) */
static void died (ljChild *c, Run *R) {
  siginfo_t si;
  int sig = SIGKILL;
  memset(&si, 0, sizeof si);
  if (waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOWAIT) == 0
      && si.si_code != CLD_EXITED)
    sig = si.si_status;
  if (R->nrecs < R->maxrecs) {
    R->recs[R->nrecs][0] = LJ_REP_FATAL;
    R->recs[R->nrecs][1] = R->g->progress;
    R->recs[R->nrecs][2] = R->timedout ? ETIMEDOUT : -sig;
    R->fatal = R->nrecs++;
  }
}

/* }====== */


/* {====== Results ======} */

static const char *userns_hint (int err) {
  if (err == EPERM || err == EACCES)
    return " (user namespaces refused: check sysctl "
           "kernel.unprivileged_userns_clone, "
           "kernel.apparmor_restrict_unprivileged_userns, or run as root)";
  if (err == ENOSPC)
    return " (user namespace limit reached: check sysctl "
           "user.max_user_namespaces)";
  if (err == EINVAL)
    return " (user namespaces unavailable in this kernel or container)";
  return "";
}

/* is prog on our PATH? */
static int onpath (const char *prog) {
  const char *dir = getenv("PATH");
  char p[4096];
  if (dir == NULL) dir = "/usr/local/bin:/usr/bin:/bin";
  for (;;) {
    size_t n = strcspn(dir, ":");
    if (n > 0 && n + strlen(prog) + 2 < sizeof p) {
      memcpy(p, dir, n);
      p[n] = '/';
      strcpy(p + n + 1, prog);
      if (access(p, X_OK) == 0) return 1;
    }
    if (dir[n] == '\0') return 0;
    dir += n + 1;
  }
}

/* does file (/etc/subuid) give us, by name or by number, [from, from+n)? */
static int subid (const char *file, const char *name, unsigned me,
                  unsigned long long from, unsigned long long n) {
  char line[512];
  FILE *f = fopen(file, "re");
  int ok = 0;
  if (f == NULL) return 0;
  while (!ok && fgets(line, sizeof line, f)) {
    char *c1 = strchr(line, ':');
    unsigned long long a, cnt;
    if (c1 == NULL || sscanf(c1 + 1, "%llu:%llu", &a, &cnt) != 2) continue;
    *c1 = '\0';
    if ((strcmp(line, name) == 0 || (unsigned)strtoul(line, NULL, 10) == me)
        && from >= a && from + n <= a + cnt)
      ok = 1;
  }
  fclose(f);
  return ok;
}

/* newuidmap is there and refused: the range of map that /etc/subuid (or
** subgid) does not give us, and the line that would, into out */
static void subidhint (char *out, size_t size, const char *map, int gid) {
  const char *file = gid ? "/etc/subgid" : "/etc/subuid";
  unsigned me = gid ? (unsigned)getegid() : (unsigned)geteuid();
  char name[100], buf[1024];
  struct passwd pw, *pp = NULL;
  snprintf(name, sizeof name, "%u", (unsigned)geteuid());
  if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &pp) == 0 && pp)
    snprintf(name, sizeof name, "%s", pp->pw_name);
  while (map && *map) {
    unsigned long long in, o, n;
    if (sscanf(map, "%llu %llu %llu", &in, &o, &n) == 3
        && !(n == 1 && o == me) && !subid(file, name, me, o, n)) {
      snprintf(out, size, " (%s refused the map: %s gives %s no range "
               "%llu..%llu; add the line \"%s:%llu:%llu\" to it, or map only "
               "your own %s)", gid ? "newgidmap" : "newuidmap", file, name, o,
               o + n - 1, name, o, n, gid ? "gid" : "uid");
      return;
    }
    map = strchr(map, '\n');
    if (map) map++;
  }
  snprintf(out, size, " (%s refused the map: check %s)",
           gid ? "newgidmap" : "newuidmap", file);
}

/* an error before the first step: step 0, the op that failed */
static int pushearly (lua_State *L, ljPlan *P, const Side *M, const char *what,
                      int err) {
  ljOp op;
  ljStep s;
  memset(&op, 0, sizeof op);
  memset(&s, 0, sizeof s);
  op.name = what;
  s.op = &op;
  lj_pushsteperr(L, &s, 0, err);
  if ((strcmp(what, "clone") == 0 && (P->cloneflags & CLONE_NEWUSER))
      || strstr(what, "map") || strcmp(what, "setgroups") == 0) {
    int gid = strcmp(what, "gid_map") == 0;
    const char *hint = strcmp(what, "clone") == 0 ? userns_hint(err)
      : err == EACCES && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1
      ? " (this process is not dumpable, so its child's /proc files belong "
        "to root: without CAP_SETUID, spawn with dumpable(true))"
      : !onpath(gid ? "newgidmap" : "newuidmap")
      ? " (without CAP_SETUID only your own id maps; install newuidmap "
        "and newgidmap (Debian package uidmap) for ranges)"
      : NULL;
    char sub[1024];
    if (hint == NULL && M) {
      subidhint(sub, sizeof sub, gid ? M->gid : M->uid, gid);
      hint = sub;
    }
    if (hint == NULL) hint = "";
    lua_getfield(L, -1, "message");
    lua_pushstring(L, hint);
    lua_concat(L, 2);
    lua_setfield(L, -2, "message");
    if (*hint) {                   /* " (...)": the words inside */
      lua_pushlstring(L, hint + 2, strlen(hint) - 3);
      lua_setfield(L, -2, "hint");
    }
  }
  return 1;
}

static void setusec (lua_State *L, Run *R, int pos) {
  const uint32_t *u = (const uint32_t *)((const char *)R->g + R->g->usec);
  if (pos >= 1 && pos <= R->g->nsteps + 1) {
    lua_pushinteger(L, u[pos - 1]);
    lua_setfield(L, -2, "usec");
  }
}

/* the step error of record i */
static void pushrecord (lua_State *L, Run *R, int i) {
  ljPlan *P = R->P;
  int pos = R->recs[i][1];
  const ljStep *s = &P->steps[pos - 1];
  lj_pushsteperr(L, s, s->index, R->recs[i][2]);
  setusec(L, R, pos);
  if (R->recs[i][2] == ETIMEDOUT && R->timedout) {
    char buf[1024];
    ljBuf b = { buf, 0, sizeof buf };
    lj_describe(s, &b);
    lua_pushfstring(L, "step %d %s: setup timed out after %s s (ETIMEDOUT)",
                    s->index, buf, lj_pushnum(L, P->setup_timeout));
    lua_setfield(L, -3, "message");
    lua_pop(L, 1);
    lua_pushnumber(L, P->setup_timeout);
    lua_setfield(L, -2, "timeout");
  }
}

/* a step that went well, as a report: a step error's fields without an
** errno, and the message "step 3 mount(...): ok" */
void lj_pushstepok (lua_State *L, const ljStep *s) {
  char buf[1024];
  ljBuf b = { buf, 0, sizeof buf };
  lj_pushsteperr(L, s, s->index, 0);
  lj_describe(s, &b);
  lua_pushfstring(L, "step %d %s: ok", s->index, buf);
  lua_setfield(L, -2, "message");
  lua_pushnil(L);
  lua_setfield(L, -2, "signal");
  lua_pushnil(L);
  lua_setfield(L, -2, "signame");
}

/* the reports: each optional failure and, with trace, each step that
** went well, in order, with the microseconds it took */
static void pushreports (lua_State *L, Run *R) {
  ljPlan *P = R->P;
  int pos, i, n = 0, last = R->g->progress;
  lua_createtable(L, R->nrecs, 0);
  if (last > P->nsteps - 1) last = P->nsteps - 1;   /* up to fds */
  for (pos = 1; pos <= last; pos++) {
    int found = 0;
    for (i = 0; i < R->nrecs; i++)
      if (i != R->fatal && R->recs[i][1] == pos) {
        pushrecord(L, R, i);
        lua_seti(L, -2, ++n);
        found = 1;
      }
    if (!found && P->trace && (R->fatal < 0 || pos < R->recs[R->fatal][1])) {
      lj_pushstepok(L, &P->steps[pos - 1]);
      setusec(L, R, pos);
      lua_seti(L, -2, ++n);
    }
  }
}

/* }====== */


/* {====== The child in setup ======} */

/* setup over: the result into the child (uservalue 1 the reports,
** uservalue 2 the error), the spawn's state let go */
/* the pty step's master, from our end of its socket: the child's pty
** and its stdin and stdout; 0 or an errno */
static int takepty (ljChild *c, Run *R) {
  int m = lj_recvfd(c->ptyfd), k;
  if (m < 0) return errno;
  close(c->ptyfd);
  c->ptyfd = m;
  if (fcntl(m, F_SETFL, O_NONBLOCK) != 0) return errno;
  for (k = 0; k < 2; k++)
    if ((R->ptyout & (1 << k))
        && (c->fd[k] = fcntl(m, F_DUPFD_CLOEXEC, 0)) < 0)
      return errno;
  return 0;
}

/* step (1-based) failed with err after all, as the parent found once
** its setup was over: the child is killed, the step's record is fatal */
static void stepfailed (ljChild *c, Run *R, int step, int err) {
  if (R->nrecs >= R->maxrecs) return;
  lj_child_signal(c, SIGKILL);
  R->recs[R->nrecs][0] = LJ_REP_FATAL;
  R->recs[R->nrecs][1] = step;
  R->recs[R->nrecs][2] = err;
  R->fatal = R->nrecs++;
}

static void finish (lua_State *L, int idx, ljChild *c, Run *R) {
  int err;
  idx = lua_absindex(L, idx);
  if (R->fatal < 0 && R->eof && R->g->progress < R->g->execindex) died(c, R);
  if (R->fatal < 0 && R->ptystep && (err = takepty(c, R)) != 0)
    stepfailed(c, R, R->ptystep, err);   /* the step's, and it is over */
  /* the seccomp step sent its listener before the exec, or failed */
  if (R->fatal < 0 && R->notifystep && (err = lj_notify_take(c)) != 0)
    stepfailed(c, R, R->notifystep, err);
  if (R->fatal >= 0) {
    int pos = R->recs[R->fatal][1];
    if (pos < 1) pushearly(L, R->P, NULL, "exec lunajail-runner", R->recs[R->fatal][2]);
    else pushrecord(L, R, R->fatal);
    pushreports(L, R);
    lua_setfield(L, -2, "reports");
    c->setup = -1;
  }
  else {
    pushreports(L, R);
    lua_setiuservalue(L, idx, 1);        /* child:reports() */
    lua_pushnil(L);
    c->setup = 0;
  }
  lua_setiuservalue(L, idx, 2);          /* the error, or nothing, in
                                            the arena's place */
  lj_child_endsetup(c);                  /* R is gone with its arena */
}

int lj_setup_step (lua_State *L, int idx, ljChild *c) {
  Run *R = (Run *)c->run;
  if (c->setup != 1 || R == NULL) return 1;
  if (!readreports(c, R)) {
    if (lj_monotonic() < c->setupdl) return 0;
    lj_child_signal(c, SIGKILL);
    R->timedout = 1;               /* the step it is at is the error */
    R->eof = 1;
  }
  finish(L, idx, c, R);
  return 1;
}

/* the blocking spawn: waits on the report pipe until setup is over */
static void waitsetup (lua_State *L, int idx, ljChild *c) {
  while (!lj_setup_step(L, idx, c)) {
    struct pollfd p[2] = { { c->reportfd, POLLIN, 0 },
                           { lj_notify_fd(c), POLLIN, 0 } };
    double left = c->setupdl - lj_monotonic();
    poll(p, p[1].fd >= 0 ? 2 : 1, left > 0 ? (int)(left * 1000) + 1 : 0);
    /* the runner's own calls a notify filter holds (its exec) */
    if (p[1].revents) lj_notify_serve(L, idx, c, 0, 0);
  }
}

/* }====== */


/* {====== core.spawn ======} */

/* the plan's first new network namespace from the pool (netpool.c),
** where one may stand in for it: one an unshare step makes (the clone's
** has no step to join another), with no user namespace made or joined
** before it or with it.  The step gets the fd; we close ours once the
** runner has its copy */
static int netjoin (lua_State *L, ljPlan *P) {
  static const ljOp *opunshare, *opsetns;
  int k, fd;
  if (P->cloneflags & (CLONE_NEWUSER | CLONE_NEWNET)) return -1;
  if (!opunshare) {
    opunshare = lj_findop("unshare");
    opsetns = lj_findop("setns");
  }
  for (k = 0; k < P->nsteps - 2; k++) {
    ljStep *s = &P->steps[k];
    if (s->op == opsetns || (s->op == opunshare && (s->i[0] & CLONE_NEWUSER)))
      return -1;
    if (s->op == opunshare && (s->i[0] & CLONE_NEWNET)) {
      if ((fd = lj_netpool_take(L)) >= 0) s->i[1] = s->usefd = fd;
      return fd;
    }
  }
  return -1;
}

/* a spawn that failed leaves its lease with the caller, unspent */
static void giveback (ljChild *ch, Side *M) {
  if (M->lease && ch->leasefd >= 0) {
    M->lease->fd = ch->leasefd;
    ch->leasefd = -1;
  }
}

/* core.spawn, and the stepper's start (stepper.c): ctlfd >= 0 is the
** runner's end of a control socket, which makes the runner pause before
** its fds step (runner.c); *timeout gets the plan's setup_timeout */
int lj_spawnplan (lua_State *L, int ctlfd, double *timeout) {
  ljArena *a;
  ljPlan *P;
  ljChild *ch;
  Side M;
  Run *R;
  int err, k, runnerfd;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  memset(&M, 0, sizeof M);
  lj_reaper_sweep(L);
  a = lj_newarena_kept(L);                             /* 2 */
  P = (ljPlan *)lj_alloc(L, a, sizeof *P);
  decodeplan(L, a, P, &M);
  if (ctlfd >= 0 && P->notify)
    luaL_error(L, "stepper: plan.steps[%d] seccomp: a filter with notify "
               "rules needs core.spawn's child object to answer its "
               "calls (not in a stepper)", P->steps[P->notify - 1].index);
  runnerfd = getrunnerfd(L);
  R = (Run *)lj_alloc(L, a, sizeof *R);
  R->P = P;
  R->maxrecs = P->nsteps + 1;
  R->recs = (int (*)[3])lj_alloc(L, a, sizeof(int[3]) * (size_t)R->maxrecs);
  R->rep[0] = R->rep[1] = R->syn[0] = R->syn[1] = R->pidfd = -1;
  R->status[0] = R->status[1] = R->pty = R->progfd = -1;
  R->xp[0] = R->xp[1] = R->nsock[0] = R->nsock[1] = -1;
  R->netfd = netjoin(L, P);
  R->ctlfd = ctlfd;
  if (timeout) *timeout = P->setup_timeout;
  for (k = 0; k < 3; k++) R->ours[k] = R->opened[k] = -1;
  R->fatal = -1;
  ch = lj_newchild(L);                                 /* 3 */
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, 3, 2);            /* the arena, while in setup */
  err = run(P, &M, R, runnerfd);
  cleanup(R);
  ch->pid = R->pid;
  ch->pidfd = R->pidfd;
  for (k = 0; k < 3; k++) ch->fd[k] = R->ours[k];
  ch->statusfd = R->status[0];
  ch->ptyfd = R->pty;
  ch->reportfd = R->rep[0];
  ch->prog = R->g;
  ch->run = R;
  ch->arena = a;
  ch->setup = 1;
  if (R->nsock[0] >= 0
      && lj_notify_new(ch, R->nsock[0], P->pid1 || P->fork) != 0 && !err) {
    err = ENOMEM;
    R->what = "the seccomp listener's state";
  }
  R->nsock[0] = -1;                /* the child's (or closed) */
  ch->setupdl = lj_monotonic() + P->setup_timeout;
  if (M.lease) {                   /* the child holds it now */
    ch->leasefd = M.lease->fd;
    ch->initlease = P->pid1;
    M.lease->fd = -1;
  }
  if (err) {                       /* before the first step: the child
                                      object closes what there is */
    ch->setup = -1;
    luaL_pushfail(L);
    pushearly(L, P, &M, R->what ? R->what : "spawn", err);
    giveback(ch, &M);
    lj_child_close(L, ch, 0);            /* SIGKILL to a runner; the
                                            arena freed */
    return 2;
  }
  if (P->async) return 1;
  waitsetup(L, 3, ch);
  if (ch->setup < 0) {
    luaL_pushfail(L);
    lua_getiuservalue(L, 3, 2);
    giveback(ch, &M);
    lj_child_close(L, ch, 1);            /* it is exiting: reaped */
    return 2;
  }
  lua_settop(L, 3);
  return 1;
}

static int l_spawn (lua_State *L) {
  return lj_spawnplan(L, -1, NULL);
}

/* core.check(plan) -> true: decodes the plan as spawn would, raising on
** misuse, and starts nothing */
static int l_check (lua_State *L) {
  ljArena *a;
  ljPlan *P;
  Side M;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  memset(&M, 0, sizeof M);
  a = lj_newarena(L);
  P = (ljPlan *)lj_alloc(L, a, sizeof *P);
  decodeplan(L, a, P, &M);
  lua_pushboolean(L, 1);
  return 1;
}

/* }====== */


void lj_open_spawn (lua_State *L) {
  lua_pushcfunction(L, l_spawn);
  lua_setfield(L, -2, "spawn");
  lua_pushcfunction(L, l_check);
  lua_setfield(L, -2, "check");
  lj_open_process(L);
  lj_open_stepper(L);
}
