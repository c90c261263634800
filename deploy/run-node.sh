#!/usr/bin/env bash
# Quick start, command 1: installs what is missing, builds, and runs one node in the foreground (Ctrl-C stops it).
#
# With no DATABASE_URL the node runs its own PostgreSQL server under the data directory. On first start this
# script creates SECRET_KEY_BASE and ADMIN_PASSWORD (unless you give them) and keeps them in
# $ALEXCLAW_DATA_DIR/alexclaw.env (mode 0600); it prints where, never the values.
set -euo pipefail
cd "$(dirname "$0")/.."

# ALEXCLAW_BIN (for the project's own tests): run that binary instead of installing and building.
bin=${ALEXCLAW_BIN:-build/node/alexclaw}
if [ -z "${ALEXCLAW_BIN:-}" ]; then
  ./deploy/install-deps.sh
  echo "run-node: building (build/node)"
  cmake -S . -B build/node -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAC_TESTS=OFF >/dev/null
  cmake --build build/node -j"$(nproc)" >build/node/build.log 2>&1 || { tail -30 build/node/build.log; exit 1; }
fi

export ALEXCLAW_DATA_DIR="${ALEXCLAW_DATA_DIR:-$PWD/var}"
mkdir -p "$ALEXCLAW_DATA_DIR"
envfile="$ALEXCLAW_DATA_DIR/alexclaw.env"
# The secrets file must be ours and a plain file: never write secrets into a file another user can read or swap.
if [ -L "$envfile" ] || { [ -e "$envfile" ] && [ ! -O "$envfile" ]; }; then
  echo "run-node: $envfile is a symbolic link or belongs to another user; refusing to use it" >&2
  exit 1
fi
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
(
  umask 077
  touch "$envfile"
  chmod 0600 "$envfile"
  if [ -z "${SECRET_KEY_BASE:-}" ] && ! grep -q '^SECRET_KEY_BASE=' "$envfile"; then
    echo "SECRET_KEY_BASE=$(random_hex 48)" >>"$envfile"
    echo "run-node: created SECRET_KEY_BASE in $envfile"
  fi
  if [ -z "${ADMIN_PASSWORD:-}" ] && ! grep -q '^ADMIN_PASSWORD=' "$envfile"; then
    echo "ADMIN_PASSWORD=$(random_hex 12)" >>"$envfile"
    echo "run-node: created ADMIN_PASSWORD in $envfile (read it there to log in)"
  fi
)
# Values given in the environment win over the file.
while IFS='=' read -r name value; do
  case "$name" in SECRET_KEY_BASE|ADMIN_PASSWORD) [ -n "${!name:-}" ] || export "$name=$value" ;; esac
done <"$envfile"
echo "run-node: secrets file $envfile (mode 0600); data directory $ALEXCLAW_DATA_DIR"
exec "$bin" serve
