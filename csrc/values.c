/*
** values.c: Lua values as bytes and back, for lj.call's result stream
** (call.c): nil, booleans, integers, floats (NaN and the infinities), strings
** of any bytes, and tables of these, nested.
**
**   'n' nil   't' 'f'   'i' int64   'd' double   's' u32 length, bytes
**   'T' u32 pairs, then key value ...
** in our byte order (both ends are this machine).  At most LJ_VALMAX bytes
** and LJ_VALDEPTH levels of tables.  The encoder runs in the sandbox and
** never raises: a function, userdata, coroutine, a table inside itself
** (a cycle; a table reached twice is written twice), too deep or too big
** is a message naming where it is ("result #1.files[1]: a userdata ...").
** The decoder reads untrusted bytes (fn can write to its pipe): every
** length is checked against what is left, keys are neither nil nor NaN,
** and it raises "lunajail: call: the sandbox's result is malformed".
*/

#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lj.h"


/* {====== Encoding (in the sandbox) ======}
** Never raises: an error is a message in E->err, and 0.  Memory is
** malloc'd (the sandbox _exits: left to it).
*/

int lj_encput (ljEnc *E, const void *p, size_t n) {
  if (E->n + n > LJ_VALMAX) {
    snprintf(E->err, sizeof E->err, "lunajail: call: the results are larger "
             "than %d bytes", LJ_VALMAX);
    return 0;
  }
  if (E->n + n > E->cap) {
    size_t cap = E->cap ? E->cap : 4096;
    char *q;
    while (cap < E->n + n) cap *= 2;
    if ((q = (char *)realloc(E->p, cap)) == NULL) {
      snprintf(E->err, sizeof E->err, "lunajail: call: not enough memory "
               "for the results");
      return 0;
    }
    E->p = q;
    E->cap = cap;
  }
  memcpy(E->p + E->n, p, n);
  E->n += n;
  return 1;
}

int lj_enctag (ljEnc *E, char tag) { return lj_encput(E, &tag, 1); }

int lj_encu32 (ljEnc *E, uint32_t v) { return lj_encput(E, &v, sizeof v); }

int lj_encstring (ljEnc *E, const char *s, size_t len) {
  if (len > LJ_VALMAX) return lj_encput(E, s, len);   /* the size error */
  return lj_enctag(E, 's') && lj_encu32(E, (uint32_t)len)
         && lj_encput(E, s, len);
}

/* the key k (at idx) appended to the path, for messages */
static void pathkey (ljEnc *E, int idx) {
  lua_State *L = E->L;
  char seg[64];
  size_t len;
  const char *s;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING:
      s = lua_tolstring(L, idx, &len);
      if (len < 40 && s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM"
                               "NOPQRSTUVWXYZ_0123456789")] == '\0'
          && !(s[0] >= '0' && s[0] <= '9') && len > 0)
        snprintf(seg, sizeof seg, ".%s", s);
      else snprintf(seg, sizeof seg, "[\"%.30s%s\"]", s, len > 30 ? "..." : "");
      break;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx))
        snprintf(seg, sizeof seg, "[%lld]", (long long)lua_tointeger(L, idx));
      else snprintf(seg, sizeof seg, "[%.14g]", lua_tonumber(L, idx));
      break;
    default:
      snprintf(seg, sizeof seg, "[%s]", lua_toboolean(L, idx) ? "true"
               : "false");
  }
  len = strlen(seg);
  if (E->plen + len < sizeof E->path) {
    memcpy(E->path + E->plen, seg, len + 1);
    E->plen += len;
  }
}

static int refuse (ljEnc *E, const char *what) {
  snprintf(E->err, sizeof E->err, "lunajail: call: %s%s: %s cannot leave "
           "the sandbox (nil, booleans, numbers, strings and tables of "
           "them can)", E->path, E->plen ? "" : "?", what);
  return 0;
}

static int encode (ljEnc *E, int idx, int depth);

static int encodetable (ljEnc *E, int idx, int depth) {
  lua_State *L = E->L;
  uint32_t count = 0;
  size_t at, plen = E->plen;
  if (depth >= LJ_VALDEPTH) {
    snprintf(E->err, sizeof E->err, "lunajail: call: %s: tables nested "
             "deeper than %d levels", E->path, LJ_VALDEPTH);
    return 0;
  }
  if (!lua_checkstack(L, 6)) return refuse(E, "a table this deep");
  lua_pushvalue(L, idx);
  if (lua_rawget(L, E->seen) != LUA_TNIL) {
    lua_pop(L, 1);
    return refuse(E, "a table inside itself (a cycle)");
  }
  lua_pop(L, 1);
  lua_pushvalue(L, idx);
  lua_pushboolean(L, 1);
  lua_rawset(L, E->seen);
  if (!lj_enctag(E, 'T')) return 0;
  at = E->n;
  if (!lj_encu32(E, 0)) return 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int k = lua_gettop(L) - 1;
    if (!encode(E, k, depth + 1)) return 0;      /* keys are never nil */
    pathkey(E, k);
    if (!encode(E, k + 1, depth + 1)) return 0;
    E->path[E->plen = plen] = '\0';
    count++;
    lua_pop(L, 1);
  }
  memcpy(E->p + at, &count, sizeof count);
  lua_pushvalue(L, idx);
  lua_pushnil(L);
  lua_rawset(L, E->seen);          /* shared, not inside itself: copied */
  return 1;
}

static int encode (ljEnc *E, int idx, int depth) {
  lua_State *L = E->L;
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
    case LUA_TNIL: return lj_enctag(E, 'n');
    case LUA_TBOOLEAN: return lj_enctag(E, lua_toboolean(L, idx) ? 't' : 'f');
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) {
        int64_t v = (int64_t)lua_tointeger(L, idx);
        return lj_enctag(E, 'i') && lj_encput(E, &v, sizeof v);
      }
      else {
        double v = (double)lua_tonumber(L, idx);
        return lj_enctag(E, 'd') && lj_encput(E, &v, sizeof v);
      }
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      return lj_encstring(E, s, len);
    }
    case LUA_TTABLE: return encodetable(E, idx, depth);
    case LUA_TFUNCTION: return refuse(E, "a function");
    case LUA_TTHREAD: return refuse(E, "a coroutine");
    default: return refuse(E, "a userdata");
  }
}

void lj_encinit (ljEnc *E, lua_State *L) {
  memset(E, 0, sizeof *E);
  E->L = L;
  lua_newtable(L);
  E->seen = lua_gettop(L);
}

int lj_encvalue (ljEnc *E, int idx) {
  return encode(E, idx, 0);
}

/* }====== */


/* {====== Decoding (here) ======} */

void lj_decfail (ljDec *D, const char *what) {
  lua_pushfstring(D->L, "lunajail: call: the sandbox's result is malformed "
                  "(%s at byte %d)", what, (int)D->off);
  lua_error(D->L);
  abort();
}

void lj_dectake (ljDec *D, void *out, size_t n) {
  if (D->n - D->off < n) lj_decfail(D, "cut short");
  memcpy(out, D->p + D->off, n);
  D->off += n;
}

uint32_t lj_decu32 (ljDec *D) {
  uint32_t v;
  lj_dectake(D, &v, sizeof v);
  return v;
}

static void decode (ljDec *D, int depth) {
  lua_State *L = D->L;
  char tag;
  if (!lua_checkstack(L, 4)) lj_decfail(D, "too deep");
  lj_dectake(D, &tag, 1);
  switch (tag) {
    case 'n': lua_pushnil(L); return;
    case 't': case 'f': lua_pushboolean(L, tag == 't'); return;
    case 'i': {
      int64_t v;
      lj_dectake(D, &v, sizeof v);
      lua_pushinteger(L, (lua_Integer)v);
      return;
    }
    case 'd': {
      double v;
      lj_dectake(D, &v, sizeof v);
      lua_pushnumber(L, (lua_Number)v);
      return;
    }
    case 's': {
      uint32_t len = lj_decu32(D);
      if (D->n - D->off < len) lj_decfail(D, "a string cut short");
      lua_pushlstring(L, D->p + D->off, len);
      D->off += len;
      return;
    }
    case 'T': {
      uint32_t count = lj_decu32(D), k;
      if (depth >= LJ_VALDEPTH) lj_decfail(D, "tables too deep");
      if (count > (D->n - D->off) / 2) lj_decfail(D, "a table cut short");
      lua_createtable(L, 0, count < 64 ? (int)count : 64);
      for (k = 0; k < count; k++) {
        decode(D, depth + 1);
        if (lua_isnil(L, -1)
            || (lua_type(L, -1) == LUA_TNUMBER && isnan(lua_tonumber(L, -1))))
          lj_decfail(D, "a nil or NaN key");
        decode(D, depth + 1);
        lua_rawset(L, -3);
      }
      return;
    }
    default: lj_decfail(D, "an unknown value");
  }
}

void lj_decvalue (ljDec *D) {
  decode(D, 0);
}

/* }====== */
