/* node/wf_record.c - the run records of wf_record.h. */
#include "node/wf_record.h"

#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAPSHOT_CHARS    2048
#define STORED_OUTPUT_MAX (1024 * 1024) /* a step output larger than this is stored cut, as a string */

const char *ac_node_wf_status_name(ac_node_wf_status_t s)
{
    static const char *const names[] = {"completed", "failed", "cancelled"};
    return (unsigned)s < 3 ? names[s] : "unknown";
}

void ac_node_wf_outcome_clear(ac_node_wf_outcome_t *out)
{
    json_decref(out->result);
    memset(out, 0, sizeof(*out));
}

/* Length of the longest prefix of s (at most max bytes) that ends on a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

/* PostgreSQL's jsonb cannot hold U+0000, which JSON (and a remote peer's data) can: such characters are stored as
 * U+FFFD. */
static bool has_nul(json_t *v)
{
    if (json_is_string(v))
        return memchr(json_string_value(v), '\0', json_string_length(v)) != NULL;
    size_t i;
    json_t *x;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            if (has_nul(x))
                return true;
        }
    }
    if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it != NULL; it = json_object_iter_next(v, it))
            if (memchr(json_object_iter_key(it), '\0', json_object_iter_key_len(it)) != NULL ||
                has_nul(json_object_iter_value(it)))
                return true;
    }
    return false;
}

/* s[0..n) with every NUL replaced by U+FFFD; from malloc, *out_len set. */
static char *replace_nul(const char *s, size_t n, size_t *out_len)
{
    char *o = ac_malloc(3 * n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0') {
            memcpy(o + k, "\xef\xbf\xbd", 3);
            k += 3;
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = '\0';
    *out_len = k;
    return o;
}

static json_t *scrubbed(json_t *v)
{
    size_t n;
    if (json_is_string(v)) {
        char *t = replace_nul(json_string_value(v), json_string_length(v), &n);
        json_t *r = json_stringn(t, n);
        free(t);
        return r != NULL ? r : json_string("");
    }
    if (json_is_array(v)) {
        json_t *a = json_array(), *x;
        size_t i;
        json_array_foreach(v, i, x) json_array_append_new(a, scrubbed(x));
        return a;
    }
    if (json_is_object(v)) {
        json_t *o = json_object();
        for (void *it = json_object_iter(v); it != NULL; it = json_object_iter_next(v, it)) {
            char *k = replace_nul(json_object_iter_key(it), json_object_iter_key_len(it), &n);
            json_object_setn_new(o, k, n, scrubbed(json_object_iter_value(it)));
            free(k);
        }
        return o;
    }
    return json_incref(v);
}

/* A JSON value fit for storage: itself, or (when its encoding is larger than STORED_OUTPUT_MAX) its text cut on a
 * character boundary; U+0000 replaced. Never NULL. */
static json_t *storable(json_t *in)
{
    if (in == NULL)
        return json_null();
    json_t *v = has_nul(in) ? scrubbed(in) : json_incref(in);
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t n = s != NULL ? strlen(s) : 0;
    if (s != NULL && n <= STORED_OUTPUT_MAX) {
        free(s);
        return v;
    }
    const char *src = json_is_string(v) ? json_string_value(v) : s;
    size_t srclen = json_is_string(v) ? json_string_length(v) : n;
    json_t *cut = src != NULL ? json_stringn(src, utf8_cut(src, srclen, STORED_OUTPUT_MAX)) : NULL;
    free(s);
    json_decref(v);
    return cut != NULL ? cut : json_string("(output not storable)");
}

json_t *ac_node_wf_result_of(json_t *v)
{
    json_t *r = json_object();
    json_object_set_new(r, "output", storable(v));
    return r;
}

static json_t *snapshot(json_t *v)
{
    char *t = ac_skill_input_text(v);
    size_t n = strlen(t), chars = 0, i = 0;
    for (; i < n; i++) {
        if (((unsigned char)t[i] & 0xc0) != 0x80 && chars++ == SNAPSHOT_CHARS)
            break;
    }
    json_t *s = json_stringn(t, i);
    free(t);
    return s != NULL ? s : json_string("");
}

void ac_node_wf_step_rec_clear(ac_node_wf_step_rec_t *rec)
{
    free(rec->results);
    free(rec->snapshot);
    free(rec->metadata);
    memset(rec, 0, sizeof(*rec));
}

void ac_node_wf_step_rec_build(const ac_node_wf_step_t *st, const ac_node_wf_step_result_t *r, json_t **results_out,
                               json_t **snapshot_out, json_t **metadata_out)
{
    json_t *entry = json_object(), *snap = json_object(), *meta = json_object();
    json_object_set_new(entry, "name", json_string(st->name));
    json_object_set_new(entry, "skill", json_string(st->skill));
    if (r->kind == AC_WF_STEP_ERROR) {
        json_object_set_new(entry, "error", json_string(r->error));
        json_object_set_new(snap, "error", json_string(r->error));
        json_object_set_new(meta, "error", json_string(r->error));
    } else if (r->kind == AC_WF_STEP_SKIPPED) {
        json_object_set_new(entry, "branch", json_string("skipped"));
        json_object_set_new(entry, "output", storable(r->output));
        json_object_set_new(meta, "skipped", json_true());
    } else {
        json_object_set_new(entry, "branch", json_string(r->branch));
        json_object_set_new(entry, "output", storable(r->output));
        json_object_set_new(snap, "output", snapshot(r->output));
        json_object_set_new(meta, "branch", json_string(r->branch));
    }
    json_t *results = json_object();
    char pos[16];
    snprintf(pos, sizeof(pos), "%d", st->position);
    json_object_set_new(results, pos, entry);
    *results_out = results;
    *snapshot_out = snap;
    *metadata_out = meta;
}

int ac_node_wf_step_rec_encode(const ac_node_wf_step_t *st, const ac_node_wf_step_result_t *r,
                               ac_node_wf_step_rec_t *rec, ac_errmsg_t *err)
{
    json_t *results, *snap, *meta;
    ac_node_wf_step_rec_build(st, r, &results, &snap, &meta);
    rec->results = json_dumps(results, JSON_COMPACT);
    rec->snapshot = json_dumps(snap, JSON_COMPACT);
    rec->metadata = json_dumps(meta, JSON_COMPACT);
    json_decref(results);
    json_decref(snap);
    json_decref(meta);
    if (rec->results == NULL || rec->snapshot == NULL || rec->metadata == NULL) {
        /* never bind NULL: `step_results || NULL` would wipe every earlier result */
        ac_node_wf_step_rec_clear(rec);
        return ac_errmsg_set(err, -AC_EINVAL, "step %d: result could not be encoded", st->position);
    }
    return 0;
}

static int db_error(PGconn *c, ac_errmsg_t *err, const char *what)
{
    return ac_node_db_fail(c, "workflow", what, err);
}

int ac_node_wf_record_step(PGconn *c, int64_t run_id, const ac_node_wf_step_t *st, const ac_node_wf_step_result_t *r,
                           int64_t duration_ms, const ac_node_wf_outcome_t *fin, ac_errmsg_t *err)
{
    ac_node_wf_step_rec_t rec;
    int rc = ac_node_wf_step_rec_encode(st, r, &rec, err);
    if (rc != 0)
        return rc;
    char id[32], dur[32], base[32], pos[16];
    snprintf(id, sizeof(id), "%lld", (long long)run_id);
    snprintf(dur, sizeof(dur), "%lld", (long long)(duration_ms > INT32_MAX ? INT32_MAX : duration_ms));
    snprintf(base, sizeof(base), "%lld", AC_NODE_DB_LOCK_RUN_BASE);
    snprintf(pos, sizeof(pos), "%d", st->position);
    char *result = fin != NULL && fin->result != NULL ? json_dumps(fin->result, JSON_COMPACT) : NULL;
    PGresult *res;
    if (fin == NULL) {
        const char *p[] = {id, rec.results, pos, st->skill, dur, rec.snapshot, rec.metadata};
        res = PQexecParams(
            c,
            "WITH u AS (UPDATE workflow_runs SET step_results = step_results || $2::jsonb, "
            "updated_at = now() AT TIME ZONE 'utc' WHERE id = $1::bigint AND status = 'running' RETURNING id) "
            "INSERT INTO skill_outcomes (workflow_run_id, step_position, skill_name, duration_ms, output_snapshot, "
            "metadata) SELECT id, $3::integer, $4, $5::integer, $6::jsonb, $7::jsonb FROM u RETURNING 1",
            7, NULL, p, NULL, NULL, 0);
    } else {
        const char *p[] = {id,
                           rec.results,
                           pos,
                           st->skill,
                           dur,
                           rec.snapshot,
                           rec.metadata,
                           ac_node_wf_status_name(fin->status),
                           result != NULL ? result : "{}",
                           fin->status == AC_WF_COMPLETED ? NULL : fin->error,
                           base};
        res = PQexecParams(
            c,
            "WITH u AS (UPDATE workflow_runs SET step_results = step_results || $2::jsonb, status = $8, "
            "completed_at = now() AT TIME ZONE 'utc', result = $9::jsonb, error = $10, "
            "updated_at = now() AT TIME ZONE 'utc' WHERE id = $1::bigint AND status = 'running' RETURNING id), "
            "o AS (INSERT INTO skill_outcomes (workflow_run_id, step_position, skill_name, duration_ms, "
            "output_snapshot, metadata) SELECT id, $3::integer, $4, $5::integer, $6::jsonb, $7::jsonb FROM u "
            "RETURNING 1) "
            "SELECT (SELECT count(*) FROM o), pg_advisory_unlock_shared($11::bigint + $1::bigint)",
            11, NULL, p, NULL, NULL, 0);
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char what[64];
        snprintf(what, sizeof(what), "recording step %d", st->position);
        rc = db_error(c, err, what);
    } else if (PQntuples(res) == 0 || (fin != NULL && strcmp(PQgetvalue(res, 0, 0), "0") == 0)) {
        rc = -AC_ESTATE; /* with fin the lock is released either way */
    }
    PQclear(res);
    free(result);
    ac_node_wf_step_rec_clear(&rec);
    return rc;
}

/* One statement (one round trip, one commit): the row and its liveness lock, taken inside the same statement, so no
 * other session can see the row without the lock already held. */
int ac_node_wf_record_start(PGconn *c, const ac_node_wf_t *wf, const char *node, int64_t *run_id, ac_errmsg_t *err)
{
    char wid[32], base[32];
    snprintf(wid, sizeof(wid), "%lld", (long long)wf->id);
    snprintf(base, sizeof(base), "%lld", AC_NODE_DB_LOCK_RUN_BASE);
    const char *p[] = {wid, node, base};
    PGresult *r = PQexecParams(c,
                               "WITH ins AS (INSERT INTO workflow_runs (workflow_id, status, started_at, node) "
                               "VALUES ($1::bigint, 'running', now() AT TIME ZONE 'utc', $2) RETURNING id) "
                               "SELECT id, pg_advisory_lock_shared($3::bigint + id) FROM ins",
                               3, NULL, p, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        rc = db_error(c, err, "recording run");
    else
        *run_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}

int ac_node_wf_record_hold(PGconn *c, int64_t run_id, bool *running, ac_errmsg_t *err)
{
    char id[32], base[32];
    snprintf(id, sizeof(id), "%lld", (long long)run_id);
    snprintf(base, sizeof(base), "%lld", AC_NODE_DB_LOCK_RUN_BASE);
    const char *p[] = {id, base};
    PGresult *r = PQexecParams(c,
                               "SELECT pg_advisory_lock_shared($2::bigint + $1::bigint), "
                               "(SELECT status = 'running' FROM workflow_runs WHERE id = $1::bigint)",
                               2, NULL, p, NULL, NULL, 0);
    int rc = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? 0 : db_error(c, err, "holding run");
    *running = rc == 0 && strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    PQclear(r);
    return rc;
}

void ac_node_wf_record_unhold(PGconn *c, int64_t run_id)
{
    char id[32], base[32];
    snprintf(id, sizeof(id), "%lld", (long long)run_id);
    snprintf(base, sizeof(base), "%lld", AC_NODE_DB_LOCK_RUN_BASE);
    const char *p[] = {id, base};
    PQclear(PQexecParams(c, "SELECT pg_advisory_unlock_shared($2::bigint + $1::bigint)", 2, NULL, p, NULL, NULL, 0));
}

void ac_node_wf_record_finish(PGconn *c, int64_t run_id, ac_node_wf_outcome_t *out)
{
    char id[32], base[32];
    snprintf(id, sizeof(id), "%lld", (long long)run_id);
    snprintf(base, sizeof(base), "%lld", AC_NODE_DB_LOCK_RUN_BASE);
    char *result = out->result != NULL ? json_dumps(out->result, JSON_COMPACT) : NULL;
    const char *p[] = {id, ac_node_wf_status_name(out->status), result != NULL ? result : "{}",
                       out->status == AC_WF_COMPLETED ? NULL : out->error, base};
    PGresult *r = PQexecParams(c,
                               "WITH u AS (UPDATE workflow_runs SET status = $2, completed_at = now() AT TIME ZONE "
                               "'utc', result = $3::jsonb, error = $4, updated_at = now() AT TIME ZONE 'utc' "
                               "WHERE id = $1::bigint AND status = 'running' RETURNING id) "
                               "SELECT (SELECT count(*) FROM u), pg_advisory_unlock_shared($5::bigint + $1::bigint)",
                               5, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        ac_log_error("workflow", "finish_failed", "run=%lld error=%s", (long long)run_id, PQerrorMessage(c));
        /* never keep the liveness lock of a run that is over: recovery can then mark it failed */
        PQclear(PQexecParams(c, "SELECT pg_advisory_unlock_shared($2::bigint + $1::bigint)", 2, NULL,
                             (const char *[]){id, base}, NULL, NULL, 0));
    } else if (strcmp(PQgetvalue(r, 0, 0), "0") == 0) {
        out->status = AC_WF_CANCELLED;
        snprintf(out->error, sizeof(out->error), "cancelled");
        json_decref(out->result);
        out->result = NULL;
    }
    PQclear(r);
    free(result);
}
