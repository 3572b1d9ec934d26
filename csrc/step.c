/*
** step.c: the op registry, the generic core.X(args) of every step op, and
** the structured error a failed step reports.
*/

#define _GNU_SOURCE
#include <string.h>

#include "lj.h"


static const ljOp *const *const groups[] = {
  lj_ops_ns, lj_ops_mount, lj_ops_path, lj_ops_ids, lj_ops_prctl,
  lj_ops_rlimit, lj_ops_caps, lj_ops_seccomp, lj_ops_landlock, lj_ops_net,
  lj_ops_netlink, lj_ops_sched, lj_ops_tty, lj_ops_gate
};

const ljOp *lj_findop (const char *name) {
  size_t g;
  const ljOp *const *op;
  for (g = 0; g < lj_countof(groups); g++)
    for (op = groups[g]; *op; op++)
      if (strcmp((*op)->name, name) == 0) return *op;
  return NULL;
}

/* ops by number, as a plan crosses to the runner: the same registry is
** compiled into both, so the numbers agree */
int lj_opindex (const ljOp *o) {
  size_t g;
  int k = 0;
  const ljOp *const *op;
  for (g = 0; g < lj_countof(groups); g++)
    for (op = groups[g]; *op; op++, k++)
      if (*op == o) return k;
  return -1;
}

const ljOp *lj_opbyindex (int index) {
  size_t g;
  int k = 0;
  const ljOp *const *op;
  for (g = 0; g < lj_countof(groups); g++)
    for (op = groups[g]; *op; op++, k++)
      if (k == index) return *op;
  return NULL;
}


/* {====== core.X(args): decode, apply here, report ======} */

static int step_call (lua_State *L) {
  const ljOp *op = (const ljOp *)lua_touserdata(L, lua_upvalueindex(1));
  ljStep s;
  ljArgs A;
  ljCtx c;
  int err;
  memset(&s, 0, sizeof s);
  memset(&c, 0, sizeof c);
  s.op = op;
  lj_args(&A, L, op->name, op->args);
  A.arena = lj_newarena(L);              /* above the arguments */
  op->decode(&A, &s);
  err = op->apply(&s, &c);
  if (err) {
    char buf[1024];
    ljBuf b = { buf, 0, sizeof buf };
    lj_describe(&s, &b);
    return lj_pushfail(L, buf, err);
  }
  lua_pushboolean(L, 1);
  return 1;
}

static void register_ops (lua_State *L) {
  size_t g;
  const ljOp *const *op;
  for (g = 0; g < lj_countof(groups); g++)
    for (op = groups[g]; *op; op++) {
      if ((*op)->flags & LJ_OPF_PLAN) continue;
      lua_pushlightuserdata(L, (void *)*op);
      lua_pushcclosure(L, step_call, 1);
      lua_setfield(L, -2, (*op)->name);
    }
}

/* core.describe{"name", args...} -> 'name("a", "b")': decodes the step
** as a plan would (raising on misuse) and describes it */
static int describe (lua_State *L) {
  const ljOp *op;
  ljStep s;
  ljArgs A;
  char buf[1024];
  ljBuf b = { buf, 0, sizeof buf };
  int n, j;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_rawgeti(L, 1, 1);
  if (lua_type(L, 2) != LUA_TSTRING
      || (op = lj_findop(lua_tostring(L, 2))) == NULL) {
    lj_pushopnames(L);
    return luaL_error(L, "describe: unknown step '%s' (valid: %s)",
                      luaL_tolstring(L, 2, NULL), lua_tostring(L, 3));
  }
  memset(&s, 0, sizeof s);
  s.op = op;
  n = 0;
  lua_pushnil(L);                        /* the largest index: nil holes */
  while (lua_next(L, 1)) {
    if (lua_isinteger(L, -2) && lua_tointeger(L, -2) > n
        && lua_tointeger(L, -2) <= 64)
      n = (int)lua_tointeger(L, -2);
    lua_pop(L, 1);
  }
  n--;
  luaL_checkstack(L, n + 4, "too many step arguments");
  lua_pushfstring(L, "describe %s", op->name);
  for (j = 2; j <= n + 1; j++) lua_rawgeti(L, 1, j);
  A.L = L;
  A.base = lua_gettop(L) - n + 1;
  A.n = n;
  A.where = lua_tostring(L, A.base - 1);
  A.names = op->args;
  A.arena = lj_newarena(L);
  A.copy = 1;                            /* a plan's step: what only a
                                            plan may have is described */
  op->decode(&A, &s);
  lj_describe(&s, &b);
  lua_pushstring(L, buf);
  return 1;
}

/* core.steps: the names of every op usable as a plan step */
static void push_opnames (lua_State *L) {
  size_t g;
  int i = 0;
  const ljOp *const *op;
  lua_newtable(L);
  for (g = 0; g < lj_countof(groups); g++)
    for (op = groups[g]; *op; op++) {
      lua_pushstring(L, (*op)->name);
      lua_seti(L, -2, ++i);
    }
}

/* "mount, umount, ...": for messages about unknown steps */
void lj_pushopnames (lua_State *L) {
  luaL_Buffer b;
  size_t g;
  const ljOp *const *op;
  luaL_buffinit(L, &b);
  for (g = 0; g < lj_countof(groups); g++)
    for (op = groups[g]; *op; op++) {
      if (b.n > 0) luaL_addstring(&b, ", ");
      luaL_addstring(&b, (*op)->name);
    }
  luaL_pushresult(&b);
}

/* }====== */


/* {====== Step errors ======}
** err.step, err.op, err.errno, err.errname, err.call ('mount("a", "b")'),
** err.args (the step's string arguments), err.message; tostring(err) is
** the message: 'step 7 pivot_root(".", "."): Invalid argument (EINVAL)'.
*/

static int steperr_tostring (lua_State *L) {
  lua_getfield(L, 1, "message");
  return 1;
}

void lj_pushsteperr_meta (lua_State *L) {
  if (luaL_newmetatable(L, LJ_STEPERR)) {
    lua_pushcfunction(L, steperr_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushstring(L, "lunajail.StepError");
    lua_setfield(L, -2, "__name");
  }
}

/* pushes the error table; err > 0 is an errno, err < 0 a fatal signal */
int lj_pushsteperr (lua_State *L, const ljStep *s, int index, int err) {
  char buf[1024], nbuf[32];
  ljBuf b = { buf, 0, sizeof buf };
  int i, n = 0;
  lj_describe(s, &b);
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, index);
  lua_setfield(L, -2, "step");
  lua_pushstring(L, s->op->name);
  lua_setfield(L, -2, "op");
  lua_pushstring(L, buf);
  lua_setfield(L, -2, "call");
  lua_createtable(L, LJ_NSTR, 0);
  for (i = 0; i < LJ_NSTR; i++)
    if (s->s[i]) {
      lua_pushstring(L, s->s[i]);
      lua_seti(L, -2, ++n);
    }
  lua_setfield(L, -2, "args");
  if (err > 0) {
    const char *name = lj_cname(&lj_errnos, err, nbuf, sizeof nbuf);
    lua_pushinteger(L, err);
    lua_setfield(L, -2, "errno");
    lua_pushstring(L, name ? name : "?");
    lua_setfield(L, -2, "errname");
    lua_pushfstring(L, "step %d %s: ", index, buf);
    lj_pusherrtext(L, err);
  }
  else {
    const char *name = lj_cname(&lj_signals, -err, nbuf, sizeof nbuf);
    lua_pushinteger(L, -err);
    lua_setfield(L, -2, "signal");
    lua_pushstring(L, name ? name : "?");
    lua_setfield(L, -2, "signame");
    lua_pushfstring(L, "step %d %s: killed by %s", index, buf,
                    name ? name : "a signal");
    lua_pushliteral(L, "");
  }
  lua_concat(L, 2);
  lua_setfield(L, -2, "message");
  lj_pushsteperr_meta(L);
  lua_setmetatable(L, -2);
  return 1;
}

/* }====== */


void lj_open_steps (lua_State *L) {
  register_ops(L);
  lua_pushcfunction(L, describe);
  lua_setfield(L, -2, "describe");
  push_opnames(L);
  lua_setfield(L, -2, "steps");
}
