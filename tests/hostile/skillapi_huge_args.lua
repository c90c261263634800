-- expect: failed arguments too large
skill = { name = "skillapi_huge_args", version = "1", description = "hostile: skillapi_huge_args", permissions = {} }
function run(args)
    local v, e = SkillAPI.memory_store("k", string.rep("z", 1100 * 1024))
    return nil, e
end
