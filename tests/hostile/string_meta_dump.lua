-- expect: failed attempt to call a nil value
skill = { name = "string_meta_dump", version = "1", description = "hostile: string_meta_dump", permissions = {} }
function run(args)
    local d = getmetatable("").__index.dump
    d(run)
    return true, "escaped"
end
