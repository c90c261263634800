-- expect: failed global 'os'
skill = { name = "os_execute", version = "1", description = "hostile: os_execute", permissions = {} }
function run(args)
    os.execute("id > /tmp/ac_hostile_pwned")
    return true, "escaped"
end
