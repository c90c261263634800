/* policy/perm.h - the SkillAPI permissions (reference section 5.3) as a bit set.
 *
 * A dynamic skill declares the permissions it needs by name; the loader turns the names into an ac_policy_perms_t
 * once, and every later check (the policy engine, capability tokens) works on bits. The known set is exactly the
 * original's @known_permissions, one bit each, in this order:
 *
 *     bit  0 llm              bit  5 knowledge_read   bit 10 skill_invoke
 *     bit  1 telegram_send    bit  6 knowledge_write  bit 11 skill_write
 *     bit  2 gateway_send     bit  7 web_read         bit 12 skill_manage
 *     bit  3 memory_read      bit  8 config_read      bit 13 workflow_manage
 *     bit  4 memory_write     bit  9 resources_read
 *
 * The bit numbers are part of the capability token's signed encoding (policy/captoken.h): never renumber a bit,
 * only add new ones after the last. Names are exact and lower-case ("LLM" and " llm" are unknown). Pure: no state,
 * no allocation, thread-safe. */
#ifndef AC_POLICY_PERM_H
#define AC_POLICY_PERM_H

#include "policy/error.h"

#include <stddef.h>
#include <stdint.h>

typedef uint32_t ac_policy_perms_t;

#define AC_POLICY_PERM_LLM             ((ac_policy_perms_t)1 << 0)
#define AC_POLICY_PERM_TELEGRAM_SEND   ((ac_policy_perms_t)1 << 1)
#define AC_POLICY_PERM_GATEWAY_SEND    ((ac_policy_perms_t)1 << 2)
#define AC_POLICY_PERM_MEMORY_READ     ((ac_policy_perms_t)1 << 3)
#define AC_POLICY_PERM_MEMORY_WRITE    ((ac_policy_perms_t)1 << 4)
#define AC_POLICY_PERM_KNOWLEDGE_READ  ((ac_policy_perms_t)1 << 5)
#define AC_POLICY_PERM_KNOWLEDGE_WRITE ((ac_policy_perms_t)1 << 6)
#define AC_POLICY_PERM_WEB_READ        ((ac_policy_perms_t)1 << 7)
#define AC_POLICY_PERM_CONFIG_READ     ((ac_policy_perms_t)1 << 8)
#define AC_POLICY_PERM_RESOURCES_READ  ((ac_policy_perms_t)1 << 9)
#define AC_POLICY_PERM_SKILL_INVOKE    ((ac_policy_perms_t)1 << 10)
#define AC_POLICY_PERM_SKILL_WRITE     ((ac_policy_perms_t)1 << 11)
#define AC_POLICY_PERM_SKILL_MANAGE    ((ac_policy_perms_t)1 << 12)
#define AC_POLICY_PERM_WORKFLOW_MANAGE ((ac_policy_perms_t)1 << 13)

/* Number of known permissions, and the set of all of them (what a core skill implicitly has). */
#define AC_POLICY_PERM_COUNT 14
#define AC_POLICY_PERM_ALL   ((((ac_policy_perms_t)1) << AC_POLICY_PERM_COUNT) - 1)

/* Longest name, without the NUL ("knowledge_write", "workflow_manage"). */
#define AC_POLICY_PERM_NAME_MAX 15
/* Buffer that ac_policy_perms_format() needs for AC_POLICY_PERM_ALL: the 14 names (163 bytes), 13 commas and the
 * NUL. A buffer of this size never fails with -AC_ETOOLONG. */
#define AC_POLICY_PERMS_FORMAT_MAX 177

/* Returns the static name of `bit` ("llm" for AC_POLICY_PERM_LLM), or NULL when `bit` is not exactly one known
 * permission (0, several bits, or a bit above the known set). */
const char *ac_policy_perm_name(ac_policy_perms_t bit);

/* Parses one NUL-terminated name, exactly as spelled in the table above.
 * Returns the permission's bit (a positive int), or -AC_EINVAL when `name` is NULL or names no known permission.
 * Callers holding a counted string (a Lua string may contain a NUL) must refuse embedded NULs first. */
int ac_policy_perm_parse(const char *name);

/* Parses a declared permission list: the n NUL-terminated names at names[0..n-1] (names may be NULL when n is 0).
 * Duplicates are fine (a set); an empty list is the empty set.
 * OUT: *out receives the set; it is 0 on failure.
 * Returns 0; -AC_EINVAL when an entry is NULL or not a known permission, with err (may be NULL) naming the first such
 * entry and its index, e.g. `unknown permission "shell" (entry 2)`: the name is quoted, cut to 48 bytes, and bytes
 * outside printable ASCII are shown as '?', so the message is safe to log; -AC_EINVAL also when out is NULL or
 * names is NULL with n > 0. */
int ac_policy_perms_parse(const char *const *names, size_t n, ac_policy_perms_t *out, ac_errmsg_t *err);

/* Writes the names of the bits in `perms` sorted alphabetically (byte order) and separated by "," without spaces,
 * e.g. "knowledge_read,llm,web_read"; the empty set is "".
 * OUT: out receives the text and a NUL (cap bytes at most; AC_POLICY_PERMS_FORMAT_MAX always suffices).
 * Returns the length written (without the NUL); -AC_EINVAL when `perms` has a bit outside AC_POLICY_PERM_ALL or out
 * is NULL; -AC_ETOOLONG when the text and its NUL do not fit in cap (out is then "" when cap > 0). */
int ac_policy_perms_format(ac_policy_perms_t perms, char *out, size_t cap);

#endif
