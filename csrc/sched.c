/*
** sched.c: setpriority(nice), the scheduling priority of the calling
** thread (and so of what it execs); core.getpriority() reads it.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <sys/resource.h>

#include "lj.h"

static void setpriority_decode (ljArgs *A, ljStep *s) {
  s->i[0] = lj_argint(A, 1, -20, 19);
}

static int setpriority_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  return setpriority(PRIO_PROCESS, 0, (int)s->i[0]) == 0 ? 0 : errno;
}

static void setpriority_describe (const ljStep *s, ljBuf *b) {
  lj_bufaddint(b, s->i[0]);
}

static const ljOp op_setpriority = {
  "setpriority", "nice", LJ_PARENT(setpriority_decode), setpriority_apply,
  LJ_PARENT(setpriority_describe), 0
};

const ljOp *const lj_ops_sched[] = { &op_setpriority, NULL };

/* core.getpriority() -> the calling thread's nice value */
static int l_getpriority (lua_State *L) {
  int v;
  errno = 0;
  v = getpriority(PRIO_PROCESS, 0);   /* -1 is a nice value too */
  if (v == -1 && errno != 0) return lj_pushfail(L, "getpriority", errno);
  lua_pushinteger(L, v);
  return 1;
}

void lj_open_sched (lua_State *L) {
  lua_pushcfunction(L, l_getpriority);
  lua_setfield(L, -2, "getpriority");
}
