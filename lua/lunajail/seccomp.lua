-- lunajail.seccomp: the seccomp presets of recipes.
--
--   "default"  everything is allowed except what lets a sandbox attack
--              the kernel or leave its namespaces: a deny-list, each
--              entry with its reason (M.reasons)
--   "strict"   the default, and also ptrace and process_vm_*, every
--              personality change, socket families other than unix,
--              inet and inet6, and the older file-system-event calls
--   "none"     no filter
--   a table    {preset = "default", deny = {"socket", ...},
--               allow = {"ptrace", ...}} extends or relaxes a preset;
--              any other table is a filter spec for core.seccomp_filter
--
-- Calls of other architectures (x32, and i386 through int 0x80 on
-- x86_64) kill the process: libseccomp checks the architecture first.
-- Most denials are EPERM; the new mount API and clone3 get ENOSYS, so
-- libc and tools fall back to the calls that are checked (mount(2) is
-- EPERM; clone(2) with namespace flags is EPERM).

local core = require "lunajail.core"

local M = {}

local EPERM, ENOSYS = "errno:EPERM", "errno:ENOSYS"

-- {name, action, reason, comparisons...}
local default = {
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
  { "socket", EPERM, "packet sockets: raw frames", { "a0", "==", 17 } },
}

-- clone(2) with a namespace flag, one rule per flag (a0 on x86_64 and
-- aarch64)
for _, f in ipairs { 0x00020000, 0x04000000, 0x08000000, 0x10000000,
                     0x20000000, 0x40000000, 0x02000000, 0x00000080 } do
  default[#default + 1] = { "clone", EPERM, "clone with a namespace flag",
                            { "a0", "&=", f, f } }
end

-- personality flags that weaken exec (ASLR off, executable data, ...)
for _, f in ipairs { 0x0040000, 0x0400000, 0x0200000, 0x0100000 } do
  default[#default + 1] = { "personality", EPERM,
                            "personality flags that weaken ASLR and memory protection",
                            { "a0", "&=", f, f } }
end

local strict = {
  { "ptrace", EPERM, "no tracing at all" },
  { "process_vm_readv", EPERM, "no reading other processes' memory" },
  { "process_vm_writev", EPERM, "no writing other processes' memory" },
  { "personality", EPERM, "no execution domain changes" },
  { "fanotify_init", EPERM, "file-system-wide events" },
  { "kcmp", EPERM, "comparing other processes' kernel objects" },
}
-- socket families: unix (1), inet (2), inet6 (10) only
for _, af in ipairs { 3, 4, 5, 6, 8, 9, 11, 12, 13, 16, 17, 18, 19, 20, 21, 22,
                      23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37,
                      38, 39, 40, 41, 42, 43, 44, 45, 46 } do
  strict[#strict + 1] = { "socket", EPERM, "socket families other than unix and IP",
                          { "a0", "==", af } }
end

local function exists (name)
  return core.seccomp_resolve(name) ~= nil
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

local function rules (list, out, reasons)
  for _, r in ipairs(list) do
    if exists(r[1]) then
      local rule = { r[2], r[1] }
      for i = 4, #r do rule[#rule + 1] = r[i] end
      out[#out + 1] = rule
      reasons[r[1]] = reasons[r[1]] or r[3]
    end
  end
end

-- the filter spec of a preset, with its rules' reasons
local function preset (name, deny, allow)
  local out, reasons = {}, {}
  local skip = {}
  for _, n in ipairs(allow or {}) do skip[n] = true end
  local list = {}
  for _, r in ipairs(default) do if not skip[r[1]] then list[#list + 1] = r end end
  if name == "strict" then
    for _, r in ipairs(strict) do
      if not skip[r[1]] then
        -- strict's plain rule replaces the default's narrower ones
        if #r == 3 then
          for i = #list, 1, -1 do if list[i][1] == r[1] then table.remove(list, i) end end
        end
        list[#list + 1] = r
      end
    end
  end
  for _, n in ipairs(deny or {}) do
    for i = #list, 1, -1 do if list[i][1] == n then table.remove(list, i) end end
    list[#list + 1] = { n, EPERM, "denied by the recipe" }
  end
  rules(list, out, reasons)
  return { default = "allow", badarch = killaction(), rules = out }, reasons
end

local cache = {}

-- spec(v) -> a filter (or spec) for the seccomp step, and a one-line
-- summary for explain()
function M.spec (v)
  if v == "default" or v == "strict" then
    if not cache[v] then
      local spec, reasons = preset(v)
      cache[v] = { core.seccomp_filter(spec), spec, reasons }
    end
    local c = cache[v]
    return c[1], ("preset %q, %d rules"):format(v, #c[2].rules)
  end
  if v.preset or v.allow or v.deny then
    local spec = preset(v.preset or "default", v.deny, v.allow)
    for _, n in ipairs(v.deny or {}) do
      if not exists(n) then
        error(("lunajail: recipe.seccomp.deny: unknown syscall %q"):format(n), 0)
      end
    end
    return core.seccomp_filter(spec), ("preset %q, %d rules (%d denied, %d allowed " ..
      "by the recipe)"):format(v.preset or "default", #spec.rules, #(v.deny or {}),
      #(v.allow or {}))
  end
  return core.seccomp_filter(v), ("a filter of the recipe's own, %d rules")
                                 :format(#(v.rules or {}))
end

-- the rules of a recipe's seccomp field, for explain and the docs:
-- {{name, action, reason}, ...}, sorted, one per call
function M.list (v)
  local spec, reasons
  if type(v) ~= "table" then spec, reasons = preset(v or "default")
  elseif v.preset or v.allow or v.deny then
    spec, reasons = preset(v.preset or "default", v.deny, v.allow)
  else spec, reasons = v, {} end
  local out, seen = {}, {}
  for _, r in ipairs(spec.rules or {}) do
    if not seen[r[2]] then
      seen[r[2]] = true
      out[#out + 1] = { r[2], r[1], reasons[r[2]] or (#r > 2 and "some arguments" or "") }
    end
  end
  table.sort(out, function (a, b) return a[1] < b[1] end)
  return out
end

return M
