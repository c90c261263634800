/* node/db.c - PostgreSQL connection helpers of db.h. */
#include "node/db.h"

#include "node/log.h"
#include "policy/alloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Copies src into dst, replacing every occurrence of secret (if non-empty) with "***". */
static void scrub(char *dst, size_t cap, const char *src, const char *secret)
{
    size_t sl = secret != NULL ? strlen(secret) : 0;
    size_t o = 0;
    while (*src != '\0' && o + 1 < cap) {
        if (sl > 0 && strncmp(src, secret, sl) == 0) {
            for (int k = 0; k < 3 && o + 1 < cap; k++)
                dst[o++] = '*';
            src += sl;
            continue;
        }
        dst[o++] = *src == '\n' ? ' ' : *src;
        src++;
    }
    while (o > 0 && dst[o - 1] == ' ')
        o--;
    dst[o] = '\0';
}

/* Copies the length of text up to the first of `stops` (or the end). */
static char *dup_until(const char *p, const char *stops)
{
    return ac_strndup(p, strcspn(p, stops));
}

/* The passwords a connection string may hold, copied out (each may be NULL): the userinfo password of a URL, and a
 * `password=` parameter (URL query or key=value form). Free with ac_free_secret_str. */
static void find_passwords(const char *url, char **userinfo, char **param)
{
    *userinfo = *param = NULL;
    const char *p = strstr(url, "://");
    if (p != NULL) {
        p += 3;
        const char *end = p + strcspn(p, "/?");
        const char *at = NULL;
        for (const char *q = p; q < end; q++)
            if (*q == '@')
                at = q;
        const char *colon = at != NULL ? memchr(p, ':', (size_t)(at - p)) : NULL;
        if (colon != NULL)
            *userinfo = ac_strndup(colon + 1, (size_t)(at - colon - 1));
    }
    const char *k = strstr(url, "password=");
    if (k != NULL)
        *param = dup_until(k + 9, p != NULL ? "&" : " ");
}

/* scrub() with every password of url. */
static void scrub_url(char *dst, size_t cap, const char *src, const char *url)
{
    char *a, *b;
    find_passwords(url, &a, &b);
    char tmp[AC_ERRMSG_MAX];
    scrub(tmp, sizeof(tmp), src, a);
    scrub(dst, cap, tmp, b);
    ac_free_secret_str(a);
    ac_free_secret_str(b);
}

int ac_node_db_url_check(const char *url, ac_errmsg_t *err)
{
    if (url == NULL || url[0] == '\0')
        return ac_errmsg_set(err, -AC_ECONFIG, "DATABASE_URL is empty");
    if (strlen(url) > 4096)
        return ac_errmsg_set(err, -AC_ECONFIG, "DATABASE_URL is longer than 4096 characters");
    bool is_url = strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0;
    if (!is_url && strchr(url, '=') == NULL)
        return ac_errmsg_set(err, -AC_ECONFIG,
                             "DATABASE_URL is malformed: expected postgresql://user:password@host:port/dbname "
                             "or a libpq key=value string");
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (opts == NULL) {
        char clean[AC_ERRMSG_MAX];
        scrub_url(clean, sizeof(clean), perr != NULL ? perr : "out of memory", url);
        PQfreemem(perr);
        return ac_errmsg_set(err, -AC_ECONFIG, "DATABASE_URL is malformed: %s", clean);
    }
    /* PQconninfoParse takes any text for these; a bad value would only fail at connect time, where it looks like an
     * unreachable server and would be retried forever. */
    int rc = 0;
    for (PQconninfoOption *o = opts; rc == 0 && o->keyword != NULL; o++) {
        if (o->val == NULL)
            continue;
        if (strcmp(o->keyword, "port") == 0 && (o->val[0] == '\0' || strspn(o->val, "0123456789,") != strlen(o->val)))
            rc = ac_errmsg_set(err, -AC_ECONFIG, "DATABASE_URL is malformed: port \"%.16s\" is not a number", o->val);
        else if (strcmp(o->keyword, "connect_timeout") == 0 && strspn(o->val, "0123456789") != strlen(o->val))
            rc = ac_errmsg_set(err, -AC_ECONFIG, "DATABASE_URL is malformed: connect_timeout is not a number");
        else if (strcmp(o->keyword, "sslmode") == 0 && strcmp(o->val, "disable") != 0 && strcmp(o->val, "allow") != 0 &&
                 strcmp(o->val, "prefer") != 0 && strcmp(o->val, "require") != 0 && strcmp(o->val, "verify-ca") != 0 &&
                 strcmp(o->val, "verify-full") != 0)
            rc = ac_errmsg_set(err, -AC_ECONFIG,
                               "DATABASE_URL is malformed: sslmode must be disable, allow, prefer, require, "
                               "verify-ca or verify-full");
    }
    PQconninfoFree(opts);
    return rc;
}

/* Server notices (e.g. "relation already exists, skipping") are routine: keep them out of stderr unless debugging. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    size_t n = strlen(message);
    ac_log_debug("db", "notice", "message=%.*s", (int)(n > 0 && message[n - 1] == '\n' ? n - 1 : n), message);
}

int ac_node_db_connect(const char *conninfo, PGconn **conn, ac_errmsg_t *err)
{
    /* Fallbacks first: with expand_dbname the URL's own parameters, expanded in dbname's place, override them. */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"10", "alexclaw", conninfo, NULL};
    *conn = NULL;
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL)
        return ac_errmsg_set(err, -AC_ENOMEM, "out of memory connecting to PostgreSQL");
    if (PQstatus(c) != CONNECTION_OK) {
        char clean[AC_ERRMSG_MAX];
        scrub_url(clean, sizeof(clean), PQerrorMessage(c), conninfo);
        PQfinish(c);
        return ac_errmsg_set(err, -AC_EDBDOWN, "%s", clean);
    }
    PQsetNoticeProcessor(c, on_notice, NULL);
    /* Our timestamps are UTC wall-clock values in `timestamp without time zone` columns, as in the original. */
    PGresult *r = PQexec(c, "SET TIME ZONE 'UTC'");
    PQclear(r);
    *conn = c;
    return 0;
}

int ac_node_db_connect_retry(const char *conninfo, int max_wait_s, volatile sig_atomic_t *stop, PGconn **conn,
                             ac_errmsg_t *err)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int delay = 1;
    for (int attempt = 1;; attempt++) {
        ac_errmsg_t e = {{0}};
        int rc = ac_node_db_connect(conninfo, conn, &e);
        if (rc == 0) {
            if (attempt > 1)
                ac_log_info("db", "connected", "attempts=%d", attempt);
            return 0;
        }
        if (rc != -AC_EDBDOWN)
            return ac_errmsg_set(err, rc, "%s", e.msg);
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited = (long)(now.tv_sec - t0.tv_sec);
        if (max_wait_s >= 0 && waited >= max_wait_s) {
            return ac_errmsg_set(err, -AC_EDBDOWN, "database unreachable after %d attempts in %lds: %s", attempt,
                                 waited, e.msg);
        }
        if (max_wait_s >= 0 && waited + delay > max_wait_s)
            delay = (int)(max_wait_s - waited); /* one last attempt right at the limit */
        ac_log_warn("db", "unreachable", "attempt=%d retry_in_s=%d error=%s", attempt, delay, e.msg);
        for (int i = 0; i < delay * 10; i++) {
            if (stop != NULL && *stop)
                return ac_errmsg_set(err, -AC_ESTOPPED, "stopped while waiting for the database");
            usleep(100 * 1000);
        }
        delay = delay * 2 > 30 ? 30 : delay * 2;
    }
}

int ac_node_db_exec(PGconn *c, const char *sql, const char *what, ac_errmsg_t *err)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        /* The server's primary message and where it points; not the multi-line LINE/caret rendering. */
        const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
        char clean[AC_ERRMSG_MAX];
        scrub(clean, sizeof(clean), primary != NULL ? primary : PQerrorMessage(c), NULL);
        rc = ac_errmsg_set(err, PQstatus(c) == CONNECTION_OK ? -AC_EDB : -AC_EDBDOWN, "%s: %s%s%s%s", what, clean,
                           pos != NULL ? " (at character " : "", pos != NULL ? pos : "", pos != NULL ? ")" : "");
    }
    PQclear(r);
    return rc;
}

void ac_node_db_describe(PGconn *c, char *buf, size_t cap)
{
    const char *host = PQhost(c), *port = PQport(c), *db = PQdb(c);
    snprintf(buf, cap, "%s:%s/%s", host ? host : "?", port ? port : "?", db ? db : "?");
}

int ac_node_db_fail(PGconn *c, const char *module, const char *what, ac_errmsg_t *err)
{
    const char *m = PQerrorMessage(c);
    int n = (int)strcspn(m, "\n"); /* the primary line; detail lines may quote input */
    int code = PQstatus(c) == CONNECTION_OK ? -AC_EDB : -AC_EDBDOWN;
    if (what != NULL)
        return ac_errmsg_set(err, code, "%s: %s: %.*s", module, what, n, m);
    return ac_errmsg_set(err, code, "%s: %.*s", module, n, m);
}
