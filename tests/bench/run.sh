#!/usr/bin/env bash
# Runs the benchmarks and prints their figures: the policy engine's decisions (CPU only, before the database starts),
# the sandbox's cost per dynamic skill call,
# then the workflow runs against a private, durable PostgreSQL server (fsync on, the defaults; Unix socket only).
# Reproduce: tests/bench/run.sh [RUNS]   (builds build/bench with -DAC_BENCH=ON first)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-500}
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DAC_BENCH=ON -DAC_TESTS=OFF >/dev/null
cmake --build build/bench -j"$(nproc)" --target bench_workflow bench_authz bench_sandbox >/dev/null
build/bench/tests/bench/bench_authz   # prints its own header
echo "== dynamic skills: a sandboxed no-op call vs an in-process core no-op"
build/bench/tests/bench/bench_sandbox build/bench/alexclaw-sandbox
dir=$(mktemp -d /tmp/ac-bench.XXXXXX); chmod 0755 "$dir"
bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$dir"
as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth-local=trust >/dev/null
as_pg mkdir -m 0700 "$dir/sock"
as_pg "$bindir/pg_ctl" start -w -D "$dir/data" -l "$dir/log" -o "-c listen_addresses='' -c unix_socket_directories=$dir/sock" >/dev/null
trap 'as_pg "$bindir/pg_ctl" stop -m fast -D "$dir/data" >/dev/null; rm -rf "$dir"' EXIT
echo "== workflow runs: executor vs the same durable writes as bare SQL ($runs runs each, interleaved)"
build/bench/tests/bench/bench_workflow "host=$dir/sock dbname=postgres user=postgres" "$runs"
