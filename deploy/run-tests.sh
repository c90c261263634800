#!/usr/bin/env bash
# Quick start, command 2: installs what is missing, builds, and runs the whole test suite twice: once normally and
# once under AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer on). Warnings are errors. Exits non-zero
# when anything fails. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh --test
jobs=$(nproc)

echo "== format check (clang-format, .clang-format)"
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -path ./build -prune -o -name '*.[ch]' -print)
clang-format --dry-run --Werror $files

for variant in plain sanitize; do
  dir=build/test-$variant
  opts=(-DAC_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  [ "$variant" = sanitize ] && opts+=(-DAC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  echo "== build ($variant)"
  cmake -S . -B "$dir" "${opts[@]}" >/dev/null
  cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1 || { tail -40 "$dir/build.log"; exit 1; }
  echo "== tests ($variant)"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 600)
done
echo "run-tests: all passed"
