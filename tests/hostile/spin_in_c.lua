-- expect: killed|timeout
skill = { name = "spin_in_c", version = "1", description = "hostile: spin_in_c", permissions = {} }
function run(args)
    local s = string.rep("a", 200000)
    string.find(s, ".-.-.-.-.-.-.-.-.-b")
    return true, "escaped"
end
