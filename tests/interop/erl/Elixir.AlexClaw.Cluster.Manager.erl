%% A stand-in for the original AlexClaw's Cluster.Manager on a real BEAM node: records every trigger it receives
%% (to a file named by the MANAGER_LOG environment variable) and answers like the original.
-module('Elixir.AlexClaw.Cluster.Manager').
-export([receive_workflow_data/3]).

receive_workflow_data(<<"missing">>, _Data, _Source) ->
    {error, workflow_not_found};
receive_workflow_data(Name, Data, Source) when is_binary(Name), is_binary(Source) ->
    {ok, F} = file:open(os:getenv("MANAGER_LOG"), [append]),
    io:format(F, "~s ~s ~p~n", [Name, Source, Data]),
    file:close(F),
    {ok, started}.
