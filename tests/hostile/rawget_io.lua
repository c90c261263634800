-- expect: failed attempt to index a nil value
skill = { name = "rawget_io", version = "1", description = "hostile: rawget_io", permissions = {} }
function run(args)
    local io2 = rawget(_G, "io")
    io2.open("/etc/passwd")
    return true, "escaped"
end
