/*
** prctl.c: no_new_privs, pdeathsig, dumpable, keepcaps, securebits and
** setsid, one step each; prctl_state() reads them all back.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <linux/securebits.h>

#include "lj.h"

static const ljName securebits[] = {
  { "noroot", SECBIT_NOROOT, NULL },
  { "noroot_locked", SECBIT_NOROOT_LOCKED, NULL },
  { "no_setuid_fixup", SECBIT_NO_SETUID_FIXUP, NULL },
  { "no_setuid_fixup_locked", SECBIT_NO_SETUID_FIXUP_LOCKED, NULL },
  { "keep_caps", SECBIT_KEEP_CAPS, NULL },
  { "keep_caps_locked", SECBIT_KEEP_CAPS_LOCKED, NULL },
  { "no_cap_ambient_raise", SECBIT_NO_CAP_AMBIENT_RAISE, NULL },
  { "no_cap_ambient_raise_locked", SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED, NULL },
  { NULL, 0, NULL }
};

const ljNames lj_securebits = { "securebit", "SECBIT_", securebits };

static int prctl_apply (const ljStep *s, ljCtx *c) {
  (void)c;
  return prctl((int)s->i[0], (unsigned long)s->i[1], 0, 0, 0) == 0
         ? 0 : errno;
}

/* no_new_privs([true]): it cannot be undone, so false (or 0, which is
** true in Lua) raises rather than set it */
static void nnp_decode (ljArgs *A, ljStep *s) {
  if (!lj_isnone(A, 1) && !lj_argbool(A, 1))
    lj_argerror(A, 1, "no_new_privs cannot be unset");
  s->i[0] = PR_SET_NO_NEW_PRIVS;
  s->i[1] = 1;
}

static void describe_int (const ljStep *s, ljBuf *b) {
  if (s->i[0] != PR_SET_NO_NEW_PRIVS) lj_bufaddint(b, s->i[1]);
}

static const ljOp op_no_new_privs = {
  "no_new_privs", "on", LJ_PARENT(nnp_decode), prctl_apply, LJ_PARENT(describe_int), 0
};

/* pdeathsig(sig): sig by name or number; 0 clears */
static void pdeathsig_decode (ljArgs *A, ljStep *s) {
  s->i[0] = PR_SET_PDEATHSIG;
  s->i[1] = lj_argsignal0(A, 1);
}

static int pdeathsig_apply (const ljStep *s, ljCtx *c) {
  int err = prctl_apply(s, c);
  if (!err) c->pdeathsig = (int)s->i[1];  /* re-armed after id changes */
  return err;
}

static const ljOp op_pdeathsig = {
  "pdeathsig", "signal", LJ_PARENT(pdeathsig_decode), pdeathsig_apply, LJ_PARENT(describe_int), 0
};

static void dumpable_decode (ljArgs *A, ljStep *s) {
  s->i[0] = PR_SET_DUMPABLE;
  s->i[1] = lj_argbool(A, 1);
}

static const ljOp op_dumpable = {
  "dumpable", "on", LJ_PARENT(dumpable_decode), prctl_apply, LJ_PARENT(describe_int), 0
};

static void keepcaps_decode (ljArgs *A, ljStep *s) {
  s->i[0] = PR_SET_KEEPCAPS;
  s->i[1] = lj_argbool(A, 1);
}

static const ljOp op_keepcaps = {
  "keepcaps", "on", LJ_PARENT(keepcaps_decode), prctl_apply, LJ_PARENT(describe_int), 0
};

/* securebits(bits): all of them at once, so nil is refused ({} clears) */
static void securebits_decode (ljArgs *A, ljStep *s) {
  if (lj_isnone(A, 1))
    lj_argerror(A, 1, "securebit names expected ({} for none), got %s",
                A->n < 1 ? "no value" : "nil");
  s->i[0] = PR_SET_SECUREBITS;
  s->i[1] = lj_argflags(A, 1, &lj_securebits);
}

static void securebits_describe (const ljStep *s, ljBuf *b) {
  lj_bufaddflags(b, &lj_securebits, s->i[1]);
}

static const ljOp op_securebits = {
  "securebits", "bits", LJ_PARENT(securebits_decode), prctl_apply,
  LJ_PARENT(securebits_describe), 0
};

static void setsid_decode (ljArgs *A, ljStep *s) {
  (void)A; (void)s;
}

static int setsid_apply (const ljStep *s, ljCtx *c) {
  (void)s; (void)c;
  return setsid() >= 0 ? 0 : errno;
}

static const ljOp op_setsid = {
  "setsid", "", LJ_PARENT(setsid_decode), setsid_apply, NULL, 0
};


/* prctl_state() -> {no_new_privs=, dumpable=, keepcaps=, pdeathsig=,
** securebits={names}, seccomp=mode} of the calling thread */
static int prctl_state (lua_State *L) {
  int sig = 0;
  lua_createtable(L, 0, 6);
  lua_pushboolean(L, prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
  lua_setfield(L, -2, "no_new_privs");
  lua_pushboolean(L, prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);
  lua_setfield(L, -2, "dumpable");
  lua_pushboolean(L, prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1);
  lua_setfield(L, -2, "keepcaps");
  prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0);
  lua_pushinteger(L, sig);
  lua_setfield(L, -2, "pdeathsig");
  lj_pushflagnames(L, &lj_securebits, prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
  lua_setfield(L, -2, "securebits");
  lua_pushinteger(L, prctl(PR_GET_SECCOMP, 0, 0, 0, 0));
  lua_setfield(L, -2, "seccomp");
  return 1;
}

const ljOp *const lj_ops_prctl[] = {
  &op_no_new_privs, &op_pdeathsig, &op_dumpable, &op_keepcaps,
  &op_securebits, &op_setsid, NULL
};

void lj_open_prctl (lua_State *L) {
  lua_pushcfunction(L, prctl_state);
  lua_setfield(L, -2, "prctl_state");
  lj_pushnames(L, &lj_securebits);
  lua_setfield(L, -2, "SECBIT");
}
