-- expect: timeout|killed
-- Lua runs finalizers with hooks off, so the instruction hook cannot stop this one: the wall-clock kill does.
skill = { name = "finalizer_spin", version = "1", description = "hostile: finalizer_spin", permissions = {} }
function run(args)
    setmetatable({}, {__gc = function() while true do end end})
    local s
    for i = 1, 1e6 do s = {i} end
    return true, "ok"
end
