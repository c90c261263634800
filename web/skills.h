/* web/skills.h - the Skills page's API: the skill registry (core and dynamic skills, each with its circuit breaker),
 * the Lua files in SKILLS_DIR, and the management of dynamic skills (node/dynskills.h).
 *
 *   GET  /api/skills                {"skills": [skill...], "not_loaded": [row...] or null, "dynamic_skills":
 *                                    {"enabled", "dir", "two_factor"}}. A skill: {"name", "description", "config",
 *                                    "routes", "external" (the fields steps have always read), "kind": "core" |
 *                                    "dynamic", "permissions": "all" (core: the policy engine trusts it) or [names],
 *                                    "version", "file", "checksum" (first 16 hex digits of its SHA-256; these three
 *                                    null for core), "breaker": {"state": "closed" | "open" | "half_open",
 *                                    "failures", "last_error"}}. not_loaded: skills recorded in dynamic_skills that
 *                                    this node did not load (file missing, changed or failing a check; or disabled),
 *                                    with "reason"; null when the database did not answer.
 *   GET  /api/skills/files          {"enabled", "dir", "files": [{"file", "bytes", "modified" (UTC), "loadable"
 *                                    (the name passes the file name rule), "loaded_as" (skill name or null),
 *                                    "changed" (loaded only: the file differs from what was loaded)}], "truncated"}:
 *                                    regular *.lua files directly in SKILLS_DIR (no symlinks, dot files or
 *                                    directories), sorted by name, at most AC_WEB_SKILLS_FILES_MAX
 *   POST /api/skills/files          {"filename": "<name>.lua", "source": "..."}: 201 {"file", "bytes", "loaded_as",
 *                                    "note"}; the file is written atomically (ac_node_dynskills_write: at most
 *                                    256 KiB of UTF-8 text, no NUL, no bytecode) and never loaded
 *   POST /api/skills/load           {"file": "<name>.lua"}: a challenge (403 2fa_required); approved: the skill
 *   POST /api/skills/NAME/reload    a challenge; approved: the skill as reloaded
 *   POST /api/skills/NAME/unload    a challenge; approved: {"name"}
 *
 * The 2FA matrix of dynamic skills: loading, reloading and unloading run only once a code approved them (here with
 * POST /api/2fa/verify, or in the Telegram chat), and exactly as the prompt described them (the file's checksum and
 * declaration are bound into the action). While 2FA is off they are refused: 403 {"error": "... turn on two-factor
 * authentication first ...", "reason": "2fa_off"}. Core skills can never be unloaded or reloaded: 403 {"error",
 * "reason": "core_skill"}, no challenge. Writing a file needs no code: it changes nothing that runs (a loaded skill
 * keeps the code it was loaded with), and loading what was written needs one.
 *
 * Before a challenge is made, what can be checked is: the file name rule (422, "field": "file"), the file itself and
 * its declaration, read in the sandbox (the loader's sentence: 422, or 404 for a missing file or an unknown skill), a
 * version already loaded (422 same_version). An approval that fails after all (the file changed since, a database
 * error) answers with the loader's sentence and "approved": true. Without dynamic skills (no sandbox helper, or no
 * usable SKILLS_DIR) the page says so and the uploads, loads, reloads and unloads answer 503. */
#ifndef AC_WEB_SKILLS_H
#define AC_WEB_SKILLS_H

#include "web/call.h"

#define AC_WEB_SKILLS_FILES_MAX 500 /* files a listing shows */

/* Routes /api/skills and /api/skills/...; answers 404 for anything else there. Loop thread. */
void ac_web_skills_api(ac_web_server_t *s, h2o_req_t *req, const char *path);

/* For web/twofa.c: fills c with a failed skill action's answer (status from rc, the loader's sentence; database
 * errors only say so), with "approved": true when a code had approved it. */
void ac_web_skills_fail(ac_web_call_t *c, int rc, const ac_errmsg_t *err, bool approved);

#endif
