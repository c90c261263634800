-- expect: failed global 'debug'
skill = { name = "debug_registry", version = "1", description = "hostile: debug_registry", permissions = {} }
function run(args)
    debug.getregistry()
    return true, "escaped"
end
