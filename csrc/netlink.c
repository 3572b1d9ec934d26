/*
** netlink.c: links, addresses and routes over rtnetlink, in C (no `ip`
** process), each an op usable as core.X and as a plan step.
**
**   core.ifup(name)                      bring a link up (lo starts down)
**   core.link_del(name)                  delete a link (a veth: both ends)
**   core.veth(name, peer [, netns])      a veth pair; peer moved into the
**                                        network namespace netns (an fd or
**                                        a path, as setns takes) at once
**   core.addr_add(name, "10.0.0.1/24")   an address (IPv4 or IPv6) with its
**                                        prefix; IPv6 without DAD
**   core.route_add(dest, gateway [, name])   dest "default" or "a.b.c.d/n",
**                                        gateway an address or nil (then
**                                        name is required: on-link)
**   core.unshare_veth{name =, peer =, address =, host_address =,
**                     gateway =}
**       a new network namespace for the calling process, joined to the
**       one it leaves by a veth pair: the end `name` stays behind (default
**       "ljv" and the new namespace's inode number in hex: unique among
**       the namespaces alive, and free again once this one is gone) with
**       host_address; the end `peer` (default "eth0") is inside with
**       address; lo and both ends are up; gateway (or a list of one per
**       family) becomes the default route inside.  address and
**       host_address are an address or a list of up to four.
**
** Each apply opens a NETLINK_ROUTE socket of the calling thread's network
** namespace (close-on-exec), sends one request at a time with NLM_F_ACK,
** reads until the kernel's answer to that request's sequence number, and
** returns its error as an errno: all system calls, async-signal-safe, for
** the spawned child.  unshare_veth is one step because it needs a socket
** on each side: it opens one here, unshares, opens one there, and makes
** the pair between them; the pair vanishes with the new namespace (when
** its last process is gone, the kernel deletes the inner end and the
** outer one with it).  If a later part of the step fails, the pair is
** deleted again; the calling process stays in the new namespace.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>

#include "lj.h"

#ifndef SIOCGSKNS
#define SIOCGSKNS 0x894C
#endif


/* {====== Addresses ======} */

typedef struct Addr {
  int family;                      /* AF_INET, AF_INET6 */
  int prefix;                      /* -1: none given */
  unsigned char a[16];
} Addr;

#define MAXADDR 4

/* "10.0.0.1/24", "fd00::1/64", "10.0.0.1": NULL or what is wrong */
static const char *parseaddr (const char *s, Addr *a) {
  char buf[64];
  const char *slash = strchr(s, '/');
  size_t len = slash ? (size_t)(slash - s) : strlen(s);
  int max;
  if (len == 0 || len >= sizeof buf) return "an IPv4 or IPv6 address expected";
  memcpy(buf, s, len);
  buf[len] = '\0';
  memset(a, 0, sizeof *a);
  if (inet_pton(AF_INET, buf, a->a) == 1) a->family = AF_INET;
  else if (inet_pton(AF_INET6, buf, a->a) == 1) a->family = AF_INET6;
  else return "an IPv4 or IPv6 address expected";
  max = a->family == AF_INET ? 32 : 128;
  a->prefix = -1;
  if (slash) {
    const char *p = slash + 1;
    int v = 0;
    if (*p == '\0' || strlen(p) > 3)
      return "a prefix length expected after '/'";
    for (; *p; p++) {
      if (*p < '0' || *p > '9') return "a prefix length expected after '/'";
      v = v * 10 + (*p - '0');
    }
    if (v > max)
      return a->family == AF_INET ? "an IPv4 prefix is 0 to 32"
                                  : "an IPv6 prefix is 0 to 128";
    a->prefix = v;
  }
  return NULL;
}

static int alen (const Addr *a) { return a->family == AF_INET ? 4 : 16; }

/* bits below the prefix set? ("10.0.0.1/8" is no network) */
static int hostbits (const Addr *a) {
  int i;
  for (i = a->prefix; i < alen(a) * 8; i++)
    if (a->a[i / 8] & (0x80 >> (i % 8))) return 1;
  return 0;
}

/* the string at stack index idx as an address; prefix: 1 required,
** 0 refused, -1 either */
static void checkaddr (ljArgs *A, int n, int idx, Addr *a, int prefix,
                       const char *what) {
  lua_State *L = A->L;
  const char *s, *err;
  if (lua_type(L, idx) != LUA_TSTRING)
    lj_argerror(A, n, "%s: address string expected, got %s", what,
                luaL_typename(L, idx));
  s = lua_tostring(L, idx);
  if (strlen(s) != lua_rawlen(L, idx))
    lj_argerror(A, n, "%s: string contains a NUL byte", what);
  if ((err = parseaddr(s, a)) != NULL)
    lj_argerror(A, n, "%s: %s, got \"%s\"", what, err, s);
  if (prefix == 1 && a->prefix < 0)
    lj_argerror(A, n, "%s: \"%s\" has no prefix length (\"%s/%d\")", what, s,
                s, a->family == AF_INET ? 24 : 64);
  if (prefix == 0 && a->prefix >= 0)
    lj_argerror(A, n, "%s: a plain address expected, got \"%s\"", what, s);
}

/* }====== */


/* {====== Talking to the kernel ======} */

typedef struct Nl {
  int fd;
  unsigned seq;
} Nl;

typedef struct Msg {
  struct nlmsghdr h;
  char body[1024 - sizeof(struct nlmsghdr)];
} Msg;

static int nlopen (Nl *nl) {
  struct sockaddr_nl sa;
  nl->seq = 0;
  nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (nl->fd < 0) return errno;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  if (bind(nl->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    int err = errno;
    close(nl->fd);
    nl->fd = -1;
    return err;
  }
  return 0;
}

static void nlclose (Nl *nl) {
  if (nl->fd >= 0) close(nl->fd);
  nl->fd = -1;
}

/* a request of type with its fixed header of hlen bytes (zeroed) */
static void *msginit (Msg *m, int type, int flags, size_t hlen) {
  memset(m, 0, sizeof m->h + NLMSG_ALIGN(hlen));
  m->h.nlmsg_len = (unsigned)NLMSG_LENGTH(hlen);
  m->h.nlmsg_type = (unsigned short)type;
  m->h.nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
  return NLMSG_DATA(&m->h);
}

/* the requests here are far below the buffer's size; a longer one is a
** bug, refused rather than written past the end */
static struct rtattr *attr (Msg *m, int type, const void *data, size_t len) {
  struct rtattr *a = (struct rtattr *)((char *)m + NLMSG_ALIGN(m->h.nlmsg_len));
  size_t need = NLMSG_ALIGN(m->h.nlmsg_len) + RTA_SPACE(len);
  if (need > sizeof *m) return NULL;
  memset(a, 0, RTA_SPACE(len));            /* the padding too: it is sent */
  a->rta_type = (unsigned short)type;
  a->rta_len = (unsigned short)RTA_LENGTH(len);
  if (len) memcpy(RTA_DATA(a), data, len);
  m->h.nlmsg_len = (unsigned)need;
  return a;
}

static void nestend (Msg *m, struct rtattr *a) {
  if (a) a->rta_len = (unsigned short)((char *)m + m->h.nlmsg_len - (char *)a);
}

/* sends m; reads the kernel's answers to it: 0 (the ACK) or an errno.
** With out, the first answer that is no ACK is copied there, as much of
** it as fits. */
static int talk (Nl *nl, Msg *m, Msg *out) {
  struct sockaddr_nl sa;
  union { struct nlmsghdr h; char b[8192]; } buf;
  unsigned seq = ++nl->seq;
  int got = 0;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  m->h.nlmsg_seq = seq;
  if (sendto(nl->fd, m, m->h.nlmsg_len, 0, (struct sockaddr *)&sa,
             sizeof sa) < 0)
    return errno;
  for (;;) {
    struct iovec iov = { buf.b, sizeof buf.b };
    struct msghdr mh;
    struct nlmsghdr *h;
    ssize_t r;
    int n;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &sa;
    mh.msg_namelen = sizeof sa;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    r = recvmsg(nl->fd, &mh, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    n = (int)r;
    if (mh.msg_flags & MSG_TRUNC) return EMSGSIZE;   /* the ACK maybe lost */
    if (sa.nl_pid != 0) continue;                    /* not the kernel's */
    for (h = &buf.h; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = (const struct nlmsgerr *)NLMSG_DATA(h);
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof *e)) return EPROTO;
        return e->error < 0 ? -e->error : 0;
      }
      if (h->nlmsg_type == NLMSG_DONE) return got || !out ? 0 : ENOENT;
      if (out && !got) {                 /* its head: the fixed header */
        memcpy(out, h, h->nlmsg_len < sizeof *out ? h->nlmsg_len
                                                  : sizeof *out);
        got = 1;
      }
    }
  }
}

/* }====== */


/* {====== Links ======} */

static int ifindex (Nl *nl, const char *name, int *index) {
  Msg m, r;
  struct ifinfomsg *ifi = (struct ifinfomsg *)msginit(&m, RTM_GETLINK, 0,
                                                      sizeof *ifi);
  int err;
  ifi->ifi_family = AF_UNSPEC;
  if (!attr(&m, IFLA_IFNAME, name, strlen(name) + 1)) return E2BIG;
  memset(&r, 0, sizeof r);
  if ((err = talk(nl, &m, &r)) != 0) return err;
  if (r.h.nlmsg_type != RTM_NEWLINK
      || r.h.nlmsg_len < NLMSG_LENGTH(sizeof *ifi))
    return EPROTO;
  *index = ((struct ifinfomsg *)NLMSG_DATA(&r.h))->ifi_index;
  return 0;
}

static int linkup (Nl *nl, const char *name) {
  Msg m;
  struct ifinfomsg *ifi = (struct ifinfomsg *)msginit(&m, RTM_NEWLINK, 0,
                                                      sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  if (!attr(&m, IFLA_IFNAME, name, strlen(name) + 1)) return E2BIG;
  return talk(nl, &m, NULL);
}

static int linkdel (Nl *nl, const char *name) {
  Msg m;
  struct ifinfomsg *ifi = (struct ifinfomsg *)msginit(&m, RTM_DELLINK, 0,
                                                      sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  if (!attr(&m, IFLA_IFNAME, name, strlen(name) + 1)) return E2BIG;
  return talk(nl, &m, NULL);
}

/* a veth pair name <-> peer; the peer in the namespace nsfd (-1: here) */
static int mkveth (Nl *nl, const char *name, const char *peer, int nsfd) {
  Msg m;
  struct ifinfomsg *ifi = (struct ifinfomsg *)msginit(&m, RTM_NEWLINK,
    NLM_F_CREATE | NLM_F_EXCL, sizeof *ifi);
  struct rtattr *info, *data, *p;
  struct ifinfomsg pi;
  ifi->ifi_family = AF_UNSPEC;
  memset(&pi, 0, sizeof pi);
  pi.ifi_family = AF_UNSPEC;
  if (!attr(&m, IFLA_IFNAME, name, strlen(name) + 1)
      || !(info = attr(&m, IFLA_LINKINFO, NULL, 0))
      || !attr(&m, IFLA_INFO_KIND, "veth", 4)
      || !(data = attr(&m, IFLA_INFO_DATA, NULL, 0))
      || !(p = attr(&m, VETH_INFO_PEER, &pi, sizeof pi))   /* a link's own
                                                 header, then its attrs */
      || !attr(&m, IFLA_IFNAME, peer, strlen(peer) + 1))
    return E2BIG;
  if (nsfd >= 0) {
    unsigned fd = (unsigned)nsfd;
    if (!attr(&m, IFLA_NET_NS_FD, &fd, sizeof fd)) return E2BIG;
  }
  nestend(&m, p);
  nestend(&m, data);
  nestend(&m, info);
  return talk(nl, &m, NULL);
}

/* }====== */


/* {====== Addresses and routes ======} */

static int addradd (Nl *nl, const char *name, const Addr *a) {
  Msg m;
  struct ifaddrmsg *ifa;
  int index, err;
  if ((err = ifindex(nl, name, &index)) != 0) return err;
  ifa = (struct ifaddrmsg *)msginit(&m, RTM_NEWADDR,
                                    NLM_F_CREATE | NLM_F_EXCL, sizeof *ifa);
  ifa->ifa_family = (unsigned char)a->family;
  ifa->ifa_prefixlen = (unsigned char)a->prefix;
  ifa->ifa_index = (unsigned)index;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  if (a->family == AF_INET6)
    ifa->ifa_flags = IFA_F_NODAD;  /* usable at once, not "tentative" */
  if (!attr(&m, IFA_LOCAL, a->a, (size_t)alen(a))
      || !attr(&m, IFA_ADDRESS, a->a, (size_t)alen(a)))
    return E2BIG;
  return talk(nl, &m, NULL);
}

/* dest (prefix 0: default) via gw (NULL: on-link) out of dev (NULL: any) */
static int routeadd (Nl *nl, const Addr *dest, const Addr *gw,
                     const char *dev) {
  Msg m;
  struct rtmsg *rt;
  int index = 0, err;
  if (dev && (err = ifindex(nl, dev, &index)) != 0) return err;
  rt = (struct rtmsg *)msginit(&m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL,
                               sizeof *rt);
  rt->rtm_family = (unsigned char)dest->family;
  rt->rtm_dst_len = (unsigned char)dest->prefix;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rt->rtm_type = RTN_UNICAST;
  if (dest->prefix > 0 && !attr(&m, RTA_DST, dest->a, (size_t)alen(dest)))
    return E2BIG;
  if (gw && !attr(&m, RTA_GATEWAY, gw->a, (size_t)alen(gw))) return E2BIG;
  if (index) {
    unsigned oif = (unsigned)index;
    if (!attr(&m, RTA_OIF, &oif, sizeof oif)) return E2BIG;
  }
  return talk(nl, &m, NULL);
}

/* }====== */


/* {====== The ops ======} */

/* NULL, or why s (of len bytes) cannot name an interface */
static const char *badifname (const char *s, size_t len) {
  if (len == 0 || len >= IFNAMSIZ)
    return "interface name of 1 to 15 bytes expected";
  if (memchr(s, '\0', len)) return "string contains a NUL byte";
  if (strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0
      || strpbrk(s, " \t\n:"))
    return "no interface name (no '/', ':' or space, not \".\" or \"..\")";
  return NULL;
}

static const char *argifname (ljArgs *A, int n) {
  size_t len;
  const char *s = lj_argstr(A, n, &len), *err = badifname(s, len);
  if (err) lj_argerror(A, n, "%s, got \"%s\"", err, s);
  return s;
}

static void ifname_decode (ljArgs *A, ljStep *s) {
  s->s[0] = argifname(A, 1);
}

static int ifup_apply (const ljStep *s, ljCtx *c) {
  Nl nl;
  int err = nlopen(&nl);
  (void)c;
  if (err == 0) { err = linkup(&nl, s->s[0]); nlclose(&nl); }
  return err;
}

static int linkdel_apply (const ljStep *s, ljCtx *c) {
  Nl nl;
  int err = nlopen(&nl);
  (void)c;
  if (err == 0) { err = linkdel(&nl, s->s[0]); nlclose(&nl); }
  return err;
}

/* veth(name, peer [, netns]): netns an fd or a path, as setns takes */
static void veth_decode (ljArgs *A, ljStep *s) {
  s->s[0] = argifname(A, 1);
  s->s[1] = argifname(A, 2);
  if (strcmp(s->s[0], s->s[1]) == 0)
    lj_argerror(A, 2, "the peer needs a name of its own");
  s->i[0] = -1;
  if (lj_isstring(A, 3)) s->s[2] = lj_argabs(A, 3);
  else if (!lj_isnone(A, 3)) s->i[0] = s->usefd = lj_argfd(A, 3);
}

static int veth_apply (const ljStep *s, ljCtx *c) {
  Nl nl;
  int fd = (int)s->i[0], err;
  (void)c;
  if (s->s[2] && (fd = open(s->s[2], O_RDONLY | O_CLOEXEC)) < 0) return errno;
  if ((err = nlopen(&nl)) == 0) {
    err = mkveth(&nl, s->s[0], s->s[1], fd);
    nlclose(&nl);
  }
  if (s->s[2]) close(fd);
  return err;
}

static void veth_describe (const ljStep *s, ljBuf *b) {
  lj_bufaddq(b, s->s[0]);
  lj_bufadd(b, ", ");
  lj_bufaddq(b, s->s[1]);
  if (s->s[2]) { lj_bufadd(b, ", "); lj_bufaddq(b, s->s[2]); }
  else if (s->i[0] >= 0) { lj_bufadd(b, ", fd "); lj_bufaddint(b, s->i[0]); }
}

static void addradd_decode (ljArgs *A, ljStep *s) {
  Addr *a = (Addr *)lj_alloc(A->L, A->arena, sizeof *a);
  s->s[0] = argifname(A, 1);
  s->s[1] = lj_argstr(A, 2, NULL);
  checkaddr(A, 2, lj_argidx(A, 2), a, 1, "address");
  s->p = a;
  s->plen = sizeof *a;
}

static int addradd_apply (const ljStep *s, ljCtx *c) {
  Nl nl;
  int err = nlopen(&nl);
  (void)c;
  if (err == 0) {
    err = addradd(&nl, s->s[0], (const Addr *)s->p);
    nlclose(&nl);
  }
  return err;
}

/* route_add(dest, gateway [, name]) */
static void routeadd_decode (ljArgs *A, ljStep *s) {
  Addr *a = (Addr *)lj_alloc(A->L, A->arena, 2 * sizeof *a);
  const char *d = lj_argstr(A, 1, NULL);
  s->s[0] = d;
  if (strcmp(d, "default") == 0) a[0].prefix = 0;
  else {
    checkaddr(A, 1, lj_argidx(A, 1), &a[0], 1, "destination");
    if (hostbits(&a[0]))
      lj_argerror(A, 1, "destination: \"%s\" has bits set past its prefix "
                  "length", d);
  }
  if (!lj_isnone(A, 2)) {
    s->s[1] = lj_argstr(A, 2, NULL);
    checkaddr(A, 2, lj_argidx(A, 2), &a[1], 0, "gateway");
    if (a[0].family && a[0].family != a[1].family)
      lj_argerror(A, 2, "gateway: \"%s\" is not of the destination's family",
                  s->s[1]);
    a[0].family = a[1].family;
  }
  if (!lj_isnone(A, 3)) s->s[2] = argifname(A, 3);
  if (!s->s[1] && !s->s[2])
    lj_argerror(A, 3, "a route with no gateway needs the interface");
  if (!a[0].family)
    lj_argerror(A, 2, "a default route needs a gateway (its family)");
  s->p = a;
  s->plen = 2 * sizeof *a;
}

static int routeadd_apply (const ljStep *s, ljCtx *c) {
  const Addr *a = (const Addr *)s->p;
  Nl nl;
  int err = nlopen(&nl);
  (void)c;
  if (err == 0) {
    err = routeadd(&nl, &a[0], s->s[1] ? &a[1] : NULL, s->s[2]);
    nlclose(&nl);
  }
  return err;
}

static void route_describe (const ljStep *s, ljBuf *b) {
  lj_bufaddq(b, s->s[0]);
  lj_bufadd(b, ", ");
  if (s->s[1]) lj_bufaddq(b, s->s[1]); else lj_bufadd(b, "nil");
  if (s->s[2]) { lj_bufadd(b, ", "); lj_bufaddq(b, s->s[2]); }
}

/* }====== */


/* {====== unshare_veth ======} */

typedef struct Veth {
  Addr in[MAXADDR], out[MAXADDR], gw[2];
  int nin, nout, ngw;
} Veth;

static const char *const vethkeys[] = {
  "name", "peer", "address", "host_address", "gateway", NULL
};

/* t[key]: an address or a list of up to max; returns the count */
static int addrlist (ljArgs *A, int t, const char *key, Addr *a, int max,
                     int prefix) {
  lua_State *L = A->L;
  int n = 0, k;
  lua_getfield(L, t, key);
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return 0; }
  if (lua_istable(L, -1)) {
    int len = (int)lua_rawlen(L, -1), idx = lua_gettop(L);
    if (len < 1 || len > max)
      lj_argerror(A, 1, "%s: 1 to %d addresses expected", key, max);
    for (k = 1; k <= len; k++) {
      lua_rawgeti(L, idx, k);
      checkaddr(A, 1, lua_gettop(L), &a[n++], prefix, key);
      lua_pop(L, 1);
    }
  }
  else checkaddr(A, 1, lua_gettop(L), &a[n++], prefix, key);
  lua_pop(L, 1);
  return n;
}

/* t[key], an interface name or absent */
static const char *optifname (ljArgs *A, int t, const char *key) {
  lua_State *L = A->L;
  const char *s = NULL, *err;
  size_t len;
  if (lua_getfield(L, t, key) != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING)
      lj_argerror(A, 1, "%s: string expected, got %s", key,
                  luaL_typename(L, -1));
    s = lua_tolstring(L, -1, &len);
    if ((err = badifname(s, len)) != NULL)
      lj_argerror(A, 1, "%s: %s, got \"%s\"", key, err, s);
    if (A->copy) s = lj_strdup(L, A->arena, s, len);  /* else t holds it */
  }
  lua_pop(L, 1);
  return s;
}

static void unshare_veth_decode (ljArgs *A, ljStep *s) {
  lua_State *L = A->L;
  int t = lj_argtable(A, 1), k, fam;
  Veth *v = (Veth *)lj_alloc(L, A->arena, sizeof *v);
  lua_pushnil(L);
  while (lua_next(L, t)) {
    const char *const *key = vethkeys;
    if (lua_type(L, -2) == LUA_TSTRING)
      while (*key && strcmp(*key, lua_tostring(L, -2)) != 0) key++;
    if (lua_type(L, -2) != LUA_TSTRING || !*key)
      lj_argerror(A, 1, "unknown key %s (valid: address, gateway, "
                  "host_address, name, peer)", luaL_tolstring(L, -2, NULL));
    lua_pop(L, 1);
  }
  s->s[0] = optifname(A, t, "name");
  s->s[1] = optifname(A, t, "peer");
  if (!s->s[1]) s->s[1] = "eth0";
  if (s->s[0] && strcmp(s->s[0], s->s[1]) == 0)
    lj_argerror(A, 1, "name and peer are the same");
  v->nin = addrlist(A, t, "address", v->in, MAXADDR, 1);
  v->nout = addrlist(A, t, "host_address", v->out, MAXADDR, 1);
  v->ngw = addrlist(A, t, "gateway", v->gw, 2, 0);
  for (k = 0; k < v->ngw; k++) {         /* one per family, and reachable */
    int j, ok = 0;
    fam = v->gw[k].family;
    if (k == 1 && v->gw[0].family == fam)
      lj_argerror(A, 1, "gateway: one per family (IPv4, IPv6)");
    for (j = 0; j < v->nin; j++) ok |= v->in[j].family == fam;
    if (!ok)
      lj_argerror(A, 1, "gateway: no address of its family (IPv%d) to "
                  "reach it from", fam == AF_INET ? 4 : 6);
  }
  s->p = v;
  s->plen = sizeof *v;
}

/* the default name of the outer end: "ljv" and the new namespace's
** inode number, in hex */
static void defaultname (int nsfd, char *name) {
  struct stat st;
  unsigned long long ino = 0;
  char hex[17];
  int n = 0, k;
  if (fstat(nsfd, &st) == 0) ino = (unsigned long long)st.st_ino;
  do {
    hex[n++] = "0123456789abcdef"[ino & 15];
    ino >>= 4;
  } while (ino && n < 12);
  memcpy(name, "ljv", 3);
  for (k = 0; k < n; k++) name[3 + k] = hex[n - 1 - k];
  name[3 + n] = '\0';
}

static int unshare_veth_apply (const ljStep *s, ljCtx *c) {
  const Veth *v = (const Veth *)s->p;
  const char *peer = s->s[1];
  char dname[16];
  const char *name = s->s[0];
  Nl out, in;
  int err, nsfd = -1, made = 0, k;
  Addr def;
  (void)c;
  in.fd = -1;
  if ((err = nlopen(&out)) != 0) return err;       /* here: the host's */
  if (unshare(CLONE_NEWNET) != 0) { err = errno; goto done; }
  if ((err = nlopen(&in)) != 0) goto done;         /* the new one */
  if ((nsfd = ioctl(in.fd, SIOCGSKNS)) < 0) { err = errno; goto done; }
  if (!name) { defaultname(nsfd, dname); name = dname; }
  if ((err = mkveth(&out, name, peer, nsfd)) != 0) goto done;
  made = 1;
  for (k = 0; k < v->nout && !err; k++) err = addradd(&out, name, &v->out[k]);
  if (!err) err = linkup(&out, name);
  if (!err) err = linkup(&in, "lo");
  for (k = 0; k < v->nin && !err; k++) err = addradd(&in, peer, &v->in[k]);
  if (!err) err = linkup(&in, peer);
  for (k = 0; k < v->ngw && !err; k++) {
    memset(&def, 0, sizeof def);
    def.family = v->gw[k].family;
    err = routeadd(&in, &def, &v->gw[k], peer);
  }
done:
  if (err && made) linkdel(&out, name);  /* both ends go */
  if (nsfd >= 0) close(nsfd);
  nlclose(&in);
  nlclose(&out);
  return err;
}

static void unshare_veth_describe (const ljStep *s, ljBuf *b) {
  lj_bufadd(b, "{");
  if (s->s[0]) {
    lj_bufadd(b, "name = ");
    lj_bufaddq(b, s->s[0]);
    lj_bufadd(b, ", ");
  }
  lj_bufadd(b, "peer = ");
  lj_bufaddq(b, s->s[1]);
  lj_bufadd(b, "}");
}

/* }====== */


static const ljOp op_ifup = {
  "ifup", "name", LJ_PARENT(ifname_decode), ifup_apply, NULL, 0
};
static const ljOp op_link_del = {
  "link_del", "name", LJ_PARENT(ifname_decode), linkdel_apply, NULL, 0
};
static const ljOp op_veth = {
  "veth", "name,peer,netns", LJ_PARENT(veth_decode), veth_apply, LJ_PARENT(veth_describe), 0
};
static const ljOp op_addr_add = {
  "addr_add", "name,address", LJ_PARENT(addradd_decode), addradd_apply, NULL, 0
};
static const ljOp op_route_add = {
  "route_add", "destination,gateway,name", LJ_PARENT(routeadd_decode), routeadd_apply,
  LJ_PARENT(route_describe), 0
};
static const ljOp op_unshare_veth = {
  "unshare_veth", "veth", LJ_PARENT(unshare_veth_decode), unshare_veth_apply,
  LJ_PARENT(unshare_veth_describe), 0
};

const ljOp *const lj_ops_netlink[] = {
  &op_ifup, &op_link_del, &op_veth, &op_addr_add, &op_route_add,
  &op_unshare_veth, NULL
};
