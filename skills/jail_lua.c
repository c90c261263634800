/* skills/jail_lua.c - the sandbox helper's Lua state (jail_lua.h). */
#include "skills/jail_lua.h"

#include "policy/utf8.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOOK_EVERY 1000              /* instructions between two clock checks */
#define VALUES_MAX 200000            /* values in one converted Lua value */
#define BYTES_MAX  (2 * 1024 * 1024) /* string bytes in one converted Lua value */

struct ac_skills_jail_lua {
    lua_State *L;
    size_t used, peak, limit;
    int64_t deadline_ms;
    ac_skills_jail_expired_fn expired;
    void *expired_ud;
    ac_skills_jail_call_fn call;
    void *call_ud;
};

static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    ac_skills_jail_lua_t *J = ud;
    size_t old = ptr != NULL ? osize : 0; /* with ptr NULL, osize is a type tag */
    if (nsize == 0) {
        free(ptr);
        J->used -= old;
        return NULL;
    }
    if (nsize > old && nsize - old > J->limit - J->used)
        return NULL; /* over the cap: Lua raises "not enough memory" */
    void *p = realloc(ptr, nsize);
    if (p == NULL)
        return NULL;
    J->used = J->used - old + nsize;
    if (J->used > J->peak)
        J->peak = J->used;
    return p;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every HOOK_EVERY instructions, in every coroutine (lua_newthread copies the hook). A skill could catch an error
 * raised here with pcall and go on, so the limit is not an error: the helper reports and exits. */
static void hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    ac_skills_jail_lua_t *J = *(ac_skills_jail_lua_t **)lua_getextraspace(L);
    if (now_ms() >= J->deadline_ms && J->expired != NULL)
        J->expired(J->expired_ud, "time limit exceeded");
}

static int panic(lua_State *L)
{
    ac_skills_jail_lua_t *J = *(ac_skills_jail_lua_t **)lua_getextraspace(L);
    if (J->expired != NULL)
        J->expired(J->expired_ud, "unprotected Lua error");
    abort();
}

int ac_skills_jail_lua_new(size_t mem_limit, int64_t deadline_ms, ac_skills_jail_expired_fn expired, void *ud,
                           ac_skills_jail_lua_t **out, ac_errmsg_t *err)
{
    *out = NULL;
    ac_skills_jail_lua_t *J = calloc(1, sizeof(*J));
    if (J == NULL)
        return ac_errmsg_set(err, -AC_ENOMEM, "sandbox: out of memory");
    J->limit = mem_limit;
    J->deadline_ms = deadline_ms;
    J->expired = expired;
    J->expired_ud = ud;
    J->L = lua_newstate(counting_alloc, J);
    if (J->L == NULL) {
        free(J);
        return ac_errmsg_set(err, -AC_ENOMEM, "sandbox: cannot create a Lua state within %zu bytes", mem_limit);
    }
    lua_State *L = J->L;
    *(ac_skills_jail_lua_t **)lua_getextraspace(L) = J;
    lua_atpanic(L, panic);
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},
        {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table},
        {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},
        {LUA_COLIBNAME, luaopen_coroutine},
        {NULL, NULL},
    };
    for (const luaL_Reg *l = libs; l->name != NULL; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    static const char *const drop[] = {"dofile",         "loadfile", "load", "require",
                                       "collectgarbage", "print",    "warn", NULL};
    for (const char *const *d = drop; *d != NULL; d++) {
        lua_pushnil(L);
        lua_setglobal(L, *d);
    }
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    /* package.loaded keeps references to the libraries; without package there is no way to reach it, but drop
     * the registry's copy of the removed functions' library table entries anyway. */
    lua_sethook(L, hook, LUA_MASKCOUNT, HOOK_EVERY);
    *out = J;
    return 0;
}

void ac_skills_jail_lua_free(ac_skills_jail_lua_t *J)
{
    if (J == NULL)
        return;
    lua_close(J->L);
    free(J);
}

size_t ac_skills_jail_lua_used(const ac_skills_jail_lua_t *J)
{
    return J->used;
}

size_t ac_skills_jail_lua_peak(const ac_skills_jail_lua_t *J)
{
    return J->peak;
}

/* --- Lua -> JSON ------------------------------------------------------------------------------------------- */

typedef struct conv {
    size_t values, bytes;
    char err[160];
} conv_t;

static json_t *conv_fail(conv_t *c, const char *msg)
{
    if (c->err[0] == '\0')
        snprintf(c->err, sizeof(c->err), "%s", msg);
    return NULL;
}

static json_t *string_to_json(conv_t *c, const char *s, size_t n)
{
    if ((c->bytes += n) > BYTES_MAX)
        return conv_fail(c, "value too large (over 2 MiB of text)");
    if (memchr(s, '\0', n) != NULL)
        return conv_fail(c, "a string contains a NUL byte");
    json_t *j = json_stringn(s, n);
    return j != NULL ? j : conv_fail(c, "a string is not valid UTF-8");
}

static json_t *to_json(lua_State *L, int idx, int depth, conv_t *c)
{
    if (++c->values > VALUES_MAX)
        return conv_fail(c, "value too large (too many elements)");
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return json_null();
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        if (!isfinite(lua_tonumber(L, idx)))
            return conv_fail(c, "a number is not finite");
        return json_real(lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        return string_to_json(c, s, n);
    }
    case LUA_TTABLE: break;
    default: return conv_fail(c, "cannot pass a function, userdata or thread");
    }
    if (depth >= AC_SKILLS_CHANNEL_DEPTH)
        return conv_fail(c, "a table nests too deep (or refers to itself)");
    if (!lua_checkstack(L, 4))
        return conv_fail(c, "out of stack");
    idx = lua_absindex(L, idx);
    /* classify with raw access: no metamethod runs during a conversion */
    lua_Integer count = 0, maxkey = 0;
    int strkeys = 0, intkeys = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            strkeys = 1;
        } else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
            intkeys = 1;
            if (lua_tointeger(L, -1) > maxkey)
                maxkey = lua_tointeger(L, -1);
        } else {
            lua_pop(L, 1);
            return conv_fail(c, "a table key is neither a string nor a positive integer");
        }
        if (++count > VALUES_MAX) {
            lua_pop(L, 1);
            return conv_fail(c, "value too large (too many elements)");
        }
    }
    if (strkeys && intkeys)
        return conv_fail(c, "a table mixes array and object keys");
    if (intkeys) {
        if (maxkey != count)
            return conv_fail(c, "an array has holes");
        json_t *a = json_array();
        for (lua_Integer i = 1; i <= count; i++) {
            lua_rawgeti(L, idx, i);
            json_t *v = to_json(L, -1, depth + 1, c);
            lua_pop(L, 1);
            if (v == NULL || json_array_append_new(a, v) != 0) {
                json_decref(a);
                return conv_fail(c, "out of memory");
            }
        }
        return a;
    }
    json_t *o = json_object();
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        size_t kn;
        const char *k = lua_tolstring(L, -2, &kn); /* a string key: tolstring does not change it */
        json_t *v = NULL;
        if (memchr(k, '\0', kn) != NULL)
            conv_fail(c, "a table key contains a NUL byte");
        else if ((c->bytes += kn) > BYTES_MAX)
            conv_fail(c, "value too large (over 2 MiB of text)");
        else
            v = to_json(L, -1, depth + 1, c);
        lua_pop(L, 1);
        if (v == NULL || json_object_setn_new(o, k, kn, v) != 0) { /* setn refuses a key that is not UTF-8 */
            lua_pop(L, 1);
            json_decref(o);
            return conv_fail(c, "a table key is not valid UTF-8 text");
        }
    }
    return o;
}

/* --- JSON -> Lua ------------------------------------------------------------------------------------------- */

static void push_json(lua_State *L, const json_t *v, int depth)
{
    if (depth > AC_SKILLS_CHANNEL_DEPTH + 1 || !lua_checkstack(L, 3)) {
        lua_pushnil(L);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(v));
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e)
        {
            push_json(L, e, depth + 1);
            lua_setfield(L, -2, k);
        }
        return;
    }
    case JSON_ARRAY: {
        lua_createtable(L, (int)json_array_size(v), 0);
        for (size_t i = 0; i < json_array_size(v); i++) {
            push_json(L, json_array_get(v, i), depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        return;
    }
    case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); return;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); return;
    case JSON_REAL: lua_pushnumber(L, json_real_value(v)); return;
    case JSON_TRUE:
    case JSON_FALSE: lua_pushboolean(L, json_is_true(v)); return;
    default: lua_pushnil(L); return;
    }
}

/* --- SkillAPI ---------------------------------------------------------------------------------------------- */

static int api_call(lua_State *L)
{
    ac_skills_jail_lua_t *J = lua_touserdata(L, lua_upvalueindex(1));
    const ac_skills_channel_fn_t *fn = ac_skills_channel_fn_at((size_t)lua_tointeger(L, lua_upvalueindex(2)));
    int nargs = lua_gettop(L);
    json_t *args = json_object();
    conv_t c = {0};
    for (int i = 0; i < 4 && fn->params[i] != NULL; i++) {
        if (i + 1 > nargs || lua_isnil(L, i + 1))
            continue;
        json_t *v = to_json(L, i + 1, 1, &c);
        if (v == NULL) {
            json_decref(args);
            lua_pushnil(L);
            lua_pushfstring(L, "bad argument '%s' to SkillAPI.%s: %s", fn->params[i], fn->name, c.err);
            return 2;
        }
        json_object_set_new(args, fn->params[i], v);
    }
    json_t *result = NULL;
    char err[AC_SKILLS_CHANNEL_ERROR_MAX] = "";
    int rc = J->call(J->call_ud, fn, args, &result, err, sizeof(err));
    json_decref(args);
    if (rc != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err[0] != '\0' ? err : "error");
        return 2;
    }
    if (result == NULL || json_is_null(result)) {
        /* success without a value: true, so `if not SkillAPI.f() then` still means failure */
        json_decref(result);
        lua_pushboolean(L, 1);
        return 1;
    }
    push_json(L, result, 0);
    json_decref(result);
    return 1;
}

void ac_skills_jail_lua_api(ac_skills_jail_lua_t *J, ac_skills_jail_call_fn call, void *ud)
{
    J->call = call;
    J->call_ud = ud;
    lua_State *L = J->L;
    lua_createtable(L, 0, (int)ac_skills_channel_fn_count());
    for (size_t i = 0; i < ac_skills_channel_fn_count(); i++) {
        lua_pushlightuserdata(L, J);
        lua_pushinteger(L, (lua_Integer)i);
        lua_pushcclosure(L, api_call, 2);
        lua_setfield(L, -2, ac_skills_channel_fn_at(i)->name);
    }
    lua_setglobal(L, "SkillAPI");
}

/* --- load, declare, run -------------------------------------------------------------------------------------- */

static int lua_fail(ac_skills_jail_lua_t *J, ac_errmsg_t *err, const char *what)
{
    size_t n = 0;
    const char *m = lua_type(J->L, -1) == LUA_TSTRING ? lua_tolstring(J->L, -1, &n) : NULL;
    if (m == NULL)
        ac_errmsg_set(err, -AC_EINVAL, "%s", what);
    else
        ac_errmsg_set(err, -AC_EINVAL, "%s: %.*s", what, (int)ac_policy_utf8_fit(m, n, 400), m);
    lua_settop(J->L, 0);
    return -AC_EINVAL;
}

int ac_skills_jail_lua_load(ac_skills_jail_lua_t *J, const char *name, const char *src, size_t len, ac_errmsg_t *err)
{
    char chunk[80];
    snprintf(chunk, sizeof(chunk), "=%.60s.lua", name);
    if (luaL_loadbufferx(J->L, src, len, chunk, "t") != LUA_OK)
        return lua_fail(J, err, "does not load");
    if (lua_pcall(J->L, 0, 0, 0) != LUA_OK)
        return lua_fail(J, err, "top level failed");
    return 0;
}

/* A string field of the declaration, or an error. */
static int decl_str(lua_State *L, const char *field, bool required, bool number_ok, json_t *decl, ac_errmsg_t *err)
{
    lua_getfield(L, -1, field);
    int t = lua_type(L, -1);
    int rc = 0;
    if (t == LUA_TNIL && !required) {
        /* absent */
    } else if (t == LUA_TSTRING || (number_ok && t == LUA_TNUMBER)) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        json_t *j = n <= 4096 && memchr(s, '\0', n) == NULL ? json_stringn(s, n) : NULL;
        if (j == NULL)
            rc = ac_errmsg_set(err, -AC_EINVAL, "skill.%s is not short UTF-8 text", field);
        else
            json_object_set_new(decl, field, j);
    } else {
        rc = ac_errmsg_set(err, -AC_EINVAL, "skill.%s must be a string", field);
    }
    lua_pop(L, 1);
    return rc;
}

static int decl_list(lua_State *L, const char *field, json_t *decl, ac_errmsg_t *err)
{
    lua_getfield(L, -1, field);
    int rc = 0;
    if (lua_isnil(L, -1)) {
        json_object_set_new(decl, field, json_array());
    } else if (!lua_istable(L, -1)) {
        rc = ac_errmsg_set(err, -AC_EINVAL, "skill.%s must be a list of strings", field);
    } else {
        conv_t c = {0};
        json_t *v = to_json(L, -1, 1, &c);
        if (json_is_object(v) && json_object_size(v) == 0) {
            json_decref(v);
            v = json_array();
        }
        bool ok = json_is_array(v) && json_array_size(v) <= 32;
        for (size_t i = 0; ok && i < json_array_size(v); i++)
            ok = json_is_string(json_array_get(v, i)) && json_string_length(json_array_get(v, i)) <= 64;
        if (!ok) {
            json_decref(v);
            rc = ac_errmsg_set(err, -AC_EINVAL, "skill.%s must be a list of at most 32 short strings", field);
        } else {
            json_object_set_new(decl, field, v);
        }
    }
    lua_pop(L, 1);
    return rc;
}

/* Reads the declaration inside a protected call (a metatable on _G or on skill may run code): pushes the result
 * (a light userdata json_t*) or raises. */
static int read_declaration(lua_State *L)
{
    ac_errmsg_t *err = lua_touserdata(L, 1);
    lua_settop(L, 0);
    if (lua_getglobal(L, "run") != LUA_TFUNCTION)
        return luaL_error(L, "no function run(args) defined");
    lua_pop(L, 1);
    if (lua_getglobal(L, "skill") != LUA_TTABLE)
        return luaL_error(L, "no table skill = { name = ..., version = ..., ... } declared");
    json_t *d = json_object();
    if (decl_str(L, "name", true, false, d, err) != 0 || decl_str(L, "version", false, true, d, err) != 0 ||
        decl_str(L, "description", false, false, d, err) != 0 || decl_list(L, "permissions", d, err) != 0 ||
        decl_list(L, "routes", d, err) != 0) {
        json_decref(d);
        lua_pushstring(L, err->msg);
        return lua_error(L);
    }
    lua_settop(L, 0);
    lua_pushlightuserdata(L, d);
    return 1;
}

int ac_skills_jail_lua_declare(ac_skills_jail_lua_t *J, json_t **decl, ac_errmsg_t *err)
{
    lua_State *L = J->L;
    *decl = NULL;
    lua_settop(L, 0);
    lua_pushcfunction(L, read_declaration);
    lua_pushlightuserdata(L, err);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        size_t n = 0;
        const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : "the declaration cannot be read";
        ac_errmsg_set(err, -AC_EINVAL, "%.*s", (int)ac_policy_utf8_fit(m, n ? n : strlen(m), 400), m);
        lua_settop(L, 0);
        return -AC_EINVAL;
    }
    *decl = lua_touserdata(L, -1);
    lua_settop(L, 0);
    return 0;
}

/* Pushes run and its argument table inside the protected call, so running out of memory there is an error too. */
static int call_run(lua_State *L)
{
    const json_t *args = lua_touserdata(L, 1);
    lua_settop(L, 0);
    lua_getglobal(L, "run");
    push_json(L, args, 0);
    lua_call(L, 1, 3);
    return 3;
}

int ac_skills_jail_lua_run(ac_skills_jail_lua_t *J, const json_t *args, json_t **output, char *branch,
                           size_t branch_cap, ac_errmsg_t *err)
{
    lua_State *L = J->L;
    *output = NULL;
    snprintf(branch, branch_cap, "on_success");
    lua_settop(L, 0);
    if (lua_getglobal(L, "run") != LUA_TFUNCTION) {
        lua_settop(L, 0);
        ac_errmsg_set(err, -AC_EINVAL, "no function run(args) defined");
        return -1;
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, call_run);
    lua_pushlightuserdata(L, (void *)args);
    if (lua_pcall(L, 1, 3, 0) != LUA_OK) {
        lua_fail(J, err, "run failed");
        return -1;
    }
    if (!lua_toboolean(L, 1)) {
        size_t n = 0;
        const char *m = lua_type(L, 2) == LUA_TSTRING || lua_type(L, 2) == LUA_TNUMBER ? lua_tolstring(L, 2, &n) : NULL;
        if (m == NULL)
            ac_errmsg_set(err, -AC_EINVAL, "run failed without saying why (return nil, \"reason\")");
        else
            ac_errmsg_set(err, -AC_EINVAL, "%.*s", (int)ac_policy_utf8_fit(m, n, 480), m);
        lua_settop(L, 0);
        return -1;
    }
    if (!lua_isnil(L, 3)) {
        size_t n = 0;
        const char *b = lua_type(L, 3) == LUA_TSTRING ? lua_tolstring(L, 3, &n) : NULL;
        if (b == NULL || n < 4 || n >= branch_cap || strncmp(b, "on_", 3) != 0 ||
            strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789_") != n) {
            lua_settop(L, 0);
            ac_errmsg_set(err, -AC_EINVAL, "run returned an invalid branch (on_<lower-case name>)");
            return -1;
        }
        memcpy(branch, b, n + 1);
    }
    conv_t c = {0};
    json_t *out = to_json(L, 2, 0, &c);
    lua_settop(L, 0);
    if (out == NULL) {
        ac_errmsg_set(err, -AC_EINVAL, "run returned an unusable output: %s", c.err);
        return -1;
    }
    *output = out;
    return 0;
}
