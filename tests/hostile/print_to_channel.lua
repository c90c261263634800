-- expect: failed global 'print'
skill = { name = "print_to_channel", version = "1", description = "hostile: print_to_channel", permissions = {} }
function run(args)
    print("\0\0\0\5hello")
    return true, "escaped"
end
