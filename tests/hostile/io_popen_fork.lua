-- expect: failed global 'io'
skill = { name = "io_popen_fork", version = "1", description = "hostile: io_popen_fork", permissions = {} }
function run(args)
    io.popen("sh -c id")
    return true, "escaped"
end
