/*
** seccomp.c: seccomp filters built with libseccomp from a rule table.
**
**   local f = core.seccomp_filter{
**     default = "allow",                   -- the action for other calls
**     arch = {"native", "x86"},            -- default: native only
**     badarch = "kill_process",            -- calls of other arches
**     rules = {
**       {"errno:EPERM", "keyctl"},
**       {"errno:EPERM", "ioctl", {"a1", "&=", 0xffffffff, 0x5412}},
**       {"kill_process", "ptrace"},
**     },
**   }
**   f:load()     f:export() -> BPF bytes     f:pfc() -> readable text
**   core.seccomp(f)  -- the step: load into the calling thread; f a
**                       filter, a spec table, or raw BPF (a string of
**                       struct sock_filter, as bwrap's --seccomp FD)
**   core.seccomp_resolve("statmount") -> nr | nil, "unknown"/"foreign"
**   core.seccomp_arch() -> "x86_64", "aarch64", ...
**   core.OFLAGS             {creat = O_CREAT, tmpfile = O_TMPFILE's own
**                           bit}: this architecture's open(2) flags, for
**                           rules on them (the set-id guard)
**
** Actions: allow, kill (the thread), kill_process, trap, log, notify
** (SECCOMP_RET_USER_NOTIF: the supervisor decides, csrc/notify.c),
** "errno:NAME" or "errno:N" (1..4094), "trace:N".  A comparison is
** {"a0".."a5", op, value} with op ==, !=, <, <=, >, >=, or
** {"aN", "&=", mask, value}.  A syscall is a name, or a number of the
** native arch (0..9999) for a call libseccomp cannot name, in a filter
** of the native arch alone.  Loading needs no_new_privs (or
** CAP_SYS_ADMIN), as the kernel requires: the filter never sets it
** itself.  Rules whose action is the default action are redundant and
** skipped.  The parent exports BPF; the child loads those bytes with a
** raw seccomp(2), so nothing of libseccomp runs between clone and exec.
**
** A filter whose BPF can return SECCOMP_RET_USER_NOTIF (a notify rule,
** or raw BPF with such a return) is loaded with
** SECCOMP_FILTER_FLAG_NEW_LISTENER, in a spawn only: the spawner hands
** the step one end of a socketpair (i[2]), the step sends the listener
** over it (SCM_RIGHTS) and closes its own copy, so the payload never
** holds it; the child object answers the calls (csrc/notify.c).  A
** direct call, or filter:load(), refuses such a filter: nothing would
** answer the calling process.  One per sandbox: the kernel allows one
** listener in a process's filter stack (EBUSY).  No TSYNC, which the
** kernel refuses beside NEW_LISTENER: the runner has one thread.
*/

#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include "lj.h"

#define LJ_FILTER "lunajail.SeccompFilter"

/* the highest syscall number a rule may give: above every native table
** (mips n32 ends near 6500), below the x32 bit */
#define LJ_MAXSYSCALL 9999

typedef struct Filter {
  scmp_filter_ctx ctx;             /* NULL once closed */
  int foreign;                     /* arches other than the native one */
} Filter;


/* {====== Actions and comparisons ======} */

/* the string at stack index idx, NULL if it is not one; raises if it
** holds a NUL byte, which C would read as its end */
static const char *tostr (ljArgs *A, int n, int idx, const char *what) {
  size_t len;
  const char *s;
  if (lua_type(A->L, idx) != LUA_TSTRING) return NULL;
  s = lua_tolstring(A->L, idx, &len);
  if (strlen(s) != len) lj_argerror(A, n, "%s contains a NUL byte", what);
  return s;
}

static uint32_t argaction (ljArgs *A, int n, int idx) {
  lua_State *L = A->L;
  const char *s = tostr(A, n, idx, "seccomp action");
  lua_Integer v;
  if (s == NULL)
    return (uint32_t)lj_argerror(A, n, "seccomp action expected, got %s",
                                 luaL_typename(L, idx));
  if (strcmp(s, "allow") == 0) return SCMP_ACT_ALLOW;
  if (strcmp(s, "kill") == 0) return SCMP_ACT_KILL;
  if (strcmp(s, "kill_process") == 0) return SCMP_ACT_KILL_PROCESS;
  if (strcmp(s, "trap") == 0) return SCMP_ACT_TRAP;
  if (strcmp(s, "log") == 0) return SCMP_ACT_LOG;
  if (strcmp(s, "notify") == 0) return SCMP_ACT_NOTIFY;
  if (strncmp(s, "errno:", 6) == 0) {
    const char *arg = s + 6;
    char *end = NULL;
    if (!lj_findname(&lj_errnos, arg, strlen(arg), &v)) {
      v = isdigit((unsigned char)*arg) ? strtol(arg, &end, 10) : 0;
      if (end == NULL || *end != '\0') v = 0;    /* " 1", "+1", "1x" */
    }
    if (v < 1 || v > 4094)                /* libseccomp refuses 4095 */
      lj_argerror(A, n, "bad action \"%s\" (errno 1..4094 by name or "
                  "number)", s);
    return SCMP_ACT_ERRNO((uint32_t)v);
  }
  if (strncmp(s, "trace:", 6) == 0) {
    char *end = NULL;
    v = isdigit((unsigned char)s[6]) ? strtol(s + 6, &end, 10) : -1;
    if (end == NULL || *end != '\0' || v < 0 || v > 4095)
      lj_argerror(A, n, "bad action \"%s\" (trace:0..4095)", s);
    return SCMP_ACT_TRACE((uint32_t)v);
  }
  return (uint32_t)lj_argerror(A, n, "unknown seccomp action \"%s\" (valid: "
    "allow, kill, kill_process, trap, log, notify, errno:NAME, trace:N)", s);
}

static const struct { const char *name; enum scmp_compare op; } cmpops[] = {
  { "==", SCMP_CMP_EQ }, { "!=", SCMP_CMP_NE }, { "<", SCMP_CMP_LT },
  { "<=", SCMP_CMP_LE }, { ">", SCMP_CMP_GT }, { ">=", SCMP_CMP_GE },
  { "&=", SCMP_CMP_MASKED_EQ }
};

/* the comparison table at the top of the stack */
static struct scmp_arg_cmp argcmp (ljArgs *A, int n, lua_Integer rule,
                                   int k) {
  lua_State *L = A->L;
  struct scmp_arg_cmp c;
  const char *arg, *op;
  size_t i;
  int nvals, isint, j;
  memset(&c, 0, sizeof c);
  if (!lua_istable(L, -1))
    lj_argerror(A, n, "rules[%I] comparison %d: table expected", rule, k);
  lua_rawgeti(L, -1, 1);
  lua_rawgeti(L, -2, 2);
  arg = tostr(A, n, -2, "comparison");
  op = tostr(A, n, -1, "comparison");
  if (arg && arg[0] == 'a' && arg[1] >= '0' && arg[1] <= '5' && !arg[2])
    c.arg = (unsigned)(arg[1] - '0');
  else
    lj_argerror(A, n, "rules[%I] comparison %d: argument \"a0\"..\"a5\" "
                "expected", rule, k);
  for (i = 0; op && i < lj_countof(cmpops); i++)
    if (strcmp(op, cmpops[i].name) == 0) break;
  if (op && i < lj_countof(cmpops))
    c.op = cmpops[i].op;
  else
    lj_argerror(A, n, "rules[%I] comparison %d: operator ==, !=, <, <=, >, "
                ">= or &= expected", rule, k);
  lua_pop(L, 2);
  nvals = c.op == SCMP_CMP_MASKED_EQ ? 2 : 1;
  for (j = 0; j < nvals; j++) {
    lua_Integer v;
    lua_rawgeti(L, -1, 3 + j);
    v = lua_tointegerx(L, -1, &isint);
    if (!isint || lua_type(L, -1) != LUA_TNUMBER)
      lj_argerror(A, n, "rules[%I] comparison %d: integer value expected",
                  rule, k);
    if (j == 0) c.datum_a = (scmp_datum_t)v;
    else c.datum_b = (scmp_datum_t)v;
    lua_pop(L, 1);
  }
  return c;
}

/* }====== */


/* {====== The filter object ======} */

static Filter *tofilter (lua_State *L) {
  Filter *f = (Filter *)luaL_checkudata(L, 1, LJ_FILTER);
  if (f->ctx == NULL) luaL_error(L, "seccomp filter is closed");
  return f;
}

static int filter_close (lua_State *L) {
  Filter *f = (Filter *)luaL_checkudata(L, 1, LJ_FILTER);
  if (f->ctx) seccomp_release(f->ctx);
  f->ctx = NULL;
  return 0;
}

static int filter_tostring (lua_State *L) {
  Filter *f = (Filter *)luaL_checkudata(L, 1, LJ_FILTER);
  lua_pushfstring(L, "lunajail.SeccompFilter (%s)",
                  f->ctx ? "open" : "closed");
  return 1;
}

static void addarches (ljArgs *A, int n, Filter *f, int idx) {
  lua_State *L = A->L;
  lua_Integer i, len;
  lua_getfield(L, idx, "arch");
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return; }
  if (!lua_istable(L, -1)) lj_argerror(A, n, "arch: list of names expected");
  len = (lua_Integer)lua_rawlen(L, -1);
  for (i = 1; i <= len; i++) {
    const char *name;
    uint32_t token = 0;
    int err;
    lua_rawgeti(L, -1, i);
    if ((name = tostr(A, n, -1, "arch name")) == NULL)
      lj_argerror(A, n, "arch[%I]: name expected", i);
    else
      token = strcmp(name, "native") == 0 ? seccomp_arch_native()
                                          : seccomp_arch_resolve_name(name);
    if (token == 0) lj_argerror(A, n, "arch[%I]: unknown \"%s\"", i, name);
    if (token != seccomp_arch_native()) f->foreign = 1;
    err = seccomp_arch_add(f->ctx, token);
    if (err != 0 && err != -EEXIST)
      lj_argerror(A, n, "arch[%I] \"%s\": %s", i, name, strerror(-err));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* the syscall of rules[i], at the top of the stack: a name libseccomp
** knows, or a number of the native architecture (for the calls newer
** than libseccomp: it adds a number as given for the native arch, and
** has no name to translate it to another) */
static int argsyscall (ljArgs *A, int n, lua_Integer i, const Filter *f,
                       const char **name) {
  lua_State *L = A->L;
  int nr;
  if (lua_isinteger(L, -1)) {
    lua_Integer v = lua_tointeger(L, -1);
    if (v < 0 || v > LJ_MAXSYSCALL)
      lj_argerror(A, n, "rules[%I]: syscall number 0..%d expected, got %I",
                  i, LJ_MAXSYSCALL, v);
    if (f->foreign)
      lj_argerror(A, n, "rules[%I]: syscall %I by number: only for a filter "
                  "of the native architecture alone", i, v);
    *name = lua_pushfstring(L, "syscall %I", v);
    lua_replace(L, -2);
    return (int)v;
  }
  if ((*name = tostr(A, n, -1, "syscall name")) == NULL)
    lj_argerror(A, n, "rules[%I]: syscall name or number expected", i);
  nr = seccomp_syscall_resolve_name(*name);
  if (nr == __NR_SCMP_ERROR)
    lj_argerror(A, n, "rules[%I]: unknown syscall \"%s\"", i, *name);
  return nr;
}

static void addrules (ljArgs *A, int n, Filter *f, int idx, uint32_t def) {
  lua_State *L = A->L;
  lua_Integer i, len;
  lua_getfield(L, idx, "rules");
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return; }
  if (!lua_istable(L, -1)) lj_argerror(A, n, "rules: list expected");
  len = (lua_Integer)lua_rawlen(L, -1);
  for (i = 1; i <= len; i++) {
    struct scmp_arg_cmp cmp[6];
    int ncmp, k, nr, err;
    uint32_t action;
    const char *name;
    if (lua_rawgeti(L, -1, i) != LUA_TTABLE)
      lj_argerror(A, n, "rules[%I]: {action, syscall, ...} expected", i);
    lua_rawgeti(L, -1, 1);
    action = argaction(A, n, lua_gettop(L));
    lua_rawgeti(L, -2, 2);
    nr = argsyscall(A, n, i, f, &name);
    ncmp = (int)lua_rawlen(L, -3) - 2;
    if (ncmp > 6) lj_argerror(A, n, "rules[%I]: more than 6 comparisons", i);
    for (k = 0; k < ncmp; k++) {
      int j;
      lua_rawgeti(L, -3, 3 + k);
      cmp[k] = argcmp(A, n, i, k + 1);
      lua_pop(L, 1);
      for (j = 0; j < k; j++)       /* else a bare EINVAL from libseccomp */
        if (cmp[j].arg == cmp[k].arg)
          lj_argerror(A, n, "rules[%I]: a%d compared twice (libseccomp "
                      "takes one comparison per argument)", i,
                      (int)cmp[k].arg);
    }
    if (action != def) {
      err = seccomp_rule_add_array(f->ctx, action, nr, (unsigned)ncmp, cmp);
      if (err != 0)
        lj_argerror(A, n, "rules[%I] (%s): %s%s", i, name, strerror(-err),
                    action == SCMP_ACT_NOTIFY ? " (the notify action needs "
                    "seccomp user notification: Linux 5.0 and libseccomp 2.5 "
                    "or later)" : "");
    }
    lua_pop(L, 3);
  }
  lua_pop(L, 1);
}

/* builds a filter from the spec table at argument n; pushes the object */
static Filter *newfilter (ljArgs *A, int n) {
  lua_State *L = A->L;
  int idx = lj_argtable(A, n);
  uint32_t def = SCMP_ACT_ALLOW;
  Filter *f = (Filter *)lua_newuserdatauv(L, sizeof(Filter), 1);
  f->ctx = NULL;                          /* closed state first */
  f->foreign = 0;
  luaL_setmetatable(L, LJ_FILTER);
  lua_getfield(L, idx, "default");
  if (!lua_isnil(L, -1)) def = argaction(A, n, lua_gettop(L));
  lua_pop(L, 1);
  if ((f->ctx = seccomp_init(def)) == NULL)
    luaL_error(L, "seccomp_init failed");
  seccomp_attr_set(f->ctx, SCMP_FLTATR_CTL_NNP, 0);
  seccomp_attr_set(f->ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  lua_getfield(L, idx, "badarch");
  if (!lua_isnil(L, -1)) {
    int err = seccomp_attr_set(f->ctx, SCMP_FLTATR_ACT_BADARCH,
                               argaction(A, n, lua_gettop(L)));
    if (err != 0) lj_argerror(A, n, "badarch: %s", strerror(-err));
  }
  lua_pop(L, 1);
  addarches(A, n, f, idx);
  addrules(A, n, f, idx, def);
  return f;
}

static int seccomp_filter (lua_State *L) {
  ljArgs A;
  lj_args(&A, L, "seccomp_filter", "spec");
  newfilter(&A, 1);
  return 1;
}

/* f's BPF (at stack index idx) as a Lua string, pushed: libseccomp
** writes it into a memfd, once -- a filter never changes, and a plan
** that holds one is decoded at every spawn (exporting costs about
** 300 us for the default preset's) */
static int exportbpf (lua_State *L, int idx, Filter *f) {
  int fd, err;
  off_t size;
  luaL_Buffer b;
  char *p;
  idx = lua_absindex(L, idx);
  if (lua_getiuservalue(L, idx, 1) == LUA_TSTRING) return 0;
  lua_pop(L, 1);
  if ((fd = memfd_create("lunajail-bpf", MFD_CLOEXEC)) < 0) return errno;
  if ((err = -seccomp_export_bpf(f->ctx, fd)) != 0
      || (size = lseek(fd, 0, SEEK_END)) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
    err = err ? err : errno;
    close(fd);
    return err;
  }
  p = luaL_buffinitsize(L, &b, (size_t)size);
  if (read(fd, p, (size_t)size) != size) {
    err = errno ? errno : EIO;
    close(fd);
    return err;
  }
  close(fd);
  luaL_pushresultsize(&b, (size_t)size);
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, idx, 1);
  return 0;
}

static int filter_export (lua_State *L) {
  int err = exportbpf(L, 1, tofilter(L));
  return err ? lj_pushfail(L, "seccomp_export_bpf", err) : 1;
}

static int filter_pfc (lua_State *L) {
  Filter *f = tofilter(L);
  int fd = memfd_create("lunajail-pfc", MFD_CLOEXEC), err;
  off_t size;
  luaL_Buffer b;
  char *p;
  if (fd < 0) return lj_pushfail(L, "memfd_create", errno);
  err = -seccomp_export_pfc(f->ctx, fd);
  size = lseek(fd, 0, SEEK_END);
  if (err || size < 0 || lseek(fd, 0, SEEK_SET) < 0) {
    close(fd);
    return lj_pushfail(L, "seccomp_export_pfc", err ? err : errno);
  }
  p = luaL_buffinitsize(L, &b, (size_t)size);
  size = read(fd, p, (size_t)size);
  close(fd);
  luaL_pushresultsize(&b, size > 0 ? (size_t)size : 0);
  return 1;
}

/* }====== */


/* {====== The step: seccomp(filter or spec) ======} */

/* can the program return SECCOMP_RET_USER_NOTIF?  Every return of a
** constant is looked at (libseccomp's programs return constants only;
** a raw program that computes its return value is not seen) */
static int hasnotify (const struct sock_filter *f, size_t n) {
  size_t k;
  for (k = 0; k < n; k++)
    if (f[k].code == (BPF_RET | BPF_K)
        && (f[k].k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF)
      return 1;
  return 0;
}

static void seccomp_decode (ljArgs *A, ljStep *s) {
  lua_State *L = A->L;
  int idx = lj_argidx(A, 1), err;
  Filter *f = (Filter *)luaL_testudata(L, idx, LJ_FILTER);
  size_t len;
  const char *bpf;
  if (f == NULL && lua_type(L, idx) == LUA_TSTRING) {   /* raw BPF */
    bpf = lua_tolstring(L, idx, &len);
    if (len == 0 || len % sizeof(struct sock_filter) != 0)
      lj_argerror(A, 1, "raw BPF of %d bytes: 8 per instruction (struct "
                  "sock_filter), at least one", (int)len);
    lua_pushvalue(L, idx);
  }
  else {
    if (f == NULL) {
      if (lj_isnone(A, 1) || !lua_istable(L, idx))
        lj_argerror(A, 1, "seccomp filter, spec table or BPF string expected");
      f = newfilter(A, 1);
      idx = lua_gettop(L);
    }
    if (f->ctx == NULL) lj_argerror(A, 1, "seccomp filter is closed");
    if ((err = exportbpf(L, idx, f)) != 0)
      lj_argerror(A, 1, "cannot export the filter: %s", strerror(err));
    bpf = lua_tolstring(L, -1, &len);
    if (len == 0 || len % sizeof(struct sock_filter) != 0)
      lj_argerror(A, 1, "the filter compiles to %d bytes", (int)len);
  }
  /* the kernel's BPF_MAXINSNS: say so now, not as E2BIG in a child */
  if (len / sizeof(struct sock_filter) > 4096)
    lj_argerror(A, 1, "the filter compiles to %d BPF instructions, more "
                "than the kernel's 4096", (int)(len / 8));
  s->p = lj_strdup(L, A->arena, bpf, len);
  s->plen = len;
  s->i[0] = (int64_t)(len / sizeof(struct sock_filter));
  s->i[1] = hasnotify((const struct sock_filter *)s->p, (size_t)s->i[0]);
  s->i[2] = -1;                    /* the spawner's socket (spawn.c) */
  if (s->i[1] && !A->copy)
    lj_argerror(A, 1, "a filter with notify rules loads only in a spawned "
                "sandbox (a plan's step): its listener goes to the child "
                "object, and nothing would answer this process's calls");
  lua_pop(L, 1);
}

/* the filter with a listener, which goes to the spawner over sock */
static int loadlistener (struct sock_fprog *prog, int sock) {
  int fd, err;
  if (sock < 0) return EBADF;      /* not in a spawn: no one to answer */
  fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                    SECCOMP_FILTER_FLAG_NEW_LISTENER, prog);
  if (fd < 0) return errno;
  err = lj_sendfd(sock, fd);
  close(fd);
  close(sock);
  return err;
}

static int seccomp_apply (const ljStep *s, ljCtx *c) {
  struct sock_fprog prog;
  (void)c;
  prog.len = (unsigned short)s->i[0];
  prog.filter = (struct sock_filter *)s->p;
  if (s->i[0] > 4096) return E2BIG;      /* BPF_MAXINSNS */
  if (s->i[1]) return loadlistener(&prog, (int)s->i[2]);
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0) return 0;
  if (errno != ENOSYS) return errno;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0
         ? 0 : errno;
}

static void seccomp_describe (const ljStep *s, ljBuf *b) {
  lj_bufaddint(b, s->i[0]);
  lj_bufadd(b, " BPF instructions");
  if (s->i[1]) lj_bufadd(b, ", notify listener");
}

static const ljOp op_seccomp = {
  "seccomp", "filter", LJ_PARENT(seccomp_decode), seccomp_apply, LJ_PARENT(seccomp_describe), 0
};

/* filter:load(): the same step, in the calling thread */
static int filter_load (lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "lunajail.seccomp_step");
  lua_pushvalue(L, 1);
  tofilter(L);
  lua_call(L, 1, 3);
  return 3;
}

/* }====== */


/* seccomp_resolve(name) -> number on the native arch | nil, why: why is
** "unknown" (libseccomp cannot name it) or "foreign" (a call of other
** arches only: libseccomp's negative pseudo-numbers) */
static int seccomp_resolve (lua_State *L) {
  ljArgs A;
  int nr;
  lj_args(&A, L, "seccomp_resolve", "name");
  nr = seccomp_syscall_resolve_name(lj_argstr(&A, 1, NULL));
  if (nr >= 0) {
    lua_pushinteger(L, nr);
    return 1;
  }
  luaL_pushfail(L);
  lua_pushstring(L, nr == __NR_SCMP_ERROR ? "unknown" : "foreign");
  return 2;
}

/* libseccomp's name of an architecture's token (an AUDIT_ARCH_*
** value, as seccomp_data.arch has it), or NULL */
const char *lj_seccomp_archname (uint32_t token) {
  static const char *const names[] = {
    "x86_64", "x86", "x32", "aarch64", "arm", "riscv64", "s390x", "s390",
    "ppc64le", "ppc64", "ppc", "mips", "mipsel", "mips64", "mipsel64",
    "mips64n32", "mipsel64n32", "parisc", "parisc64", "loongarch64", NULL
  };
  int i;
  for (i = 0; names[i]; i++)
    if (seccomp_arch_resolve_name(names[i]) == token) return names[i];
  return NULL;
}

/* pushes the name of syscall nr of arch (a token), or nil */
void lj_seccomp_pushname (lua_State *L, uint32_t arch, int nr) {
  char *name = seccomp_syscall_resolve_num_arch(arch, nr), buf[64];
  if (name) snprintf(buf, sizeof buf, "%s", name);
  free(name);                      /* before anything may raise */
  if (name) lua_pushstring(L, buf);
  else lua_pushnil(L);
}

/* seccomp_arch() -> the native architecture's libseccomp name */
static int seccomp_arch (lua_State *L) {
  const char *name = lj_seccomp_archname(seccomp_arch_native());
  lua_pushstring(L, name ? name : "unknown");
  return 1;
}

const ljOp *const lj_ops_seccomp[] = { &op_seccomp, NULL };

void lj_open_seccomp (lua_State *L) {
  static const luaL_Reg meth[] = {
    { "load", filter_load }, { "export", filter_export },
    { "pfc", filter_pfc }, { "close", filter_close }, { NULL, NULL }
  };
  static const luaL_Reg meta[] = {
    { "__index", NULL }, { "__gc", filter_close }, { "__close", filter_close },
    { "__tostring", filter_tostring }, { NULL, NULL }
  };
  if (luaL_newmetatable(L, LJ_FILTER)) {
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, meth);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  lua_getfield(L, -1, "seccomp");          /* registered by lj_open_steps */
  lua_setfield(L, LUA_REGISTRYINDEX, "lunajail.seccomp_step");
  lua_pushcfunction(L, seccomp_filter);
  lua_setfield(L, -2, "seccomp_filter");
  lua_pushcfunction(L, seccomp_resolve);
  lua_setfield(L, -2, "seccomp_resolve");
  lua_pushcfunction(L, seccomp_arch);
  lua_setfield(L, -2, "seccomp_arch");
  lua_createtable(L, 0, 2);      /* open(2)'s flags for the set-id guard */
  lua_pushinteger(L, O_CREAT);
  lua_setfield(L, -2, "creat");
  lua_pushinteger(L, O_TMPFILE & ~O_DIRECTORY);   /* its own bit */
  lua_setfield(L, -2, "tmpfile");
  lua_setfield(L, -2, "OFLAGS");
}
