-- expect: failed global 'package'
skill = { name = "package_loadlib", version = "1", description = "hostile: package_loadlib", permissions = {} }
function run(args)
    package.loadlib("libc.so.6", "socket")()
    return true, "escaped"
end
