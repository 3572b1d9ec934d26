/*
** names.c: flags, signals and errnos by name.
**
** A name is accepted in its short form ("bind", "term", "nofile") or
** with its C prefix ("MS_BIND", "SIGTERM", "RLIMIT_NOFILE"), in any case;
** an integer is accepted as is.  A set of flags is a
** list of names, one comma-separated string, or an integer.  Unknown
** names raise, listing the valid ones.
*/

#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <strings.h>

#include "lj.h"


/* {====== Lookup ======} */

/* does s (len bytes) spell entry e of t?  Case does not matter and the
** C prefix is optional: "term", "TERM", "SIGTERM", "sigterm".  An entry
** with a C name of its own ("mount": CLONE_NEWNS) takes only that. */
static int matches (const ljNames *t, const ljName *e, const char *s,
                    size_t len) {
  size_t plen = strlen(t->prefix), nlen = strlen(e->name);
  if (e->cname && len == strlen(e->cname)
      && strncasecmp(s, e->cname, len) == 0)
    return 1;
  if (!e->cname && len > plen && plen > 0
      && strncasecmp(s, t->prefix, plen) == 0
      && len - plen == nlen && strncasecmp(s + plen, e->name, nlen) == 0)
    return 1;
  return len == nlen && strncasecmp(s, e->name, len) == 0;
}

int lj_findname (const ljNames *t, const char *s, size_t len,
                 lua_Integer *v) {
  const ljName *e;
  for (e = t->list; e->name; e++)
    if (matches(t, e, s, len)) { *v = e->value; return 1; }
  return 0;
}

const char *lj_nameof (const ljNames *t, lua_Integer v) {
  const ljName *e;
  for (e = t->list; e->name; e++)
    if (e->value == v) return e->name;
  return NULL;
}

static const char *spell (const ljNames *t, const ljName *e, char *buf,
                          size_t size) {
  size_t i = 0;
  const char *p;
  if (e->cname) return e->cname;
  for (p = t->prefix; *p && i + 1 < size; p++) buf[i++] = *p;
  for (p = e->name; *p && i + 1 < size; p++)
    buf[i++] = (char)toupper((unsigned char)*p);
  buf[i] = '\0';
  return buf;
}

const char *lj_cname (const ljNames *t, lua_Integer v, char *buf,
                      size_t size) {
  const ljName *e;
  for (e = t->list; e->name; e++)
    if (e->value == v) return spell(t, e, buf, size);
  return NULL;
}

static int unknown (ljArgs *A, int n, const ljNames *t, const char *s,
                    size_t len) {
  luaL_Buffer b;
  const ljName *e;
  luaL_buffinit(A->L, &b);
  for (e = t->list; e->name; e++) {
    if (e != t->list) luaL_addstring(&b, ", ");
    luaL_addstring(&b, e->name);
  }
  luaL_pushresult(&b);
  lua_pushlstring(A->L, s, len);
  return lj_argerror(A, n, "unknown %s \"%s\" (valid: %s)", t->what,
                     lua_tostring(A->L, -1), lua_tostring(A->L, -2));
}

static const char *nonul (ljArgs *A, int n, const char *s, size_t len) {
  if (memchr(s, '\0', len)) lj_argerror(A, n, "string contains a NUL byte");
  return s;
}

/* one name from s[0..len) */
static lua_Integer onename (ljArgs *A, int n, const ljNames *t,
                            const char *s, size_t len) {
  lua_Integer v;
  if (!lj_findname(t, s, len, &v)) unknown(A, n, t, s, len);
  return v;
}

lua_Integer lj_argname (ljArgs *A, int n, const ljNames *t) {
  lua_State *L = A->L;
  int idx = lj_argidx(A, n);
  if (n <= A->n && lua_type(L, idx) == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    return onename(A, n, t, nonul(A, n, s, len), len);
  }
  if (n <= A->n && lua_type(L, idx) == LUA_TNUMBER)
    return lj_argint(A, n, 0, INT32_MAX);
  return lj_argerror(A, n, "%s name or integer expected, got %s", t->what,
                     n > A->n ? "no value" : luaL_typename(L, idx));
}

/* "a,b, c" -> OR of the names */
static lua_Integer csvflags (ljArgs *A, int n, const ljNames *t,
                             const char *s) {
  lua_Integer v = 0;
  while (*s) {
    size_t len;
    while (*s == ' ' || *s == ',') s++;
    len = strcspn(s, ", ");
    if (len) v |= onename(A, n, t, s, len);
    s += len;
  }
  return v;
}

lua_Integer lj_argflags (ljArgs *A, int n, const ljNames *t) {
  lua_State *L = A->L;
  int idx = lj_argidx(A, n);
  lua_Integer v = 0, i, len;
  if (lj_isnone(A, n)) return 0;
  switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
      return lj_argint(A, n, 0, UINT32_MAX);
    case LUA_TSTRING: {  /* a NUL would end the list early: refused */
      size_t l;
      const char *s = lua_tolstring(L, idx, &l);
      return csvflags(A, n, t, nonul(A, n, s, l));
    }
    case LUA_TTABLE:
      len = (lua_Integer)lua_rawlen(L, idx);
      for (i = 1; i <= len; i++) {
        int ty = lua_rawgeti(L, idx, i);
        if (ty == LUA_TSTRING) {
          size_t l;
          const char *s = lua_tolstring(L, -1, &l);
          v |= onename(A, n, t, nonul(A, n, s, l), l);
        }
        else if (ty == LUA_TNUMBER && lua_isinteger(L, -1)
                 && lua_tointeger(L, -1) >= 0) {
          if (lua_tointeger(L, -1) > UINT32_MAX)  /* as a plain integer */
            lj_argerror(A, n, "item %I: %I out of range [0, %I]", i,
                        lua_tointeger(L, -1), (lua_Integer)UINT32_MAX);
          v |= lua_tointeger(L, -1);
        }
        else
          lj_argerror(A, n, "item %I: %s name expected, got %s", i, t->what,
                      luaL_typename(L, -1));
        lua_pop(L, 1);
      }
      return v;
    default:
      return lj_argerror(A, n, "%s names expected, got %s", t->what,
                         luaL_typename(L, idx));
  }
}

int lj_argsignal (ljArgs *A, int n) {
  lua_Integer v = lj_argname(A, n, &lj_signals);
  if (v < 1 || v >= NSIG)
    lj_argerror(A, n, "signal %I out of range [1, %d]", v, NSIG - 1);
  return (int)v;
}

/* a signal by name, or a number from 0 (kill's probe, pdeathsig's none) */
int lj_argsignal0 (ljArgs *A, int n) {
  if (n <= A->n && lua_type(A->L, lj_argidx(A, n)) == LUA_TNUMBER)
    return (int)lj_argint(A, n, 0, NSIG - 1);
  return lj_argsignal(A, n);
}

/* t.NAME = value and t[value] = "NAME", in the C spelling */
void lj_pushnames (lua_State *L, const ljNames *t) {
  const ljName *e;
  lua_newtable(L);
  for (e = t->list; e->name; e++) {
    char buf[64];
    lua_pushstring(L, spell(t, e, buf, sizeof buf));
    lua_pushinteger(L, e->value);
    lua_setfield(L, -3, lua_tostring(L, -2));
    lua_seti(L, -2, e->value);              /* t[value] = "NAME" */
  }
}

/* a set of flags as a list of short names */
void lj_pushflagnames (lua_State *L, const ljNames *t, lua_Integer v) {
  const ljName *e;
  int i = 0;
  lua_newtable(L);
  for (e = t->list; e->name; e++)
    if (e->value && (v & e->value) == e->value) {
      lua_pushstring(L, e->name);
      lua_seti(L, -2, ++i);
    }
}

/* }====== */


/* {====== Signals and errnos ======} */

#define N(name, value)  { name, value, NULL }

static const ljName signals[] = {
  N("hup", SIGHUP), N("int", SIGINT), N("quit", SIGQUIT), N("ill", SIGILL),
  N("trap", SIGTRAP), N("abrt", SIGABRT), N("bus", SIGBUS), N("fpe", SIGFPE),
  N("kill", SIGKILL), N("usr1", SIGUSR1), N("segv", SIGSEGV),
  N("usr2", SIGUSR2), N("pipe", SIGPIPE), N("alrm", SIGALRM),
  N("term", SIGTERM), N("stkflt", SIGSTKFLT), N("chld", SIGCHLD),
  N("cont", SIGCONT), N("stop", SIGSTOP), N("tstp", SIGTSTP),
  N("ttin", SIGTTIN), N("ttou", SIGTTOU), N("urg", SIGURG),
  N("xcpu", SIGXCPU), N("xfsz", SIGXFSZ), N("vtalrm", SIGVTALRM),
  N("prof", SIGPROF), N("winch", SIGWINCH), N("io", SIGIO), N("pwr", SIGPWR),
  N("sys", SIGSYS), { NULL, 0, NULL }
};

const ljNames lj_signals = { "signal", "SIG", signals };

static const ljName errnos[] = {
  N("eperm", EPERM), N("enoent", ENOENT), N("esrch", ESRCH),
  N("eintr", EINTR), N("eio", EIO), N("enxio", ENXIO), N("e2big", E2BIG),
  N("enoexec", ENOEXEC), N("ebadf", EBADF), N("echild", ECHILD),
  N("eagain", EAGAIN), N("enomem", ENOMEM), N("eacces", EACCES),
  N("efault", EFAULT), N("enotblk", ENOTBLK), N("ebusy", EBUSY),
  N("eexist", EEXIST), N("exdev", EXDEV), N("enodev", ENODEV),
  N("enotdir", ENOTDIR), N("eisdir", EISDIR), N("einval", EINVAL),
  N("enfile", ENFILE), N("emfile", EMFILE), N("enotty", ENOTTY),
  N("etxtbsy", ETXTBSY), N("efbig", EFBIG), N("enospc", ENOSPC),
  N("espipe", ESPIPE), N("erofs", EROFS), N("emlink", EMLINK),
  N("epipe", EPIPE), N("edom", EDOM), N("erange", ERANGE),
  N("edeadlk", EDEADLK), N("enametoolong", ENAMETOOLONG),
  N("enolck", ENOLCK), N("enosys", ENOSYS), N("enotempty", ENOTEMPTY),
  N("eloop", ELOOP), N("enomsg", ENOMSG), N("eidrm", EIDRM),
  N("enostr", ENOSTR), N("enodata", ENODATA), N("etime", ETIME),
  N("enosr", ENOSR), N("eremote", EREMOTE), N("enolink", ENOLINK),
  N("eproto", EPROTO), N("ebadmsg", EBADMSG), N("eoverflow", EOVERFLOW),
  N("eilseq", EILSEQ), N("eusers", EUSERS), N("enotsock", ENOTSOCK),
  N("edestaddrreq", EDESTADDRREQ), N("emsgsize", EMSGSIZE),
  N("eprototype", EPROTOTYPE), N("enoprotoopt", ENOPROTOOPT),
  N("eprotonosupport", EPROTONOSUPPORT), N("eopnotsupp", EOPNOTSUPP),
  N("eafnosupport", EAFNOSUPPORT), N("eaddrinuse", EADDRINUSE),
  N("eaddrnotavail", EADDRNOTAVAIL), N("enetdown", ENETDOWN),
  N("enetunreach", ENETUNREACH), N("econnaborted", ECONNABORTED),
  N("econnreset", ECONNRESET), N("enobufs", ENOBUFS),
  N("eisconn", EISCONN), N("enotconn", ENOTCONN), N("etimedout", ETIMEDOUT),
  N("econnrefused", ECONNREFUSED), N("ehostunreach", EHOSTUNREACH),
  N("ealready", EALREADY), N("einprogress", EINPROGRESS),
  N("estale", ESTALE), N("edquot", EDQUOT), N("ecanceled", ECANCELED),
  N("eownerdead", EOWNERDEAD), N("enotrecoverable", ENOTRECOVERABLE),
  N("erfkill", ERFKILL), N("ehwpoison", EHWPOISON), { NULL, 0, NULL }
};

/* errnos are spelled in capitals only in C ("ENOENT"); the short form is
** the lower-case one ("enoent") */
const ljNames lj_errnos = { "errno", "", errnos };

/* }====== */
