-- expect: failed nests too deep
skill = { name = "output_cycle", version = "1", description = "hostile: output_cycle", permissions = {} }
function run(args)
    local t = {}
    t.self = t
    return true, t
end
