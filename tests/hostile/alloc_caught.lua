-- expect: failed not enough memory
skill = { name = "alloc_caught", version = "1", description = "hostile: alloc_caught", permissions = {} }
function run(args)
    local t, last = {}, nil
    for i = 1, 200 do
        local ok, e = pcall(function() t[#t + 1] = string.rep("y", 1e6) .. i end)
        if not ok then last = e end
    end
    return nil, last
end
