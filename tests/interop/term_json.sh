#!/usr/bin/env bash
# tests/interop/term_json.sh - dist/term_json.c against real erl and elixir as the oracle (through ac_term_tool).
#
# Forward: an escript (and an Elixir script, for nil, atom-keyed maps, structs, charlists vs strings) writes
# term_to_binary of each case, in the default encoding and in minor versions 0 (old text floats, Latin-1 atoms) and 2
# (UTF-8 atoms), next to the JSON it must become or a fragment of the error it must raise; ac_term_tool converts and
# Python compares the JSON exactly (int vs float, key sets, string contents).
# Reverse: the scripts write JSON texts, ac_term_tool encodes them, and erl/elixir binary_to_term the result and check
# it with =:= against the expected term (null is nil, strings are binaries, objects are maps with binary keys).
source "$AC_SOURCE_DIR/tests/support/lib.sh"
tool=${AC_TERM_TOOL:?AC_TERM_TOOL must point at the ac_term_tool binary}
for cmd in erl escript elixir python3; do
  command -v "$cmd" >/dev/null || { fail "$cmd is installed"; finish; exit; }
done

cat >"$T_DIR/cases.escript" <<'ERLANG'
%% Cases as {Name, Term, ExpectedJson | {error, Fragment}} and reverse cases as {Name, JsonText, ExpectedTerm}.
%% Kept ASCII: non-ASCII characters are written as code points.
-mode(compile).

nest(0) -> [];
nest(N) -> [nest(N - 1)].

brackets(N) -> lists:duplicate(N, $[) ++ lists:duplicate(N, $]).

forward() ->
    Port = hd(erlang:ports()),
    [{utf8_binary, <<"h", 16#E9/utf8, "llo ", 16#20AC/utf8, " ", 16#1F600/utf8>>, "\"h\\u00e9llo \\u20ac \\ud83d\\ude00\""},
     {empty_binary, <<>>, "\"\""},
     {binary_with_nul, <<"a", 0, "b">>, "\"a\\u0000b\""},
     {atom_keyed_map, #{a => 1, b => <<"two">>}, "{\"a\":1,\"b\":\"two\"}"},
     {mixed_keys, #{<<"bin">> => 1, atom => 2, 7 => 3, -40 => 4, nil => 5, true => 6},
      "{\"bin\":1,\"atom\":2,\"7\":3,\"-40\":4,\"nil\":5,\"true\":6}"},
     {empty_map, #{}, "{}"},
     {large_map, maps:from_list([{I, I} || I <- lists:seq(1, 100)]),
      "{" ++ lists:join(",", [io_lib:format("\"~b\":~b", [I, I]) || I <- lists:seq(1, 100)]) ++ "}"},
     {nested, #{<<"data">> => [#{k => {ok, [1.5]}}, []]}, "{\"data\":[{\"k\":[\"ok\",[1.5]]},[]]}"},
     {charlist, "abc", "[97,98,99]"},
     {unicode_charlist, [16#E9, 16#20AC], "[233,8364]"},
     {int_list, [1, 300, 1 bsl 40], "[1,300,1099511627776]"},
     {long_list, lists:seq(1, 1000), "[" ++ lists:join(",", [integer_to_list(I) || I <- lists:seq(1, 1000)]) ++ "]"},
     {nil_list, [], "[]"},
     {tuple, {ok, 1, <<"x">>}, "[\"ok\",1,\"x\"]"},
     {empty_tuple, {}, "[]"},
     {large_tuple, list_to_tuple(lists:duplicate(300, 0)), "[" ++ lists:join(",", lists:duplicate(300, "0")) ++ "]"},
     {small_ints, [0, 255, 256, -1, 2147483647, -2147483648], "[0,255,256,-1,2147483647,-2147483648]"},
     {bignums_in_int64, [1 bsl 40, -(1 bsl 40), 9223372036854775807, -9223372036854775808],
      "[1099511627776,-1099511627776,9223372036854775807,-9223372036854775808]"},
     {floats, [3.14, -0.5, 1.0e300, 0.0, 1.0e-300], "[3.14,-0.5,1e300,0.0,1e-300]"},
     {booleans_and_nil, [true, false, nil], "[true,false,null]"},
     {other_atoms, [undefined, null, ok, 'Elixir.AlexClaw.Cluster.Manager', list_to_atom([16#E9, $t, 16#E9])],
      "[\"undefined\",\"null\",\"ok\",\"Elixir.AlexClaw.Cluster.Manager\",\"\\u00e9t\\u00e9\"]"},
     {wide_atom, list_to_atom([16#1F600]), "\"\\ud83d\\ude00\""},
     {long_binary, binary:copy(<<"ab">>, 50000), "\"" ++ lists:duplicate(50000, "ab") ++ "\""},
     {depth_32, nest(31), brackets(32)},
     %% refused
     {pid, self(), {error, "pid"}},
     {pid_inside, #{from => self()}, {error, "pid"}},
     {reference, make_ref(), {error, "reference"}},
     {port, Port, {error, "port"}},
     {local_fun, fun() -> ok end, {error, "fun"}},
     {external_fun, fun lists:map/2, {error, "external fun"}},
     {improper_list, [1 | 2], {error, "improper list"}},
     {gen_call_tag, [alias | make_ref()], {error, "improper list"}},
     {latin1_binary, <<"caf", 16#E9>>, {error, "not valid UTF-8"}},
     {bitstring, <<1:3>>, {error, "bitstring"}},
     {bignum_2_64, 1 bsl 64, {error, "64 bits"}},
     {bignum_2_63, 1 bsl 63, {error, "64 bits"}},
     {bignum_below_int64, -(1 bsl 63) - 1, {error, "64 bits"}},
     {huge_bignum, 1 bsl 10000, {error, "64 bits"}},
     {colliding_keys, #{a => 1, <<"a">> => 2}, {error, "same JSON key"}},
     {tuple_key, #{{1, 2} => x}, {error, "map key of type tuple"}},
     {float_key, #{1.5 => x}, {error, "map key of type float"}},
     {nul_in_key, #{<<"a", 0, "b">> => 1}, {error, "NUL"}},
     {depth_33, nest(32), {error, "32 deep"}},
     {depth_1000, nest(999), {error, "32 deep"}},
     {too_many_elements, lists:duplicate(100000, 0), {error, "100000 elements"}},
     {too_many_string_bytes, binary:copy(<<"a">>, 8 * 1024 * 1024 + 1), {error, "bytes of strings"}}].

reverse() ->
    [{string, "\"h\\u00e9llo \\ud83d\\ude00\"", <<"h", 16#E9/utf8, "llo ", 16#1F600/utf8>>},
     {empty_string, "\"\"", <<>>},
     {object, "{\"a\":1,\"b\":[true,false,null]}", #{<<"a">> => 1, <<"b">> => [true, false, nil]}},
     {nested, "{\"k\":{\"n\":[{\"x\":\"\\u0000\"},[]]}}", #{<<"k">> => #{<<"n">> => [#{<<"x">> => <<0>>}, []]}}},
     {empty_object, "{}", #{}},
     {null, "null", nil},
     {true, "true", true},
     {empty_array, "[]", []},
     {int_array, "[1,2,3]", [1, 2, 3]},
     {small_ints, "[0,-1,255,256,2147483647,-2147483648]", [0, -1, 255, 256, 2147483647, -2147483648]},
     {int64_max, "9223372036854775807", 9223372036854775807},
     {int64_min, "-9223372036854775808", -9223372036854775808},
     {float, "1.5", 1.5},
     {float_exp, "[1e300,-2.5e-300]", [1.0e300, -2.5e-300]},
     {integral_float, "2.0", 2.0},
     {depth_32, brackets(32), nest(31)}].

write(Dir, Name, Ext, Data) ->
    ok = file:write_file(filename:join(Dir, atom_to_list(Name) ++ Ext), Data).

main(["gen", Fwd, Rev]) ->
    [begin
         write(Fwd, N, ".etf", term_to_binary(T)),
         write(Fwd, N, ".v0.etf", term_to_binary(T, [{minor_version, 0}])),
         write(Fwd, N, ".v2.etf", term_to_binary(T, [{minor_version, 2}])),
         Exp = case E of {error, F} -> ["error: ", F]; _ -> E end,
         [write(Fwd, N, V ++ ".expected", Exp) || V <- ["", ".v0", ".v2"]]
     end || {N, T, E} <- forward()],
    [write(Rev, N, ".json", J) || {N, J, _} <- reverse()];
main(["check", Rev]) ->
    [begin
         {ok, Bin} = file:read_file(filename:join(Rev, atom_to_list(N) ++ ".etf")),
         case catch binary_to_term(Bin) of
             E when E =:= Exp -> io:format("ok ~s~n", [N]);
             Got -> io:format("FAIL ~s: got ~P~n", [N, Got, 12])
         end
     end || {N, _, Exp} <- reverse()].
ERLANG

cat >"$T_DIR/cases.exs" <<'ELIXIR'
# Elixir specifics: nil, atom-keyed maps, structs, keyword lists, charlists vs strings.
defmodule Cases do
  def forward do
    [
      {"ex_nil", nil, ~s(null)},
      {"ex_booleans", [true, false], ~s([true,false])},
      {"ex_string", "abc", ~s("abc")},
      {"ex_charlist", 'abc', ~s([97,98,99])},
      {"ex_atom_keys", %{name: "x", count: 3, missing: nil}, ~s({"count":3,"missing":null,"name":"x"})},
      {"ex_string_keys", %{"name" => "x", "list" => [1, 2.5]}, ~s({"list":[1,2.5],"name":"x"})},
      {"ex_keyword", [a: 1, b: "two"], ~s([["a",1],["b","two"]])},
      {"ex_struct", 1..3, ~s({"__struct__":"Elixir.Range","first":1,"last":3,"step":1})},
      {"ex_module", AlexClaw.Cluster.Manager, ~s("Elixir.AlexClaw.Cluster.Manager")},
      {"ex_unicode", "h\u00e9llo", ~s("h\\u00e9llo")},
      {"ex_pid", self(), "error: pid"},
      {"ex_ref", make_ref(), "error: reference"},
      {"ex_fun", fn -> :ok end, "error: fun"},
      {"ex_bignum", Integer.pow(2, 64), "error: 64 bits"}
    ]
  end

  def reverse do
    [
      {"ex_null", ~s(null), nil},
      {"ex_object", ~s({"a":null,"b":"s","c":[1,"x"]}), %{"a" => nil, "b" => "s", "c" => [1, "x"]}},
      {"ex_string", ~s("abc"), "abc"},
      {"ex_number_list", ~s([97,98,99]), 'abc'},
      {"ex_nested", ~s({"user":{"name":"h\\u00e9","tags":[]}}), %{"user" => %{"name" => "h\u00e9", "tags" => []}}}
    ]
  end

  def main(["gen", fwd, rev]) do
    for {n, t, e} <- forward() do
      File.write!(Path.join(fwd, n <> ".etf"), :erlang.term_to_binary(t))
      File.write!(Path.join(fwd, n <> ".expected"), e)
    end

    for {n, j, _} <- reverse(), do: File.write!(Path.join(rev, n <> ".json"), j)
  end

  def main(["check", rev]) do
    for {n, _, exp} <- reverse() do
      got = :erlang.binary_to_term(File.read!(Path.join(rev, n <> ".etf")))
      if got === exp and (not is_binary(exp) or String.valid?(got)),
        do: IO.puts("ok #{n}"),
        else: IO.puts("FAIL #{n}: got #{inspect(got)}")
    end
  end
end

Cases.main(System.argv())
ELIXIR

cat >"$T_DIR/compare.py" <<'PYTHON'
# For each NAME.expected in a directory: NAME.out must be the same JSON (exact types), or, when the expectation is
# "error: FRAGMENT", an error line containing FRAGMENT. Prints "ok NAME" or "FAIL NAME: why" per case.
import json, os, sys

d = sys.argv[1]
for f in sorted(os.listdir(d)):
    if not f.endswith(".expected"):
        continue
    name = f[: -len(".expected")]
    exp = open(os.path.join(d, f), encoding="utf-8").read()
    try:
        out = open(os.path.join(d, name + ".out"), encoding="utf-8").read().rstrip("\n")
    except OSError as e:
        print(f"FAIL {name}: {e}")
        continue
    if exp.startswith("error: "):
        good = out.startswith("error: ") and exp[len("error: "):] in out
    else:
        try:
            canon = lambda s: json.dumps(json.loads(s), sort_keys=True)
            good = canon(out) == canon(exp)
        except ValueError:
            good = False
    print(f"ok {name}" if good else f"FAIL {name}: got {out[:200]!r}, expected {exp[:200]!r}")
PYTHON

# report FILE: turns "ok NAME" / "FAIL NAME: ..." lines into checks; at least MIN lines must be there.
report() {
  local file=$1 what=$2 min=$3 n=0 line
  while IFS= read -r line; do
    n=$((n + 1))
    case $line in
      "ok "*) ok "$what: ${line#ok }" ;;
      *) fail "$what: ${line#FAIL }" ;;
    esac
  done <"$file"
  check "$what: at least $min cases ran ($n)" [ "$n" -ge "$min" ]
}

fwd="$T_DIR/fwd"; rev="$T_DIR/rev"
mkdir -p "$fwd" "$rev"
check "erl writes the cases" escript "$T_DIR/cases.escript" gen "$fwd" "$rev"
check "elixir writes the cases" elixir "$T_DIR/cases.exs" gen "$fwd" "$rev"

# Forward: every ETF file through the tool.
for f in "$fwd"/*.etf; do
  "$tool" <"$f" >"${f%.etf}.out" 2>"${f%.etf}.stderr"
done
python3 "$T_DIR/compare.py" "$fwd" >"$T_DIR/forward.txt"
report "$T_DIR/forward.txt" "term -> JSON" 152

# The tool itself: the exit status says which way it went, and stray bytes after a term are an error.
check "a converted term exits 0" "$tool" <"$fwd/tuple.etf" >/dev/null
check "a refused term exits 1" not "$tool" <"$fwd/pid.etf" >/dev/null
check "a refused term prints error:" starts_with "$("$tool" <"$fwd/pid.etf")" "error: "
check "input without the version byte is refused" starts_with "$(printf 'j' | "$tool")" "error: "
check "trailing bytes are refused" starts_with "$({ cat "$fwd/tuple.etf"; printf 'j'; } | "$tool")" "error: "

# Reverse: every JSON text through the tool, then erl and elixir check what arrives.
for f in "$rev"/*.json; do
  "$tool" encode <"$f" >"${f%.json}.etf" 2>"${f%.json}.stderr" || fail "encode $(basename "$f")"
done
escript "$T_DIR/cases.escript" check "$rev" >"$T_DIR/reverse.txt" 2>&1
report "$T_DIR/reverse.txt" "JSON -> term (erl)" 16
elixir "$T_DIR/cases.exs" check "$rev" >"$T_DIR/reverse_ex.txt" 2>&1
report "$T_DIR/reverse_ex.txt" "JSON -> term (elixir)" 5
deep="$(printf '[%.0s' {1..33})$(printf ']%.0s' {1..33})"
check "encode refuses JSON nested 33 deep" starts_with "$(printf '%s' "$deep" | "$tool" encode)" "error: "

# Round trip through both: erl's term -> JSON -> term equals what erl itself maps the JSON to.
"$tool" <"$fwd/nested.etf" | "$tool" encode >"$T_DIR/rt.etf"
check "term -> JSON -> term arrives as the JSON's term" \
  erl -noshell -eval '{ok, B} = file:read_file(hd(init:get_plain_arguments())),
    Exp = #{<<"data">> => [#{<<"k">> => [<<"ok">>, [1.5]]}, []]},
    halt(case binary_to_term(B) of Exp -> 0; _ -> 1 end).' -extra "$T_DIR/rt.etf"

finish
