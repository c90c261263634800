#!/usr/bin/env bash
# Secrets at rest: read the raw `settings` table with psql and prove that no sensitive value is stored in clear, and
# that the stored format is the original AlexClaw's, by decrypting and encrypting with an independent implementation
# (tests/support/settings_crypto.py, Debian's python3-cryptography).
source "$AC_SOURCE_DIR/tests/support/lib.sh"
B=$AC_TEST_BIN
PYC="$AC_SOURCE_DIR/tests/support/settings_crypto.py"
export DATABASE_URL=$(db_create rest) ALEXCLAW_DATA_DIR="$T_DIR/n" SECRET_KEY_BASE=$(new_secret)
TOK=987654:TelegramTokenAtRest-xyz; GEM=gemini-key-at-rest-0042
raw() { psql_url "$DATABASE_URL" -c "SELECT value FROM settings WHERE key = '$1'"; }

TELEGRAM_BOT_TOKEN=$TOK GEMINI_API_KEY=$GEM "$B" config list >/dev/null 2>"$T_DIR/boot.log"
check "first boot seeds settings" [ "$(psql_url "$DATABASE_URL" -c "SELECT count(*) FROM settings")" -gt 30 ]

check "no sensitive value in clear" \
  [ "$(psql_url "$DATABASE_URL" -c "SELECT count(*) FROM settings WHERE sensitive AND value <> '' AND value NOT LIKE 'enc:%'")" = 0 ]
check "plaintext token appears nowhere in the table" \
  [ "$(psql_url "$DATABASE_URL" -c "SELECT count(*) FROM settings WHERE value LIKE '%TelegramTokenAtRest%' OR value LIKE '%at-rest-0042%'")" = 0 ]
check "the table dump holds no plaintext either" bash -c "! pg_dump '$DATABASE_URL' | grep -q -e TelegramTokenAtRest -e at-rest-0042"
check "secret keys are flagged sensitive" \
  [ "$(psql_url "$DATABASE_URL" -c "SELECT count(*) FROM settings WHERE sensitive AND key IN ('telegram.bot_token','llm.gemini_api_key','github.token','github.webhook_secret','auth.totp.secret','llm.anthropic_api_key')")" = 6 ]
check "an empty secret is stored empty" [ "$(raw github.token)" = "" ]

v=$(raw telegram.bot_token)
check "token stored as enc: + base64" matches "$v" '^enc:[A-Za-z0-9+/]+=*$'
check "independent implementation decrypts the token" [ "$(python3 "$PYC" decrypt "$v")" = "$TOK" ]
check "independent implementation decrypts the Gemini key" [ "$(python3 "$PYC" decrypt "$(raw llm.gemini_api_key)")" = "$GEM" ]
check "another SECRET_KEY_BASE cannot decrypt it" bash -c "! SECRET_KEY_BASE=$(new_secret) python3 '$PYC' decrypt '$v' >/dev/null 2>&1"

# A secret written through the CLI (value from stdin, never on the command line)
printf 'ghp_FromStdinToken0001\n' | "$B" config set github.token - 2>/dev/null
v=$(raw github.token)
check "CLI-written secret is encrypted" starts_with "$v" enc:
check "CLI-written secret decrypts independently" [ "$(python3 "$PYC" decrypt "$v")" = "ghp_FromStdinToken0001" ]
printf 'ghp_FromStdinToken0001\n' | "$B" config set custom.other_token - 2>/dev/null
check "same plaintext, different ciphertext (fresh IV)" [ "$(raw custom.other_token)" != "$v" ]

# A value encrypted by the independent implementation is read by the node
enc=$(python3 "$PYC" encrypt "whsec-from-python-77")
psql_url "$DATABASE_URL" -c "UPDATE settings SET value = '$enc' WHERE key = 'github.webhook_secret'"
out=$("$B" config get github.webhook_secret 2>/dev/null)
check "node reads a value encrypted elsewhere (shown masked)" grep -qF "whse********n-77" <<<"$out"
check "node never prints it in clear" bash -c "! grep -q whsec-from-python-77 <<<'$out'"

# A sensitive value found in clear (say, inserted by hand) is encrypted in place at the next boot, and logged
psql_url "$DATABASE_URL" -c "UPDATE settings SET value = 'sk-ant-plain-0001' WHERE key = 'llm.anthropic_api_key'"
"$B" config list >/dev/null 2>"$T_DIR/boot2.log"
v=$(raw llm.anthropic_api_key)
check "plaintext secret encrypted at boot" starts_with "$v" enc:
check "and still the same secret" [ "$(python3 "$PYC" decrypt "$v")" = "sk-ant-plain-0001" ]
check "the re-encryption is logged (without the value)" grep -q "event=encrypted_in_place key=llm.anthropic_api_key" "$T_DIR/boot2.log"
check "the log never holds the value" bash -c "! grep -q sk-ant-plain-0001 '$T_DIR/boot2.log'"
finish
