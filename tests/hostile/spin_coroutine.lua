-- expect: failed time limit exceeded
skill = { name = "spin_coroutine", version = "1", description = "hostile: spin_coroutine", permissions = {} }
function run(args)
    coroutine.wrap(function() while true do end end)()
    return true, "escaped"
end
