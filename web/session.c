/* web/session.c - the session table and login CSRF tokens of session.h. */
#include "web/session.h"

#include "policy/alloc.h"
#include "policy/crypto.h"
#include "policy/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool used;
    uint8_t hash[32]; /* SHA-256 of the id */
    char csrf[AC_WEB_TOKEN_LEN + 1];
    int64_t created;
} session_t;

struct ac_web_sessions {
    pthread_mutex_t lock;
    session_t table[AC_WEB_SESSION_MAX];
    uint8_t form_key[32];
    int64_t lifetime;
};

int64_t ac_web_sessions_lifetime(const ac_web_sessions_t *s)
{
    return s->lifetime;
}

/* base64url without padding of 32 bytes: 43 characters. */
static void b64url(const uint8_t in[32], char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < 32; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = a[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = a[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

bool ac_web_token_well_formed(const char *t)
{
    size_t n = strlen(t);
    return n == AC_WEB_TOKEN_LEN && strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

static bool well_formed(const char *t)
{
    size_t n = strlen(t);
    return n == AC_WEB_TOKEN_LEN && strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

int ac_web_token_new(char *out)
{
    uint8_t raw[32];
    if (ac_policy_crypto_random(raw, sizeof(raw)) != 0)
        return -AC_ECRYPTO;
    b64url(raw, out);
    return 0;
}

bool ac_web_token_equal(const char *a, const char *b)
{
    return ac_policy_crypto_ct_equal(a, strlen(a), b, strlen(b)) == 1;
}

ac_web_sessions_t *ac_web_sessions_new(int64_t lifetime_s)
{
    ac_web_sessions_t *s = ac_calloc(1, sizeof(*s));
    s->lifetime = lifetime_s > 0 ? lifetime_s : AC_WEB_SESSION_LIFETIME_S;
    if (ac_policy_crypto_random(s->form_key, sizeof(s->form_key)) != 0) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void ac_web_sessions_free(ac_web_sessions_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->lock);
    ac_free_secret(s, sizeof(*s));
}

int ac_web_session_create(ac_web_sessions_t *s, int64_t now, char *id, char *csrf)
{
    uint8_t raw[32];
    if (ac_policy_crypto_random(raw, sizeof(raw)) != 0 || ac_web_token_new(csrf) != 0)
        return -AC_ECRYPTO;
    b64url(raw, id);
    uint8_t hash[32];
    if (ac_policy_crypto_sha256(id, AC_WEB_TOKEN_LEN, hash) != 0)
        return -AC_ECRYPTO;
    pthread_mutex_lock(&s->lock);
    size_t slot = 0;
    for (size_t i = 0; i < AC_WEB_SESSION_MAX; i++) {
        session_t *e = &s->table[i];
        if (!e->used || now - e->created >= s->lifetime) { /* free, or expired */
            slot = i;
            break;
        }
        if (e->created < s->table[slot].created) /* else the oldest */
            slot = i;
    }
    session_t *e = &s->table[slot];
    e->used = true;
    memcpy(e->hash, hash, sizeof(hash));
    memcpy(e->csrf, csrf, AC_WEB_TOKEN_LEN + 1);
    e->created = now;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* The slot of id, or -1. Caller holds the lock. */
static int find_slot(ac_web_sessions_t *s, const char *id)
{
    uint8_t hash[32];
    if (!well_formed(id) || ac_policy_crypto_sha256(id, AC_WEB_TOKEN_LEN, hash) != 0)
        return -1;
    for (int i = 0; i < AC_WEB_SESSION_MAX; i++)
        if (s->table[i].used && ac_policy_crypto_ct_equal(s->table[i].hash, 32, hash, 32))
            return i;
    return -1;
}

int ac_web_session_find(ac_web_sessions_t *s, const char *id, int64_t now, char *csrf, int64_t *created)
{
    pthread_mutex_lock(&s->lock);
    int i = find_slot(s, id);
    int rc = -AC_ENOENT;
    if (i >= 0 && now - s->table[i].created >= s->lifetime) {
        memset(&s->table[i], 0, sizeof(s->table[i])); /* expired: gone for good */
    } else if (i >= 0) {
        if (csrf != NULL)
            memcpy(csrf, s->table[i].csrf, AC_WEB_TOKEN_LEN + 1);
        if (created != NULL)
            *created = s->table[i].created;
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void ac_web_session_destroy(ac_web_sessions_t *s, const char *id)
{
    pthread_mutex_lock(&s->lock);
    int i = find_slot(s, id);
    if (i >= 0)
        memset(&s->table[i], 0, sizeof(s->table[i]));
    pthread_mutex_unlock(&s->lock);
}

int ac_web_session_count(ac_web_sessions_t *s)
{
    pthread_mutex_lock(&s->lock);
    int n = 0;
    for (int i = 0; i < AC_WEB_SESSION_MAX; i++)
        n += s->table[i].used;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static int form_token(ac_web_sessions_t *s, const char *pre, char *out)
{
    uint8_t mac[32];
    int rc = ac_policy_crypto_hmac_sha256(s->form_key, sizeof(s->form_key), pre, strlen(pre), mac);
    b64url(mac, out);
    return rc;
}

int ac_web_login_csrf(ac_web_sessions_t *s, const char *pre, char *out)
{
    return form_token(s, pre, out);
}

bool ac_web_login_csrf_ok(ac_web_sessions_t *s, const char *pre, const char *token)
{
    char want[AC_WEB_TOKEN_LEN + 1];
    if (!well_formed(pre) || !well_formed(token) || form_token(s, pre, want) != 0)
        return false;
    return ac_web_token_equal(want, token);
}
