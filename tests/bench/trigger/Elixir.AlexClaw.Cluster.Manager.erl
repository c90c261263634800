%% The baseline of tests/bench/bench_trigger.sh: a real BEAM node's receive_workflow_data/3 that does nothing and
%% answers {ok, started}, so a call to it costs the distribution protocol and nothing else.
-module('Elixir.AlexClaw.Cluster.Manager').
-export([receive_workflow_data/3]).

receive_workflow_data(_Name, _Data, _Source) ->
    {ok, started}.
