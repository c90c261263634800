-- expect: failed global 'load'
skill = { name = "load_bytecode", version = "1", description = "hostile: load_bytecode", permissions = {} }
function run(args)
    load("\27Lua")()
    return true, "escaped"
end
