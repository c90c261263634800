#!/usr/bin/env bash
# tests/unit/policy/crypto_interop.sh - the C settings format against an independent implementation.
#
# Values sealed by ac_crypto_tool (policy/crypto.c) must decrypt with tests/support/settings_crypto.py (Python's
# cryptography package), and the other way round; a value sealed under one SECRET_KEY_BASE must not open under
# another. ctest sets AC_CRYPTO_TOOL to the helper's path.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
py="$here/../../support/settings_crypto.py"
tool=${AC_CRYPTO_TOOL:?AC_CRYPTO_TOOL must point at the ac_crypto_tool binary}

skb="interop SECRET_KEY_BASE for crypto_interop.sh, 64 bytes long......"
other_skb="another SECRET_KEY_BASE, also long enough: 0123456789abcdef"

passed=0
failed=0

check() { # NAME EXPECTED ACTUAL
    if [[ "$2" == "$3" ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        printf 'FAIL %s\n  expected: %.80q\n  actual:   %.80q\n' "$1" "$2" "$3" >&2
    fi
}

c_seal() { "$tool" seal "$1" "$2"; }
c_open() { "$tool" open "$1" "$2"; }
py_seal() { SECRET_KEY_BASE="$1" python3 "$py" encrypt "$2"; }
py_open() { SECRET_KEY_BASE="$1" python3 "$py" decrypt "$2"; }

four_k=$(python3 -c 'import sys; sys.stdout.write(("0123456789abcdef" * 256)[:4096])')
declare -A plaintexts=(
    [ascii]="sk-proj-ABCdef0123456789_-+/=!@#\$%^&*() spaces and symbols"
    [utf8]="pässwörd — 日本語 🔑"
    [one_char]="x"
    [4KiB]="$four_k"
    [leading_dash]="-n"
)

for name in "${!plaintexts[@]}"; do
    plain=${plaintexts[$name]}

    sealed=$(c_seal "$skb" "$plain")
    check "$name: C seal has the prefix" "enc:" "${sealed:0:4}"
    check "$name: C seal -> Python open" "$plain" "$(py_open "$skb" "$sealed")"
    check "$name: C seal -> C open" "$plain" "$(c_open "$skb" "$sealed")"

    sealed=$(py_seal "$skb" "$plain")
    check "$name: Python seal -> C open" "$plain" "$(c_open "$skb" "$sealed")"
    check "$name: Python seal -> Python open" "$plain" "$(py_open "$skb" "$sealed")"

    # Opening under another SECRET_KEY_BASE fails, in C and in Python.
    status=0
    out=$(c_open "$other_skb" "$sealed") || status=$?
    check "$name: C open with another key exits 1" "1" "$status"
    check "$name: C open with another key says EDECRYPT" "EDECRYPT" "$out"
    status=0
    py_open "$other_skb" "$sealed" >/dev/null 2>&1 || status=$?
    check "$name: Python open with another key exits 1" "1" "$status"
done

# Empty stays empty and an unprefixed value passes through, both ways.
check "empty: C seal" "" "$(c_seal "$skb" "")"
check "empty: Python seal" "" "$(py_seal "$skb" "")"
check "plain: C open passes through" "not encrypted" "$(c_open "$skb" "not encrypted")"
check "plain: Python open passes through" "not encrypted" "$(py_open "$skb" "not encrypted")"

# Both refuse a SECRET_KEY_BASE under 32 bytes.
status=0
c_seal "short" "x" >/dev/null || status=$?
check "short key: C refuses" "1" "$status"
status=0
py_seal "short" "x" >/dev/null 2>&1 || status=$?
check "short key: Python refuses" "1" "$status"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
