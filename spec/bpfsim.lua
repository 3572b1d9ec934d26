-- spec/bpfsim.lua: runs a seccomp BPF program (filter:export()) on a
-- made-up system call, the way the kernel would, and returns the action.
-- Classic BPF as seccomp allows it: loads of struct seccomp_data words,
-- ALU, jumps, scratch memory, returns.
--
--   local S = require "bpfsim"
--   local prog = S.decode(bytes)
--   S.run(prog, { nr = 83, arch = S.X86_64, args = { 0, 0x5401 } })
--     --> 0x00050001 (SECCOMP_RET_ERRNO | EPERM)

local S = {}

S.X86_64 = 0xC000003E            -- AUDIT_ARCH_X86_64 (x32 too)
S.I386 = 0x40000003              -- AUDIT_ARCH_I386
S.AARCH64 = 0xC00000B7           -- AUDIT_ARCH_AARCH64
S.X32_BIT = 0x40000000           -- __X32_SYSCALL_BIT

S.KILL_PROCESS = 0x80000000
S.KILL_THREAD = 0x00000000
S.TRAP = 0x00030000
S.ERRNO = 0x00050000             -- | errno
S.TRACE = 0x7ff00000             -- | data
S.LOG = 0x7ffc0000
S.ALLOW = 0x7fff0000

-- bytes -> list of {code, jt, jf, k} (struct sock_filter, host order)
function S.decode (bytes)
  assert(#bytes > 0 and #bytes % 8 == 0, "BPF length not a multiple of 8")
  local prog = {}
  for i = 1, #bytes, 8 do
    local code, jt, jf, k = string.unpack("=I2I1I1I4", bytes, i)
    prog[#prog + 1] = { code = code, jt = jt, jf = jf, k = k }
  end
  return prog
end

-- the 32-bit word at offset off of struct seccomp_data (little endian)
local function word (d, off)
  local function half (v, hi) return hi and (v >> 32) & 0xffffffff
                                         or v & 0xffffffff end
  assert(off % 4 == 0 and off < 64, "bad seccomp_data offset " .. off)
  if off == 0 then return d.nr & 0xffffffff end
  if off == 4 then return d.arch end
  if off < 16 then return half(d.ip or 0, off == 12) end
  local a = (off - 16) // 8 + 1
  return half(d.args and d.args[a] or 0, (off - 16) % 8 == 4)
end

local ALU = {
  [0x00] = function (a, b) return a + b end,
  [0x10] = function (a, b) return a - b end,
  [0x20] = function (a, b) return a * b end,
  [0x30] = function (a, b) return a // b end,
  [0x40] = function (a, b) return a | b end,
  [0x50] = function (a, b) return a & b end,
  [0x60] = function (a, b) return a << b end,
  [0x70] = function (a, b) return a >> b end,
  [0x80] = function (a) return -a end,
  [0xa0] = function (a, b) return a ~ b end,
}

local JMP = {
  [0x10] = function (a, b) return a == b end,
  [0x20] = function (a, b) return a > b end,
  [0x30] = function (a, b) return a >= b end,
  [0x40] = function (a, b) return a & b ~= 0 end,
}

-- BPF_LD and BPF_LDX: the value loaded
local function load (c, k, d, mem)
  if c == 0x20 then return word(d, k) end                -- ld [k]
  if c == 0x00 or c == 0x01 then return k end            -- ld/ldx #k
  if c == 0x60 or c == 0x61 then return mem[k] or 0 end  -- ld/ldx M[k]
  if c == 0x80 or c == 0x81 then return 64 end           -- ld/ldx #len
  error(("unsupported load 0x%x"):format(c))
end

-- BPF_JMP: how far to jump
local function jump (ins, A, X)
  local op = ins.code & 0xf0
  if op == 0x00 then return ins.k end                    -- ja
  local f = assert(JMP[op], "unsupported jump")
  return f(A, (ins.code & 8) ~= 0 and X or ins.k) and ins.jt or ins.jf
end

-- runs prog on d = {nr=, arch=, ip=, args={a0, ..., a5}}; returns the
-- program's 32-bit return value
function S.run (prog, d)
  local A, X, pc, mem = 0, 0, 1, {}
  for _ = 1, 100000 do
    local ins = assert(prog[pc], "ran off the end of the program")
    local c, k = ins.code, ins.k
    local class = c & 7
    if class == 0 then A = load(c, k, d, mem)              -- BPF_LD
    elseif class == 1 then X = load(c, k, d, mem)          -- BPF_LDX
    elseif class == 2 then mem[k] = A                      -- BPF_ST
    elseif class == 3 then mem[k] = X                      -- BPF_STX
    elseif class == 4 then                                 -- BPF_ALU
      local f = assert(ALU[c & 0xf0], "unsupported alu")
      A = f(A, (c & 8) ~= 0 and X or k) & 0xffffffff
    elseif class == 5 then pc = pc + jump(ins, A, X)       -- BPF_JMP
    elseif class == 6 then                                 -- BPF_RET
      return (c & 0x18) == 0 and k or A
    elseif c & 0xf8 == 0 then X = A                        -- tax
    else A = X end                                         -- txa
    pc = pc + 1
  end
  error("no return")
end

return S
