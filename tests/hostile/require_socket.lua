-- expect: failed global 'require'
skill = { name = "require_socket", version = "1", description = "hostile: require_socket", permissions = {} }
function run(args)
    local s = require("socket")
    s.connect("127.0.0.1", 22)
    return true, "escaped"
end
