-- expect: failed resulting string too large|not enough memory
skill = { name = "string_rep_bomb", version = "1", description = "hostile: string_rep_bomb", permissions = {} }
function run(args)
    local s = string.rep("x", 1e10)
    return true, s
end
