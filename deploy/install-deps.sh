#!/usr/bin/env bash
# Installs the Debian 12 packages AlexClaw/C needs, and nothing when they are all present.
#   deploy/install-deps.sh          build + run a node
#   deploy/install-deps.sh --test   also everything the test suite uses (Erlang peers, Chromium, Python, fuzzing)
# Idempotent: it asks dpkg first and runs apt-get only for what is missing. Needs root (or sudo).
set -euo pipefail

want_test=0
case "${1:-}" in
  --test) want_test=1 ;;
  "") ;;
  *) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac

# Build and run a node.
pkgs=(
  build-essential cmake pkg-config
  libpq-dev libjansson-dev libssl-dev libcurl4-openssl-dev libh2o-evloop-dev
  liblua5.4-dev libseccomp-dev liboath-dev libqrencode-dev libpng-dev zlib1g-dev
  erlang-dev erlang-base
  postgresql postgresql-client
  ca-certificates procps gzip
)
# Tests, fuzzing, benchmarks.
test_pkgs=(
  libcmocka-dev
  erlang-nox elixir
  python3 python3-cryptography
  chromium
  clang libclang-rt-14-dev
  wrk curl iproute2 util-linux openssl clang-format git
  nginx-light
)
[ "$want_test" = 1 ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done
# Node.js and npm for the browser tests: any installed node >= 18 will do (Debian's is 18).
if [ "$want_test" = 1 ]; then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

# The embedded PostgreSQL server's own system user (not the shared "postgres" account).
ensure_user() {
  getent passwd alexclaw >/dev/null 2>&1 && return 0
  if [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: need root or sudo to create the system user alexclaw" >&2; return 1
  fi
  $SUDO useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin alexclaw
  echo "install-deps: created system user alexclaw (runs the embedded PostgreSQL server)"
}

if [ ${#missing[@]} -eq 0 ]; then
  ensure_user
  exit 0
fi

if [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; then
  echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# Packages that ship a service (nginx, for the reverse-proxy test) must not start one: the tests run their own copy on
# loopback. policy-rc.d is Debian's way to say so during an install; ours is removed afterwards.
guard=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod 0755 /usr/sbin/policy-rc.d && guard=1
fi
rc=0
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
[ "$guard" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
[ "$rc" = 0 ] || exit "$rc"
if [[ " ${missing[*]} " == *" nginx-light "* ]] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable nginx >/dev/null 2>&1 || true # never listen on port 80 because of the test suite
fi
ensure_user
echo "install-deps: done"
