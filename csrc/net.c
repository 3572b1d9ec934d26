/*
** net.c: ifup(name) brings a network interface up: the loopback of a new
** network namespace starts down.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <net/if.h>

#include "lj.h"

static void ifup_decode (ljArgs *A, ljStep *s) {
  size_t len;
  s->s[0] = lj_argstr(A, 1, &len);
  if (len == 0 || len >= IFNAMSIZ)
    lj_argerror(A, 1, "interface name of 1 to %d bytes expected",
                IFNAMSIZ - 1);
}

static int ifup_apply (const ljStep *s, ljCtx *c) {
  struct ifreq ifr;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;
  (void)c;
  if (fd < 0) return errno;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, s->s[0], strlen(s->s[0]));
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) err = errno;
  else {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) err = errno;
  }
  close(fd);
  return err;
}

static const ljOp op_ifup = {
  "ifup", "name", LJ_PARENT(ifup_decode), ifup_apply, NULL, 0
};

const ljOp *const lj_ops_net[] = { &op_ifup, NULL };
