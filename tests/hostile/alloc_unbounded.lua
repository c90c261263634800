-- expect: failed not enough memory
skill = { name = "alloc_unbounded", version = "1", description = "hostile: alloc_unbounded", permissions = {} }
function run(args)
    local t = {}
    for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end
    return true, "escaped"
end
