#!/usr/bin/env bash
# tests/interop/epmd.sh - our EPMD daemon and client against the real thing: `erl` nodes (Debian's OTP 25) register
# with our daemon, Debian's `epmd -names` and `net_adm:names()` read it, two erl nodes find each other through it, our
# client finds an erl node; registrations end with their holder; a taken name is refused; slow, garbage and admin
# requests are handled without disturbing anyone else; `ensure` starts one detached daemon even when several nodes
# ask at once. Everything listens on loopback only, on ports picked free from 43000-43999.
source "$AC_SOURCE_DIR/tests/support/lib.sh"
: "${AC_EPMD_TOOL:?run through ctest}"
TOOL=$AC_EPMD_TOOL
HOST=$(hostname -s)
ERL_PIDS=()
DAEMON_PIDS=() # detached daemons started by `ensure` (not our children)

epmd_cleanup() {
  local pid
  for pid in "${ERL_PIDS[@]}" "${DAEMON_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${ERL_PIDS[@]}" "${DAEMON_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  done
  cleanup
}
trap epmd_cleanup EXIT

# pick_port [TAKEN...]: a port in 43000-43999 that nothing uses on any address, in any state, and not one of TAKEN.
pick_port() {
  local p q
  for _ in $(seq 200); do
    p=$((43000 + RANDOM % 1000))
    for q in "$@"; do [ "$q" = "$p" ] && continue 2; done
    if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )")" ]; then echo "$p"; return 0; fi
  done
  return 1
}
# between VALUE LOW HIGH: LOW <= VALUE <= HIGH (integers).
between() { [ "${1:-x}" -ge "$2" ] 2>/dev/null && [ "$1" -le "$3" ]; }

P=$(pick_port) && Q=$(pick_port "$P") && R=$(pick_port "$P" "$Q") || { fail "no free port in 43000-43999"; finish; exit; }
export ERL_EPMD_PORT=$P ERL_EPMD_ADDRESS=127.0.0.1
export ERL_CRASH_DUMP_SECONDS=0 # a refused erl node writes no erl_crash.dump
cd "$T_DIR" || exit 1
echo "# daemon port $P, ensure port $Q, busy port $R"

ERL_ARGS=(-start_epmd false -setcookie c -noshell -kernel inet_dist_use_interface '{127,0,0,1}')
# start_erl NAME: a long-running erl node registered with the daemon on $P.
start_erl() {
  erl -sname "$1" "${ERL_ARGS[@]}" >"$T_DIR/$1.log" 2>&1 &
  ERL_PIDS+=($!)
  LAST_PID=$!
}
# listeners PORT: the distinct pids listening on PORT.
listeners() { ss -Hltnp "( sport = :$1 )" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u; }
# wait_until SECONDS COMMAND...: retries COMMAND every 0.1 s.
wait_until() {
  local secs=$1; shift
  for ((i = 0; i < secs * 10; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}

# A raw-socket client for the cases our own client would never produce.
cat >"$T_DIR/raw.py" <<'EOF'
import socket, struct, sys, time

port = int(sys.argv[2])

def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=10)

def read_all(s, limit):
    """Reads until the peer closes or `limit` seconds pass. Returns (bytes, closed)."""
    s.settimeout(limit)
    data = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                return data, True
            data += b
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, True

def alive2(name, dist_port, highest):
    body = bytes([120]) + struct.pack(">HBBHHH", dist_port, 77, 0, highest, 5, len(name)) + name + b"\0\0"
    return struct.pack(">H", len(body)) + body

def names():
    s = conn()
    s.sendall(b"\x00\x01n")
    data, _ = read_all(s, 5)
    s.close()
    return data[4:].decode()

cmd = sys.argv[1]
if cmd == "slow":
    slow = conn()
    slow.sendall(b"\x00")  # half a length field, then silence
    t0 = time.monotonic()
    listing = names()
    print("names_ms=%d" % ((time.monotonic() - t0) * 1000))
    data, closed = read_all(slow, 12)
    print("slow_closed=%d slow_bytes=%d slow_ms=%d" % (closed, len(data), (time.monotonic() - t0) * 1000))
elif cmd == "garbage":
    cases = {
        "unknown_tag": b"\x00\x01a",
        "length_zero": b"\x00\x00",
        "length_huge": b"\xff\xff" + b"x" * 100,
        "alive2_truncated_body": b"\x00\x05\x78\x01\x02\x03\x04",
        "alive2_bad_name": alive2(b"a b", 4000, 6),
        "binary_noise": bytes((i * 37 + 11) % 256 for i in range(3000)),
        "kill_req": b"\x00\x01k",
        "stop_req": b"\x00\x02sx",
        "dump_req": b"\x00\x01d",
    }
    for name, payload in cases.items():
        s = conn()
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data, closed = read_all(s, 3)
        s.close()
        print("case=%s bytes=%d closed=%d" % (name, len(data), closed))
elif cmd == "legacy":
    s = conn()
    s.sendall(alive2(b"legacy", 4100, 5))
    s.settimeout(5)
    print("first=%s" % s.recv(4).hex())
    s.sendall(alive2(b"legacy2", 4101, 5))
    print("second=%s" % s.recv(4).hex())
    listing = names()
    print("listed=%d listed2=%d" % ("name legacy at port 4100\n" in listing, "legacy2" in listing))
    s.close()
elif cmd == "listen":
    # A listener that accepts and never answers: the port is busy, but not with an EPMD.
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    print("listening", flush=True)
    held = []
    while True:
        c, _ = ls.accept()
        held.append(c)
EOF

# ---- the daemon, and real erl nodes registering with it ------------------------------------------------------------
"$TOOL" serve "$P" >"$T_DIR/epmd.log" 2>&1 &
EPMD_PID=$!
T_PIDS+=("$EPMD_PID")
check "daemon listens on 127.0.0.1:$P" wait_log "$T_DIR/epmd.log" "event=listening address=127.0.0.1 port=$P" 10
addrs=$(ss -Hltn "( sport = :$P )" | awk '{print $4}' | sort | tr '\n' ' ')
check "daemon listens on loopback only ($addrs)" matches "$addrs" '^(127\.0\.0\.1:[0-9]+ |\[::1\]:[0-9]+ )+$'

start_erl ex1; EX1_PID=$LAST_PID
start_erl ex2; EX2_PID=$LAST_PID
check "erl node ex1 registered" wait_log "$T_DIR/epmd.log" "event=registered name=ex1 " 30
check "erl node ex2 registered" wait_log "$T_DIR/epmd.log" "event=registered name=ex2 " 30
"$TOOL" register "$P" cnode 45555 >"$T_DIR/cnode.log" 2>&1 &
CNODE_PID=$!
T_PIDS+=("$CNODE_PID")
check "our client registered cnode" wait_log "$T_DIR/cnode.log" "^registered name=cnode creation=[0-9]+" 10
check "registration logged at info" grep -qE "level=info module=epmd event=registered name=cnode port=45555 type=72" \
  "$T_DIR/epmd.log"

names=$(epmd -port "$P" -names 2>&1)
echo "$names" | sed 's/^/    /'
check "epmd -names: up and running on our port" matches "$names" "up and running on port $P with data"
check "epmd -names lists ex1" matches "$names" $'name ex1 at port [0-9]+'
check "epmd -names lists ex2" matches "$names" $'name ex2 at port [0-9]+'
check "epmd -names lists cnode at 45555" matches "$names" $'name cnode at port 45555'
ours=$("$TOOL" epmd --port "$P" -names 2>&1)
check "alexclaw epmd -names prints the same listing" [ "$(sort <<<"$ours")" = "$(sort <<<"$names")" ]

# ---- another erl node: net_adm:names(), ping, and a ping between two erl nodes found through our daemon ------------
out=$(timeout 60 erl -sname q1 "${ERL_ARGS[@]}" -eval '
  {ok, Names} = net_adm:names(),
  {ok, H} = inet:gethostname(),
  N = fun(A) -> list_to_atom(A ++ "@" ++ H) end,
  io:format("names=~p~n", [lists:sort(Names)]),
  io:format("ping=~p~n", [net_adm:ping(N("ex1"))]),
  io:format("ping_between=~p~n", [rpc:call(N("ex1"), net_adm, ping, [N("ex2")])]),
  halt().' 2>&1)
echo "$out" | sed 's/^/    /'
check "net_adm:names() sees ex1, ex2 and cnode" matches "$out" 'names=\[\{"cnode",45555\},\{"ex1",[0-9]+\},\{"ex2",[0-9]+\},'
check "net_adm:ping(ex1) through our daemon" matches "$out" 'ping=pong'
check "ex1 pings ex2 through our daemon" matches "$out" 'ping_between=pong'

# ---- our client finds an erl node ----------------------------------------------------------------------------------
ex1_port=$(sed -nE 's/^name ex1 at port ([0-9]+)$/\1/p' <<<"$names")
pp=$("$TOOL" port "$P" ex1)
check "port_please finds ex1 at the port epmd -names shows ($pp)" [ "$pp" = "port=$ex1_port highest=6" ]
check "ex1's own process listens on that port" matches "$(ss -Hltnp "( sport = :$ex1_port )")" "pid=$EX1_PID,"
"$TOOL" port "$P" nosuch >/dev/null; rc=$?
check "port_please for an unknown name: not registered (exit 4, got $rc)" [ "$rc" = 4 ]

# ---- a taken name is refused -----------------------------------------------------------------------------------------
err=$("$TOOL" register "$P" cnode 45556 2>&1); rc=$?
check "second registration of cnode refused (exit $rc)" [ "$rc" = 1 ]
check "refusal says the name is taken" matches "$err" "taken.*EEXIST"
timeout 60 erl -sname ex1 "${ERL_ARGS[@]}" -eval 'halt().' >"$T_DIR/dup.log" 2>&1; rc=$?
check "a second erl -sname ex1 does not start (exit $rc)" [ "$rc" != 0 ]
check "daemon logged the refused name" grep -q "event=register_refused name=ex1 .*reason=name_taken" "$T_DIR/epmd.log"
check "ex1 still registered at its port" [ "$("$TOOL" port "$P" ex1)" = "port=$ex1_port highest=6" ]

# ---- a registration ends with its connection -------------------------------------------------------------------------
kill -TERM "$CNODE_PID"; wait "$CNODE_PID" 2>/dev/null
check "cnode unregistered when its holder was killed" wait_log "$T_DIR/epmd.log" "event=unregistered name=cnode " 10
"$TOOL" port "$P" cnode >/dev/null; rc=$?
check "cnode no longer found (exit $rc)" [ "$rc" = 4 ]
kill -KILL "$EX2_PID"; wait "$EX2_PID" 2>/dev/null
check "ex2 unregistered when its node was killed" wait_log "$T_DIR/epmd.log" "event=unregistered name=ex2 " 10
check "epmd -names no longer lists ex2" not matches "$(epmd -port "$P" -names 2>&1)" "name ex2 "

# ---- legacy registration and a second ALIVE2 on one connection ---------------------------------------------------------
out=$(python3 "$T_DIR/raw.py" legacy "$P" 2>&1)
echo "$out" | sed 's/^/    /'
check "highest version 5 gets ALIVE2_RESP (121) with a 16-bit creation in 1..3" matches "$out" 'first=7900000[123]'
check "second ALIVE2 on the same connection refused (result 1)" matches "$out" 'second=7901'
check "first registration stays, second is absent" matches "$out" 'listed=1 listed2=0'

# ---- a slow client times out without blocking others -------------------------------------------------------------------
out=$(python3 "$T_DIR/raw.py" slow "$P" 2>&1)
echo "$out" | sed 's/^/    /'
names_ms=$(sed -nE 's/^names_ms=([0-9]+)$/\1/p' <<<"$out")
slow_ms=$(sed -nE 's/.*slow_ms=([0-9]+)$/\1/p' <<<"$out")
check "others are served while a client stalls (${names_ms:-?} ms)" between "$names_ms" 0 999
check "the stalled connection is closed without an answer" matches "$out" 'slow_closed=1 slow_bytes=0'
check "after about 5 s (${slow_ms:-?} ms)" between "$slow_ms" 4500 7500

# ---- garbage and admin requests: connection closed, no answer, daemon keeps serving ------------------------------------
out=$(python3 "$T_DIR/raw.py" garbage "$P" 2>&1)
echo "$out" | sed 's/^/    /'
for c in unknown_tag length_zero length_huge alive2_truncated_body alive2_bad_name binary_noise kill_req stop_req \
  dump_req; do
  check "garbage $c: closed without an answer" matches "$out" "case=$c bytes=0 closed=1"
done
check "KILL_REQ refused and logged" grep -q "event=request_refused request=kill" "$T_DIR/epmd.log"
check "daemon still running" kill -0 "$EPMD_PID"
check "daemon still answers" [ "$("$TOOL" port "$P" ex1)" = "port=$ex1_port highest=6" ]

# ---- a second daemon on a port that answers as EPMD exits quietly; a port busy with something else is an error ---------
out=$(timeout 20 "$TOOL" serve "$P" 2>&1); rc=$?
check "second daemon on $P exits with 0 (got $rc)" [ "$rc" = 0 ]
check "second daemon says an EPMD already runs" matches "$out" "event=already_running port=$P"
python3 "$T_DIR/raw.py" listen "$R" >"$T_DIR/busy.log" 2>&1 &
T_PIDS+=($!)
wait_log "$T_DIR/busy.log" listening 10 >/dev/null
out=$(timeout 30 "$TOOL" serve "$R" 2>&1); rc=$?
check "daemon on a port busy with something else fails (exit $rc)" [ "$rc" = 1 ]
check "and says so clearly" matches "$out" "EPMD port $R on 127.0.0.1 is in use"

# ---- two daemons started at the same moment: one serves, the other exits with 0 ----------------------------------------
S=$(pick_port "$P" "$Q" "$R")
"$TOOL" epmd --port "$S" >"$T_DIR/race1.log" 2>&1 &
RACE=($!)
"$TOOL" epmd --port "$S" >"$T_DIR/race2.log" 2>&1 &
RACE+=($!)
T_PIDS+=("${RACE[@]}")
one_exited() { ! kill -0 "${RACE[0]}" 2>/dev/null || ! kill -0 "${RACE[1]}" 2>/dev/null; }
check "one of two racing daemons exits" wait_until 10 one_exited
if kill -0 "${RACE[0]}" 2>/dev/null; then winner=0 loser=1; else winner=1 loser=0; fi
wait "${RACE[loser]}"; rc=$?
check "the loser exits with 0 (got $rc)" [ "$rc" = 0 ]
check "the loser found an EPMD on the port" grep -q "event=already_running port=$S" "$T_DIR/race$((loser + 1)).log"
check "the winner serves" [ "$(listeners "$S")" = "${RACE[winner]}" ]
kill -TERM "${RACE[winner]}"; wait "${RACE[winner]}"; rc=$?
check "the winner stops with 0 (got $rc)" [ "$rc" = 0 ]

# ---- ensure: a detached daemon, one only, even when several nodes ask at once ------------------------------------------
check "nothing listens on $Q yet" [ -z "$(listeners "$Q")" ]
for i in 1 2 3 4; do
  "$TOOL" ensure "$Q" >"$T_DIR/ensure$i.log" 2>&1 &
  ensure_pids[i]=$!
done
for i in 1 2 3 4; do
  wait "${ensure_pids[i]}"; rc=$?
  check "concurrent ensure #$i succeeded (exit $rc)" [ "$rc" = 0 ]
done
mapfile -t DAEMON_PIDS < <(listeners "$Q")
check "exactly one daemon listens on $Q (pids: ${DAEMON_PIDS[*]:-none})" [ "${#DAEMON_PIDS[@]}" = 1 ]
# The others found the port taken by an EPMD and left: only one `epmd --port $Q` process remains.
one_process() { [ "$(pgrep -fc -- "epmd --port $Q( |$)")" = 1 ]; }
check "the losing daemons exited (ps)" wait_until 10 one_process
D=${DAEMON_PIDS[0]:-0}
ppid=$(ps -o ppid= -p "$D" | tr -d ' ')
check "the daemon outlived its callers, reparented (parent $ppid)" \
  not matches " $$ ${ensure_pids[*]} " " ${ppid:-$$} "
check "it runs in a session of its own" [ "$(ps -o sid= -p "$D" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ]
check "its stdin/stdout/stderr are /dev/null" \
  [ "$(readlink /proc/"$D"/fd/0)/$(readlink /proc/"$D"/fd/1)/$(readlink /proc/"$D"/fd/2)" = "/dev/null//dev/null//dev/null" ]
check "it holds no descriptor but those and its sockets" \
  not matches "$(ls -l /proc/"$D"/fd 2>/dev/null | grep -vE 'socket:|/dev/null|^total')" '->'
check "it listens on loopback only" not matches "$(ss -Hltn "( sport = :$Q )" | awk '{print $4}')" '^(0\.0\.0\.0|\[::\]|\*):'
"$TOOL" port "$Q" nobody >/dev/null; rc=$?
check "the detached daemon answers (exit $rc)" [ "$rc" = 4 ]
start=$(date +%s%N)
"$TOOL" ensure "$Q" >/dev/null 2>&1; rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
check "ensure with a daemon running succeeds (exit $rc)" [ "$rc" = 0 ]
check "and returns at once (${ms} ms)" between "$ms" 0 999
check "and starts no second one" [ "$(listeners "$Q" | wc -l)" = 1 ]
kill -TERM "$D"
check "the detached daemon stops on SIGTERM" wait_until 10 not kill -0 "$D"

# ---- stopping the foreground daemon ------------------------------------------------------------------------------------
kill -TERM "$EPMD_PID"; wait "$EPMD_PID"; rc=$?
check "daemon exits with 0 on SIGTERM (got $rc)" [ "$rc" = 0 ]
check "its registrations ended with it" grep -q "event=unregistered name=ex1 .*reason=stopping" "$T_DIR/epmd.log"
check "it logged stopping" grep -q "event=stopped port=$P" "$T_DIR/epmd.log"

finish
