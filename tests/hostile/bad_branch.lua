-- expect: failed invalid branch
skill = { name = "bad_branch", version = "1", description = "hostile: bad_branch", permissions = {} }
function run(args)
    return true, "x", "../../etc"
end
