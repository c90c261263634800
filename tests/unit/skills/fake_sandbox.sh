#!/bin/sh
# A misbehaving stand-in for alexclaw-sandbox (tests/unit/skills/test_sandbox.c): the first line of the skill's
# "source" says how to misbehave. Reads the start frame with one read().
mode=$(dd bs=4096 count=1 2>/dev/null | tr -cs 'a-z_' ' ' | grep -o 'source [a-z_]*' | head -n 1 | cut -d' ' -f2)
case "$mode" in
  badframe) printf '\377\377\377\377' ;;
  garbage) printf '\000\000\000\005hello' ;;
  silent) exit 3 ;;
  linger) printf '\000\000\000\045{"done":true,"ok":true,"output":null}'; sleep 30 ;;
  hang) sleep 30 ;;
esac
