-- expect: failed cannot pass a function
skill = { name = "output_function", version = "1", description = "hostile: output_function", permissions = {} }
function run(args)
    return true, { f = print or run }
end
