/* skills/jail_lua.h - the Lua 5.4 state inside the sandbox helper (alexclaw-sandbox, issue 7): a counting allocator
 * with a hard cap, only the harmless standard libraries, a time limit enforced by an instruction hook, JSON <-> Lua
 * conversion, and the SkillAPI table whose functions are the only way out.
 *
 * The state has base (without dofile, loadfile, load, require, collectgarbage, print, warn), string (without dump),
 * table, math, utf8 and coroutine; no io, os, package or debug. Chunks are loaded as text only (bytecode refused).
 * Values crossing the channel: nil <-> null, booleans, integers, finite floats, strings (valid UTF-8, no NUL),
 * tables with keys 1..n <-> arrays, tables with string keys <-> objects (an empty table is an empty object),
 * nested at most AC_SKILLS_CHANNEL_DEPTH deep; functions, userdata, threads, cycles and mixed tables are refused.
 *
 * A dynamic skill file:
 *     skill = { name = "word_count", version = "1.0", description = "...",
 *               permissions = { "memory_write" }, routes = { "on_success", "on_empty", "on_error" } }
 *     function run(args)               -- args.input, args.config, args.workflow_run_id, ...
 *         local ok, err = SkillAPI.memory_store("note", args.input)
 *         if not ok then return nil, err end
 *         return true, { words = 3 }, "on_success"
 *     end
 * SkillAPI.<f>(...) returns the result, or nil and an error text (a denial says "permission_denied"). */
#ifndef AC_SKILLS_JAIL_LUA_H
#define AC_SKILLS_JAIL_LUA_H

#include "policy/error.h"
#include "skills/channel.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ac_skills_jail_lua ac_skills_jail_lua_t;

/* The SkillAPI transport: performs fn with args (an object, owned by the caller). Returns 0 with *result (owned,
 * may be NULL for null) or -1 with err filled ("permission_denied", ...). */
typedef int (*ac_skills_jail_call_fn)(void *ud, const ac_skills_channel_fn_t *fn, json_t *args, json_t **result,
                                      char *err, size_t errcap);
/* Called when the state must end at once: from the hook when the time limit has passed ("time limit exceeded"),
 * or on an error outside any protected call. Does not return (it reports `why` and exits). */
typedef void (*ac_skills_jail_expired_fn)(void *ud, const char *why);

/* A state capped at mem_limit bytes that gives up at deadline_ms (CLOCK_MONOTONIC ms). */
int ac_skills_jail_lua_new(size_t mem_limit, int64_t deadline_ms, ac_skills_jail_expired_fn expired, void *ud,
                           ac_skills_jail_lua_t **out, ac_errmsg_t *err);
void ac_skills_jail_lua_free(ac_skills_jail_lua_t *J);

/* Adds the global table SkillAPI, one function per channel function, each calling `call`. */
void ac_skills_jail_lua_api(ac_skills_jail_lua_t *J, ac_skills_jail_call_fn call, void *ud);

/* Loads src (text only) under the chunk name "=<name>.lua" and runs its top level. err carries Lua's message. */
int ac_skills_jail_lua_load(ac_skills_jail_lua_t *J, const char *name, const char *src, size_t len, ac_errmsg_t *err);

/* After load: the declaration {name, version, description, permissions, routes} read from the global table
 * `skill`, and whether a global function `run` exists (an error if not). OUT: *decl (owned). */
int ac_skills_jail_lua_declare(ac_skills_jail_lua_t *J, json_t **decl, ac_errmsg_t *err);

/* After load: calls run(args). OUT on success (0): *output (owned, NULL for nil), branch ("on_success" unless the
 * skill returned one). On failure (-1) err carries the skill's error or Lua's. */
int ac_skills_jail_lua_run(ac_skills_jail_lua_t *J, const json_t *args, json_t **output, char *branch,
                           size_t branch_cap, ac_errmsg_t *err);

/* Bytes the state holds now, and at most so far. */
size_t ac_skills_jail_lua_used(const ac_skills_jail_lua_t *J);
size_t ac_skills_jail_lua_peak(const ac_skills_jail_lua_t *J);

#endif
