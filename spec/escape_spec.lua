-- the escape catalogue (research/security.md section 2, docs/security.md):
-- each class as a real attempt from inside the default container, as root
-- and as uid 65534, and the same attempt with lunajail.empty{} (no
-- seccomp, no namespaces) to show that it works when the protection is
-- missing, so that every assertion can fail.
--
-- The attempts are spec/helpers/probe.c sub-commands ("ok <value>" or
-- "err <ERRNAME>") and shell one-liners; one container run and one empty
-- run per mode, memoized.  Where the kernel alone already refuses a call
-- outside (the same uid, no filter), the live attempt proves nothing: the
-- row then runs the container's exported seccomp filter in spec/bpfsim.lua
-- instead, and says so.
local H = require "helper"
local S = require "bpfsim"

local ARCH = ({ x86_64 = S.X86_64, aarch64 = S.AARCH64 })[H.sh("uname -m"):match("%S+")]
local ERRNO = { EPERM = 1, EACCES = 13, ENOSYS = 38, EPROTONOSUPPORT = 93,
                EAFNOSUPPORT = 97 }
-- the lists, written out here rather than taken from lunajail.compile:
-- runc's, then what else tells of the host (docs/security.md, row 24)
local PROC_RO = { "sys", "sysrq-trigger", "irq", "bus", "fs" }
local PROC_MASKED = { "kcore", "keys", "timer_list", "timer_stats", "sched_debug",
                      "latency_stats", "acpi", "asound", "scsi",
                      "key-users", "interrupts", "softirqs", "cmdline", "config.gz",
                      "kallsyms", "modules", "iomem", "ioports", "mtrr", "vmallocinfo",
                      "slabinfo", "pagetypeinfo", "zoneinfo", "buddyinfo", "kpagecount",
                      "kpageflags", "kpagecgroup", "kmsg" }
-- read inside only: outside, reading the kernel log blocks, and takes
-- its messages from the host's syslog
local NOREAD = { kmsg = true }
local DEV = "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero"


-- {====== The attempts ======}

-- {name, probe arguments} or {name, sh = "a shell command"}; inside =
-- true: only in the container (never run unprotected on the host).  The
-- shell variables: P probe, TMP a writable dir, NAME PORT the host's
-- listening canaries, CANARY a host process, KEY a host shm segment,
-- SHMFILE a file in the host's /dev/shm, SUID a setuid-root copy of id.
local CHECKS = {
  { "ioctl-tiocsti", "ioctl-tiocsti" },
  { "ioctl-tiocsti-hi", "ioctl-tiocsti-hi" },
  { "ioctl-tioclinux", "ioctl-tioclinux" },
  { "ioctl-tioclinux-hi", "ioctl-tioclinux-hi" },
  { "tty", "open /dev/tty" },
  { "tty_nr", sh = "cut -d' ' -f7 /proc/self/stat" },
  { "init-exe", "open /proc/1/exe", inside = true },
  { "init-fds", sh = "ls /proc/1/fd >/dev/null 2>&1 && echo listed || echo refused",
    inside = true },
  { "canary-exe", "open /proc/$CANARY/exe" },
  { "canary-fds", sh = "ls /proc/$CANARY/fd >/dev/null 2>&1 && echo listed || echo refused" },
  { "ptrace-init", "ptrace-attach 1", inside = true },
  { "ptrace-canary", "ptrace-attach $CANARY" },
  { "fds", "fds" },
  { "cwd", "cwd" },
  { "root", sh = "readlink /proc/self/root" },
  { "setgroups", "setgroups" },
  { "setgroups-file", sh = "cat /proc/self/setgroups" },
  { "keyctl", "keyctl" },
  { "add_key", "add_key" },
  { "request_key", "request_key" },
  { "unshare-user", "unshare-user" },
  { "unshare-tool", sh = "unshare -Ur true >/dev/null 2>&1 && echo ok || echo refused" },
  { "clone-newuser", "clone-newuser" },
  { "clone3", "clone3" },
  { "max_user_namespaces", sh = "cat /proc/sys/user/max_user_namespaces" },
  { "mountinfo", sh = "awk '{print $5 \" \" $6}' /proc/self/mountinfo" },
  { "drop_caches", "open /proc/sys/vm/drop_caches w" },
  { "core_pattern", "open /proc/sys/kernel/core_pattern w" },
  { "sysrq-trigger", "open /proc/sysrq-trigger w" },
  { "sysfs", "open /sys/kernel/rcu_expedited w" },
  { "dev", sh = "ls -A /dev" },
  { "mknod", "mknod $TMP/lunajail-sda" },
  { "dev-mem", "open /dev/mem" },
  { "dev-kmsg", "open /dev/kmsg" },
  { "dev-kvm", "open /dev/kvm" },
  { "dev-vda", "open /dev/vda" },
  { "dev-sda", "open /dev/sda" },
  { "dev-fuse", "open /dev/fuse" },
  { "status", sh = "grep -E '^(Cap...|NoNewPrivs|Seccomp|Seccomp_filters):' " ..
                   "/proc/self/status | tr -d '\\t '" },
  { "suid", sh = "$SUID -u" },
  { "open_by_handle_at", "open_by_handle_at" },
  { "x32-getpid", "x32-getpid" },
  { "i386-getpid", "i386-getpid" },
  { "i386-unshare", "i386-unshare" },
  { "io_uring_setup", "io_uring_setup" },
  { "io_uring_enter", "io_uring_enter" },
  { "io_uring_register", "io_uring_register" },
  { "aslr-off", "personality 0040000" },
  { "persona-query", "personality ffffffff" },
  { "setarch-R", sh = "setarch $(uname -m) -R true >/dev/null 2>&1 && echo ok || echo refused" },
  { "perf_event_open", "perf_event_open" },
  { "bpf", "bpf" },
  { "userfaultfd", "userfaultfd" },
  { "dev-userfaultfd", "open /dev/userfaultfd" },
  { "umount-keys", "umount /proc/keys", inside = true },
  { "cgroupfs", "open /sys/fs/cgroup" },
  { "leftovers", sh = "for p in /oldroot /newroot /.oldroot /tmp/oldroot /tmp/newroot " ..
                      "/tmp/.lunajail*; do [ -e \"$p\" ] && echo \"$p\"; done; true" },
  { "abstract", "connect-abstract $NAME" },
  { "tcp", "connect-tcp $PORT" },
  { "netdevs", sh = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '" },
  { "kill-canary", "kill $CANARY 0" },
  { "chroot", "chroot /" },
  { "chroot-badptr", "chroot-badptr" },
  { "mount", "mount" },
  { "umount", "umount" },
  { "pivot_root", "pivot_root" },
  { "setns", "setns" },
  { "fsopen", "fsopen" },
  { "open_tree", "open_tree" },
  { "move_mount", "move_mount" },
  { "mount_setattr", "mount_setattr" },
  { "shm", "shmget $KEY" },
  { "shmfile", "open /dev/shm/$SHMFILE" },
  { "shm-ls", sh = "ls -A /dev/shm" },
  { "env", sh = "env | sort" },
  { "cgroup", sh = "cat /proc/self/cgroup" },
  { "raw-socket", "raw-socket" },
  { "packet-socket", "packet-socket" },
  { "packet-hi", "socket 0x100000011 3 0" },
  { "vsock", "bind-vsock 0" },
  { "vsock-hi", "socket 0x100000028 1 0" },
  { "vsock-pair", "socket 40 1 0 pair" },
  { "af_alg", "socket 38 5 0" },
  { "af_key", "socket 15 3 2" },
  { "af_tipc", "socket 30 2 0" },
  { "af_46", "socket 46 1 0" },
  { "uevent", "netlink 15 1" },
  { "nl-audit", "netlink 9" },
  { "nl-connector", "netlink 11" },
  { "nl-netfilter", "netlink 12" },
  { "nl-route", "netlink 0" },
  { "nl-diag", "netlink 4" },
  { "unix-pair", "socket 1 1 0 pair" },
  { "uname26", "personality 0020000" },
  { "statmount", "statmount" },
  { "listmount", "listmount" },
  { "open_tree_attr", "open_tree_attr" },
  { "listns", "listns" },
}
for _, n in ipairs(PROC_RO) do
  CHECKS[#CHECKS + 1] = { "type-" .. n, sh = "stat -c %F /proc/" .. n ..
                          " 2>/dev/null || echo absent" }
end
for _, n in ipairs(PROC_MASKED) do
  CHECKS[#CHECKS + 1] = { "type-" .. n, sh = "stat -c %F /proc/" .. n ..
                          " 2>/dev/null || echo absent" }
  CHECKS[#CHECKS + 1] = { "read-" .. n, "read /proc/" .. n, inside = NOREAD[n] }
end

-- the shell script that makes every attempt and prints "name<TAB>result"
-- lines; a probe killed by a signal prints "signal N", a shell command's
-- lines are joined with ";"
local function script (inside)
  local lines = {}
  for _, c in ipairs(CHECKS) do
    if inside or not c.inside then
      if c.sh then
        lines[#lines + 1] = ("r=$( { %s; } 2>/dev/null | paste -sd';' -)"):format(c.sh)
      else
        lines[#lines + 1] = ("r=$(\"$P\" %s 2>&1); s=$?; " ..
                             "[ $s -gt 128 ] && r=\"signal $((s - 128))\""):format(c[2])
      end
      lines[#lines + 1] = ("printf '%%s\\t%%s\\n' %s \"$r\""):format(c[1])
    end
  end
  return table.concat(lines, "\n")
end

local function parse (out)
  local t = {}
  for k, v in out:gmatch("([^\t\n]+)\t([^\n]*)") do t[k] = v end
  return t
end

-- }======


-- {====== The two runs ======}

-- Common to both: the host's canaries (a listening abstract socket and
-- TCP port, whose process is also the canary for signals and ptrace; a
-- SysV shm segment; a file in /dev/shm), fds opened without CLOEXEC, and
-- the shell variables.  Everything is undone whatever happens.
local COMMON = [[
  local script, suid = %q, %q
  local P = BUILD .. "/probe"
  local undo = {}
  local function sh (cmd)
    local h = assert(io.popen(cmd))
    local out = h:read("a")
    h:close()
    return out
  end
  -- a host process of ours: "ok <what> <pid>", killed at the end
  local function canary (args)
    local h = assert(io.popen("exec " .. P .. " " .. args))
    local what, pid = assert(h:read("l")):match("^ok (%%S+) (%%d+)$")
    undo[#undo + 1] = function () os.execute("kill " .. pid) h:close() end
    return what, pid
  end
  local function finally (body)
    local ok, res = pcall(body)
    for i = #undo, 1, -1 do pcall(undo[i]) end
    if not ok then error(res, 0) end
    return res
  end
  local function setup (probe, tmp, suidpath)
    local name = "lunajail-canary-" .. core.getpid()
    canary("listen-abstract " .. name .. " 120")
    local port, pid = canary("listen-tcp 0 120")
    local key = assert(sh(P .. " shmcreate"):match("^ok (%%d+)"))
    undo[#undo + 1] = function () os.execute("ipcrm -M " .. key) end
    local shmfile = name
    assert(io.open("/dev/shm/" .. shmfile, "w")):close()
    undo[#undo + 1] = function () os.remove("/dev/shm/" .. shmfile) end
    local held = {}                    -- io.open: no O_CLOEXEC
    for _, p in ipairs { "/", "/etc", "/etc/hostname", "/dev/null" } do
      held[#held + 1] = assert(io.open(p))
    end
    local vars = ("P='%%s' TMP='%%s' NAME='%%s' PORT='%%s' CANARY='%%s' KEY='%%s' " ..
                  "SHMFILE='%%s' SUID='%%s'\n"):format(probe, tmp, name, port, pid,
                                                    key, shmfile, suidpath)
    return { vars = vars, pid = pid, held = held,
             leaked = sh(P .. " fds") }         -- what a plain child of ours sees
  end
]]

local CONTAINER = COMMON .. [[
  return finally(function ()
    local v = setup("/probe", "/tmp", "/suid/id")
    local mounts = { {"ro-bind", P, "/probe"}, {"ro-bind", suid, "/suid"} }
    local r = lj.container{ argv = {"sh", "-c", v.vars .. script}, mounts = mounts }
    local res = assert(lj.run(r, { timeout = 60 }))
    -- the recipe's own mount targets (row 26)
    local new = require("lunajail.compile").NEWROOT
    local targets, steps = {}, (r:steps()).steps
    for _, s in ipairs(steps) do
      local t = (s[1] == "mount" or s[1] == "bind") and s[3] or s[1] == "overlay" and s[2]
      if type(t) == "string" and t:sub(1, #new) == new
         and not (s[1] == "mount" and tostring(s[5]):find("remount", 1, true)) then
        targets[#targets + 1] = t:sub(#new + 1) == "" and "/" or t:sub(#new + 1)
      end
    end
    -- kill -9 -1 inside: every process of the sandbox, and nothing else.
    -- The probe is the payload (exec): had it a shell for parent, that
    -- shell's death would end init, whose exit kills the probe before it
    -- can print
    local k = assert(lj.run(lj.container{ argv = {"sh", "-c",
                                                  "sleep 20 & exec /probe kill -1 9"},
                                          mounts = mounts }, { timeout = 20 }))
    return { out = res.stdout, err = res.stderr, code = res.code, targets = targets,
             kill = k.stdout, alive = sh(P .. " kill " .. v.pid .. " 0"),
             leaked = v.leaked, home = os.getenv("HOME"), last = steps[#steps][1] }
  end)
]]

local EMPTY = COMMON .. [[
  return finally(function ()
    local tmp = sh("mktemp -d /tmp/lunajail-escape.XXXXXX"):match("%%S+")
    undo[#undo + 1] = function () os.execute("rm -rf " .. tmp) end
    local v = setup(P, tmp, suid .. "/id")
    local r = lj.empty{ argv = {"sh", "-c", v.vars .. script},
                        env = { PATH = "/usr/local/bin:/usr/bin:/bin" } }
    local res = assert(lj.run(r, { timeout = 60 }))
    -- the setuid copy after a plain drop to 65534, without no_new_privs
    local drop = MODE == "root" and { uid = 65534, gid = 65534, groups = {} } or {}
    local s = assert(lj.run(lj.empty(drop):with{ argv = {suid .. "/id", "-u"} }))
    return { out = res.stdout, err = res.stderr, code = res.code, suid = s.stdout }
  end)
]]

-- a setuid-root copy of id in a directory of its own, made by the runner
-- (root) for both modes
local function suidcopy ()
  if not H.root then return nil end
  local d = H.sh("mktemp -d /tmp/lunajail-suid.XXXXXX"):match("%S+")
  H.sh(("chmod 755 %s && cp /usr/bin/id %s/id && chown 0:0 %s/id && chmod 4755 %s/id")
       :format(d, d, d, d))
  return d
end

local cache = {}

-- results(mode) -> c, e, raw: the container's and empty's results by name
local function results (mode)
  if not cache[mode] then
    local suid = suidcopy() or "/nonexistent"
    local ok, c, e = pcall(function ()
      local c = H.lua(mode, CONTAINER:format(script(true), suid))
      local e = H.lua(mode, EMPTY:format(script(false), suid))
      return c, e
    end)
    if suid ~= "/nonexistent" then H.sh("rm -rf " .. suid) end
    cache[mode] = ok and { c = c, e = e } or { err = c }
  end
  local r = cache[mode]
  if r.err then error(r.err, 0) end
  return parse(r.c.out), parse(r.e.out), r
end

-- }======


-- {====== Simulation of the container's filter (convention C) ======}

local filter

-- the action of the container's exported default filter on a call
local function simulate (name, args, arch, nr)
  if not filter then
    local bpf, nrs = H.lua(H.modes[1], [[
      local bpf
      for _, s in ipairs((lj.container{ argv = {"true"} }:steps()).steps) do
        if s[1] == "seccomp" then bpf = s[2]:export() end
      end
      local nr = {}
      for _, n in ipairs { "bpf", "pivot_root", "chroot", "socket", "socketpair",
                           "setgroups", "ioctl", "personality", "getpid", "unshare" } do
        nr[n] = core.seccomp_resolve(n)
      end
      return bpf, nr
    ]])
    filter = { prog = S.decode(bpf), nr = nrs }
  end
  return S.run(filter.prog, { nr = nr or assert(filter.nr[name], name),
                              arch = arch or ARCH, args = args })
end

local function hex (v) return ("0x%08x"):format(v) end

-- the probe `name` is refused inside with `blocked`, and gives `open`
-- (a Lua pattern, or a table of them by mode) unprotected.  When the
-- kernel alone gives the blocked result outside too, the live check is
-- inconclusive: `sim` = {syscall, args} runs the simulated filter, or
-- sim = "kernel" says that the caller's own lack of a capability refuses
-- it outside, and inside the capabilities are dropped (no filter rule).
-- The simulation runs whenever it is given: the sandbox's uid is never
-- root, so a call the kernel refuses to unprivileged callers (bpf,
-- pivot_root, ...) proves nothing live even when root's calibration is
-- conclusive.
local function refused (mode, name, blocked, open, sim)
  local c, e = results(mode)
  assert.equal(blocked, c[name], name .. " inside the container, as " .. mode)
  local want = type(open) == "table" and open[mode == "root" and "root" or "nobody"] or open
  assert.matches("^" .. want .. "$", e[name] or "",
                 nil, name .. " with lunajail.empty{}, as " .. mode)
  if type(sim) == "table" then
    local err = assert(blocked:match("^err (%u+)$"))
    assert.equal(hex(S.ERRNO | ERRNO[err]), hex(simulate(sim[1], sim[2])), name)
  end
  if e[name] ~= blocked then return end
  assert(sim, name .. " is inconclusive as " .. mode .. " and has no simulation")
  print(sim == "kernel" and
        ("# calibration: %s as %s gives %s without lunajail too (no capability); " ..
         "inside, every capability is dropped"):format(name, mode, blocked) or
        ("# calibration: %s as %s gives %s without lunajail too; covered by the " ..
         "BPF simulation"):format(name, mode, blocked))
end

-- the mount targets and their options inside, {target = options}
local function mounts (c)
  local t = {}
  for m in (c.mountinfo or ""):gmatch("[^;]+") do
    local target, opts = m:match("^(%S+) (%S+)$")
    t[target] = opts
  end
  return t
end

local function has (list, x)
  for item in (list or ""):gmatch("[^;]+") do
    if item == x then return true end
  end
  return false
end

-- }======


-- the pty of row 1: a terminal the snippet creates (script -qec), on
-- fds 0-2 of the sandbox; "x" echoed before "ok" is an injected byte
local PTY = [[
  local P = BUILD .. "/probe"
  local inner = os.tmpname()
  local f = assert(io.open(inner, "w"))
  f:write(("package.path = %q; package.cpath = %q\n"):format(package.path, package.cpath),
    [=[
    local lj = require "lunajail"
    local P = ...
    local io3 = { "inherit", "inherit", "inherit" }
    local function try (name, r, probe)
      io.stdout:write(name, ": ")
      io.stdout:flush()
      assert(lj.run(r:with{ argv = {probe or "/probe", "tiocsti-real"}, stdio = io3 }))
      io.stdout:write("\n")
    end
    local bound = { mounts = { {"ro-bind", P, "/probe"} } }
    try("container", lj.container(bound))
    try("container-seccomp-only", lj.container(bound):with{ new_session = false })
    try("container-session-only", lj.container(bound):with{ seccomp = "none" })
    try("empty-same-session", lj.empty{ new_session = false }, P)
    ]=])
  f:close()
  os.execute("chmod 644 " .. inner)
  local h = assert(io.popen("script -qec 'lua5.4 " .. inner .. " " .. P ..
                            "' /dev/null < /dev/null"))
  local out = h:read("a")
  h:close()
  os.remove(inner)
  return (out:gsub("\r", ""))
]]

-- a terminal the snippet creates (script -qec) handed to sandboxes as
-- stdio "inherit", as an stdio fd and in fds: "name: NAME=result ..."
local TTY = [[
  local P = BUILD .. "/probe"
  local inner = os.tmpname()
  local f = assert(io.open(inner, "w"))
  f:write(("package.path = %q; package.cpath = %q\n"):format(package.path, package.cpath),
    [=[
    local lj = require "lunajail"
    local P = ...
    local io3 = { "inherit", "inherit", "inherit" }
    local names = "TIOCSETD TCSETS TCSETS2 TIOCSWINSZ TIOCEXCL TCXONC " ..
                  "TCGETS TIOCGWINSZ FIONREAD FIONBIO FIOCLEX"
    local function try (name, r, probe, fd)
      -- fd 9: the terminal (or not) under test, beside the command
      -- substitution's pipe on fd 1
      local sh = ("exec 9>&%d; for c in %s; do printf '%%s=%%s;' $c " ..
                  "\"$(%s tty-ioctl $c 9)\"; done"):format(fd or 0, names, probe or "/probe")
      r = r:with{ argv = {"sh", "-c", sh} }
      local why = {}
      for _, w in ipairs(select(2, r:steps())) do
        if w:match("a terminal of the host on ") then why[#why + 1] = w:match("on (.*)$") end
      end
      -- the sandbox may write to this terminal itself: the name first
      io.stdout:write(name, ": ")
      io.stdout:flush()
      local res = assert(lj.run(r, { timeout = 30 }))
      io.stdout:write(((res.stdout or ""):gsub("[\r\n]", "")),
                      "WHY=", table.concat(why, "|"), ";\n")
      io.stdout:flush()
    end
    local bound = { mounts = { {"ro-bind", P, "/probe"} } }
    try("empty", lj.empty{ stdio = io3 }, P)
    try("container", lj.container(bound):with{ stdio = io3 })
    try("allowlist", lj.container(bound):with{ stdio = io3, seccomp = "allowlist" })
    try("strict", lj.untrusted(bound):with{ stdio = io3 })
    try("stdio-fd", lj.container(bound):with{ stdio = { "null", 1, "null" } }, nil, 1)
    try("fds", lj.container(bound):with{ fds = { [3] = 0 } }, nil, 3)
    try("none", lj.container(bound):with{ stdio = io3, seccomp = "none" })
    try("own-pty", lj.container(bound):with{ stdio = "pty" })
    try("pipes", lj.container(bound))
    ]=])
  f:close()
  os.execute("chmod 644 " .. inner)
  local h = assert(io.popen("script -qec 'lua5.4 " .. inner .. " " .. P ..
                            "' /dev/null < /dev/null"))
  local out = h:read("a")
  h:close()
  os.remove(inner)
  return (out:gsub("\r", ""))
]]

local ttycache = {}
-- tty(mode) -> {case = {NAME = result, WHY = where the rules say the terminal is}}
local function tty (mode)
  ttycache[mode] = ttycache[mode] or H.lua(mode, TTY)
  local t = {}
  for case, rest in ttycache[mode]:gmatch("([%w-]+): ([^\n]*)") do
    t[case] = {}
    for k, v in rest:gmatch("(%u[%u%d]*)=([^;]*);") do t[case][k] = v end
  end
  return t
end

local ptycache = {}
local function pty (mode)
  ptycache[mode] = ptycache[mode] or H.lua(mode, PTY)
  local t = {}
  for k, v in ptycache[mode]:gmatch("([%w-]+): ([^\n]*)") do t[k] = v end
  return t
end


-- N sandboxes whose payload tries, from its first instruction, to ptrace
-- PID 1: {outcome = count}.  An "ok ..." is an attach: "ok /usr/bin/lua5.4"
-- the spawner's child while it shares the caller's memory, "ok
-- /memfd:lunajail-init (deleted)" an init still dumpable.  The init makes
-- itself undumpable before it forks the payload, so there must be none.
local RACE = [[
  local P = BUILD .. "/probe"
  local counts = {}
  for _ = 1, %d do
    local r = assert(lj.run(lj.container{ argv = {"/probe", "init-race", "20000"},
                                          mounts = { {"ro-bind", P, "/probe"} } },
                            { timeout = 20 }))
    local k = r.stdout:match("^(.-)\n") or r.stdout
    counts[k] = (counts[k] or 0) + 1
  end
  return counts
]]
local RACES = os.getenv("LJ_VALGRIND") and 20 or 200


-- The walls of /dev and the tmpfs mounts (rows 14 and 31): the payload
-- tries to write into /dev and to fill /dev/shm and /tmp, in bytes and
-- in inodes; the setup writes more than /dev and the root can hold.
-- Each runs in the container, then in the same plan without the
-- protection: without the remount of /dev, or with a tmpfs step's size=
-- and nr_inodes= removed.  Errors come back as coreutils prints them.
local WALLS = [=[
  local NEW = require("lunajail.compile").NEWROOT
  local script = [[
    err () { out=$("$@" 2>&1) && echo ok || echo "${out##*: }"; }
    fill () { i=0; while [ $i -lt $2 ] && true 2>/dev/null > $1/f$i; do i=$((i+1)); done
              echo $i; rm -f $1/f*; }
    printf 'create\t%s\n' "$(err touch /dev/lunajail-x)"
    printf 'rename\t%s\n' "$(err mv /dev/ptmx /dev/lunajail-ptmx)"
    printf 'chmod\t%s\n' "$(err chmod 0777 /dev)"
    printf 'shm\t%s\n' "$(err dd if=/dev/zero of=/dev/shm/big bs=1M count=17 status=none)"
    rm -f /dev/shm/big
    printf 'shm-2m\t%s\n' "$(err dd if=/dev/zero of=/dev/shm/big bs=1M count=2 status=none)"
    rm -f /dev/shm/big
    printf 'shm-files\t%s\n' "$(fill /dev/shm 5000)"
    printf 'tmp-files\t%s\n' "$(fill /tmp 2000)"
  ]]
  local function parse (out)
    local t = {}
    for k, v in out:gmatch("([^\t\n]+)\t([^\n]*)") do t[k] = v end
    return t
  end
  local function run (plan)
    local c = assert(core.spawn(plan))
    local out, err = c:communicate(nil, 60)
    c:close()
    return parse(assert(out, err))
  end
  local function spawned (plan)
    local c, e = core.spawn(plan)
    if not c then return e.op .. " " .. e.errname end
    c:wait()
    c:close()
    return "spawned"
  end
  -- the plan without the remount of /dev
  local function writable (plan)
    for i, st in ipairs(plan.steps) do
      if st[1] == "mount" and st[3] == NEW .. "/dev" and st[5]:find("remount") then
        table.remove(plan.steps, i)
        break
      end
    end
    return plan
  end
  -- the plan with the tmpfs at target unbounded
  local function unbounded (plan, ...)
    for _, t in ipairs { ... } do
      local found
      for _, st in ipairs(plan.steps) do
        if st[1] == "mount" and st[4] == "tmpfs" and st[3] == NEW .. t then
          st[6], found = st[6]:gsub(",?size=%w+", ""):gsub(",?nr_inodes=%w+", ""), true
        end
      end
      assert(found, "no tmpfs at " .. t)
    end
    return plan
  end
  local r = lj.container{ argv = {"sh", "-c", script} }
  local res = { inside = run(r:steps()),
                writable = run(writable(r:steps())),
                unbounded = run(unbounded(r:steps(), "/dev/shm", "/tmp")),
                untrusted = run(lj.untrusted{ argv = {"sh", "-c", script} }:steps()) }
  -- the setup writes more than /dev (64k) and the root (16m) hold
  local dev = lj.container{ argv = {"true"},
                            files = { {"/dev/lunajail-big", ("x"):rep(128 * 1024)} } }
  res.dev = spawned(dev:steps())
  res["dev-unbounded"] = spawned(unbounded(dev:steps(), "/dev"))
  local root = lj.container{ argv = {"true"},
                             files = { {"/lunajail-big", ("x"):rep(17 * 1024 * 1024)} } }
  res.root = spawned(root:steps())
  res["root-unbounded"] = spawned(unbounded(root:steps(), ""))
  res["root-32m"] = spawned(root:with{ root_size = "32m" }:steps())
  -- every tmpfs the compiler makes: {target = data} of those without both bounds
  local loose, n = {}, 0
  for _, rc in ipairs { lj.container{}, lj.untrusted{}, lj.build{ work = "/tmp" },
                        lj.container{ mounts = { {"tmpfs", "/scratch"}, {"sysfs"},
                                                 {"dev", "/dev2", shm_size = "1g"} } } } do
    for _, st in ipairs((rc:with{ argv = {"true"} }:steps()).steps) do
      if st[1] == "mount" and st[4] == "tmpfs" then
        n = n + 1
        if not (st[6] or ""):match("size=[1-9]") or not (st[6] or ""):match("nr_inodes=[1-9]")
        then loose[st[3]] = st[6] or "" end
      end
    end
  end
  res.loose, res.tmpfs = loose, n
  return res
]=]
local wallscache = {}
local function walls (mode)
  wallscache[mode] = wallscache[mode] or H.lua(mode, WALLS)
  return wallscache[mode]
end


describe("escape catalogue", function()
  for _, mode in ipairs(H.modes) do
    describe("as " .. mode, function()
      it("runs every attempt to the end, inside and outside", function()
        local c, e, raw = results(mode)
        assert.equal(0, raw.c.code, raw.c.err)
        assert.equal(0, raw.e.code, raw.e.err)
        for _, check in ipairs(CHECKS) do
          assert.is_not_nil(c[check[1]], check[1] .. " inside")
          if not check.inside then assert.is_not_nil(e[check[1]], check[1]) end
        end
      end)

      it("seccomp state: one filter or more, in filter mode", function()
        local c, e = results(mode)
        assert.is_true(has(c.status, "Seccomp:2"), c.status)
        local n = tonumber(c.status:match("Seccomp_filters:(%d+)"))
        assert.is_true(n >= 1)
        assert.is_true(has(e.status, "Seccomp:0"), e.status)
        local _, _, raw = results(mode)
        assert.equal("seccomp", raw.c.last)              -- the last step before exec
      end)

      it("row 1: TIOCSTI cannot type into a terminal (CVE-2017-5226)", function()
        refused(mode, "ioctl-tiocsti", "err EPERM", "err EBADF")
        local c = results(mode)
        assert.equal("err ENXIO", c.tty)          -- no controlling terminal
        assert.equal("0", c.tty_nr)
        -- a real pty on fd 0: each protection alone refuses the injection
        local t = pty(mode)
        assert.equal("err EPERM", t.container, ptycache[mode])
        assert.equal("err EPERM", t["container-seccomp-only"])
        assert.equal("err EPERM", t["container-session-only"])
        -- the caller's session, nothing else: the byte is typed (and echoed)
        assert.equal("xok 0", t["empty-same-session"])
      end)

      it("a terminal of the host handed in cannot be changed: TIOCSETD, TCSETS, " ..
         "TIOCSWINSZ, TIOCEXCL ...", function()
        local t = tty(mode)
        local set = { "TIOCSETD", "TCSETS", "TCSETS2", "TIOCSWINSZ", "TIOCEXCL", "TCXONC" }
        local get = { "TCGETS", "TIOCGWINSZ", "FIONREAD", "FIONBIO", "FIOCLEX" }
        assert.is_table(t.empty, ttycache[mode])
        -- without lunajail's filter each works on the caller's terminal
        for _, k in ipairs(set) do assert.equal("ok 0", t.empty[k], k) end
        for _, case in ipairs { "container", "allowlist", "strict", "stdio-fd", "fds" } do
          for _, k in ipairs(set) do assert.equal("err EPERM", t[case][k], case .. " " .. k) end
          for _, k in ipairs(get) do assert.equal("ok 0", t[case][k], case .. " " .. k) end
        end
        assert.equal("stdin, stdout, stderr", t.container.WHY)
        assert.equal("stdout (fd 1)", t["stdio-fd"].WHY)
        assert.equal("fds[3]", t.fds.WHY)
        -- seccomp = "none": no protection at all (documented)
        for _, k in ipairs(set) do assert.equal("ok 0", t.none[k], "none " .. k) end
        -- a pty of the sandbox's own: full control, and no rules
        for _, k in ipairs(set) do assert.equal("ok 0", t["own-pty"][k], "own-pty " .. k) end
        assert.equal("", t["own-pty"].WHY)
        assert.equal("", t.pipes.WHY)                      -- no terminal: no rules
        for _, k in ipairs(set) do assert.equal("err ENOTTY", t.pipes[k], "pipes " .. k) end
      end)

      it("row 2: TIOCSTI with high bits in the command (CVE-2019-10063)", function()
        refused(mode, "ioctl-tiocsti-hi", "err EPERM", "err EBADF")
        assert.equal(hex(S.ERRNO | 1), hex(simulate("ioctl", { 0, 0xdeadbeef00005412 })))
      end)

      it("row 3: TIOCLINUX, the console's selection (CVE-2023-28100)", function()
        refused(mode, "ioctl-tioclinux", "err EPERM", "err EBADF")
        refused(mode, "ioctl-tioclinux-hi", "err EPERM", "err EBADF")
      end)

      it("row 4: the init's executable cannot be opened (CVE-2019-5736)", function()
        -- the init inside is not dumpable; a host process of ours is, outside
        local c, e = results(mode)
        assert.equal("err EACCES", c["init-exe"])
        assert.equal("err ENOENT", c["canary-exe"])
        assert.matches("^ok %d+$", e["canary-exe"])
      end)

      it("row 5: the init's fds are out of reach, ptrace of it fails (CVE-2016-9962)",
         function()
        local c, e = results(mode)
        assert.equal("refused", c["init-fds"])
        assert.equal("err EPERM", c["ptrace-init"])
        -- a host process of the same uid: unseen inside, traceable outside
        assert.equal("err ESRCH", c["ptrace-canary"])
        assert.equal("ok 0", e["ptrace-canary"])
        assert.equal("refused", c["canary-fds"])
        assert.equal("listed", e["canary-fds"])
      end)

      it("rows 4, 5, 9: PID 1 is out of the payload's reach from its first instruction",
         function()
        local counts = H.lua(mode, RACE:format(RACES))
        local text, attached = {}, 0
        for k, v in pairs(counts) do
          text[#text + 1] = v .. " x " .. k
          if k:match("^ok") then attached = attached + v end
        end
        table.sort(text)
        text = table.concat(text, ", ")
        assert.equal(0, attached, text)
      end)

      it("row 6: only stdio inside, though the host has fds without CLOEXEC; the cwd " ..
         "is reachable (CVE-2024-21626)", function()
        local c, e, raw = results(mode)
        assert.matches(" %d+=/etc ", raw.c.leaked .. " ")     -- a plain child sees them
        assert.equal("ok none", c.fds)
        assert.equal("ok none", e.fds)
        assert.equal("ok /", c.cwd)
        assert.equal("/", c.root)
      end)

      it("row 7: a symlink planted in a bound directory leads no setup write or " ..
         "mount out of the new root (CVE-2021-30465, CVE-2024-42472)", function()
        local r = H.lua(mode, [[
          local function tmpdir (what)
            local d = io.popen("mktemp -d /tmp/lunajail-" .. what .. ".XXXXXX"):read("l")
            os.execute("chmod 755 " .. d)
            return d
          end
          local work, out, root = tmpdir("work"), tmpdir("out"), tmpdir("root")
          -- any uid may write work: a plain bind, whose setup writes as the
          -- caller (an owner bind's setup writes as the sandbox's uid, which
          -- could not reach out even without the beneath step)
          os.execute("chmod 1777 " .. work)
          local function listing ()
            local h = io.popen("ls -A " .. out)
            local l = h:read("a"):gsub("\n", " ")
            h:close()
            return l
          end
          local res = {}
          local ok, err = pcall(function ()
            -- as the payload of an earlier run could leave them: through the
            -- documented staging layout, absolute and relative
            assert(core.symlink("/oldroot" .. out, work .. "/abs"))
            assert(core.symlink("../../../../../../../oldroot" .. out, work .. "/rel"))
            local attempts = {
              file = { files = { {"/work/abs/file", "planted"} } },
              dir = { dirs = { "/work/rel/dir" } },
              link = { symlinks = { {"/etc/passwd", "/work/abs/link"} } },
              tmpfs = { mounts = { {"tmpfs", "/work/rel/mnt"} } },
              bind = { mounts = { {"ro-bind", "/etc/hostname", "/work/abs/bound"} } },
            }
            for name, t in pairs(attempts) do
              t.work, t.argv = work, {"true"}
              local rc = lj.build(t)
              local c, e = lj.spawn(rc)
              if c then c:wait() c:close() end
              res[name] = (c and "spawned" or e.op .. " " .. e.errname) .. " | " .. listing()
              -- calibration: the same plan without its "beneath" step
              local plan = rc:steps()
              for i, st in ipairs(plan.steps) do
                if st[1] == "beneath" then table.remove(plan.steps, i) break end
              end
              local c2 = core.spawn(plan)
              if c2 then c2:wait() c2:close() end
              res[name .. "-without"] = listing()
              os.execute("rm -rf " .. out .. "/*")
            end
            -- a root whose /proc is a symlink out of it
            assert(core.symlink("/oldroot" .. out, root .. "/proc"))
            local c, e = lj.spawn(lj.container{ root = root, argv = {"true"},
                                                system = {} })
            if c then c:wait() c:close() end
            res.proc = (c and "spawned" or e.op .. " " .. e.errname) .. " | " .. listing()
          end)
          os.execute("rm -rf " .. work .. " " .. out .. " " .. root)
          if not ok then error(err, 0) end
          return res
        ]])
        -- refused at a setup step (the link leads nowhere inside the new
        -- root: ENOENT, or EEXIST for a mount point's parent that is no
        -- directory there), and nothing in the host's directory
        for _, k in ipairs { "file", "dir", "link", "tmpfs", "bind", "proc" } do
          assert.matches("^%l[%l_]* E[A-Z]+ | $", r[k], nil, false, k)
          assert.is_nil(r[k]:match("spawned"))
        end
        -- without the step, each lands in the host's directory
        assert.equal("file ", r["file-without"])
        assert.equal("dir ", r["dir-without"])
        assert.equal("link ", r["link-without"])
        assert.equal("mnt ", r["tmpfs-without"])
        assert.equal("bound ", r["bind-without"])
      end)

      it("row 8: setgroups cannot drop a group (CVE-2014-8989)", function()
        local c, e = results(mode)
        assert.equal("err EPERM", c.setgroups)
        if mode == "root" then
          assert.equal("ok 0", e.setgroups)                  -- root outside can
        else
          -- the user namespace of an unprivileged caller: the kernel's deny
          assert.equal("deny", c["setgroups-file"])
          assert.equal("err EPERM", e.setgroups)
          print("# calibration: setgroups as nobody is refused by the kernel outside " ..
                "too (no CAP_SETGID); inside, the user namespace's setgroups is deny")
        end
      end)

      it("row 10: the kernel keyring (CVE-2016-0728)", function()
        refused(mode, "keyctl", "err EPERM", "err EOPNOTSUPP")
        refused(mode, "add_key", "err EPERM", "err EFAULT")
        refused(mode, "request_key", "err EPERM", "err EFAULT")
        local c = results(mode)
        assert.equal("character special file", c["type-keys"])     -- /proc/keys masked
      end)

      it("row 11: no nested user namespace (CVE-2022-0185 and friends)", function()
        refused(mode, "unshare-user", "err EPERM", "ok 0")
        refused(mode, "clone-newuser", "err EPERM", "err EINVAL")
        refused(mode, "clone3", "err ENOSYS", "err EFAULT")
        local c, e = results(mode)
        assert.equal("refused", c["unshare-tool"])
        assert.equal("ok", e["unshare-tool"])
      end)

      it("row 12: no mount crosses back to the host, even from a shared one", function()
        local r = H.lua(mode, [[
          local P = BUILD .. "/probe"
          local function targets ()
            local t = {}
            for l in io.lines("/proc/self/mountinfo") do
              t[#t + 1] = l:match("^%S+ %S+ %S+ %S+ (%S+)")
            end
            return table.concat(t, " ")
          end
          if MODE ~= "root" then
            -- unprivileged: the host's table before and after spawns
            local before = targets()
            for _ = 1, 10 do assert(lj.run(lj.container{ argv = {"true"} })) end
            return { before = before, after = targets() }
          end
          -- root: this process's own mount namespace stands in for the
          -- host (whose table is never touched), with a shared mount as
          -- systemd makes them
          enter{"mount"}
          assert(core.mount(nil, "/", nil, {"rec", "private"}))   -- on any host
          local d = io.popen("mktemp -d /tmp/lunajail-shared.XXXXXX"):read("l")
          local ok, res = pcall(function ()
            os.execute("chmod 755 " .. d)
            assert(core.mount(d, d, nil, "bind"))
            assert(core.mount(nil, d, nil, "shared"))
            assert(core.mkdir_p(d .. "/m"))
            local before = targets()
            -- the right to mount, kept for this test only
            local r = lj.container{ argv = {"sh", "-c", "/probe mount-tmpfs /data/m; " ..
                                            "grep -c shared: /proc/self/mountinfo"},
                                    caps = {"sys_admin"},
                                    seccomp = { preset = "default", allow = {"mount"} },
                                    mounts = { {"ro-bind", P, "/probe"}, {"bind", d, "/data"} } }
            local inside = assert(lj.run(r, { timeout = 20 })).stdout
            local after = targets()
            for _ = 1, 10 do assert(lj.run(lj.container{ argv = {"true"} })) end
            local after10 = targets()
            -- calibration: the same plan without its first step
            local plan = r:steps()
            local first = plan.steps[1]
            assert(first[1] == "mount" and first[3] == "/" and first[5] == "rec,private")
            table.remove(plan.steps, 1)
            local c = assert(core.spawn(plan))
            local out = c:communicate(nil, 20)
            c:close()
            return { before = before, after = after, after10 = after10, inside = inside,
                     leaked = targets(), out = out, d = d }
          end)
          core.umount(d .. "/m", "detach")
          core.umount(d, "detach")
          os.execute("rm -rf " .. d)
          if not ok then error(res, 0) end
          return res
        ]])
        if mode ~= "root" then
          assert.equal(r.before, r.after)
          return
        end
        assert.equal("ok 0\n0\n", r.inside)           -- mounted, nothing shared inside
        assert.equal(r.before, r.after)
        assert.equal(r.before, r.after10)
        assert.equal("ok 0\n", r.out:match("^ok 0\n") or r.out)
        -- without "every mount private", the sandbox's mount shows on the host
        assert.is_truthy((" " .. r.leaked .. " "):find(" " .. r.d .. "/m ", 1, true))
      end)

      it("row 13: /proc/sys, core_pattern, sysrq-trigger and /sys are not writable",
         function()
        local c, e = results(mode)
        local m = mounts(c)
        for _, n in ipairs(PROC_RO) do
          if e["type-" .. n] ~= "absent" then
            assert.matches("^ro,", m["/proc/" .. n] or "", nil, "/proc/" .. n)
          end
        end
        for _, n in ipairs { "drop_caches", "core_pattern" } do
          assert.is_true(c[n] == "err EACCES" or c[n] == "err EROFS", n .. ": " .. c[n])
          assert.matches(mode == "root" and "^ok %d+$" or "^err EACCES$", e[n], nil, n)
        end
        if e["sysrq-trigger"] ~= "err ENOENT" then
          assert.matches("^err E", c["sysrq-trigger"])
        end
        assert.equal("err ENOENT", c.sysfs)                   -- no /sys at all
        assert.matches(mode == "root" and "^ok %d+$" or "^err EACCES$", e.sysfs)
      end)

      it("row 14: only the minimal /dev; no mknod; nodev everywhere else", function()
        local c, e = results(mode)
        assert.equal(DEV, table.concat((function ()
          local t = {}
          for x in c.dev:gmatch("[^;]+") do t[#t + 1] = x end
          table.sort(t)
          return t
        end)(), " "))
        refused(mode, "mknod", "err EPERM", { root = "ok 0", nobody = "err EPERM" },
                "kernel")
        for target, opts in pairs(mounts(c)) do
          if target ~= "/dev" and target:sub(1, 5) ~= "/dev/" then
            assert.matches("nodev", opts, nil, target)
          end
        end
        -- the host's devices (those it has) are not there
        local n = 0
        for _, d in ipairs { "mem", "kmsg", "kvm", "vda", "sda", "fuse" } do
          if e["dev-" .. d] ~= "err ENOENT" then
            n = n + 1
            assert.equal("err ENOENT", c["dev-" .. d], d)
          end
        end
        assert.is_true(n > 0)
      end)

      it("row 14: /dev is read-only once its nodes are in place, even where the " ..
         "payload owns it", function()
        local w = walls(mode)
        for _, k in ipairs { "create", "rename", "chmod" } do
          assert.equal("Read-only file system", w.inside[k], k)
        end
        -- without the remount: a user namespace maps only the sandbox's uid,
        -- so the payload owns /dev and changes it at will; as root, /dev is
        -- root's and its mode refuses the payload
        local want = mode == "root" and { create = "Permission denied",
                                          rename = "Permission denied",
                                          chmod = "Operation not permitted" }
                                    or { create = "ok", rename = "ok", chmod = "ok" }
        assert.same(want, { create = w.writable.create, rename = w.writable.rename,
                            chmod = w.writable.chmod })
        if mode == "root" then
          print("# calibration: as root, /dev without the remount is root's 0755: " ..
                "EACCES, not EROFS; as nobody the payload owns it")
        end
      end)

      it("row 15: no privilege from setuid binaries: NoNewPrivs, nosuid mounts", function()
        local c, _, raw = results(mode)
        assert.is_true(has(c.status, "NoNewPrivs:1"), c.status)
        for target, opts in pairs(mounts(c)) do
          assert.matches("nosuid", opts, nil, target)
        end
        if not H.root then return H.skip("a setuid-root file needs a root runner") end
        -- a setuid-root copy of id, bound in: the effective uid stays the sandbox's
        assert.matches("^%d+$", c.suid)
        assert.is_not.equal("0", c.suid)
        -- outside, after a plain drop to uid 65534, the same file makes root
        assert.equal("0\n", raw.e.suid)
      end)

      it("row 16: no capabilities left; open_by_handle_at refused (shocker)", function()
        local c, e = results(mode)
        for _, set in ipairs { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" } do
          assert.is_true(has(c.status, set .. ":0000000000000000"), set)
        end
        if mode == "root" then
          assert.is_false(has(e.status, "CapEff:0000000000000000"))
        end
        refused(mode, "open_by_handle_at", "err EPERM", "err EFAULT")
      end)

      it("row 17: x32 calls never pass the filter (firejail #87)", function()
        -- the exported filter, simulated: every x32 number is killed
        -- (the thread, where libseccomp cannot kill the process: under valgrind)
        for n = 0, 547 do
          local act = simulate(nil, nil, S.X86_64, S.X32_BIT | n)
          assert.is_true(act == S.KILL_PROCESS or act == S.KILL_THREAD,
                         "x32 " .. n .. ": " .. hex(act))
        end
        -- live, informative only: this kernel has no x32 ABI (ENOSYS outside)
        local c, e = results(mode)
        assert.is_nil(c["x32-getpid"]:match("^ok"))
        assert.equal("err ENOSYS", e["x32-getpid"])
        print("# calibration: x32 is ENOSYS outside (no CONFIG_X86_X32_ABI); inside " ..
              c["x32-getpid"] .. "; the simulation above is the conclusive check")
      end)

      it("row 18: i386 calls through int 0x80 are killed, never run", function()
        if ARCH ~= S.X86_64 then return H.skip("i386 emulation is x86_64's") end
        local c, e = results(mode)
        assert.equal("signal 31", c["i386-getpid"])          -- SIGSYS
        assert.equal("signal 31", c["i386-unshare"])         -- never EINVAL
        assert.matches("^ok %d+$", e["i386-getpid"])
        assert.equal("err EINVAL", e["i386-unshare"])
        local act = simulate(nil, nil, S.I386, 310)
        assert.is_true(act == S.KILL_PROCESS or act == S.KILL_THREAD, hex(act))
      end)

      it("row 19: io_uring is refused with an errno, not SIGSYS", function()
        refused(mode, "io_uring_setup", "err EPERM", "err EFAULT")
        refused(mode, "io_uring_enter", "err EPERM", "err EBADF")
        refused(mode, "io_uring_register", "err EPERM", "err EINVAL")
      end)

      it("row 20: personality cannot switch ASLR off (CVE-2012-0957 and kin)", function()
        refused(mode, "aslr-off", "err EPERM", "ok 0x0")
        local c, e = results(mode)
        assert.equal("refused", c["setarch-R"])
        assert.equal("ok", e["setarch-R"])
        -- documented: the query 0xffffffff has every flag bit, so it is refused too
        refused(mode, "persona-query", "err EPERM", "ok 0x0")
        -- UNAME26, the bug of CVE-2012-0957 itself (a 2.6 uname leaked stack)
        refused(mode, "uname26", "err EPERM", "ok 0x0", { "personality", { 0x0020000 } })
        assert.equal(hex(S.ERRNO | 1), hex(simulate("personality", { 0x1000020000 })))
        assert.equal(hex(S.ALLOW), hex(simulate("personality", { 0x0000008 })))
      end)

      it("row 21: perf_event_open (CVE-2013-2094)", function()
        refused(mode, "perf_event_open", "err EPERM", "err EFAULT")
      end)

      it("row 22: bpf (CVE-2017-16995, CVE-2021-3490)", function()
        refused(mode, "bpf", "err EPERM", { root = "err E2BIG", nobody = "err EPERM" },
                { "bpf", { 5 } })
      end)

      it("row 23: userfaultfd, and no /dev/userfaultfd", function()
        refused(mode, "userfaultfd", "err EPERM", "err EINVAL")
        local c, e = results(mode)
        assert.equal("err ENOENT", c["dev-userfaultfd"])
        if e["dev-userfaultfd"] == "err ENOENT" then
          print("# calibration: the host has no /dev/userfaultfd")
        end
      end)

      it("row 24: /proc/kcore, keys, timer_list, cmdline, interrupts ... are masked",
         function()
        local c, e = results(mode)
        local m, n, told = mounts(c), 0, {}
        for _, name in ipairs(PROC_MASKED) do
          local host = e["type-" .. name]
          if host ~= "absent" then                -- only what this kernel has
            n = n + 1
            assert.is_not_nil(m["/proc/" .. name], name)
            if host == "directory" then
              assert.equal("directory", c["type-" .. name])
              assert.matches("^ro,", m["/proc/" .. name])
            else
              assert.matches("^regular", host)
              assert.equal("character special file", c["type-" .. name], name)
              assert.is_true(c["read-" .. name] == "err EACCES" or
                             c["read-" .. name] == "ok 0", name)
              -- outside, the same caller reads it (or the kernel keeps it root's)
              local out = e["read-" .. name]
              if not NOREAD[name] then
                assert.is_truthy(out:match("^ok %d+$") or out == "err EACCES" or
                                 out == "err EPERM", name .. ": " .. out)
                told[name] = out ~= "ok 0" and out:match("^ok") ~= nil
              end
            end
          else
            assert.equal("absent", c["type-" .. name], name)
          end
        end
        assert.is_true(n > 0)
        -- what the masks hide is there to read without them
        for _, name in ipairs { "cmdline", "interrupts", "key-users" } do
          if e["type-" .. name] ~= "absent" then
            assert.is_true(told[name], name)
          end
        end
        assert.equal("err EPERM", c["umount-keys"])      -- a mask stays put
      end)

      it("row 25: no cgroup release_agent (CVE-2022-0492)", function()
        refused(mode, "unshare-user", "err EPERM", "ok 0")
        local c, e = results(mode)
        assert.equal("err ENOENT", c.cgroupfs)
        assert.matches("^ok %d+$", e.cgroupfs)
      end)

      it("row 26: nothing left of the old root; only the recipe's mounts", function()
        local c, _, raw = results(mode)
        assert.equal("", c.leftovers)
        assert.equal("/", c.root)
        local got, want = {}, {}
        for target in pairs(mounts(c)) do got[#got + 1] = target end
        for _, t in ipairs(raw.c.targets) do want[#want + 1] = t end
        table.sort(got)
        table.sort(want)
        assert.same(want, got)
      end)

      it("row 27: the host's abstract and TCP sockets are unreachable (CVE-2020-15257)",
         function()
        refused(mode, "abstract", "err ECONNREFUSED", "ok 0")
        refused(mode, "tcp", "err ECONNREFUSED", "ok 0")
        local c = results(mode)
        assert.equal("lo", c.netdevs)
      end)

      it("row 28: host processes cannot be signalled; kill -9 -1 stays inside", function()
        refused(mode, "kill-canary", "err ESRCH", "ok 0")
        local _, _, raw = results(mode)
        assert.equal("ok 0\n", raw.c.kill)              -- it killed, inside only
        assert.equal("ok 0\n", raw.c.alive)             -- the host canary lives
      end)

      it("row 29: chroot is refused", function()
        refused(mode, "chroot", "err EPERM", { root = "ok 0", nobody = "err EPERM" },
                { "chroot" })
        refused(mode, "chroot-badptr", "err EPERM", "err EFAULT")
      end)

      it("row 30: the new mount API, mount, umount, pivot_root and setns " ..
         "(CVE-2021-41133)", function()
        refused(mode, "fsopen", "err ENOSYS", { root = "err EFAULT", nobody = "err EPERM" })
        refused(mode, "open_tree", "err ENOSYS", "err EFAULT")
        refused(mode, "move_mount", "err ENOSYS", { root = "err EFAULT", nobody = "err EPERM" })
        refused(mode, "mount_setattr", "err ENOSYS", "err EINVAL")
        refused(mode, "mount", "err EPERM", "err EFAULT")
        refused(mode, "umount", "err EPERM", "err EFAULT")
        refused(mode, "pivot_root", "err EPERM", { root = "err EFAULT", nobody = "err EPERM" },
                { "pivot_root" })
        refused(mode, "setns", "err EPERM", "err EBADF")
      end)

      it("the calls libseccomp 2.5.4 cannot name are installed by number: " ..
         "statmount, listmount, open_tree_attr, listns", function()
        refused(mode, "statmount", "err ENOSYS", "err EFAULT")
        refused(mode, "listmount", "err ENOSYS", "err EFAULT")
        refused(mode, "open_tree_attr", "err ENOSYS", "err EFAULT")
        -- the exported filter holds them, by number (the same on x86_64 and
        -- aarch64); listns (Linux 6.19) is ENOSYS outside on older kernels
        for _, nr in ipairs { 457, 458, 467, 470 } do
          assert.equal(hex(S.ERRNO | ERRNO.ENOSYS), hex(simulate(nil, nil, nil, nr)), nr)
        end
        assert.equal(hex(S.ALLOW), hex(simulate(nil, nil, nil, 456)))   -- futex_requeue
        local c, e = results(mode)
        assert.equal("err ENOSYS", c.listns)
        if e.listns == "err ENOSYS" then
          print("# calibration: listns is ENOSYS outside too (Linux < 6.19); " ..
                "covered by the BPF simulation")
        end
      end)

      it("row 31: the host's SysV shm and /dev/shm are out of sight", function()
        refused(mode, "shm", "err ENOENT", "ok %d+")
        refused(mode, "shmfile", "err ENOENT", "ok %d+")
        local c, e = results(mode)
        assert.equal("", c["shm-ls"])
        assert.matches("lunajail%-canary%-%d+", e["shm-ls"])
      end)

      it("— every tmpfs is bounded, in bytes and in inodes", function()
        local w = walls(mode)
        -- the payload: /dev/shm 16m (untrusted: 1m), /tmp 4m with 1024 inodes
        assert.equal("No space left on device", w.inside.shm)
        assert.equal("ok", w.inside["shm-2m"])
        assert.equal("No space left on device", w.untrusted["shm-2m"])
        assert.is_true(tonumber(w.inside["shm-files"]) < 5000, w.inside["shm-files"])
        assert.is_true(tonumber(w.inside["tmp-files"]) < 2000, w.inside["tmp-files"])
        -- the same plan with those tmpfs unbounded: each fills (12 GB here)
        assert.equal("ok", w.unbounded.shm)
        assert.equal("5000", w.unbounded["shm-files"])
        assert.equal("2000", w.unbounded["tmp-files"])
        -- the setup: /dev and the root tmpfs, and root_size to raise it
        assert.equal("write_file ENOSPC", w.dev)
        assert.equal("spawned", w["dev-unbounded"])
        assert.equal("write_file ENOSPC", w.root)
        assert.equal("spawned", w["root-unbounded"])
        assert.equal("spawned", w["root-32m"])
        -- every tmpfs of the presets (staging, root, /dev, /dev/shm, /tmp,
        -- /home, masks) and of a recipe's own has both bounds
        assert.same({}, w.loose)
        assert.is_true(w.tmpfs >= 7)
      end)

      it("— the host's cgroup path is out of sight: a cgroup namespace", function()
        local c, e = results(mode)
        local n = 0
        for entry in c.cgroup:gmatch("[^;]+") do
          n = n + 1
          assert.matches(":/$", entry)
        end
        assert.is_true(n > 0)
        local shown = {}
        for entry in e.cgroup:gmatch("[^;]+") do
          if not entry:match(":/$") then shown[#shown + 1] = entry end
        end
        if #shown == 0 then
          return H.skip("the caller is in the root cgroup of every hierarchy: " ..
                        "no path to hide")
        end
        print("# calibration: outside, " .. table.concat(shown, " "))
      end)

      it("row 32: the environment is exactly PATH (and the shell's PWD)", function()
        local c, _, raw = results(mode)
        assert.equal("PATH=/usr/local/bin:/usr/bin:/bin;PWD=/", c.env)
        assert.is_not_nil(raw.c.home)                    -- the host has a HOME
      end)

      it("packet and raw sockets are refused", function()
        refused(mode, "packet-socket", "err EPERM", { root = "ok %d+", nobody = "err EPERM" },
                { "socket", { 17, 3, 0 } })
        refused(mode, "raw-socket", "err EPERM", { root = "ok %d+", nobody = "err EPERM" },
                "kernel")
        -- the kernel reads the family as an int: high bits do not pass
        refused(mode, "packet-hi", "err EAFNOSUPPORT",
                { root = "ok %d+", nobody = "err EPERM" })
      end)

      it("AF_VSOCK is refused: the host's port space (socket, socketpair, " ..
         "high bits)", function()
        local _, e = results(mode)
        if e.vsock == "err EAFNOSUPPORT" then
          print("# calibration: this host has no AF_VSOCK; covered by the BPF simulation")
        end
        refused(mode, "vsock", "err EAFNOSUPPORT", "ok %d+", { "socket", { 40, 1, 0 } })
        refused(mode, "vsock-hi", "err EAFNOSUPPORT", "ok %d+",
                { "socket", { 0x100000028, 1, 0 } })
        refused(mode, "vsock-pair", "err EAFNOSUPPORT", "err EOPNOTSUPP",
                { "socketpair", { 40, 1, 0 } })
        if e.vsock == "err EAFNOSUPPORT" then return end
        -- a host process holds a vsock port: a new network namespace binds
        -- the same port space (EADDRINUSE), the container cannot open one
        local r = H.lua(mode, [[
          local P = BUILD .. "/probe"
          local h = assert(io.popen("exec " .. P .. " listen-vsock 0 60"))
          local port, pid = assert(h:read("l")):match("^ok (%d+) (%d+)$")
          local ok, res = pcall(function ()
            local argv = { "/probe", "bind-vsock", port }
            local mounts = { {"ro-bind", P, "/probe"} }
            local ns = MODE == "root" and { "net" } or { "user", "net" }
            local empty = assert(lj.run(lj.empty{ namespaces = ns, argv = { P, "bind-vsock",
                                                                            port } }))
            local c = assert(lj.run(lj.container{ argv = argv, mounts = mounts }))
            return { empty = empty.stdout, container = c.stdout }
          end)
          os.execute("kill " .. pid)
          h:close()
          if not ok then error(res, 0) end
          return res
        ]])
        assert.equal("err EADDRINUSE\n", r.empty)        -- not namespaced
        assert.equal("err EAFNOSUPPORT\n", r.container)
      end)

      it("netlink: kobject uevents, audit, connector, netfilter refused; route " ..
         "and sock_diag stay", function()
        refused(mode, "uevent", "err EPROTONOSUPPORT", "ok 0",
                { "socket", { 16, 2, 15 } })
        refused(mode, "nl-audit", "err EPROTONOSUPPORT", "ok 0", { "socket", { 16, 2, 9 } })
        refused(mode, "nl-connector", "err EPROTONOSUPPORT", "ok 0",
                { "socket", { 16, 2, 11 } })
        refused(mode, "nl-netfilter", "err EPROTONOSUPPORT", "ok 0",
                { "socket", { 16, 2, 12 } })
        -- high bits in the protocol, and protocols newer than the table
        assert.equal(hex(S.ERRNO | 93), hex(simulate("socket", { 16, 2, 0x10000000f })))
        assert.equal(hex(S.ERRNO | 93), hex(simulate("socket", { 16, 2, 23 })))
        assert.equal(hex(S.ERRNO | 93), hex(simulate("socketpair", { 16, 2, 15 })))
        local c, e = results(mode)
        for _, k in ipairs { "nl-route", "nl-diag", "unix-pair" } do
          assert.equal(e[k], c[k], k)
          assert.matches("^ok %d+$", c[k], nil, k)
        end
      end)

      it("the other socket families that are kernel attack surface or not " ..
         "namespaced: AF_ALG, AF_KEY, TIPC, ...", function()
        -- this host's kernel may lack them (EAFNOSUPPORT outside too): the
        -- simulation is the conclusive check
        local EAFNOSUPPORT = S.ERRNO | 97
        for _, k in ipairs { "af_alg", "af_key", "af_tipc", "af_46" } do
          local c, e = results(mode)
          assert.equal("err EAFNOSUPPORT", c[k], k)
          if e[k] == c[k] then
            print("# calibration: " .. k .. " is EAFNOSUPPORT outside too; covered " ..
                  "by the BPF simulation")
          end
        end
        for af = 0, 60 do
          local want = (af == 1 or af == 2 or af == 10 or af == 16) and S.ALLOW
                       or af == 17 and S.ERRNO | 1 or EAFNOSUPPORT
          for _, call in ipairs { "socket", "socketpair" } do
            assert.equal(hex(want), hex(simulate(call, { af, 1, 0 })), call .. " " .. af)
          end
        end
        for _, af in ipairs { 1, 2, 10, 16, 0x7fffffff, -1 } do
          if af ~= 0x7fffffff and af ~= -1 then
            assert.equal(hex(EAFNOSUPPORT), hex(simulate("socket", { af | 1 << 32, 1, 0 })))
          else
            assert.equal(hex(EAFNOSUPPORT), hex(simulate("socket", { af, 1, 0 })))
          end
        end
      end)
    end)
  end
end)
