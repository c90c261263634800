#!/usr/bin/env bash
# Quick start, command 2: installs what is missing, builds, and runs the whole test suite twice: once normally and
# once under AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer on), then compiles a Release build (-O3)
# with the benchmarks. Warnings are errors. Exits non-zero when anything fails. `.ci/run` calls exactly this.
set -uo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh --test || exit 1
jobs=$(nproc)

echo "== format check (clang-format, .clang-format)"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -path ./build -prune -o -name '*.[ch]' -print)
clang-format --dry-run --Werror $files || { echo "run-tests: formatting differs from .clang-format (run clang-format -i on the files above)"; exit 1; }

passed=0; failed=0; status=0
for variant in plain sanitize; do
  dir=build/test-$variant
  opts=(-DAC_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  [ "$variant" = sanitize ] && opts+=(-DAC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  echo "== build ($variant)"
  cmake -S . -B "$dir" "${opts[@]}" >/dev/null
  cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1 || { tail -40 "$dir/build.log"; exit 1; }
  echo "== tests ($variant)"
  rc=0
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 600) | tee "$dir/ctest.log" || rc=$?
  [ "$rc" = 0 ] || status=1
  # "100% tests passed, 0 tests failed out of 22"
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$dir/ctest.log" | tail -1)
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line"); bad=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
  if [ -z "$line" ]; then status=1; else passed=$((passed + total - bad)); failed=$((failed + bad)); fi
done
# gcc warns about more at -O3 (what -DCMAKE_BUILD_TYPE=Release and the benchmarks use): compiled, not run again
echo "== build (release, with the benchmarks; compiled only)"
rdir=build/test-release
cmake -S . -B "$rdir" -DAC_WERROR=ON -DCMAKE_BUILD_TYPE=Release -DAC_BENCH=ON >/dev/null
cmake --build "$rdir" -j"$jobs" >"$rdir/build.log" 2>&1 || { tail -40 "$rdir/build.log"; status=1; }
[ "$status" = 0 ] && echo "run-tests: all passed (plain and sanitizer builds; the release build compiled)" || echo "run-tests: FAILED"
echo "tests: $passed passed, $failed failed"
exit "$status"
