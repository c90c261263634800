#!/usr/bin/env bash
# Browser tests of the admin UI: a real node, Debian's chromium, playwright-core from npm (pinned in package.json and
# package-lock.json, installed once per build directory into AC_BROWSER_DEPS). Screenshots of every page land in
# AC_SCREENSHOTS (the build directory's screenshots/) for humans to look at.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
DEPS=${AC_BROWSER_DEPS:-$AC_TEST_TMP/browser-deps}
SHOTS=${AC_SCREENSHOTS:-$AC_TEST_TMP/screenshots}
CHROMIUM=${AC_CHROMIUM:-$(command -v chromium || true)}
src=$AC_SOURCE_DIR/tests/browser
if [ -z "$CHROMIUM" ] || ! command -v node >/dev/null; then
  fail "chromium and node are needed (deploy/install-deps.sh --test installs them)"; finish
fi
mkdir -p "$DEPS"
if ! cmp -s "$src/package-lock.json" "$DEPS/package-lock.json" || [ ! -d "$DEPS/node_modules/playwright-core" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$DEPS/"
  (cd "$DEPS" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) >"$T_DIR/npm.log" 2>&1 ||
    { cat "$T_DIR/npm.log"; fail "npm ci (playwright-core from the npm registry)"; finish; }
fi
cp "$src/ui.mjs" "$DEPS/ui.mjs"

export DATABASE_URL=$(db_create browser) SECRET_KEY_BASE=$(new_secret) ALEXCLAW_DATA_DIR="$T_DIR/n" LOG_LEVEL=info
PW="pw-$(openssl rand -hex 12)"
start_node "$T_DIR/node.log" ADMIN_PASSWORD="$PW"; n=$LAST_PID
check "node ready" wait_log "$T_DIR/node.log" "event=ready" 60
port=$(sed -n 's/.*module=web event=listening .* port=\([0-9]*\) .*/\1/p' "$T_DIR/node.log" | head -1)
rm -rf "$SHOTS"
AC_WEB_URL="http://127.0.0.1:$port" AC_ADMIN_PASSWORD=$PW AC_SCREENSHOTS=$SHOTS AC_CHROMIUM=$CHROMIUM \
  timeout 180 node "$DEPS/ui.mjs" >"$T_DIR/ui.out" 2>&1
rc=$?
cat "$T_DIR/ui.out"
check "the admin UI in Chromium (tests/browser/ui.mjs)" [ "$rc" = 0 ]
check "a screenshot of each page" [ "$(ls "$SHOTS"/*.png 2>/dev/null | wc -l)" -ge 10 ]
check "the secret saved in the browser never reached the log" not grep -q "ghp-browser-secret" "$T_DIR/node.log"
stop_node "$n"
finish
