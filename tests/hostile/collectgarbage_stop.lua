-- expect: failed global 'collectgarbage'
skill = { name = "collectgarbage_stop", version = "1", description = "hostile: collectgarbage_stop", permissions = {} }
function run(args)
    collectgarbage("stop")
    return true, "escaped"
end
