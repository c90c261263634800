-- expect: failed stack overflow|not enough memory|C stack overflow
skill = { name = "deep_recursion_c", version = "1", description = "hostile: deep_recursion_c", permissions = {} }
function run(args)
    local t = setmetatable({}, {})
    getmetatable(t).__index = function(s, k) return s[k .. "x"] end
    return true, t.a
end
