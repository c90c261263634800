-- expect: failed time limit exceeded
skill = { name = "spin_catching", version = "1", description = "hostile: spin_catching", permissions = {} }
function run(args)
    while true do pcall(function() while true do end end) end
    return true, "escaped"
end
