/*
** rlimit.c: setrlimit (a step) and getrlimit, resources by name.
** A limit is a non-negative integer or "infinity" (math.huge too); a
** negative number is refused, never cast to RLIM_INFINITY.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/resource.h>

#include "lj.h"

#define N(name, value)  { name, value, NULL }

static const ljName rlimits[] = {
  N("as", RLIMIT_AS), N("core", RLIMIT_CORE), N("cpu", RLIMIT_CPU),
  N("data", RLIMIT_DATA), N("fsize", RLIMIT_FSIZE), N("locks", RLIMIT_LOCKS),
  N("memlock", RLIMIT_MEMLOCK), N("msgqueue", RLIMIT_MSGQUEUE),
  N("nice", RLIMIT_NICE), N("nofile", RLIMIT_NOFILE),
  N("nproc", RLIMIT_NPROC), N("rss", RLIMIT_RSS), N("rtprio", RLIMIT_RTPRIO),
  N("rttime", RLIMIT_RTTIME), N("sigpending", RLIMIT_SIGPENDING),
  N("stack", RLIMIT_STACK), { NULL, 0, NULL }
};

const ljNames lj_rlimits = { "resource", "RLIMIT_", rlimits };

#define INF  (-1)                   /* RLIM_INFINITY inside a step */

static int64_t arglimit (ljArgs *A, int n) {
  lua_State *L = A->L;
  int idx = lj_argidx(A, n);
  if (lj_isstring(A, n)) {
    const char *s = lj_argstr(A, n, NULL);       /* no "infinity\0..." */
    if (strcmp(s, "infinity") == 0) return INF;
    lj_argerror(A, n, "limit or \"infinity\" expected, got \"%s\"", s);
  }
  if (n <= A->n && lua_type(L, idx) == LUA_TNUMBER && !lua_isinteger(L, idx)
      && lua_tonumber(L, idx) == HUGE_VAL)
    return INF;
  return lj_argint(A, n, 0, LUA_MAXINTEGER);
}

static int argresource (ljArgs *A, int n) {
  lua_Integer r = lj_argname(A, n, &lj_rlimits);
  if (r >= RLIM_NLIMITS) lj_argerror(A, n, "no such resource");
  return (int)r;
}

/* setrlimit(resource, soft [, hard]): hard defaults to soft */
static void setrlimit_decode (ljArgs *A, ljStep *s) {
  s->i[0] = argresource(A, 1);
  s->i[1] = arglimit(A, 2);
  s->i[2] = lj_isnone(A, 3) ? s->i[1] : arglimit(A, 3);
}

static rlim_t torlim (int64_t v) {
  return v == INF ? RLIM_INFINITY : (rlim_t)v;
}

static int setrlimit_apply (const ljStep *s, ljCtx *c) {
  struct rlimit r;
  (void)c;
  r.rlim_cur = torlim(s->i[1]);
  r.rlim_max = torlim(s->i[2]);
  return setrlimit((int)s->i[0], &r) == 0 ? 0 : errno;
}

static void addlimit (ljBuf *b, int64_t v) {
  if (v == INF) lj_bufadd(b, "\"infinity\"");
  else lj_bufaddint(b, v);
}

static void setrlimit_describe (const ljStep *s, ljBuf *b) {
  const char *name = lj_nameof(&lj_rlimits, s->i[0]);
  if (name) lj_bufaddq(b, name);
  else lj_bufaddint(b, s->i[0]);
  lj_bufadd(b, ", ");
  addlimit(b, s->i[1]);
  lj_bufadd(b, ", ");
  addlimit(b, s->i[2]);
}

static const ljOp op_setrlimit = {
  "setrlimit", "resource,soft,hard", LJ_PARENT(setrlimit_decode), setrlimit_apply,
  LJ_PARENT(setrlimit_describe), 0
};

/* a limit above 2^63 - 1 (set by another tool) as a float, not negative */
static void pushlimit (lua_State *L, rlim_t v) {
  if (v == RLIM_INFINITY) lua_pushliteral(L, "infinity");
  else if (v > (rlim_t)LUA_MAXINTEGER) lua_pushnumber(L, (lua_Number)v);
  else lua_pushinteger(L, (lua_Integer)v);
}

/* getrlimit(resource) -> soft, hard (integers or "infinity") */
static int l_getrlimit (lua_State *L) {
  ljArgs A;
  struct rlimit r;
  int res;
  lj_args(&A, L, "getrlimit", "resource");
  res = argresource(&A, 1);
  if (getrlimit(res, &r) != 0)
    return lj_pushfail(L, lua_pushfstring(L, "getrlimit(\"%s\")",
                                          lj_nameof(&lj_rlimits, res)), errno);
  pushlimit(L, r.rlim_cur);
  pushlimit(L, r.rlim_max);
  return 2;
}

const ljOp *const lj_ops_rlimit[] = { &op_setrlimit, NULL };

void lj_open_rlimit (lua_State *L) {
  lua_pushcfunction(L, l_getrlimit);
  lua_setfield(L, -2, "getrlimit");
  lj_pushnames(L, &lj_rlimits);
  lua_setfield(L, -2, "RLIMIT");
}
