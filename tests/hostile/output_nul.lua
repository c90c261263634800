-- expect: failed NUL
skill = { name = "output_nul", version = "1", description = "hostile: output_nul", permissions = {} }
function run(args)
    return true, "a\0b"
end
