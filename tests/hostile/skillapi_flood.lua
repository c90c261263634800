-- expect: failed|killed time limit exceeded|stopped
-- alone (every call denied by the test) it runs into the time limit; in the node it is stopped after 20 denials
skill = { name = "skillapi_flood", version = "1", description = "hostile: skillapi_flood", permissions = {} }
function run(args)
    while true do SkillAPI.config_get("x") end
    return true, "escaped"
end
