-- expect: failed not valid UTF-8
skill = { name = "output_not_utf8", version = "1", description = "hostile: output_not_utf8", permissions = {} }
function run(args)
    return true, "\255\254"
end
