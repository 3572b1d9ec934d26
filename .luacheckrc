std = "lua54"
max_line_length = 100
max_cyclomatic_complexity = 32  -- flat lists of checks count every and/or
include_files = { "lua/**/*.lua", "spec/**/*.lua", "examples/**/*.lua",
                  "bench/**/*.lua", "*.rockspec", ".busted", ".luacheckrc" }
files["spec/**/*.lua"] = { std = "+busted" }
files["*.rockspec"] = { std = "+rockspec" }
-- snippets run by spec/helper.lua see these
files["spec/helper.lua"] = { globals = { "pending" } }
