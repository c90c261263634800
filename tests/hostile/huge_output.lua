-- expect: failed too large
skill = { name = "huge_output", version = "1", description = "hostile: huge_output", permissions = {} }
function run(args)
    return true, string.rep("x", 3 * 1024 * 1024)
end
