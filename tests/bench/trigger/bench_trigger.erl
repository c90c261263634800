%% tests/bench/trigger/bench_trigger.erl - the client side of tests/bench/bench_trigger.sh.
%%
%% Runs on one erl node (client@localhost) and measures rpc:call latency and throughput against
%%   (a) a real BEAM node serving a trivial 'Elixir.AlexClaw.Cluster.Manager':receive_workflow_data/3,
%%   (b) our node's full trigger path (gate + durable run row; the reply comes once the row is committed),
%%   (c) our node answering a call it serves on its event loop without the database (erlang:node/0, answered as an
%%       undefined function),
%% first sequentially (200 warm-up calls, then N calls, each timed with timer:tc), then concurrently from 3 peer nodes
%% x 20 processes (each process: 10 warm-up calls, then Count timed calls; the wall clock runs from "go" to the last
%% process done). It also reads the idle VmRSS of both nodes. Every line it prints for the script starts with "R ".
%%
%% The sequential calls come in BENCH_ROUNDS rounds (default 1) of N / rounds calls per kind; after each round it runs
%% the command in BENCH_D_ROUND, if set (the script's bare INSERT, (d), for a few seconds; it prints its median in
%% microseconds), so that every round has its own (a), (b), (c) and (d), measured one right after the other.
-module(bench_trigger).
-export([main/1, worker/5]).

-define(M, 'Elixir.AlexClaw.Cluster.Manager').
-define(WARMUP, 200).
-define(TIMEOUT, 10000).

main([Cn0, Bsrv0, N0, Peers0, Procs0, Count0, CnPid, Dir]) ->
    Cn = list_to_atom(Cn0),
    Bsrv = list_to_atom(Bsrv0),
    [N, Peers, Procs, Count] = [list_to_integer(X) || X <- [N0, Peers0, Procs0, Count0]],
    try
        run(Cn, Bsrv, N, Peers, Procs, Count, CnPid, Dir),
        halt(0)
    catch
        C:E:St ->
            io:format("R error ~p:~p ~p~n", [C, E, St]),
            halt(1)
    end.

run(Cn, Bsrv, N, Peers, Procs, Count, CnPid, Dir) ->
    pong = net_adm:ping(Bsrv),
    pong = net_adm:ping(Cn),
    BsrvPid = rpc:call(Bsrv, os, getpid, []),
    Kinds = [{a, Bsrv}, {c, Cn}, {b, Cn}],
    %% warm-up of everything first, then idle RSS, then the timed sequential runs
    [warm(call_fun(K, T, node())) || {K, T} <- Kinds],
    timer:sleep(2000),
    rss("idle_after_warmup", CnPid, BsrvPid),
    Rounds = max(1, list_to_integer(os:getenv("BENCH_ROUNDS", "1"))),
    DCmd = os:getenv("BENCH_D_ROUND", ""),
    PerRound = max(1, N div Rounds),
    ByRound = [begin
                   R = [begin
                            timer:sleep(1000), % let the previous kind's tail (runs finishing on the node) settle
                            {Ts, Wall} = seq(call_fun(K, T, node()), PerRound),
                            report("seqround " ++ integer_to_list(I), K, Ts, Wall),
                            {K, Ts, Wall}
                        end || {K, T} <- Kinds],
                   DCmd =/= "" andalso
                       io:format("R seqround ~b d ~s~n", [I, string:trim(os:cmd(DCmd))]),
                   R
               end || I <- lists:seq(1, Rounds)],
    [report("seq", K, lists:append([Ts || {K1, Ts, _} <- lists:append(ByRound), K1 =:= K]),
            lists:sum([W || {K1, _, W} <- lists:append(ByRound), K1 =:= K]))
     || {K, _} <- Kinds],
    %% concurrent: Peers nodes x Procs processes x Count calls
    Nodes = [start_peer(I, Dir) || I <- lists:seq(1, Peers)],
    [begin
         timer:sleep(1000),
         conc(K, T, Nodes, Procs, Count)
     end || {K, T} <- Kinds],
    timer:sleep(3000),
    rss("idle_after_benchmark", CnPid, BsrvPid),
    ok.

call_fun(a, T, Self) -> trigger_fun(T, Self);
call_fun(b, T, Self) -> trigger_fun(T, Self);
call_fun(c, T, _Self) ->
    fun() -> {badrpc, {'EXIT', {undef, _}}} = rpc:call(T, erlang, node, [], ?TIMEOUT) end.

trigger_fun(T, Self) ->
    Src = atom_to_binary(Self),
    Data = #{<<"n">> => 1, <<"from">> => Src},
    fun() -> {ok, started} = rpc:call(T, ?M, receive_workflow_data, [<<"gated">>, Data, Src], ?TIMEOUT) end.

warm(F) -> [F() || _ <- lists:seq(1, ?WARMUP)], ok.

seq(F, N) ->
    T0 = erlang:monotonic_time(microsecond),
    Ts = [element(1, timer:tc(F)) || _ <- lists:seq(1, N)],
    {Ts, erlang:monotonic_time(microsecond) - T0}.

start_peer(I, Dir) ->
    Cookie = atom_to_list(erlang:get_cookie()),
    {ok, _Pid, Node} = peer:start_link(#{name => list_to_atom("bench_c" ++ integer_to_list(I)), host => "localhost",
                                         args => ["-setcookie", Cookie, "-pa", Dir,
                                                  "+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none",
                                                  "-kernel", "inet_dist_use_interface", "{127,0,0,1}"]}),
    Node.

conc(K, T, Nodes, Procs, Count) ->
    Self = self(),
    Ws = [spawn_link(Nd, ?MODULE, worker, [Self, K, T, Nd, Count]) || Nd <- Nodes, _ <- lists:seq(1, Procs)],
    [receive {ready, W} -> ok end || W <- Ws],
    T0 = erlang:monotonic_time(microsecond),
    [W ! go || W <- Ws],
    Ts = lists:append([receive {done, W, L} -> L end || W <- Ws]),
    Wall = erlang:monotonic_time(microsecond) - T0,
    report("conc", K, Ts, Wall).

worker(Parent, K, T, Node, Count) ->
    F = call_fun(K, T, Node),
    [F() || _ <- lists:seq(1, 10)],
    Parent ! {ready, self()},
    receive go -> ok end,
    Ts = [element(1, timer:tc(F)) || _ <- lists:seq(1, Count)],
    Parent ! {done, self(), Ts}.

%% R <mode> <kind> <calls> <median_us> <p99_us> <mean_us> <calls_per_s>
report(Mode, K, Ts, Wall) ->
    S = lists:sort(Ts),
    L = length(S),
    Med = pct(S, L, 0.50),
    P99 = pct(S, L, 0.99),
    Mean = lists:sum(S) / L,
    Cps = L * 1000000 / Wall,
    io:format("R ~s ~s ~b ~b ~b ~.1f ~.1f~n", [Mode, K, L, Med, P99, Mean, Cps]).

pct(S, L, P) -> lists:nth(max(1, ceil(L * P)), S).

rss(When, CnPid, BsrvPid) ->
    io:format("R rss ~s ~b ~b~n", [When, vmrss(CnPid), vmrss(BsrvPid)]).

vmrss(Pid) ->
    {ok, B} = file:read_file("/proc/" ++ Pid ++ "/status"),
    [Kb] = [binary_to_integer(string:trim(string:trim(V), trailing, " kB"))
            || <<"VmRSS:", V/binary>> <- binary:split(B, <<"\n">>, [global])],
    Kb.
