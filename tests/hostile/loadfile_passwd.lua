-- expect: failed global 'loadfile'
skill = { name = "loadfile_passwd", version = "1", description = "hostile: loadfile_passwd", permissions = {} }
function run(args)
    loadfile("/etc/passwd")()
    return true, "escaped"
end
