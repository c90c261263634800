/* policy/perm.c - the SkillAPI permission names of perm.h and their bits.
 *
 * The two tables below are the whole security-relevant content of this file: the known names (bit i is names[i])
 * and the order in which a set is printed. Everything else is lookup. */
#include "policy/perm.h"

#include <string.h>

/* The known permissions, reference section 5.3 (the original's @known_permissions), indexed by bit number. */
static const char *const names[AC_POLICY_PERM_COUNT] = {
    "llm",      "telegram_send", "gateway_send",   "memory_read",  "memory_write", "knowledge_read", "knowledge_write",
    "web_read", "config_read",   "resources_read", "skill_invoke", "skill_write",  "skill_manage",   "workflow_manage",
};

/* Bit numbers in the byte order of their names, so ac_policy_perms_format() prints sorted lists as the original's
 * Enum.sort of atoms did. test_perm.c checks that this order really is sorted and covers every bit. */
static const unsigned char sorted[AC_POLICY_PERM_COUNT] = {
    8,  /* config_read */
    2,  /* gateway_send */
    5,  /* knowledge_read */
    6,  /* knowledge_write */
    0,  /* llm */
    3,  /* memory_read */
    4,  /* memory_write */
    9,  /* resources_read */
    10, /* skill_invoke */
    12, /* skill_manage */
    11, /* skill_write */
    1,  /* telegram_send */
    7,  /* web_read */
    13, /* workflow_manage */
};

/* Bytes of a refused name that go into an error message. */
#define SHOWN_MAX 48

const char *ac_policy_perm_name(ac_policy_perms_t bit)
{
    for (int i = 0; i < AC_POLICY_PERM_COUNT; i++)
        if (bit == (ac_policy_perms_t)1 << i)
            return names[i];
    return NULL;
}

int ac_policy_perm_parse(const char *name)
{
    if (name == NULL)
        return -AC_EINVAL;
    for (int i = 0; i < AC_POLICY_PERM_COUNT; i++)
        if (strcmp(name, names[i]) == 0)
            return 1 << i;
    return -AC_EINVAL;
}

/* Copies at most SHOWN_MAX bytes of s into out (SHOWN_MAX + 4 bytes), bytes outside printable ASCII as '?' and "..."
 * when cut: the name comes from a skill file and ends up in logs and on the admin page. */
static void shown(const char *s, char out[SHOWN_MAX + 4])
{
    size_t i = 0;
    for (; s[i] != '\0' && i < SHOWN_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (s[i] != '\0') {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

int ac_policy_perms_parse(const char *const *names_in, size_t n, ac_policy_perms_t *out, ac_errmsg_t *err)
{
    if (out == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "no place for the permission set");
    *out = 0;
    if (names_in == NULL && n != 0)
        return ac_errmsg_set(err, -AC_EINVAL, "no permission list");

    ac_policy_perms_t set = 0;
    for (size_t i = 0; i < n; i++) {
        if (names_in[i] == NULL)
            return ac_errmsg_set(err, -AC_EINVAL, "permission entry %zu is not a string", i + 1);
        int bit = ac_policy_perm_parse(names_in[i]);
        if (bit < 0) {
            char buf[SHOWN_MAX + 4];
            shown(names_in[i], buf);
            return ac_errmsg_set(err, -AC_EINVAL, "unknown permission \"%s\" (entry %zu)", buf, i + 1);
        }
        set |= (ac_policy_perms_t)bit;
    }
    *out = set;
    return 0;
}

int ac_policy_perms_format(ac_policy_perms_t perms, char *out, size_t cap)
{
    if (out == NULL || (perms & ~AC_POLICY_PERM_ALL) != 0)
        return -AC_EINVAL;

    size_t len = 0;
    for (int k = 0; k < AC_POLICY_PERM_COUNT; k++) {
        int i = sorted[k];
        if ((perms & ((ac_policy_perms_t)1 << i)) == 0)
            continue;
        size_t nl = strlen(names[i]), sep = len > 0 ? 1 : 0;
        if (len + sep + nl >= cap) { /* the NUL needs one more byte */
            if (cap > 0)
                out[0] = '\0';
            return -AC_ETOOLONG;
        }
        if (sep)
            out[len++] = ',';
        memcpy(out + len, names[i], nl);
        len += nl;
    }
    if (cap == 0)
        return -AC_ETOOLONG;
    out[len] = '\0';
    return (int)len;
}
