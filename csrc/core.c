/*
** core.c: luaopen_lunajail_core, the one exported symbol.
*/

#include "lj.h"

LJ_EXPORT int luaopen_lunajail_core (lua_State *L);

int luaopen_lunajail_core (lua_State *L) {
  lua_newtable(L);
  lj_open_steps(L);                /* every step op as core.X */
  lj_open_ns(L);
  lj_open_mount(L);
  lj_open_path(L);
  lj_open_ids(L);
  lj_open_rlimit(L);
  lj_open_prctl(L);
  lj_open_caps(L);
  lj_open_seccomp(L);
  lj_open_landlock(L);
  lj_open_proc(L);
  lj_open_spawn(L);
  lj_open_idalloc(L);
  lj_open_cgroup(L);
  lj_open_tty(L);
  lj_open_call(L);
  lj_open_sched(L);
  lj_open_gate(L);
  lj_open_netpool(L);
  lj_open_values(L);
  lj_pushnames(L, &lj_signals);
  lua_setfield(L, -2, "signal");
  lj_pushnames(L, &lj_errnos);
  lua_setfield(L, -2, "errno");
  lua_pushliteral(L, "0.1.0");
  lua_setfield(L, -2, "version");
  return 1;
}
