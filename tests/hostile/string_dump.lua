-- expect: failed field 'dump'
skill = { name = "string_dump", version = "1", description = "hostile: string_dump", permissions = {} }
function run(args)
    local b = string.dump(run)
    return true, b
end
