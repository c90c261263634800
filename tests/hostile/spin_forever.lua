-- expect: failed time limit exceeded
skill = { name = "spin_forever", version = "1", description = "hostile: spin_forever", permissions = {} }
function run(args)
    while true do end
    return true, "escaped"
end
