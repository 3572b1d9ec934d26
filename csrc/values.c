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


/* {====== Canonical keys: core.valuekey(v) ======}
**
**   core.valuekey(v) -> key, refs | nil (v holds a cycle)
**
** A string naming v's value: two values built apart with the same
** contents get the same key, and different contents different keys.
** What a recipe compiles from, for the plan cache (compile.key): every
** spawn of lj.run(lj.container{...}) asks it, so it is made here in one
** buffer rather than in Lua's pieces (a third of the time, a sixth of
** the garbage).  Each value is self-delimiting:
**   s<len>:<bytes>   i<integer>;   f<%.17g>;   T F
**   {<array part 1..#t><|<name><value>... when t has other keys>}
** where the other keys come sorted by their own encoding (their name),
** so the order pairs() gives never shows.  Its three buffers are the
** function's upvalues, kept from call to call: what is left as garbage
** is the key and three small tables.  A function, userdata or thread
** counts by identity, "<its type's initial><address>;", and is
** appended to refs: whoever keeps the key must hold them, or an address
** could name another value later.  Raises past LJ_VALDEPTH levels.
*/

typedef struct Key {
  char *p;
  size_t n, size;
  int box;                         /* stack index of the userdata p is */
} Key;

/* the key's buffer, and two each table's other keys use in turn
** (stack-like: a table's part is dropped when it is done) -- their
** names, and their {offset, length, slot}s; the keys are in the anchor
** table at their slots */
typedef struct Keys {
  Key out, names, ents;
  int seen, refs;                  /* stack indices: tables on the path,
                                      the values named by identity */
  int anchor, nanchor;             /* the other keys themselves, stack-like */
} Keys;

/* the scratch buffer of upvalue up, on the stack, kept there for the next
** call (when it grew) by keyput */
static void keyinit (lua_State *L, Key *k, int up) {
  lua_pushvalue(L, lua_upvalueindex(up));
  k->p = (char *)lua_touserdata(L, -1);
  k->size = lua_rawlen(L, -1);
  k->n = 0;
  k->box = lua_gettop(L);
}

static void keyput (lua_State *L, Key *k, int up) {
  lua_pushvalue(L, k->box);
  lua_replace(L, lua_upvalueindex(up));
}

static void keyadd (lua_State *L, Key *k, const void *s, size_t n) {
  if (n > k->size - k->n) {
    size_t size = k->size * 2;
    char *p;
    while (size - k->n < n) size *= 2;
    p = (char *)lua_newuserdatauv(L, size, 0);
    memcpy(p, k->p, k->n);
    lua_replace(L, k->box);        /* the old one is garbage */
    k->p = p;
    k->size = size;
  }
  memcpy(k->p + k->n, s, n);
  k->n += n;
}

typedef struct KeyName { size_t off, len; int slot; } KeyName;

static int cmpname (const void *x, const void *y, void *base) {
  const KeyName *a = (const KeyName *)x, *b = (const KeyName *)y;
  const char *p = (const char *)base;
  int c = memcmp(p + a->off, p + b->off, a->len < b->len ? a->len : b->len);
  return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int putkey (lua_State *L, Keys *K, Key *k, int v, int depth);

static int inarray (lua_State *L, lua_Unsigned n) {
  return lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1
         && (lua_Unsigned)lua_tointeger(L, -1) <= n;
}

/* the table at t: its array part, then its other keys by name */
static int puttable (lua_State *L, Keys *K, Key *k, int t, int depth) {
  lua_Unsigned n = lua_rawlen(L, t), i;
  size_t names0 = K->names.n, ents0 = K->ents.n;
  int m = 0, j, a0 = K->nanchor;
  if (depth > LJ_VALDEPTH)
    luaL_error(L, "valuekey: tables nested deeper than %d", LJ_VALDEPTH);
  luaL_checkstack(L, 8, "valuekey");
  lua_pushvalue(L, t);
  if (lua_rawget(L, K->seen) != LUA_TNIL) return 0;   /* a cycle */
  lua_pop(L, 1);
  lua_pushvalue(L, t);
  lua_pushboolean(L, 1);
  lua_rawset(L, K->seen);
  keyadd(L, k, "{", 1);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, t, (lua_Integer)i);
    if (!putkey(L, K, k, lua_gettop(L), depth + 1)) return 0;
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  while (lua_next(L, t)) {         /* how many others */
    lua_pop(L, 1);
    if (!inarray(L, n)) m++;
  }
  if (m > 0) {
    KeyName e;
    j = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
      lua_pop(L, 1);
      if (inarray(L, n)) continue;
      e.off = K->names.n;
      if (!putkey(L, K, &K->names, lua_gettop(L), depth + 1)) return 0;
      e.len = K->names.n - e.off;
      e.slot = a0 + ++j;
      keyadd(L, &K->ents, &e, sizeof e);
      lua_pushvalue(L, -1);
      lua_rawseti(L, K->anchor, e.slot);
      K->nanchor = e.slot;
    }
    qsort_r(K->ents.p + ents0, (size_t)m, sizeof e, cmpname, K->names.p);
    keyadd(L, k, "|", 1);
    for (j = 0; j < m; j++) {      /* (the scratch may move: re-read) */
      memcpy(&e, K->ents.p + ents0 + (size_t)j * sizeof e, sizeof e);
      keyadd(L, k, K->names.p + e.off, e.len);
      lua_rawgeti(L, K->anchor, e.slot);
      lua_rawget(L, t);
      if (!putkey(L, K, k, lua_gettop(L), depth + 1)) return 0;
      lua_pop(L, 1);
    }
  }
  K->nanchor = a0;
  K->names.n = names0;
  K->ents.n = ents0;
  keyadd(L, k, "}", 1);
  lua_pushvalue(L, t);
  lua_pushnil(L);
  lua_rawset(L, K->seen);          /* a table met twice is not a cycle */
  return 1;
}

/* the value at v; 0 on a cycle (the stack is then left as it is) */
static int putkey (lua_State *L, Keys *K, Key *k, int v, int depth) {
  char num[64];
  size_t len;
  const char *s;
  switch (lua_type(L, v)) {
    case LUA_TSTRING:
      s = lua_tolstring(L, v, &len);
      keyadd(L, k, num, (size_t)snprintf(num, sizeof num, "s%zu:", len));
      keyadd(L, k, s, len);
      return 1;
    case LUA_TNUMBER:
      if (lua_isinteger(L, v))
        len = (size_t)snprintf(num, sizeof num, "i%lld;",
                               (long long)lua_tointeger(L, v));
      else
        len = (size_t)snprintf(num, sizeof num, "f%.17g;",
                               (double)lua_tonumber(L, v));
      keyadd(L, k, num, len);
      return 1;
    case LUA_TBOOLEAN:
      keyadd(L, k, lua_toboolean(L, v) ? "T" : "F", 1);
      return 1;
    case LUA_TTABLE:
      return puttable(L, K, k, v, depth);
    default:                       /* by identity */
      lua_pushvalue(L, v);
      lua_rawseti(L, K->refs, (lua_Integer)lua_rawlen(L, K->refs) + 1);
      len = (size_t)snprintf(num, sizeof num, "%c%p;",
                             luaL_typename(L, v)[0], lua_topointer(L, v));
      keyadd(L, k, num, len);
      return 1;
  }
}

static int l_valuekey (lua_State *L) {
  Keys K;
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  lua_newtable(L);
  K.seen = lua_gettop(L);
  lua_newtable(L);
  K.refs = lua_gettop(L);
  lua_newtable(L);
  K.anchor = lua_gettop(L);
  K.nanchor = 0;
  keyinit(L, &K.out, 1);
  keyinit(L, &K.names, 2);
  keyinit(L, &K.ents, 3);
  if (!putkey(L, &K, &K.out, 1, 0)) {
    luaL_pushfail(L);
    return 1;
  }
  keyput(L, &K.out, 1);
  keyput(L, &K.names, 2);
  keyput(L, &K.ents, 3);
  lua_pushlstring(L, K.out.p, K.out.n);
  lua_pushvalue(L, K.refs);
  return 2;
}

void lj_open_values (lua_State *L) {
  lua_newuserdatauv(L, 1024, 0);   /* the scratch buffers, grown as needed */
  lua_newuserdatauv(L, 512, 0);
  lua_newuserdatauv(L, 32 * sizeof(KeyName), 0);
  lua_pushcclosure(L, l_valuekey, 3);
  lua_setfield(L, -2, "valuekey");
}

/* }====== */
