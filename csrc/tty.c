/*
** tty.c: terminals.  The pty step, and what a script needs to hand its
** own terminal to a sandbox (lunajail.interact).
**
**   {"pty", "/dev/pts/ptmx"}     a plan's step (no core.pty): a pty of
**       the sandbox's own devpts, opened where the step stands (after
**       the sandbox's /dev is mounted and, for a slave of the sandbox's
**       uid, after the id change).  The spawner (spawn.c) hands the step
**       one end of a socketpair as i[0] and makes that fd the source of
**       every stdio stream that is "pty"; the step sends the master back
**       over it (SCM_RIGHTS) and puts the slave in its place, so the fds
**       step lands the slave on 0, 1 and 2.  Without such a step, stdio
**       "pty" is a pty of the caller's devpts (spawn.c: openpty).
**   core.winsize(fd)        -> rows, cols | nil, msg, errno  (TIOCGWINSZ)
**   core.tcraw(fd)          -> saved | nil, msg, errno: the terminal in
**       raw mode (cfmakeraw: no echo, no line editing, ^C and ^Z as
**       bytes); saved is its previous state, a string for tcrestore
**   core.tcrestore(fd, saved) -> true | nil, msg, errno
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include "lj.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif


/* {====== The pty step ======} */

static void pty_decode (ljArgs *A, ljStep *s) {
  s->s[0] = lj_argabs(A, 1);
  s->i[0] = -1;                    /* the spawner's socket, in prepare() */
}

/* fd over sock (SCM_RIGHTS): the pty step's master, the seccomp step's
** listener; 0 or an errno */
int lj_sendfd (int sock, int fd) {
  char byte = 'p';
  struct iovec io = { &byte, 1 };
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
  struct msghdr m;
  struct cmsghdr *h;
  memset(&m, 0, sizeof m);
  memset(&u, 0, sizeof u);
  m.msg_iov = &io;
  m.msg_iovlen = 1;
  m.msg_control = u.buf;
  m.msg_controllen = sizeof u.buf;
  h = CMSG_FIRSTHDR(&m);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(h), &fd, sizeof fd);
  while (sendmsg(sock, &m, MSG_NOSIGNAL) < 0)
    if (errno != EINTR) return errno;
  return 0;
}

static int pty_apply (const ljStep *s, ljCtx *c) {
  int sock = (int)s->i[0], unlock = 0, m, sl, err = 0;
  (void)c;
  if (sock < 0) return EBADF;      /* not in a spawn with stdio "pty" */
  if ((m = open(s->s[0], O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) return errno;
  if (ioctl(m, TIOCSPTLCK, &unlock) != 0
      || (sl = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
    err = errno;
    close(m);
    return err;
  }
  if ((err = lj_sendfd(sock, m)) == 0 && dup3(sl, sock, O_CLOEXEC) < 0)
    err = errno;                   /* the slave where stdio takes it */
  close(sl);
  close(m);
  return err;
}

static const ljOp op_pty = {
  "pty", "ptmx", LJ_PARENT(pty_decode), pty_apply, NULL, LJ_OPF_PLAN
};

const ljOp *const lj_ops_tty[] = { &op_pty, NULL };

/* the fd lj_sendfd sent (the pty step's master, the seccomp step's
** listener), close-on-exec: an fd, or -1 (errno set: EAGAIN while none
** has come) */
int lj_recvfd (int sock) {
  char byte;
  struct iovec io = { &byte, 1 };
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
  struct msghdr m;
  struct cmsghdr *h;
  int fd = -1;
  memset(&m, 0, sizeof m);
  m.msg_iov = &io;
  m.msg_iovlen = 1;
  m.msg_control = u.buf;
  m.msg_controllen = sizeof u.buf;
  while (recvmsg(sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0)
    if (errno != EINTR) return -1;
  for (h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS
        && h->cmsg_len == CMSG_LEN(sizeof(int)))
      memcpy(&fd, CMSG_DATA(h), sizeof fd);
  if (fd < 0) errno = EPROTO;
  return fd;
}

/* }====== */


/* {====== The caller's terminal ======} */

static int l_winsize (lua_State *L) {
  ljArgs A;
  struct winsize ws;
  int fd;
  lj_args(&A, L, "winsize", "fd");
  fd = (int)lj_argint(&A, 1, 0, 1 << 30);
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0) return lj_pushfail(L, "TIOCGWINSZ", errno);
  lua_pushinteger(L, ws.ws_row);
  lua_pushinteger(L, ws.ws_col);
  return 2;
}

static int l_tcraw (lua_State *L) {
  ljArgs A;
  struct termios t, raw;
  int fd;
  lj_args(&A, L, "tcraw", "fd");
  fd = (int)lj_argint(&A, 1, 0, 1 << 30);
  if (tcgetattr(fd, &t) != 0) return lj_pushfail(L, "tcgetattr", errno);
  raw = t;
  cfmakeraw(&raw);
  if (tcsetattr(fd, TCSAFLUSH, &raw) != 0) return lj_pushfail(L, "tcsetattr", errno);
  lua_pushlstring(L, (const char *)&t, sizeof t);
  return 1;
}

static int l_tcrestore (lua_State *L) {
  ljArgs A;
  struct termios t;
  size_t len;
  const char *saved;
  int fd;
  lj_args(&A, L, "tcrestore", "fd,saved");
  fd = (int)lj_argint(&A, 1, 0, 1 << 30);
  saved = luaL_checklstring(L, 2, &len);
  if (len != sizeof t)
    lj_argerror(&A, 2, "what tcraw returned expected (%d bytes), got %d",
                (int)sizeof t, (int)len);
  memcpy(&t, saved, sizeof t);
  if (tcsetattr(fd, TCSAFLUSH, &t) != 0) return lj_pushfail(L, "tcsetattr", errno);
  lua_pushboolean(L, 1);
  return 1;
}

void lj_open_tty (lua_State *L) {
  static const luaL_Reg f[] = {
    { "winsize", l_winsize }, { "tcraw", l_tcraw },
    { "tcrestore", l_tcrestore }, { NULL, NULL }
  };
  luaL_setfuncs(L, f, 0);
}

/* }====== */
