-- expect: failed permission_denied
skill = { name = "skillapi_denied", version = "1", description = "hostile: skillapi_denied", permissions = {} }
function run(args)
    local v, e = SkillAPI.config_get("telegram.bot_token")
    if v == nil then return nil, e end
    return true, v
end
