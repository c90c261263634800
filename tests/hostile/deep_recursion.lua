-- expect: failed stack overflow|not enough memory
skill = { name = "deep_recursion", version = "1", description = "hostile: deep_recursion", permissions = {} }
function run(args)
    local function f(n) return 1 + f(n + 1) end
    f(1)
    return true, "escaped"
end
