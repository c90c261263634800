-- expect: failed global 'io'
skill = { name = "io_lines", version = "1", description = "hostile: io_lines", permissions = {} }
function run(args)
    for l in io.lines("/etc/shadow") do end
    return true, "escaped"
end
