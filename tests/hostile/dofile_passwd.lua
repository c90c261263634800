-- expect: failed global 'dofile'
skill = { name = "dofile_passwd", version = "1", description = "hostile: dofile_passwd", permissions = {} }
function run(args)
    dofile("/etc/passwd")
    return true, "escaped"
end
