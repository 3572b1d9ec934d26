# lunajail: a Lua 5.4 module, in C, for scripted Linux sandboxes.
#
#   make            build build/lunajail/core.so
#   make demo       install missing Debian packages (root) or print the
#                   command, build, run examples/demo.lua
#   make test       the specs (busted under lua5.4), ending "N passed, N failed"
#   make asan | valgrind | gc   the specs under ASan+UBSan, valgrind,
#                   aggressive incremental GC
#   make lint       luacheck and cppcheck
#   make bench      bench/ (spawn and stdio against bwrap and raw C; the
#                   network modes' start-up)
#   make fuzz       bounded libFuzzer and Lua fuzz runs
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
LIBSRCS = $(filter-out csrc/init.c,$(SRCS))
OBJS    = $(LIBSRCS:csrc/%.c=$(B)/obj/%.o) $(B)/obj/initbin.o \
          $(B)/obj/clone3.o
SO      = $(B)/lunajail/core.so
INIT    = $(B)/lunajail-init

# The PID 1 init is exec'd inside sandboxes that have no libc: freestanding
# where csrc/sys.h has raw syscalls for the machine, else static glibc.
ARCH := $(shell uname -m)
ifneq ($(filter x86_64 aarch64,$(ARCH)),)
INIT_CFLAGS = -Os -ffreestanding -fno-stack-protector -fno-builtin \
              -nostdlib -static -fno-pie -DLJ_FREESTANDING
else
INIT_CFLAGS = -Os -static
endif

DEBIAN_PKGS = lua5.4 liblua5.4-dev libseccomp-dev libcap-dev lua-busted \
              pkg-config gcc make libc6-dev
TEST_PKGS   = bubblewrap uidmap iproute2 util-linux procps lua-luv lua-cqueues \
              lua-socket passt

export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;
export LUA_CPATH := $(CURDIR)/$(B)/?.so;;

.PHONY: all demo test check deps test-deps asan valgrind gc lint bench \
        fuzz install uninstall clean spec-helpers

all: $(SO)

$(B)/obj/%.o: csrc/%.c csrc/lj.h csrc/spawn.h | $(B)/obj
	@echo "CC $<"
	@$(CC) $(CFLAGS) $(LJ_CFLAGS) -c $< -o $@

$(INIT): csrc/init.c csrc/sys.h | $(B)/obj
	@echo "CC $< (PID 1 init)"
	@$(CC) $(INIT_CFLAGS) -Wall -Wextra -Werror -o $@ csrc/init.c
	@strip $@ 2>/dev/null || true

# the init binary, embedded in core.so as bytes (see csrc/initbin.S)
$(B)/obj/initbin.o: csrc/initbin.S $(INIT) | $(B)/obj
	@$(CC) -c -DINITBIN='"$(INIT)"' $< -o $@

$(B)/obj/clone3.o: csrc/clone3.S | $(B)/obj
	@$(CC) -c $< -o $@

$(SO): $(OBJS) | $(B)/lunajail
	@echo "LD $@"
	@$(CC) $(CFLAGS) $(LIBFLAG) $(LDFLAGS) -o $@ $(OBJS) $(DEP_LIBS)

$(B)/obj $(B)/lunajail:
	mkdir -p $@

# ---- the two quick-start commands ----------------------------------------

deps:
	@sh .ci/deps $(DEBIAN_PKGS)

test-deps:
	@sh .ci/deps $(DEBIAN_PKGS) $(TEST_PKGS)

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

bench: all $(B)/raw_spawn $(B)/raw_pipe
	$(LUA) bench/spawn.lua
	$(LUA) bench/stdio.lua
	$(LUA) bench/net.lua

$(B)/raw_spawn $(B)/raw_pipe: $(B)/%: bench/%.c | $(B)/obj
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $<

fuzz: all
	sh fuzz/run

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
