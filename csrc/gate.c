/*
** gate.c: a step that waits for the parent.
**
**   {"gate", fd}     (a plan's step; core.gate(fd) on the calling process)
**
** Reads fd until its end: the step ends when every write end of the pipe
** (or the other end of the socket pair) is closed.  The parent holds it
** while it prepares what the sandbox must not run without
** (lunajail.pasta: the network, configured by a helper that needs the
** sandbox's namespaces to exist), and closes it to let the setup go on;
** a parent that gives up kills the child instead.  On a socket the step
** first sends one byte: the parent, reading it, knows the setup has come
** to the gate (its namespaces made, every step before it done).  Bytes
** the parent writes are ignored.  The setup deadline covers the wait
** like any step.  core.pipe() and core.socketpair() make such pairs.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lj.h"

static void gate_decode (ljArgs *A, ljStep *s) {
  s->i[0] = s->usefd = lj_argfd(A, 1);
}

static int gate_apply (const ljStep *s, ljCtx *c) {
  char buf[64];
  ssize_t n;
  (void)c;
  /* here: on a socket (a pipe's read end fails ENOTSOCK, ignored) */
  (void)send((int)s->i[0], "@", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  /* the end; ECONNRESET: the parent closed its socket with our byte
  ** unread, an end as well */
  while ((n = read((int)s->i[0], buf, sizeof buf)) != 0)
    if (n < 0 && errno != EINTR) {
      if (errno == ECONNRESET) break;
      return errno;
    }
  close((int)s->i[0]);             /* the step's own: never the payload's */
  return 0;
}

static void gate_describe (const ljStep *s, ljBuf *b) {
  lj_bufadd(b, "fd ");
  lj_bufaddint(b, s->i[0]);
}

static const ljOp op_gate = {
  "gate", "fd", LJ_PARENT(gate_decode), gate_apply, LJ_PARENT(gate_describe), 0
};

const ljOp *const lj_ops_gate[] = { &op_gate, NULL };

/* core.pipe() -> read fd, write fd (both close-on-exec) | nil, msg, errno */
static int l_pipe (lua_State *L) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return lj_pushfail(L, "pipe2", errno);
  lua_pushinteger(L, fds[0]);
  lua_pushinteger(L, fds[1]);
  return 2;
}

/* core.socketpair() -> fd, fd: a connected pair of stream sockets
** (close-on-exec) | nil, msg, errno */
static int l_socketpair (lua_State *L) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return lj_pushfail(L, "socketpair", errno);
  lua_pushinteger(L, fds[0]);
  lua_pushinteger(L, fds[1]);
  return 2;
}

void lj_open_gate (lua_State *L) {
  lua_pushcfunction(L, l_pipe);
  lua_setfield(L, -2, "pipe");
  lua_pushcfunction(L, l_socketpair);
  lua_setfield(L, -2, "socketpair");
}
