#!/usr/bin/env bash
# tests/interop/handshake.sh - our distribution handshake (dist/handshake.c, through tests/interop/dist_tool.c) against
# real OTP 25 Erlang and Elixir 1.14 nodes, the oracle. Everything on loopback, with a private epmd on a free port in
# 44000-44999 (ERL_EPMD_PORT), short names on host `localhost`.
#   (a) erl connects to our listening node: connect_node -> true, and we are in nodes(hidden), not in nodes()
#   (b) we connect to an erl node: it lists us in nodes(hidden)
#   (c) a wrong cookie is refused in both directions (erl: false; we: exit 1 "handshake refused"), erl stays up
#   (d) with -kernel net_ticktime 4 the connection survives 10 s of idle ticks, both directions
#   (e) Elixir's Node.connect reaches us
source "$AC_SOURCE_DIR/tests/support/lib.sh"
: "${AC_DIST_TOOL:?run through ctest (AC_DIST_TOOL)}"

TOOL=$AC_DIST_TOOL
COOKIE="interop-cookie-$$-0123456789"
WRONG="wrong-cookie-$$-9876543210"
ERLF=(-noshell -start_epmd false -kernel inet_dist_use_interface '{127,0,0,1}')

# ---- a private epmd ------------------------------------------------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
EPMD_PORT=
for _ in $(seq 1 40); do
  p=$((44000 + RANDOM % 1000))
  port_busy "$p" && continue
  epmd -port "$p" -address 127.0.0.1 >"$T_DIR/epmd.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do
    epmd -port "$p" -names >/dev/null 2>&1 && break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null && epmd -port "$p" -names >/dev/null 2>&1; then
    T_PIDS+=("$pid"); EPMD_PORT=$p; break
  fi
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
done
if [ -z "$EPMD_PORT" ]; then
  fail "could not start a private epmd on a free port in 44000-44999"
  finish; exit 1
fi
export ERL_EPMD_PORT=$EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1
echo "# epmd on 127.0.0.1:$EPMD_PORT"

# wait_file FILE [SECONDS]
wait_file() {
  local i
  for ((i = 0; i < ${2:-15} * 10; i++)); do [ -s "$1" ] && return 0; sleep 0.1; done
  return 1
}
# listen_tool TAG NAME COOKIE SECONDS: starts our listening node; sets TOOL_PID. Output in $T_DIR/TAG.tool.
listen_tool() {
  rm -f "$T_DIR/$1.port"
  "$TOOL" listen "$2" "$3" "$T_DIR/$1.port" "$4" >"$T_DIR/$1.tool" 2>&1 &
  TOOL_PID=$!; T_PIDS+=("$TOOL_PID")
  wait_file "$T_DIR/$1.port" || { echo "  (tool did not start:)"; sed 's/^/    /' "$T_DIR/$1.tool"; }
}
# erl_bg TAG ARGS...: a background erl node; sets ERL_PID. Output in $T_DIR/TAG.erl.
erl_bg() {
  local tag=$1; shift
  timeout 90 erl "$@" >"$T_DIR/$tag.erl" 2>&1 &
  ERL_PID=$!; T_PIDS+=("$ERL_PID")
}
no_secrets() { ! grep -qF -e "$COOKIE" -e "$WRONG" "$@"; }

# ---- (a) erl -> us ---------------------------------------------------------------------------------------------------
listen_tool a cn@localhost "$COOKIE" 5
out=$(timeout 60 erl -sname ea@localhost -setcookie "$COOKIE" "${ERLF[@]}" -eval '
  R = net_kernel:connect_node(cn@localhost),
  io:format("connect=~p hidden=~p visible=~p type=~p~n",
            [R, nodes(hidden), nodes(), net_kernel:node_info(cn@localhost, type)]),
  halt().' 2>&1)
echo "$out" | sed 's/^/    erl: /'
check "(a) erl's net_kernel:connect_node to our listening node returns true" matches "$out" 'connect=true'
check "(a) erl lists us in nodes(hidden) and not in nodes(): we are hidden" \
  matches "$out" 'hidden=\[cn@localhost\] visible=\[\] type=\{ok,hidden\}'
wait "$TOOL_PID"
sed 's/^/    tool: /' "$T_DIR/a.tool"
check "(a) our acceptor authenticated ea@localhost and read its flags" grep -qE '^peer ea@localhost flags 0x[0-9a-f]+ creation [0-9]+$' "$T_DIR/a.tool"

# ---- (b) us -> erl ---------------------------------------------------------------------------------------------------
erl_bg b -sname eb@localhost -setcookie "$COOKIE" "${ERLF[@]}" -eval '
  io:format("ready~n"),
  W = fun W(0) -> io:format("not seen ~p~n", [nodes(hidden)]);
          W(N) -> case lists:member(cb@localhost, nodes(hidden)) of
                      true -> io:format("seen hidden=~p visible=~p~n", [nodes(hidden), nodes()]);
                      false -> timer:sleep(50), W(N - 1)
                  end
      end,
  W(300), timer:sleep(4000), halt().'
wait_log "$T_DIR/b.erl" '^ready' 30 >/dev/null
"$TOOL" connect cb@localhost eb@localhost "$COOKIE" 2 >"$T_DIR/b.tool" 2>&1; rc=$?
sed 's/^/    tool: /' "$T_DIR/b.tool"
check "(b) our initiator completed the handshake with eb@localhost (status $rc)" [ "$rc" = 0 ]
check "(b) ... and read the peer's name and flags" grep -qE '^peer eb@localhost flags 0x[0-9a-f]+ ' "$T_DIR/b.tool"
wait "$ERL_PID"
sed 's/^/    erl: /' "$T_DIR/b.erl"
check "(b) erl lists us in nodes(hidden), not in nodes()" grep -q 'seen hidden=\[cb@localhost\] visible=\[\]' "$T_DIR/b.erl"

# ---- (c) wrong cookies -------------------------------------------------------------------------------------------------
listen_tool c1 cn2@localhost "$COOKIE" 3
out=$(timeout 60 erl -sname ec@localhost -setcookie "$WRONG" "${ERLF[@]}" -eval '
  io:format("connect=~p hidden=~p~n", [net_kernel:connect_node(cn2@localhost), nodes(hidden)]), halt().' 2>&1)
echo "$out" | sed 's/^/    erl: /'
check "(c) erl with a wrong cookie: connect_node returns false" matches "$out" 'connect=false hidden=\[\]'
wait "$TOOL_PID"; rc=$?
sed 's/^/    tool: /' "$T_DIR/c1.tool"
check "(c) our acceptor refused it (status $rc) for the cookie" \
  bash -c "[ $rc = 1 ] && grep -q 'handshake refused:.*cookie' '$T_DIR/c1.tool'"
check "(c) ... without printing either cookie" no_secrets "$T_DIR/c1.tool"

erl_bg c2 -sname ed@localhost -setcookie "$COOKIE" "${ERLF[@]}" -eval '
  io:format("ready~n"), timer:sleep(3000), io:format("still up hidden=~p~n", [nodes(hidden)]), halt().'
wait_log "$T_DIR/c2.erl" '^ready' 30 >/dev/null
"$TOOL" connect cd@localhost ed@localhost "$WRONG" 2 >"$T_DIR/c2.tool" 2>&1; rc=$?
sed 's/^/    tool: /' "$T_DIR/c2.tool"
check "(c) our initiator with a wrong cookie exits non-zero (status $rc) saying refused" \
  bash -c "[ $rc = 1 ] && grep -q 'handshake refused:.*refused' '$T_DIR/c2.tool'"
check "(c) ... without printing either cookie" no_secrets "$T_DIR/c2.tool"
wait "$ERL_PID"
sed 's/^/    erl: /' "$T_DIR/c2.erl"
check "(c) erl rejected our reply as an invalid challenge reply" grep -q 'Invalid challenge reply' "$T_DIR/c2.erl"
check "(c) erl stayed up, with no connection to us" grep -q 'still up hidden=\[\]' "$T_DIR/c2.erl"
check "(c) erl logged nothing fatal" not grep -qiE 'crash|Kernel pid terminated|emulator.*abort' "$T_DIR/c2.erl"

# ---- (d) ticks -----------------------------------------------------------------------------------------------------------
listen_tool d1 ct@localhost "$COOKIE" 20
out=$(timeout 60 erl -sname ee@localhost -setcookie "$COOKIE" "${ERLF[@]}" -kernel net_ticktime 4 -eval '
  R = net_kernel:connect_node(ct@localhost), timer:sleep(10000),
  io:format("connect=~p after10s=~p ticktime=~p~n",
            [R, lists:member(ct@localhost, nodes(hidden)), net_kernel:get_net_ticktime()]),
  halt().' 2>&1)
echo "$out" | sed 's/^/    erl: /'
check "(d) with net_ticktime 4, erl (initiator) still sees us after 10 s idle" matches "$out" 'connect=true after10s=true ticktime=4'
wait "$TOOL_PID"
sed 's/^/    tool: /' "$T_DIR/d1.tool"
ticks=$(sed -n 's/^ticks \([0-9]*\) .*/\1/p' "$T_DIR/d1.tool")
check "(d) ... we answered its ticks (${ticks:-none} seen)" [ "${ticks:-0}" -ge 5 ]

erl_bg d2 -sname ef@localhost -setcookie "$COOKIE" "${ERLF[@]}" -kernel net_ticktime 4 -eval '
  io:format("ready~n"),
  W = fun W(0) -> false;
          W(N) -> case lists:member(ct2@localhost, nodes(hidden)) of
                      true -> true;
                      false -> timer:sleep(50), W(N - 1)
                  end
      end,
  Seen = W(300), timer:sleep(10000),
  io:format("seen=~p after10s=~p~n", [Seen, lists:member(ct2@localhost, nodes(hidden))]), halt().'
wait_log "$T_DIR/d2.erl" '^ready' 30 >/dev/null
"$TOOL" connect ct2@localhost ef@localhost "$COOKIE" 20 >"$T_DIR/d2.tool" 2>&1 &
TOOL_PID=$!; T_PIDS+=("$TOOL_PID")
wait "$ERL_PID"
sed 's/^/    erl: /' "$T_DIR/d2.erl"
check "(d) with net_ticktime 4, erl (acceptor) still sees us after 10 s idle" grep -q 'seen=true after10s=true' "$T_DIR/d2.erl"
wait "$TOOL_PID"
sed 's/^/    tool: /' "$T_DIR/d2.tool"
ticks=$(sed -n 's/^ticks \([0-9]*\) .*/\1/p' "$T_DIR/d2.tool")
check "(d) ... we answered its ticks (${ticks:-none} seen)" [ "${ticks:-0}" -ge 5 ]

# ---- (e) Elixir ----------------------------------------------------------------------------------------------------------
listen_tool e cx@localhost "$COOKIE" 4
out=$(timeout 90 elixir --sname ex@localhost --cookie "$COOKIE" \
  --erl "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}" \
  -e 'IO.inspect Node.connect(:"cx@localhost"); IO.inspect Node.list(:hidden)' 2>&1)
echo "$out" | sed 's/^/    elixir: /'
check "(e) Elixir's Node.connect to our node returns true" matches "$out" '^true'
check "(e) ... and Node.list(:hidden) holds us" matches "$out" '\[:"?cx@localhost"?\]'
wait "$TOOL_PID"
sed 's/^/    tool: /' "$T_DIR/e.tool"
check "(e) our acceptor authenticated ex@localhost" grep -qE '^peer ex@localhost flags 0x' "$T_DIR/e.tool"

finish
