#!/usr/bin/env bash
# The command line itself: version, help, usage errors, and the generated configuration documents, which must match
# the committed .env.example and the README's configuration block byte for byte.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN

out=$("$B" version); check "version prints name and version" matches "$out" "^alexclaw [0-9]+\.[0-9]+\.[0-9]+$"
out=$("$B" help); rc=$?
check "help exits 0" [ "$rc" = 0 ]
for v in DATABASE_URL SECRET_KEY_BASE ALEXCLAW_DATA_DIR TELEGRAM_BOT_TOKEN; do
  check "help lists $v" grep -q "$v" <<<"$out"
done
"$B" >/dev/null 2>&1; check "no command is a usage error (2)" [ $? = 2 ]
err=$("$B" frobnicate 2>&1); rc=$?
check "unknown command is a usage error (2)" [ "$rc" = 2 ]
check "unknown command is named" grep -q frobnicate <<<"$err"
timeout 30 "$B" serve extra >/dev/null 2>&1; check "serve takes no arguments (2)" [ $? = 2 ]
"$B" config set onlykey >/dev/null 2>&1; check "config set without value is a usage error" [ $? = 2 ]
"$B" config reference pdf >/dev/null 2>&1; check "unknown reference format is a usage error" [ $? = 2 ]

"$B" config reference env >"$T_DIR/env.example"
check ".env.example matches the registry (regenerate: alexclaw config reference env > .env.example)" \
  diff -u "$AC_SOURCE_DIR/.env.example" "$T_DIR/env.example"
"$B" config reference markdown >"$T_DIR/config.md"
sed -n '/^<!-- config:begin -->$/,/^<!-- config:end -->$/p' "$AC_SOURCE_DIR/README.md" | sed '1d;$d' >"$T_DIR/readme.md"
check "README has a configuration block" [ -s "$T_DIR/readme.md" ]
check "README configuration block matches the registry (regenerate: alexclaw config reference markdown)" \
  diff -u "$T_DIR/readme.md" "$T_DIR/config.md"

finish
