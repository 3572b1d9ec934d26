-- lunajail.seccomp: the seccomp presets of recipes.
--
--   "default"    everything is allowed except what lets a sandbox attack
--                the kernel or leave its namespaces: a deny-list, each
--                entry with its reason (shown by explain())
--   "strict"     the default, and also ptrace and process_vm_*, every
--                personality change, socket families other than unix,
--                inet and inet6, and the older file-system-event calls
--   "allowlist"  an allow-list (Docker's default profile, less what needs
--                a capability): a call it does not list fails ENOSYS,
--                so calls newer than the list fail the way a kernel
--                without them does; stacked under "default", whose
--                refusals keep their own errno
--   "none"       no filter
--   a table      {preset = "default", deny = {"socket", ...},
--                 allow = {"ptrace", ...}, notify = {"openat", ...}}
--                extends or relaxes a preset; any other table is a filter
--                spec for core.seccomp_filter
--
-- notify: each call named goes to the child object's handler
-- (child:on_notify, lj.run's notify option), which allows it, denies it
-- with an errno or returns a value for it (csrc/notify.c).  A filter of
-- its own, loaded last with a listener; a call the preset refuses is
-- refused before the handler sees it (the kernel's precedence: an errno
-- wins over notify), so name it in allow as well to decide on it.
--
-- Calls of other architectures (x32, and i386 through int 0x80 on
-- x86_64) kill the process: libseccomp checks the architecture first.
-- Most denials are EPERM; the new mount API and clone3 get ENOSYS, so
-- libc and tools fall back to the calls that are checked (mount(2) is
-- EPERM; clone(2) with namespace flags is EPERM); socket families and
-- netlink protocols get EAFNOSUPPORT and EPROTONOSUPPORT, the kernel's
-- own answer when it lacks them (libaudit, for one, carries on then).
--
-- Every name in these tables must be installed: a name libseccomp cannot
-- resolve is an error when the filter is built, unless the entry gives
-- its number (nr = , for calls newer than libseccomp 2.5.4), which is
-- then installed as a number of the native architecture.  A name that
-- libseccomp knows for other architectures only has nothing to refuse
-- here and is skipped.
--
-- When a recipe hands the sandbox a terminal of the host (compile.lua:
-- M.terminals), the ioctls that change a terminal (M.TTY) are refused as
-- well; a sandbox on a pty of its own (stdio = "pty") keeps them.
--
-- A recipe with an owner bind ({"bind", src, dst, owner = true}: an
-- idmapped bind whose files are stored as the directory's owner's) gets
-- the set-id guard (M.SETID) as a filter of its own, stacked last,
-- whatever its seccomp field says ("none" too): no call that sets a
-- set-uid or set-gid bit, nor one whose mode seccomp cannot read.

local core = require "lunajail.core"

local M = {}

local EPERM, ENOSYS = "errno:EPERM", "errno:ENOSYS"
local EAFNOSUPPORT, EPROTONOSUPPORT = "errno:EAFNOSUPPORT", "errno:EPROTONOSUPPORT"

-- {name, action, reason, comparisons..., nr = number where libseccomp
-- 2.5.4 cannot name the call}
M.DEFAULT = {
  { "keyctl", EPERM, "the kernel keyring is not namespaced" },
  { "add_key", EPERM, "the kernel keyring is not namespaced" },
  { "request_key", EPERM, "the kernel keyring is not namespaced" },
  { "unshare", EPERM, "no new namespaces after setup" },
  { "setns", EPERM, "no joining other namespaces" },
  { "mount", EPERM, "no mounts after setup" },
  { "umount2", EPERM, "no unmounting the sandbox's mounts (masks)" },
  { "pivot_root", EPERM, "no changing the root after setup" },
  { "chroot", EPERM, "no chroot tricks" },
  { "fsopen", ENOSYS, "the new mount API (CVE-2021-41133)" },
  { "fsconfig", ENOSYS, "the new mount API" },
  { "fsmount", ENOSYS, "the new mount API" },
  { "fspick", ENOSYS, "the new mount API" },
  { "move_mount", ENOSYS, "the new mount API" },
  { "open_tree", ENOSYS, "the new mount API" },
  { "mount_setattr", ENOSYS, "the new mount API" },
  { "open_tree_attr", ENOSYS, "the new mount API (Linux 6.15)", nr = 467 },
  { "statmount", ENOSYS, "mounts by id (Linux 6.8): tools fall back to " ..
    "/proc/self/mountinfo", nr = 457 },
  { "listmount", ENOSYS, "mounts by id (Linux 6.8)", nr = 458 },
  { "listns", ENOSYS, "namespaces by id (Linux 6.19)", nr = 470 },
  { "open_by_handle_at", EPERM, "reaches files outside any root (shocker)" },
  { "name_to_handle_at", EPERM, "file handles: the other half of open_by_handle_at" },
  { "bpf", EPERM, "eBPF: kernel attack surface" },
  { "perf_event_open", EPERM, "perf: kernel attack surface and side channels" },
  { "userfaultfd", EPERM, "userfaultfd: used to win kernel races" },
  { "io_uring_setup", EPERM, "io_uring: kernel attack surface, unseen by seccomp" },
  { "io_uring_enter", EPERM, "io_uring" },
  { "io_uring_register", EPERM, "io_uring" },
  { "init_module", EPERM, "kernel modules" },
  { "finit_module", EPERM, "kernel modules" },
  { "delete_module", EPERM, "kernel modules" },
  { "kexec_load", EPERM, "loading another kernel" },
  { "kexec_file_load", EPERM, "loading another kernel" },
  { "clock_settime", EPERM, "the clock is the host's" },
  { "clock_adjtime", EPERM, "the clock is the host's" },
  { "settimeofday", EPERM, "the clock is the host's" },
  { "adjtimex", EPERM, "the clock is the host's" },
  { "swapon", EPERM, "swap is the host's" },
  { "swapoff", EPERM, "swap is the host's" },
  { "reboot", EPERM, "the machine is the host's" },
  { "syslog", EPERM, "the kernel log leaks host addresses" },
  { "acct", EPERM, "process accounting is the host's" },
  { "quotactl", EPERM, "quotas are the host's" },
  { "quotactl_fd", EPERM, "quotas are the host's" },
  { "iopl", EPERM, "raw I/O ports" },
  { "ioperm", EPERM, "raw I/O ports" },
  { "lookup_dcookie", EPERM, "profiling internals" },
  { "uselib", EPERM, "obsolete" },
  { "vm86", EPERM, "obsolete" },
  { "vm86old", EPERM, "obsolete" },
  { "_sysctl", EPERM, "obsolete" },
  { "nfsservctl", EPERM, "obsolete" },
  { "clone3", ENOSYS, "its flags cannot be checked: libc falls back to clone" },
  { "ioctl", EPERM, "TIOCSTI: typing into a terminal (CVE-2017-5226); the " ..
    "command's high 32 bits are ignored by the kernel, so they are masked",
    { "a1", "&=", 0xffffffff, 0x5412 } },
  { "ioctl", EPERM, "TIOCLINUX: the console's selection and input",
    { "a1", "&=", 0xffffffff, 0x541C } },
  { "socket", EPERM, "AF_PACKET: raw frames", { "a0", "==", 17 } },
  { "socketpair", EPERM, "AF_PACKET: raw frames", { "a0", "==", 17 } },
}

-- clone(2) with a namespace flag, one rule per flag (a0 on x86_64 and
-- aarch64)
for _, f in ipairs { 0x00020000, 0x04000000, 0x08000000, 0x10000000,
                     0x20000000, 0x40000000, 0x02000000, 0x00000080 } do
  M.DEFAULT[#M.DEFAULT + 1] = { "clone", EPERM, "clone with a namespace flag",
                                { "a0", "&=", f, f } }
end

-- personality flags that weaken exec (ASLR off, executable data, ...),
-- and UNAME26, whose uname emulation leaked kernel stack (CVE-2012-0957).
-- The kernel reads an unsigned int: a mask of the low bits is exact.
for _, f in ipairs {
  { 0x0040000, "ADDR_NO_RANDOMIZE: ASLR off" },
  { 0x0400000, "READ_IMPLIES_EXEC: executable data" },
  { 0x0200000, "ADDR_COMPAT_LAYOUT: the old, predictable memory layout" },
  { 0x0100000, "MMAP_PAGE_ZERO: page 0 mapped, for kernel NULL dereferences" },
  { 0x0020000, "UNAME26: a 2.6 uname, whose emulation leaked kernel stack " ..
    "(CVE-2012-0957)" } } do
  M.DEFAULT[#M.DEFAULT + 1] = { "personality", EPERM, f[2], { "a0", "&=", f[1], f[1] } }
end


-- {====== Socket families and netlink protocols ======}

-- Every family but unix (1), inet (2), inet6 (10), netlink (16, by
-- protocol below) and packet (17, above) is refused in "default", with
-- EAFNOSUPPORT: the kernel's answer when it has no such family, before
-- it loads a module for one.  {reason, family numbers...}
M.FAMILIES = {
  { "AF_VSOCK: the host's and the hypervisor's port space, in no namespace " ..
    "(a port bound inside is taken on the host)", 40 },
  { "AF_ALG: the kernel's crypto API, kernel attack surface", 38 },
  { "AF_KEY: PF_KEYv2 IPsec keys, kernel attack surface", 15 },
  -- AX25, APPLETALK, NETROM, ATMPVC, X25, ROSE, ATMSVC, LLC, CAN,
  -- BLUETOOTH, IUCV, PHONET, IEEE802154, CAIF, NFC, QIPCRTR
  { "device and radio families (bluetooth, NFC, CAN, ATM, ham radio, ...): " ..
    "most are the host's only, in no network namespace",
    3, 5, 6, 8, 9, 11, 20, 26, 29, 31, 32, 35, 36, 37, 39, 42 },
  -- RDS, PPPOX, TIPC, RXRPC, KCM, SMC, XDP, MCTP
  { "rare protocols with a record of kernel exploits (RDS, TIPC, KCM, " ..
    "PPPoX, RxRPC, SMC, XDP, MCTP)", 21, 24, 30, 33, 41, 43, 44, 45 },
  -- UNSPEC, IPX, BRIDGE, DECnet, NETBEUI, SECURITY, ASH, ECONET, SNA,
  -- IRDA, WANPIPE, IB, MPLS, ISDN
  { "families without sockets, or removed: no module is loaded for them",
    0, 4, 7, 12, 13, 14, 18, 19, 22, 23, 25, 27, 28, 34 },
}
M.MAXFAMILY = 45       -- AF_MCTP; AF_MAX is 46 in Linux 6.18

-- netlink protocols (socket(AF_NETLINK, type, protocol)) refused in
-- "default" with EPROTONOSUPPORT.  NETLINK_ROUTE (0) stays: loopback,
-- ip(8), getifaddrs for getaddrinfo; so do USERSOCK (2), SOCK_DIAG (4,
-- ss), FIB_LOOKUP (10) and GENERIC (16), which are per network
-- namespace.  {reason, protocols...}
M.NETLINK = {
  { "NETLINK_KOBJECT_UEVENT: the host's device events (as root, they arrive)", 15 },
  { "NETLINK_AUDIT: the host's audit, in no namespace (EPROTONOSUPPORT reads " ..
    "as a kernel without audit: libaudit carries on)", 9 },
  { "NETLINK_CONNECTOR: fork and exec events of every host process", 11 },
  { "NETLINK_SELINUX, ISCSI, SCSITRANSPORT, RDMA, CRYPTO: host-wide " ..
    "subsystems", 7, 8, 18, 20, 21 },
  { "NETLINK_NETFILTER, XFRM, SMC: firewall and IPsec configuration, the " ..
    "nf_tables exploits' door", 6, 12, 22 },
  { "removed or unused netlink protocols: no module is loaded for them",
    1, 3, 5, 13, 14, 17, 19 },
}
M.MAXNETLINK = 22      -- NETLINK_SMC; MAX_LINKS is 32

-- the socket rules of a preset: `families` the refused families (a
-- set); netlink protocols when netlink itself is not refused
local function sockets (families, reasons, why)
  local out = {}
  local function both (action, reason, ...)
    for _, call in ipairs { "socket", "socketpair" } do
      out[#out + 1] = { call, action, reason, ... }
    end
  end
  for af = 0, M.MAXFAMILY do
    if families[af] then both(EAFNOSUPPORT, reasons[af] or why, { "a0", "==", af }) end
  end
  -- the kernel reads an int: any value with high bits set is above too
  both(EAFNOSUPPORT, "families above AF_MCTP (45): newer than this table, " ..
       "or a number with high bits set (the kernel reads an int)",
       { "a0", ">", M.MAXFAMILY })
  if not families[16] then
    for _, p in ipairs(M.NETLINK) do
      for i = 2, #p do both(EPROTONOSUPPORT, p[1], { "a0", "==", 16 }, { "a2", "==", p[i] }) end
    end
    both(EPROTONOSUPPORT, "netlink protocols above NETLINK_SMC (22): newer " ..
         "than this table, or high bits set", { "a0", "==", 16 }, { "a2", ">", M.MAXNETLINK })
  end
  return out
end

-- }======


M.STRICT = {
  { "ptrace", EPERM, "no tracing at all" },
  { "process_vm_readv", EPERM, "no reading other processes' memory" },
  { "process_vm_writev", EPERM, "no writing other processes' memory" },
  { "personality", EPERM, "no execution domain changes" },
  { "fanotify_init", EPERM, "file-system-wide events" },
  { "kcmp", EPERM, "comparing other processes' kernel objects" },
}


-- {====== Terminals ======}

-- The ioctls that change a terminal, refused when the recipe hands the
-- sandbox one of the host's: its line discipline (TIOCSETD to N_NULL
-- silences the caller's terminal), modes, size, exclusive use, process
-- group, break, flow, modem and serial lines.  What only reads
-- (TCGETS, TIOCGWINSZ, TIOCGPGRP, FIONREAD, ...) and the generic fd
-- ioctls of the same range (FIONBIO, FIOCLEX, FIONCLEX, FIOASYNC,
-- FIOQSIZE) stay.  The numbers are <asm-generic/ioctls.h>'s, masked to
-- 32 bits as the kernel reads them.  {name, command}
M.TTY = {
  { "TCSETS", 0x5402 }, { "TCSETSW", 0x5403 }, { "TCSETSF", 0x5404 },
  { "TCSETA", 0x5406 }, { "TCSETAW", 0x5407 }, { "TCSETAF", 0x5408 },
  { "TCSETS2", 0x402C542B }, { "TCSETSW2", 0x402C542C }, { "TCSETSF2", 0x402C542D },
  { "TCSETX", 0x5433 }, { "TCSETXF", 0x5434 }, { "TCSETXW", 0x5435 },
  { "TIOCSLCKTRMIOS", 0x5457 },
  { "TIOCSETD", 0x5423 }, { "TIOCSWINSZ", 0x5414 },
  { "TIOCEXCL", 0x540C }, { "TIOCNXCL", 0x540D },
  { "TIOCSCTTY", 0x540E }, { "TIOCNOTTY", 0x5422 }, { "TIOCSPGRP", 0x5410 },
  { "TIOCCONS", 0x541D }, { "TIOCVHANGUP", 0x5437 },
  { "TIOCSIG", 0x40045436 }, { "TIOCPKT", 0x5420 }, { "TIOCSPTLCK", 0x40045431 },
  { "TCFLSH", 0x540B }, { "TCXONC", 0x540A },
  { "TCSBRK", 0x5409 }, { "TCSBRKP", 0x5425 }, { "TIOCSBRK", 0x5427 },
  { "TIOCCBRK", 0x5428 },
  { "TIOCMSET", 0x5418 }, { "TIOCMBIS", 0x5416 }, { "TIOCMBIC", 0x5417 },
  { "TIOCSSOFTCAR", 0x541A }, { "TIOCSSERIAL", 0x541F }, { "TIOCSRS485", 0x542F },
  { "TIOCSISO7816", 0xC0285443 }, { "TIOCSERCONFIG", 0x5453 },
  { "TIOCSERSWILD", 0x5455 }, { "TIOCSERSETMULTI", 0x545B },
}

-- the architectures whose terminal ioctls are asm-generic's
local GENERICTTY = { x86_64 = true, x86 = true, aarch64 = true, arm = true,
                     riscv64 = true, s390x = true, s390 = true, loongarch64 = true }

local function ttyrules ()
  local arch = core.seccomp_arch()
  if not GENERICTTY[arch] then
    error(("lunajail: seccomp: no table of terminal ioctls for %s: hand the " ..
           "sandbox no terminal of the host (stdio = \"pty\")"):format(arch), 0)
  end
  local out = {}
  for _, t in ipairs(M.TTY) do
    out[#out + 1] = { "ioctl", EPERM, t[1] .. ": a terminal of the host is " ..
                      "handed in; changing it changes the caller's",
                      { "a1", "&=", 0xffffffff, t[2] } }
  end
  return out
end

-- the terminals of the host a recipe hands its sandbox: a list of
-- "stdin", "stdout (fd 5)", "fds[3]", "stderr (/dev/pts/2)" ... -- each
-- stdio entry that is "inherit" or an fd, and each fds source, that is a
-- terminal here and now (isatty), and each stdio path that is a
-- character device.  A pty of the sandbox's own (stdio = "pty") is none.
-- (entries core.spawn will refuse are left to it: it names the field)
local function isterminal (fd)
  return math.type(fd) == "integer" and fd >= 0 and fd < 1 << 30 and core.isatty(fd)
end

function M.terminals (r)
  local out = {}
  if type(r.stdio) == "table" then
    for k, name in ipairs { "stdin", "stdout", "stderr" } do
      local v = r.stdio[k]
      local path = type(v) == "table" and v.path or v
      if v == "inherit" and core.isatty(k - 1) then
        out[#out + 1] = name
      elseif isterminal(v) then
        out[#out + 1] = ("%s (fd %d)"):format(name, v)
      elseif type(path) == "string" and path:sub(1, 1) == "/" then
        local ok, st = pcall(core.stat, path, true)
        if ok and st and st.type == "char" then
          out[#out + 1] = ("%s (%s)"):format(name, path)
        end
      end
    end
  end
  local targets = {}
  for t in pairs(type(r.fds) == "table" and r.fds or {}) do
    if math.type(t) == "integer" then targets[#targets + 1] = t end
  end
  table.sort(targets)
  for _, t in ipairs(targets) do
    if isterminal(r.fds[t]) then out[#out + 1] = ("fds[%d]"):format(t) end
  end
  return out
end

-- }======


-- {====== The set-id guard ======}
-- What a sandbox writes through an owner bind is the directory owner's
-- on disk (root's, for a root-owned work dir), and nosuid on the bind
-- guards only the sandbox's own exec: a set-uid file left there would
-- run as its owner for every host user who starts it.  The kernel does
-- not refuse it: the mapped uid is the file's owner in the mount's view,
-- so chmod u+s is the owner's right; it clears the bits only on write(2),
-- truncate and chown by a process without CAP_FSETID, and a set-gid bit
-- on chmod by a non-member of the file's group (the sandbox is a member
-- of its mapped group).  So every call that sets a mode: the mode's
-- S_ISUID (04000) or S_ISGID (02000) bit refused, one rule per bit
-- (seccomp compares a masked value with one datum); open with O_CREAT or
-- O_TMPFILE only (without them its mode is unused).  openat2's mode is in
-- a struct seccomp cannot read: ENOSYS, and libc and tools fall back to
-- openat.  io_uring's openat carries a mode seccomp never sees: refused
-- here even where the recipe's seccomp allows io_uring.  File
-- capabilities (the security.capability xattr) need CAP_SETFCAP, which
-- an owner bind's sandbox never holds (compile.lua refuses kept
-- capabilities with one), so setxattr stays.  {name, action, reason,
-- comparisons..., nr =}
local S_ISUID, S_ISGID = 0x800, 0x400

local function setidrules ()
  local out = {}
  local O = core.OFLAGS
  local function bits (name, arg, what, extra, nr)
    for _, b in ipairs { { S_ISUID, "set-uid" }, { S_ISGID, "set-gid" } } do
      local r = { name, EPERM, ("%s: a %s bit (an owner bind's files are its owner's)")
                  :format(what, b[2]), nr = nr }
      if extra then r[#r + 1] = extra end
      r[#r + 1] = { arg, "&=", b[1], b[1] }
      out[#out + 1] = r
    end
  end
  bits("chmod", "a1", "chmod")
  bits("fchmod", "a1", "chmod")
  bits("fchmodat", "a2", "chmod")
  bits("fchmodat2", "a2", "chmod", nil, 452)
  bits("creat", "a1", "creat")
  bits("open", "a2", "open with O_CREAT", { "a1", "&=", O.creat, O.creat })
  bits("open", "a2", "open with O_TMPFILE", { "a1", "&=", O.tmpfile, O.tmpfile })
  bits("openat", "a3", "openat with O_CREAT", { "a2", "&=", O.creat, O.creat })
  bits("openat", "a3", "openat with O_TMPFILE", { "a2", "&=", O.tmpfile, O.tmpfile })
  bits("mknod", "a1", "mknod")
  bits("mknodat", "a2", "mknod")
  out[#out + 1] = { "openat2", ENOSYS, "its mode is in a struct seccomp cannot read: " ..
                    "libc and tools fall back to openat (an owner bind)", nr = 437 }
  for _, n in ipairs { "io_uring_setup", "io_uring_enter", "io_uring_register" } do
    out[#out + 1] = { n, EPERM, "io_uring's openat carries a mode seccomp never " ..
                      "sees (an owner bind)" }
  end
  return out
end
M.SETID = setidrules()

-- the index of the recipe's first owner bind, or nil
function M.owned (r)
  for i, m in ipairs(type(r) == "table" and r.mounts or {}) do
    if type(m) == "table" and m.type == "bind" and m.owner then return i end
  end
end

-- }======


-- {====== The allow-list ======}

-- Docker's default profile (moby profiles/seccomp/default.json), less
-- what it allows only with a capability the sandbox does not have, and
-- less modify_ldt; the calls of Linux 6.6 to 6.17 that a program may use
-- added.  Calls with arguments worth checking (clone, ioctl,
-- personality, socket, socketpair) are allowed here and checked by the
-- "default" deny-list stacked above.  Names that are not calls of this
-- architecture (open on aarch64, arch_prctl off x86) are skipped.
M.ALLOW = [[
  accept accept4 access alarm arch_prctl bind brk cachestat capget capset
  chdir chmod chown clock_getres clock_gettime clock_nanosleep clone close
  close_range connect copy_file_range creat dup dup2 dup3 epoll_create
  epoll_create1 epoll_ctl epoll_pwait epoll_pwait2 epoll_wait eventfd eventfd2
  execve execveat exit exit_group faccessat faccessat2 fadvise64 fallocate
  fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchownat fcntl
  fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat
  fstatfs fsync ftruncate futex futex_requeue futex_wait futex_waitv
  futex_wake futimesat get_robust_list get_thread_area getcpu getcwd getdents
  getdents64 getegid geteuid getgid getgroups getitimer getpeername getpgid
  getpgrp getpid getppid getpriority getrandom getresgid getresuid getrlimit
  getrusage getsid getsockname getsockopt gettid gettimeofday getuid getxattr
  inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel
  io_destroy io_getevents io_pgetevents io_setup io_submit ioctl ioprio_get
  ioprio_set kill landlock_add_rule landlock_create_ruleset
  landlock_restrict_self lchown lgetxattr link linkat listen listxattr
  llistxattr lremovexattr lseek lsetxattr lstat madvise map_shadow_stack
  membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat
  mlock mlock2 mlockall mmap mprotect mq_getsetattr mq_notify mq_open
  mq_timedreceive mq_timedsend mq_unlink mremap msgctl msgget msgrcv msgsnd
  msync munlock munlockall munmap nanosleep newfstatat open openat openat2
  pause personality pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc
  pkey_free pkey_mprotect poll ppoll prctl pread64 preadv preadv2 prlimit64
  process_mrelease process_vm_readv process_vm_writev pselect6 ptrace pwrite64
  pwritev pwritev2 read readahead readlink readlinkat readv recvfrom recvmmsg
  recvmsg remap_file_pages removexattr rename renameat renameat2
  restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask
  rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo
  sched_get_priority_max sched_get_priority_min sched_getaffinity
  sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval
  sched_setaffinity sched_setattr sched_setparam sched_setscheduler
  sched_yield seccomp select semctl semget semop semtimedop sendfile sendmmsg
  sendmsg sendto set_robust_list set_thread_area set_tid_address setfsgid
  setfsuid setgid setgroups setitimer setpgid setpriority setregid setresgid
  setresuid setreuid setrlimit setsid setsockopt setuid setxattr shmat shmctl
  shmdt shmget shutdown sigaltstack signalfd signalfd4 socket socketpair
  splice stat statfs statx symlink symlinkat sync sync_file_range syncfs
  sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
  timer_gettime timer_settime timerfd_create timerfd_gettime timerfd_settime
  times tkill truncate umask uname unlink unlinkat utime utimensat utimes vfork
  vmsplice wait4 waitid write writev
  arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush
  set_tls riscv_flush_icache
]]
-- the calls libseccomp 2.5.4 cannot name, by number (Linux 6.8 to 6.17)
M.ALLOW_NR = {
  lsm_get_self_attr = 459, lsm_list_modules = 461, mseal = 462,
  setxattrat = 463, getxattrat = 464, listxattrat = 465, removexattrat = 466,
  file_getattr = 468, file_setattr = 469,
}

-- }======


-- {====== Building ======}

-- where the native architecture numbers the calls added since Linux 5.1
-- as asm-generic does (and x86_64, i386, ...): 0 offset, or mips' bases
local NRBASE = { x86_64 = 0, x86 = 0, aarch64 = 0, arm = 0, riscv64 = 0,
                 s390x = 0, s390 = 0, ppc64le = 0, ppc64 = 0, ppc = 0,
                 parisc = 0, parisc64 = 0, loongarch64 = 0,
                 mips = 4000, mipsel = 4000, mips64 = 5000, mipsel64 = 5000,
                 mips64n32 = 6000, mipsel64n32 = 6000 }

-- the syscall of a table entry for core.seccomp_filter: its name, its
-- number when libseccomp cannot name it, or false when it is a call of
-- other architectures only; raises for a name it cannot install
local function syscall (name, nr, where)
  if math.type(name) == "integer" then return name end   -- the recipe's own
  local n, why = core.seccomp_resolve(name)
  if n then return name end
  if why == "foreign" then return false end
  local base = NRBASE[core.seccomp_arch()]
  if nr and base then return base + nr end
  error(("lunajail: seccomp %s: unknown system call %q (libseccomp cannot name " ..
         "it%s)"):format(where, name, nr and ", and " .. core.seccomp_arch() ..
         " has no known number for it" or ", and the table gives no number"), 0)
end

-- a list of entries -> rules for core.seccomp_filter
local function rules (list, where)
  local out = {}
  for _, r in ipairs(list) do
    local sc = syscall(r[1], r.nr, where)
    if sc then
      local rule = { r[2], sc }
      for i = 4, #r do rule[#rule + 1] = r[i] end
      out[#out + 1] = rule
    end
  end
  return out
end

-- kill_process needs Linux 4.14 (and a libseccomp that sees it: under
-- valgrind it does not); else the thread, which for one thread is the same
local badarch
local function killaction ()
  if badarch == nil then
    badarch = pcall(core.seccomp_filter, { badarch = "kill_process" })
              and "kill_process" or "kill"
  end
  return badarch
end

local guard

-- the guard's filter, and its line for explain(), built once
function M.guard ()
  if not guard then
    local spec = { default = "allow", badarch = killaction(),
                   rules = rules(M.SETID, "set-id guard") }
    guard = { core.seccomp_filter(spec), ("the set-id guard of an owner bind, %d rules: " ..
              "no set-uid or set-gid bit on any file"):format(#spec.rules) }
  end
  return guard
end

M.PRESETS = { default = true, strict = true, allowlist = true }

local function without (list, names)
  local out = {}
  for _, r in ipairs(list) do if not names[r[1]] then out[#out + 1] = r end end
  return out
end

local function set (list)
  local s = {}
  for _, x in ipairs(list or {}) do s[x] = true end
  return s
end

-- the deny-list of a preset: a list of entries
local function denylist (name, deny, allow, tty)
  local skip = set(allow)
  local list = without(M.DEFAULT, skip)
  local families, reasons = {}, {}
  for _, f in ipairs(M.FAMILIES) do
    for i = 2, #f do families[f[i]], reasons[f[i]] = true, f[1] end
  end
  if name == "strict" then
    for _, r in ipairs(M.STRICT) do
      if not skip[r[1]] then
        -- strict's plain rule replaces the default's narrower ones
        list = without(list, { [r[1]] = true })
        list[#list + 1] = r
      end
    end
    for af = 0, M.MAXFAMILY do
      if af ~= 1 and af ~= 2 and af ~= 10 and af ~= 17 then families[af] = true end
    end
  end
  for _, r in ipairs(sockets(families, reasons, "socket families other than unix " ..
                             "and IP (strict)")) do
    if not skip[r[1]] then list[#list + 1] = r end
  end
  if tty and not skip.ioctl then
    for _, r in ipairs(ttyrules()) do list[#list + 1] = r end
  end
  local denied = set(deny)
  list = without(list, denied)
  for _, n in ipairs(deny or {}) do list[#list + 1] = { n, EPERM, "denied by the recipe" } end
  return list
end

-- the allow-list's filter spec, and its size
local function allowspec (allow, deny)
  local out, n = {}, 0
  local skip = set(deny)
  local names = {}
  for name in M.ALLOW:gmatch("%S+") do names[#names + 1] = name end
  for _, name in ipairs(allow or {}) do names[#names + 1] = name end
  for _, name in ipairs(names) do
    local sc = not skip[name] and syscall(name, nil, "preset \"allowlist\"")
    if sc then out[#out + 1] = { "allow", sc } n = n + 1 end
  end
  for name, nr in pairs(M.ALLOW_NR) do
    local sc = not skip[name] and syscall(name, nr, "preset \"allowlist\"")
    if sc then out[#out + 1] = { "allow", sc } n = n + 1 end
  end
  table.sort(out, function (a, b) return tostring(a[2]) < tostring(b[2]) end)
  return { default = ENOSYS, badarch = killaction(), rules = out }, n
end

local function checknames (v, field)
  if v[field] ~= nil and type(v[field]) ~= "table" then
    error(("lunajail: recipe.seccomp.%s: a list of syscall names expected, got %s")
          :format(field, type(v[field])), 0)
  end
  for i, n in ipairs(v[field] or {}) do
    local where = ("lunajail: recipe.seccomp.%s[%d]: "):format(field, i)
    if math.type(n) == "integer" then
      if n < 0 or n > 9999 then error(where .. "syscall number 0..9999 expected", 0) end
    elseif type(n) ~= "string" then
      error(where .. "syscall name expected, got " .. type(n), 0)
    else
      local nr, why = core.seccomp_resolve(n)
      if not nr then
        error(where .. (why == "foreign" and ("%q is not a system call of %s")
                                            :format(n, core.seccomp_arch())
                        or ("unknown syscall %q"):format(n)), 0)
      end
    end
  end
end

-- a table form's preset, checked
local function presetof (v)
  local p = v.preset or "default"
  if not M.PRESETS[p] then
    error(("lunajail: recipe.seccomp.preset: \"default\", \"strict\" or " ..
           "\"allowlist\" expected, got %s"):format(type(p) == "string" and
           ("%q"):format(p) or type(p)), 0)
  end
  checknames(v, "deny")
  checknames(v, "allow")
  return p
end

-- the parts of a recipe's seccomp field: the preset's name (nil for a
-- filter spec of the recipe's own), deny, allow
local function parts (v)
  if type(v) == "userdata" or (type(v) == "table" and v.bpf) then return nil end
  if type(v) ~= "table" then return v or "default" end
  if v.preset or v.allow or v.deny or v.notify then
    local p = presetof(v)
    checknames(v, "notify")
    return p, v.deny, v.allow, v.notify
  end
  return nil
end

-- the filter of a notify list: its calls notified, the rest allowed
local function notifyspec (list)
  local out = {}
  for _, name in ipairs(list) do
    local sc = syscall(name, nil, "notify")
    if sc then out[#out + 1] = { "notify", sc } end
  end
  return { default = "allow", badarch = killaction(), rules = out }
end

local cache = {}

-- spec(v, {tty = true}) -> {{filter, summary}, ...}: the filters of the
-- seccomp field v, in the order they are loaded (the last one's errno
-- wins where two refuse a call), each with a line for explain().  tty:
-- a terminal of the host is handed in (M.terminals), its ioctls refused
function M.spec (v, opts)
  local tty = opts and opts.tty or false
  local name, deny, allow, notify = parts(v)
  local key = type(v) == "string" and v .. (tty and "+tty" or "")
  if key and cache[key] then return cache[key] end
  local out = {}
  local ttynote = tty and (", %d terminal ioctls"):format(#M.TTY) or ""
  if name == nil then
    if type(v) == "userdata" then              -- core.seccomp_filter's object
      out[1] = { v, "a filter object of the recipe's own" }
    elseif v.bpf then                          -- raw BPF, as bwrap's --seccomp
      out[1] = { v.bpf, ("raw BPF of the recipe's own, %d instructions"):format(#v.bpf // 8) }
    else
      local ok, f = pcall(core.seccomp_filter, v)
      if not ok then error("lunajail: recipe.seccomp: " .. tostring(f), 0) end
      out[1] = { f, ("a filter of the recipe's own, %d rules"):format(
                    type(v.rules) == "table" and #v.rules or 0) }
    end
    if tty then
      local spec = { badarch = killaction(), rules = rules(ttyrules(), "terminal ioctls") }
      out[2] = { core.seccomp_filter(spec), ("the %d terminal ioctls, stacked on it")
                                            :format(#M.TTY) }
    end
  else
    if name == "allowlist" then
      local spec, n = allowspec(allow, deny)
      out[1] = { core.seccomp_filter(spec), ("preset \"allowlist\": the %d calls " ..
                 "it allows; every other call ENOSYS"):format(n) }
    end
    local where = ("preset %q"):format(name)
    local spec = { default = "allow", badarch = killaction(),
                   rules = rules(denylist(name, deny, allow, tty), where) }
    local summary = (name == "allowlist" and "the deny-list of \"default\" over it"
                     or ("preset %q"):format(name)) .. (", %d rules%s"):format(#spec.rules, ttynote)
    if type(v) == "table" then
      summary = summary .. (" (%d denied, %d allowed by the recipe)")
                           :format(#(deny or {}), #(allow or {}))
    end
    out[#out + 1] = { core.seccomp_filter(spec), summary }
    if notify and #notify > 0 then
      out[#out + 1] = { core.seccomp_filter(notifyspec(notify)), ("notify: %d calls " ..
                        "(%s) wait for the child's on_notify handler; its listener goes " ..
                        "to the child object"):format(#notify, table.concat(notify, ", ")) }
    end
  end
  if key then cache[key] = out end
  return out
end

-- the rules of a recipe's seccomp field, for explain and the docs:
-- {{name, action, reason}, ...}, sorted by call, one per call and
-- reason.  r: the recipe, for the terminals it hands in and its owner
-- binds (the set-id guard); v nil with r: the recipe loads no filter
-- of its own
function M.list (v, r)
  local name, deny, allow, notify = parts(v)
  local tty = r and #M.terminals(r) > 0
  local list
  if v == "none" or (v == nil and r) then    -- a recipe's: no filter of its own
    list = {}
  elseif name == nil then
    list = {}
    if type(v) == "userdata" or v.bpf then
      list[1] = { type(v) == "userdata" and "(a filter object)" or "(raw BPF)", "?",
                  "the recipe's own program: lunajail does not read it" }
    end
    for _, x in ipairs(type(v) == "table" and v.rules or {}) do
      list[#list + 1] = { tostring(x[2]), x[1], #x > 2 and "some arguments" or "" }
    end
    if tty then for _, x in ipairs(ttyrules()) do list[#list + 1] = x end end
  else
    list = denylist(name, deny, allow, tty)
    for _, n in ipairs(notify or {}) do
      list[#list + 1] = { n, "notify", "the child's on_notify handler decides" }
    end
  end
  if M.owned(r) then
    for _, x in ipairs(M.SETID) do list[#list + 1] = x end
  end
  local out, seen = {}, {}
  for i, x in ipairs(list) do
    local k = tostring(x[1]) .. "\0" .. x[3]
    if not seen[k] and (name == nil or syscall(x[1], x.nr, "preset")) then
      seen[k] = true
      out[#out + 1] = { tostring(x[1]), x[2], x[3], i }
    end
  end
  if name == "allowlist" then
    out[#out + 1] = { "(not listed)", ENOSYS, "every call the allow-list does not name" }
  end
  table.sort(out, function (a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return (a[4] or 0) < (b[4] or 0)
  end)
  for _, x in ipairs(out) do x[4] = nil end
  return out
end

-- }======

return M
