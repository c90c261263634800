-- expect: failed output too large
skill = { name = "output_over_frame", version = "1", description = "hostile: output_over_frame", permissions = {} }
function run(args)
    return true, string.rep("x", 1536 * 1024)
end
