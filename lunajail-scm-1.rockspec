rockspec_format = "3.0"
package = "lunajail"
version = "scm-1"
source = {
  url = "git+https://example.invalid/lunajail.git",
}
description = {
  summary = "Scripted Linux sandboxes for Lua 5.4",
  detailed = [[
    A C module exposing namespaces, mounts, pivot_root, rlimits, ids,
    capabilities (libcap), seccomp (libseccomp), Landlock and exec to Lua,
    a spawner that applies them between clone and exec and says exactly
    which step failed, a non-blocking child object, and sandbox recipes
    as plain Lua tables with a secure default container.
  ]],
  license = "MIT",
  labels = { "sandbox", "container", "namespaces", "seccomp", "linux" },
}
supported_platforms = { "linux" }
dependencies = { "lua >= 5.4, < 5.5" }
external_dependencies = {
  SECCOMP = { header = "seccomp.h", library = "seccomp" },
  LIBCAP = { header = "sys/capability.h", library = "cap" },
}
build = {
  type = "make",
  build_target = "all",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LIBFLAG = "$(LIBFLAG)",
    LUA_INCDIR = "$(LUA_INCDIR)",
    WERROR = "",
    DEP_LIBS = "-L$(SECCOMP_LIBDIR) -L$(LIBCAP_LIBDIR) -lseccomp -lcap",
  },
  install_variables = {
    INST_LIBDIR = "$(LIBDIR)",
    INST_LUADIR = "$(LUADIR)",
  },
}
