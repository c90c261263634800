/* node/settings.c - the settings cache of settings.h: a sorted array under a read-write lock, typed getters, and
 * the pure checks (key, type, value, sensitivity, masking) shared by the store, the CLI and later the admin UI. */
#include "node/settings.h"

#include "policy/utf8.h"

#include "node/config.h"
#include "policy/alloc.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ac_node_settings {
    pthread_rwlock_t lock;
    ac_node_setting_t *rows; /* sorted by key */
    size_t n, cap;
    uint64_t generation;
    uint8_t key[32];
};

static const char *const type_names[] = {"string", "integer", "float", "boolean", "json"};

/* Substrings that make any key secret (the original's Config UI rule). */
static const char *const sensitive_words[] = {"api_key", "token", "password", "secret"};

int ac_node_setting_type_parse(const char *name, ac_node_setting_type_t *out)
{
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
        if (strcmp(name, type_names[i]) == 0) {
            *out = (ac_node_setting_type_t)i;
            return 0;
        }
    }
    return -AC_ETYPE;
}

const char *ac_node_setting_type_name(ac_node_setting_type_t t)
{
    return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "unknown";
}

int ac_node_setting_key_check(const char *key, ac_errmsg_t *err)
{
    size_t n = strnlen(key, AC_SETTING_KEY_MAX + 1);
    if (n == 0)
        return ac_errmsg_set(err, -AC_EINVAL, "setting key is empty");
    if (n > AC_SETTING_KEY_MAX)
        return ac_errmsg_set(err, -AC_ETOOLONG, "setting key is longer than %d characters", AC_SETTING_KEY_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (!(isalnum(c) || c == '_' || c == '.' || c == '-'))
            return ac_errmsg_set(err, -AC_EINVAL, "setting key may only hold letters, digits, '_', '.' and '-'");
    }
    return 0;
}

static int parse_int(const char *v, int64_t *out)
{
    if (v[0] == '\0' || isspace((unsigned char)v[0]))
        return -AC_ETYPE;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0')
        return -AC_ETYPE;
    *out = x;
    return 0;
}

static int parse_float(const char *v, double *out)
{
    if (v[0] == '\0' || isspace((unsigned char)v[0]))
        return -AC_ETYPE;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno != 0 || *end != '\0' || !isfinite(x))
        return -AC_ETYPE;
    *out = x;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    if (strcmp(v, "true") == 0)
        *out = true;
    else if (strcmp(v, "false") == 0)
        *out = false;
    else
        return -AC_ETYPE;
    return 0;
}

static size_t json_depth(const json_t *j)
{
    size_t max = 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            size_t d = json_depth(v);
            if (d > max)
                max = d;
        }
        return max + 1;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            size_t d = json_depth(v);
            if (d > max)
                max = d;
        }
        return max + 1;
    }
    return 0;
}

/* Parses JSON text with jansson. Its parser itself is bounded (JSON_PARSER_MAX_DEPTH 2048); ours is stricter. */
static int parse_json(const char *v, json_t **out, ac_errmsg_t *err)
{
    json_error_t je;
    json_t *j = json_loads(v, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (j == NULL)
        return ac_errmsg_set(err, -AC_ETYPE, "not valid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
    if (json_depth(j) > AC_SETTING_JSON_DEPTH) {
        json_decref(j);
        return ac_errmsg_set(err, -AC_ETYPE, "JSON nested deeper than %d levels", AC_SETTING_JSON_DEPTH);
    }
    *out = j;
    return 0;
}

int ac_node_setting_value_check(ac_node_setting_type_t type, const char *value, ac_errmsg_t *err)
{
    size_t n = strnlen(value, AC_SETTING_VALUE_MAX + 1);
    if (n > AC_SETTING_VALUE_MAX)
        return ac_errmsg_set(err, -AC_ETOOLONG, "value is longer than %d bytes", AC_SETTING_VALUE_MAX);
    if (!ac_policy_utf8_valid(value, n))
        return ac_errmsg_set(err, -AC_EINVAL, "value is not valid UTF-8");
    int64_t i;
    double d;
    bool b;
    json_t *j;
    switch (type) {
    case AC_SETTING_STRING: return 0;
    case AC_SETTING_INTEGER:
        return parse_int(value, &i) == 0 ? 0 : ac_errmsg_set(err, -AC_ETYPE, "value is not an integer");
    case AC_SETTING_FLOAT:
        return parse_float(value, &d) == 0 ? 0 : ac_errmsg_set(err, -AC_ETYPE, "value is not a finite number");
    case AC_SETTING_BOOLEAN:
        return parse_bool(value, &b) == 0 ? 0 : ac_errmsg_set(err, -AC_ETYPE, "value must be true or false");
    case AC_SETTING_JSON: {
        int rc = parse_json(value, &j, err);
        if (rc == 0)
            json_decref(j);
        return rc;
    }
    }
    return ac_errmsg_set(err, -AC_ETYPE, "unknown setting type");
}

bool ac_node_setting_key_is_sensitive(const char *key)
{
    const ac_node_config_entry_t *e = ac_node_config_find_key(key);
    if (e != NULL && (e->flags & AC_CFG_SENSITIVE))
        return true;
    static const char *const always[] = {"discord.bot_token", "auth.totp.secret", "auth.totp.pending_secret"};
    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        if (strcmp(key, always[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof(sensitive_words) / sizeof(sensitive_words[0]); i++)
        if (strcasestr(key, sensitive_words[i]) != NULL)
            return true;
    return false;
}

char *ac_node_setting_mask(const char *value)
{
    size_t n = value == NULL ? 0 : strlen(value);
    if (n == 0)
        return ac_strdup("");
    if (n <= 8) {
        char *m = ac_malloc(n + 1);
        memset(m, '*', n);
        m[n] = '\0';
        return m;
    }
    char *m = ac_malloc(4 + 8 + 4 + 1);
    memcpy(m, value, 4);
    memcpy(m + 4, "********", 8);
    memcpy(m + 12, value + n - 4, 4);
    m[16] = '\0';
    return m;
}

/* --- cache --- */

ac_node_settings_t *ac_node_settings_new(const uint8_t key[32])
{
    ac_node_settings_t *s = ac_calloc(1, sizeof(*s));
    pthread_rwlock_init(&s->lock, NULL);
    memcpy(s->key, key, 32);
    return s;
}

void ac_node_setting_clear(ac_node_setting_t *row)
{
    if (row == NULL)
        return;
    free(row->key);
    ac_free_secret_str(row->value);
    free(row->category);
    free(row->description);
    memset(row, 0, sizeof(*row));
}

void ac_node_settings_rows_free(ac_node_setting_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ac_node_setting_clear(&rows[i]);
    free(rows);
}

void ac_node_settings_free(ac_node_settings_t *s)
{
    if (s == NULL)
        return;
    ac_node_settings_rows_free(s->rows, s->n);
    pthread_rwlock_destroy(&s->lock);
    explicit_bzero(s->key, sizeof(s->key));
    free(s);
}

const uint8_t *ac_node_settings_key(const ac_node_settings_t *s)
{
    return s->key;
}

/* Binary search; returns the index of key or where it would go, and sets *found. Lock held by the caller. */
static size_t find(const ac_node_settings_t *s, const char *key, bool *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->rows[mid].key, key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

void ac_node_settings_put(ac_node_settings_t *s, ac_node_setting_t *row)
{
    pthread_rwlock_wrlock(&s->lock);
    bool found;
    size_t i = find(s, row->key, &found);
    if (found) {
        ac_node_setting_clear(&s->rows[i]);
    } else {
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 64;
            s->rows = ac_realloc(s->rows, s->cap * sizeof(*s->rows));
        }
        memmove(&s->rows[i + 1], &s->rows[i], (s->n - i) * sizeof(*s->rows));
        s->n++;
    }
    s->rows[i] = *row;
    s->generation++;
    pthread_rwlock_unlock(&s->lock);
}

void ac_node_settings_remove(ac_node_settings_t *s, const char *key)
{
    pthread_rwlock_wrlock(&s->lock);
    bool found;
    size_t i = find(s, key, &found);
    if (found) {
        ac_node_setting_clear(&s->rows[i]);
        memmove(&s->rows[i], &s->rows[i + 1], (s->n - i - 1) * sizeof(*s->rows));
        s->n--;
        s->generation++;
    }
    pthread_rwlock_unlock(&s->lock);
}

static int cmp_rows(const void *a, const void *b)
{
    return strcmp(((const ac_node_setting_t *)a)->key, ((const ac_node_setting_t *)b)->key);
}

void ac_node_settings_replace_all(ac_node_settings_t *s, ac_node_setting_t *rows, size_t n)
{
    ac_node_setting_t *copy = ac_malloc((n ? n : 1) * sizeof(*copy));
    if (n > 0)
        memcpy(copy, rows, n * sizeof(*copy));
    qsort(copy, n, sizeof(*copy), cmp_rows);
    pthread_rwlock_wrlock(&s->lock);
    ac_node_setting_t *old = s->rows;
    size_t oldn = s->n;
    s->rows = copy;
    s->n = s->cap = n;
    s->generation++;
    pthread_rwlock_unlock(&s->lock);
    ac_node_settings_rows_free(old, oldn);
}

uint64_t ac_node_settings_generation(ac_node_settings_t *s)
{
    pthread_rwlock_rdlock(&s->lock);
    uint64_t g = s->generation;
    pthread_rwlock_unlock(&s->lock);
    return g;
}

/* Copies the plaintext of key (caller frees with ac_free_secret_str) after the usual checks. */
static int get_raw(ac_node_settings_t *s, const char *key, char **out)
{
    *out = NULL;
    pthread_rwlock_rdlock(&s->lock);
    bool found;
    size_t i = find(s, key, &found);
    int rc = 0;
    if (!found)
        rc = -AC_ENOENT;
    else if (s->rows[i].error != 0 || s->rows[i].value == NULL)
        rc = s->rows[i].error != 0 ? s->rows[i].error : -AC_ENOENT;
    else
        *out = ac_strdup(s->rows[i].value);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int ac_node_settings_get_str(ac_node_settings_t *s, const char *key, char **out)
{
    return get_raw(s, key, out);
}

int ac_node_settings_get_int(ac_node_settings_t *s, const char *key, int64_t *out)
{
    char *v;
    int rc = get_raw(s, key, &v);
    if (rc == 0)
        rc = parse_int(v, out);
    ac_free_secret_str(v);
    return rc;
}

int ac_node_settings_get_float(ac_node_settings_t *s, const char *key, double *out)
{
    char *v;
    int rc = get_raw(s, key, &v);
    if (rc == 0)
        rc = parse_float(v, out);
    ac_free_secret_str(v);
    return rc;
}

int ac_node_settings_get_bool(ac_node_settings_t *s, const char *key, bool *out)
{
    char *v;
    int rc = get_raw(s, key, &v);
    if (rc == 0)
        rc = parse_bool(v, out);
    ac_free_secret_str(v);
    return rc;
}

int ac_node_settings_get_json(ac_node_settings_t *s, const char *key, json_t **out)
{
    char *v;
    int rc = get_raw(s, key, &v);
    if (rc == 0)
        rc = parse_json(v, out, NULL);
    ac_free_secret_str(v);
    return rc;
}

int64_t ac_node_settings_int_or(ac_node_settings_t *s, const char *key, int64_t fallback)
{
    int64_t v;
    return ac_node_settings_get_int(s, key, &v) == 0 ? v : fallback;
}

bool ac_node_settings_bool_or(ac_node_settings_t *s, const char *key, bool fallback)
{
    bool v;
    return ac_node_settings_get_bool(s, key, &v) == 0 ? v : fallback;
}

static void copy_masked(const ac_node_setting_t *src, ac_node_setting_t *dst)
{
    dst->key = ac_strdup(src->key);
    dst->type = src->type;
    dst->category = ac_strdup(src->category ? src->category : "general");
    dst->description = src->description ? ac_strdup(src->description) : NULL;
    dst->sensitive = src->sensitive;
    dst->error = src->error;
    if (src->value == NULL)
        dst->value = NULL;
    else if (src->sensitive && strncmp(src->key, "auth.totp.", 10) == 0) /* not even 8 of the key's characters */
        dst->value = ac_strdup(src->value[0] != '\0' ? "********" : "");
    else if (src->sensitive)
        dst->value = ac_node_setting_mask(src->value);
    else
        dst->value = ac_strdup(src->value);
}

int ac_node_settings_list(ac_node_settings_t *s, const char *category, ac_node_setting_t **rows, size_t *n)
{
    pthread_rwlock_rdlock(&s->lock);
    ac_node_setting_t *out = ac_calloc(s->n ? s->n : 1, sizeof(*out));
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        const ac_node_setting_t *r = &s->rows[i];
        if (category != NULL && strcmp(r->category != NULL ? r->category : "general", category) != 0)
            continue;
        copy_masked(r, &out[k++]);
    }
    pthread_rwlock_unlock(&s->lock);
    *rows = out;
    *n = k;
    return 0;
}

int ac_node_settings_describe(ac_node_settings_t *s, const char *key, ac_node_setting_t *row)
{
    memset(row, 0, sizeof(*row));
    pthread_rwlock_rdlock(&s->lock);
    bool found;
    size_t i = find(s, key, &found);
    if (found)
        copy_masked(&s->rows[i], row);
    pthread_rwlock_unlock(&s->lock);
    return found ? 0 : -AC_ENOENT;
}
