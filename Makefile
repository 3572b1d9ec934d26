# lunajail: a Lua 5.4 module, in C, for scripted Linux sandboxes.
#
#   make            build build/lunajail/core.so
#   make demo       install missing Debian packages (root) or print the
#                   command, build, run examples/demo.lua
#   make test       the specs (busted under lua5.4), ending "N passed, N failed"
#   make test-vm    the cgroup specs on a cgroup v2-only Linux 6.1 in QEMU
#                   (Debian's kernel, fetched into build/vm), a few minutes
#   make asan | valgrind | gc   the specs under ASan+UBSan, valgrind,
#                   aggressive incremental GC
#   make lint       luacheck and cppcheck
#   make bench      bench/: spawn, stdio and scale, as root and uid 65534,
#                   against bwrap and raw C (a few minutes); make bench-quick
#                   (or BENCH_N=, BENCH_MB=, BENCH_COLLECT=, BENCH_SCALE=,
#                   BENCH_SERVER=) for a short run; also the network modes'
#                   start-up, and the code-runner server under wrk
#   make fuzz       bounded libFuzzer and Lua fuzz runs
#   make api        docs/api.md from the code's comments (spec/api_spec.lua
#                   fails when it is stale)
#   make install    PREFIX, DESTDIR, INST_LIBDIR, INST_LUADIR (LuaRocks)

LUA_VERSION ?= 5.4
LUA         ?= lua$(LUA_VERSION)
PKG_CONFIG  ?= pkg-config
LUA_INCDIR  ?= $(shell $(PKG_CONFIG) --variable=includedir lua$(LUA_VERSION) 2>/dev/null)/lua$(LUA_VERSION)
DEP_CFLAGS  := $(shell $(PKG_CONFIG) --cflags libseccomp libcap 2>/dev/null)
DEP_LIBS    ?= $(shell $(PKG_CONFIG) --libs libseccomp libcap 2>/dev/null)

CC       ?= cc
CFLAGS   ?= -O2 -g
WERROR   ?= -Werror
WARN      = -Wall -Wextra $(WERROR) -Wshadow -Wpointer-arith -Wcast-align \
            -Wwrite-strings -Wstrict-prototypes -Wmissing-prototypes \
            -Wmissing-declarations -Wredundant-decls -Wundef
LJ_CFLAGS = -std=gnu11 -fPIC -fvisibility=hidden \
            -fstack-protector-strong $(WARN) -I$(LUA_INCDIR) $(DEP_CFLAGS)
LIBFLAG  ?= -shared
LDFLAGS  ?=

PREFIX      ?= /usr/local
INST_LIBDIR ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
INST_LUADIR ?= $(PREFIX)/share/lua/$(LUA_VERSION)

B       = build
SRCS    = $(wildcard csrc/*.c)
LIBSRCS = $(filter-out csrc/runner.c,$(SRCS))
OBJS    = $(LIBSRCS:csrc/%.c=$(B)/obj/%.o) $(B)/obj/runnerbin.o \
          $(B)/obj/clone3.o
SO      = $(B)/lunajail/core.so
RUNNER  = $(B)/lunajail-runner

# lunajail-runner applies a plan's steps in the sandbox (csrc/runner.c):
# the same concern files, built with LJ_RUNNER (each op's apply, none of
# its Lua: the linker drops what nothing reaches), static, because it
# runs where there may be no libc; never with sanitizers.  With musl
# (Debian's musl-tools) where there is one: a static glibc program spends
# hundreds of microseconds starting (its CPU feature probes trap to the
# hypervisor on a VM), a musl one almost none -- and every sandbox starts
# as this program
MULTIARCH   := $(shell $(CC) -print-multiarch 2>/dev/null)
RUNNER_CC   ?= $(if $(shell command -v musl-gcc 2>/dev/null),musl-gcc,$(CC))
RUNNER_INCS  = $(if $(filter musl-gcc,$(RUNNER_CC)),-idirafter /usr/include \
               $(if $(MULTIARCH),-idirafter /usr/include/$(MULTIARCH)))
RUNNER_CFLAGS = -O2 -g -std=gnu11 -DLJ_RUNNER -ffunction-sections \
                -fdata-sections -fstack-protector-strong $(WARN) \
                -Wno-unused-function -I$(LUA_INCDIR) $(DEP_CFLAGS) $(RUNNER_INCS)
ROBJS   = $(SRCS:csrc/%.c=$(B)/robj/%.o)

DEBIAN_PKGS = lua5.4 liblua5.4-dev libseccomp-dev libcap-dev lua-busted \
              pkg-config gcc make libc6-dev musl-tools
TEST_PKGS   = bubblewrap uidmap iproute2 util-linux procps lua-luv lua-cqueues \
              lua-socket passt qemu-system-x86 xz-utils

export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;
export LUA_CPATH := $(CURDIR)/$(B)/?.so;;

.PHONY: all env demo test check deps test-deps asan valgrind gc lint bench bench-quick \
        fuzz install uninstall clean spec-helpers test-vm api

all: $(SO)

$(B)/obj/%.o: csrc/%.c csrc/lj.h csrc/spawn.h | $(B)/obj
	@echo "CC $<"
	@$(CC) $(CFLAGS) $(LJ_CFLAGS) -c $< -o $@

$(B)/robj/%.o: csrc/%.c csrc/lj.h csrc/spawn.h | $(B)/robj
	@echo "CC $< (runner)"
	@$(RUNNER_CC) $(RUNNER_CFLAGS) -c $< -o $@

$(RUNNER): $(ROBJS)
	@echo "LD $@"
	@$(RUNNER_CC) -static -Wl,--gc-sections -o $@ $(ROBJS)
	@strip $@ 2>/dev/null || true

# the runner binary, embedded in core.so as bytes (see csrc/runnerbin.S)
$(B)/obj/runnerbin.o: csrc/runnerbin.S $(RUNNER) | $(B)/obj
	@$(CC) -c -DRUNNERBIN='"$(RUNNER)"' $< -o $@

$(B)/obj/clone3.o: csrc/clone3.S | $(B)/obj
	@$(CC) -c $< -o $@

$(SO): $(OBJS) | $(B)/lunajail
	@echo "LD $@"
	@$(CC) $(CFLAGS) $(LIBFLAG) $(LDFLAGS) -o $@ $(OBJS) $(DEP_LIBS)

$(B)/obj $(B)/robj $(B)/lunajail:
	mkdir -p $@

# ---- the two quick-start commands ----------------------------------------

deps:
	@sh .ci/deps $(DEBIAN_PKGS)

test-deps:
	@sh .ci/deps $(DEBIAN_PKGS) $(TEST_PKGS)

# the module from this checkout for your own shell: eval "$(make -s env)"
# (then lua5.4 examples/enter.lua, or any script, finds it)
env:
	@echo 'export LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;"'
	@echo 'export LUA_CPATH="$(CURDIR)/$(B)/?.so;;"'

demo: deps
	@$(MAKE) --no-print-directory all
	$(LUA) examples/demo.lua

test check: test-deps
	@$(MAKE) --no-print-directory all spec-helpers
	@sh spec/run

# the escape catalogue's probe (spec/escape_spec.lua): static, so it runs
# in a sandbox that has no libc
PROBE = $(B)/probe

spec-helpers: $(PROBE)

$(PROBE): spec/helpers/probe.c | $(B)/obj
	@echo "CC $< (spec helper)"
	@$(CC) -O2 -Wall -Wextra -Werror -static -o $@ $<

# the cgroup specs on a second kernel, cgroup v2 only: Debian's own kernel
# under QEMU (TCG here, KVM where a real one exists), the host's tree
# read-only over 9p (vm/: fetch, run, init, test)
test-vm: test-deps
	@$(MAKE) --no-print-directory all spec-helpers
	@B=$(B) sh vm/test

# ---- variants of the spec run ----------------------------------------------

ASAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=all

asan:
	$(MAKE) B=build/asan all spec-helpers CFLAGS="$(ASAN_FLAGS)" LDFLAGS="$(ASAN_FLAGS)"
	LJ_ASAN=1 LJ_BUILD=build/asan sh spec/run

valgrind: all spec-helpers
	LJ_VALGRIND=1 LJ_TIMEOUT=7200 sh spec/run

gc: all spec-helpers
	LJ_GC=1 sh spec/run

lint:
	luacheck --quiet .
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	  --inline-suppr -D_GNU_SOURCE -DLLONG_MAX=9223372036854775807LL \
	  -I$(LUA_INCDIR) csrc

# runs per row, MB streamed, MB collected, containers at once
BENCH_N       ?= 300
BENCH_MB      ?= 1024
BENCH_COLLECT ?= 300
BENCH_SCALE   ?= 1000
BENCH_FEAT    ?= 100
# bench/server.lua: seconds per wrk row, requests in the burst, sandboxes held
BENCH_SERVER  ?= 10 1000 200

bench: all $(B)/raw_spawn $(B)/raw_pipe
	$(LUA) bench/spawn.lua $(BENCH_N)
	$(LUA) bench/steps.lua
	$(LUA) bench/stdio.lua $(BENCH_MB) $(BENCH_COLLECT)
	$(LUA) bench/scale.lua $(BENCH_SCALE)
	$(LUA) bench/async.lua $(BENCH_N)
	$(LUA) bench/net.lua
	$(LUA) bench/features.lua $(BENCH_FEAT)
	$(LUA) bench/server.lua $(BENCH_SERVER)

bench-quick:
	$(MAKE) bench BENCH_N=40 BENCH_MB=128 BENCH_COLLECT=64 BENCH_SCALE=100 \
	  BENCH_FEAT=10 BENCH_SERVER="3 200 50"

$(B)/raw_spawn $(B)/raw_pipe: $(B)/%: bench/%.c | $(B)/obj
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

fuzz: all
	sh fuzz/run

# the generated reference: the C files' header comments, the op registry,
# the Lua modules' comments (tools/apidoc.lua)
api:
	$(LUA) tools/apidoc.lua docs/api.md

# ---- install ---------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(INST_LIBDIR)/lunajail
	install -m 755 $(SO) $(DESTDIR)$(INST_LIBDIR)/lunajail/core.so
	cd lua && find lunajail -name '*.lua' | while read -r f; do \
	  install -D -m 644 "$$f" "$(DESTDIR)$(INST_LUADIR)/$$f" || exit 1; done

uninstall:
	rm -rf $(DESTDIR)$(INST_LIBDIR)/lunajail $(DESTDIR)$(INST_LUADIR)/lunajail

clean:
	rm -rf $(B)
