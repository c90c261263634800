-- expect: failed global 'io'
skill = { name = "io_open_passwd", version = "1", description = "hostile: io_open_passwd", permissions = {} }
function run(args)
    local f = io.open("/etc/passwd")
    return true, f:read("a")
end
