/* node/telegram.c - the Telegram poller of telegram.h. */
#include "node/telegram.h"

#include "node/db.h"
#include "node/log.h"
#include "node/tg_proto.h"
#include "policy/alloc.h"
#include "policy/utf8.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MAX_S     60
#define UNAUTHORIZED_S    60
#define STANDBY_RECHECK_S 5

struct ac_node_telegram {
    ac_node_telegram_cfg_t cfg;
    char *conninfo, *node_name;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    volatile sig_atomic_t stop;
    ac_node_telegram_stats_t stats; /* under mu */
    PGconn *conn;
    bool have_lock;
    bool offset_known;
    int64_t offset;
    char gateway[48]; /* gateway_state's key: "telegram:<bot id>" (update ids are per bot) */
    int limit;        /* updates asked for per poll: halved while answers are too large, grows back */
};

/* --- small things ------------------------------------------------------------------------------------------ */

static void set_state(ac_node_telegram_t *tg, const char *state)
{
    pthread_mutex_lock(&tg->mu);
    if (strcmp(tg->stats.state, state) != 0)
        ac_log_info("telegram", "state", "from=%s to=%s", tg->stats.state[0] ? tg->stats.state : "none", state);
    snprintf(tg->stats.state, sizeof(tg->stats.state), "%s", state);
    pthread_mutex_unlock(&tg->mu);
}

static void count(ac_node_telegram_t *tg, uint64_t *field)
{
    pthread_mutex_lock(&tg->mu);
    (*field)++;
    pthread_mutex_unlock(&tg->mu);
}

/* Sleeps ms unless stopped first. */
static void nap(ac_node_telegram_t *tg, int64_t ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    ac_policy_timespec_add_ms(&dl, ms);
    pthread_mutex_lock(&tg->mu);
    while (!tg->stop && pthread_cond_timedwait(&tg->cv, &tg->mu, &dl) == 0)
        ;
    pthread_mutex_unlock(&tg->mu);
}

static void drop_conn(ac_node_telegram_t *tg)
{
    if (tg->conn != NULL)
        PQfinish(tg->conn); /* a session lock goes with the session */
    tg->conn = NULL;
    tg->have_lock = false;
    tg->offset_known = false;
}

static bool conn_ok(ac_node_telegram_t *tg)
{
    if (tg->conn != NULL && PQstatus(tg->conn) == CONNECTION_OK)
        return true;
    drop_conn(tg);
    ac_errmsg_t err = {0};
    if (ac_node_db_connect(tg->conninfo, &tg->conn, &err) != 0) {
        ac_log_warn("telegram", "db_unreachable", "error=%s", err.msg);
        tg->conn = NULL;
        return false;
    }
    return true;
}

/* --- who polls --------------------------------------------------------------------------------------------- */

static void release_lock(ac_node_telegram_t *tg)
{
    if (!tg->have_lock || tg->conn == NULL)
        return;
    char k[32];
    snprintf(k, sizeof(k), "%lld", (long long)AC_NODE_DB_LOCK_TELEGRAM);
    const char *p[] = {k};
    PQclear(PQexecParams(tg->conn, "SELECT pg_advisory_unlock($1::bigint)", 1, NULL, p, NULL, NULL, 0));
    tg->have_lock = false;
    tg->offset_known = false;
}

/* Whether this node is the poller now. */
static bool elected(ac_node_telegram_t *tg)
{
    ac_node_settings_t *s = tg->cfg.dispatch.settings;
    char *node = NULL;
    if (ac_node_settings_get_str(s, "telegram.node", &node) != 0)
        node = NULL;
    bool named = node != NULL && node[0] != '\0';
    bool mine = named && strcmp(node, tg->node_name) == 0;
    free(node);
    if (named) {
        release_lock(tg);
        if (!mine) {
            tg->offset_known = false;
            set_state(tg, "elsewhere");
        }
        return mine;
    }
    if (tg->have_lock)
        return true;
    char k[32];
    snprintf(k, sizeof(k), "%lld", (long long)AC_NODE_DB_LOCK_TELEGRAM);
    const char *p[] = {k};
    PGresult *r = PQexecParams(tg->conn, "SELECT pg_try_advisory_lock($1::bigint)", 1, NULL, p, NULL, NULL, 0);
    tg->have_lock = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (tg->have_lock)
        ac_log_info("telegram", "elected", "node=%s", tg->node_name);
    return tg->have_lock;
}

/* --- the offset -------------------------------------------------------------------------------------------- */

/* The row of this bot (made when missing) and its next offset. */
static int load_offset(ac_node_telegram_t *tg)
{
    const char *p[] = {tg->gateway};
    PGresult *r = PQexecParams(tg->conn,
                               "INSERT INTO gateway_state (gateway, next_offset) VALUES ($1, 0) "
                               "ON CONFLICT (gateway) DO NOTHING",
                               1, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        return -1;
    r = PQexecParams(tg->conn, "SELECT next_offset FROM gateway_state WHERE gateway = $1", 1, NULL, p, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        tg->offset = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        tg->offset_known = true;
        rc = 0;
    }
    PQclear(r);
    return rc;
}

/* Claims update `id` before handling it: the stored offset moves past it only if no one moved it past already
 * (compare-and-set), so two pollers (a stale settings cache, a change of telegram.node) never both handle it.
 * Returns 1 (ours), 0 (another poller had it: reload the offset), -1 (database error). */
static int claim(ac_node_telegram_t *tg, int64_t id)
{
    char cur[32], next[32];
    snprintf(cur, sizeof(cur), "%lld", (long long)id);
    snprintf(next, sizeof(next), "%lld", (long long)id + 1);
    const char *p[] = {tg->gateway, cur, next};
    PGresult *r = PQexecParams(tg->conn,
                               "UPDATE gateway_state SET next_offset = $3::bigint, updated_at = now() AT TIME ZONE "
                               "'utc' WHERE gateway = $1 AND next_offset <= $2::bigint",
                               3, NULL, p, NULL, NULL, 0);
    int rc = PQresultStatus(r) != PGRES_COMMAND_OK ? -1 : atoi(PQcmdTuples(r)) == 1 ? 1 : 0;
    PQclear(r);
    if (rc == 1)
        tg->offset = id + 1;
    return rc;
}

/* --- one poll ---------------------------------------------------------------------------------------------- */

static void handle(ac_node_telegram_t *tg, const ac_node_tg_update_t *u)
{
    ac_node_settings_t *s = tg->cfg.dispatch.settings;
    if (!u->is_message) {
        count(tg, &tg->stats.ignored_other);
        return;
    }
    char *chat = NULL;
    if (ac_node_settings_get_str(s, "telegram.chat_id", &chat) != 0)
        chat = NULL;
    bool ours = chat != NULL && chat[0] != '\0' && strcmp(chat, u->chat_id) == 0;
    if (!ours) {
        count(tg, &tg->stats.ignored_chat);
        ac_log_debug("telegram", "ignored_message", "reason=%s",
                     chat == NULL || chat[0] == '\0' ? "no_chat_configured" : "other_chat");
        free(chat);
        return;
    }
    free(chat);
    count(tg, &tg->stats.handled);
    ac_node_dispatch_message(&tg->cfg.dispatch, tg->conn, u->chat_id, u->text, (int64_t)time(NULL));
}

/* Returns the seconds to wait before the next poll (0: at once, after the poll interval). */
static int poll_once(ac_node_telegram_t *tg, int *backoff)
{
    ac_node_tg_answer_t ans;
    ac_errmsg_t err = {0};
    int rc = ac_node_tg_client_get_updates(tg->cfg.client, tg->offset, tg->cfg.long_poll_s, tg->limit, &tg->stop, &ans,
                                           &err);
    if (rc == -AC_ESTOPPED)
        return 0;
    if (rc == -AC_ESTATE) {
        set_state(tg, "off");
        return 1;
    }
    int wait = 0;
    if (rc == -AC_ETOOLONG && tg->limit > 1) { /* too many large updates at once: ask for fewer */
        tg->limit = tg->limit / 2 > 1 ? tg->limit / 2 : 1;
        ac_log_warn("telegram", "answer_too_large", "limit=%d", tg->limit);
        return 0;
    }
    if (rc != 0) {
        count(tg, &tg->stats.errors);
        ac_log_warn("telegram", "poll_failed", "error=%s", err.msg);
        wait = *backoff;
    } else if (ans.status == 200) {
        ac_node_tg_updates_t ups;
        if (ac_node_tg_parse_updates(ans.body, ans.len, &ups, &err) != 0) {
            count(tg, &tg->stats.errors);
            ac_log_warn("telegram", "bad_answer", "error=%s", err.msg);
            wait = *backoff;
        } else {
            set_state(tg, "polling");
            *backoff = 1;
            if (tg->limit < AC_NODE_TG_MAX_UPDATES)
                tg->limit = tg->limit * 2 < AC_NODE_TG_MAX_UPDATES ? tg->limit * 2 : AC_NODE_TG_MAX_UPDATES;
            for (size_t i = 0; i < ups.n && !tg->stop; i++) {
                if (ups.v[i].update_id < tg->offset)
                    continue; /* Telegram repeated one we handled */
                /* the offset first: a crash while handling loses this answer rather than repeating the command */
                int cl = claim(tg, ups.v[i].update_id);
                if (cl < 0) {
                    ac_log_warn("telegram", "offset_not_stored", "error=%s", PQerrorMessage(tg->conn));
                    wait = *backoff;
                    break;
                }
                if (cl == 0) { /* another poller handled it: start again from the stored offset */
                    ac_log_warn("telegram", "update_taken_elsewhere", "update=%lld", (long long)ups.v[i].update_id);
                    tg->offset_known = false;
                    break;
                }
                handle(tg, &ups.v[i]);
            }
            ac_node_tg_updates_free(&ups);
        }
    } else {
        int retry_after = 0;
        char desc[AC_NODE_TG_DESC_MAX];
        ac_node_tg_parse_error(ans.body, ans.len, &retry_after, desc);
        count(tg, &tg->stats.errors);
        ac_log_warn("telegram", "poll_refused", "status=%ld description=%s retry_after=%d", ans.status, desc,
                    retry_after);
        if (ans.status == 429)
            wait = retry_after > 0 ? retry_after : *backoff;
        else if (ans.status == 401 || ans.status == 404) {
            set_state(tg, "unauthorized");
            wait = UNAUTHORIZED_S;
        } else if (ans.status == 409) { /* a webhook is set for this bot: getUpdates is refused until it is deleted */
            set_state(tg, "conflict");
            wait = UNAUTHORIZED_S;
        } else
            wait = *backoff;
    }
    ac_node_tg_answer_free(&ans);
    if (wait > 0 && wait == *backoff) {
        set_state(tg, "backoff");
        *backoff = *backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : *backoff * 2;
    }
    return wait;
}

static void *poller_main(void *arg)
{
    ac_node_telegram_t *tg = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    int backoff = 1;
    ac_node_settings_t *s = tg->cfg.dispatch.settings;
    while (!tg->stop) {
        if (!ac_node_tg_client_configured(tg->cfg.client)) {
            set_state(tg, "off");
            release_lock(tg);
            nap(tg, 1000);
            continue;
        }
        if (!conn_ok(tg)) {
            set_state(tg, "backoff");
            nap(tg, (int64_t)backoff * 1000);
            backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
            continue;
        }
        if (!elected(tg)) {
            pthread_mutex_lock(&tg->mu);
            bool elsewhere = strcmp(tg->stats.state, "elsewhere") == 0;
            pthread_mutex_unlock(&tg->mu);
            if (!elsewhere)
                set_state(tg, "standby");
            nap(tg, STANDBY_RECHECK_S * 1000);
            continue;
        }
        char bot[24], key[sizeof(tg->gateway)];
        if (ac_node_tg_client_bot_id(tg->cfg.client, bot, sizeof(bot)) == 0) {
            snprintf(key, sizeof(key), "telegram:%s", bot);
            if (strcmp(key, tg->gateway) != 0) { /* another bot: its own offsets */
                snprintf(tg->gateway, sizeof(tg->gateway), "%s", key);
                tg->offset_known = false;
            }
        }
        if (!tg->offset_known && load_offset(tg) != 0) {
            drop_conn(tg);
            continue;
        }
        int wait = poll_once(tg, &backoff);
        if (tg->stop)
            break;
        if (PQstatus(tg->conn) != CONNECTION_OK)
            drop_conn(tg);
        int64_t interval = ac_node_settings_int_or(s, "telegram.poll_interval", 1000);
        if (interval < 0 || interval > 60000)
            interval = 1000;
        nap(tg, wait > 0 ? (int64_t)wait * 1000 : interval);
    }
    release_lock(tg);
    drop_conn(tg);
    set_state(tg, "stopped");
    return NULL;
}

/* --- the dispatcher's outputs ------------------------------------------------------------------------------ */

static int out_text(void *arg, const char *chat, const char *html, const char *plain)
{
    ac_errmsg_t err = {0};
    return ac_node_tg_client_send(arg, chat, html, plain, &err);
}

static int out_photo(void *arg, const char *chat, const uint8_t *png, size_t len, const char *caption)
{
    ac_errmsg_t err = {0};
    return ac_node_tg_client_send_photo(arg, chat, png, len, caption, &err);
}

int ac_node_telegram_start(const ac_node_telegram_cfg_t *cfg, ac_node_telegram_t **out, ac_errmsg_t *err)
{
    *out = NULL;
    ac_node_telegram_t *tg = ac_calloc(1, sizeof(*tg));
    tg->cfg = *cfg;
    tg->conninfo = ac_strdup(cfg->conninfo);
    tg->node_name = ac_strdup(cfg->node_name != NULL ? cfg->node_name : "");
    tg->cfg.conninfo = tg->conninfo;
    tg->cfg.node_name = tg->node_name;
    if (tg->cfg.long_poll_s <= 0 || tg->cfg.long_poll_s > 60)
        tg->cfg.long_poll_s = AC_NODE_TELEGRAM_LONG_POLL_S;
    tg->cfg.dispatch.out = (ac_node_dispatch_out_t){.text = out_text, .photo = out_photo, .arg = cfg->client};
    tg->cfg.dispatch.cancel = &tg->stop; /* a /shell command in flight is killed when the node stops */
    tg->limit = AC_NODE_TG_MAX_UPDATES;
    snprintf(tg->stats.state, sizeof(tg->stats.state), "starting");
    pthread_mutex_init(&tg->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&tg->cv, &ca);
    pthread_condattr_destroy(&ca);
    int e = pthread_create(&tg->thread, NULL, poller_main, tg);
    if (e != 0) {
        pthread_cond_destroy(&tg->cv);
        pthread_mutex_destroy(&tg->mu);
        free(tg->conninfo);
        free(tg->node_name);
        free(tg);
        return ac_errmsg_set(err, -AC_ESYS, "cannot start the Telegram thread: %s", strerror(e));
    }
    *out = tg;
    return 0;
}

void ac_node_telegram_stop(ac_node_telegram_t *tg)
{
    if (tg == NULL)
        return;
    pthread_mutex_lock(&tg->mu);
    tg->stop = 1;
    pthread_cond_broadcast(&tg->cv);
    pthread_mutex_unlock(&tg->mu);
    pthread_join(tg->thread, NULL);
    pthread_cond_destroy(&tg->cv);
    pthread_mutex_destroy(&tg->mu);
    explicit_bzero(tg->conninfo, strlen(tg->conninfo));
    free(tg->conninfo);
    free(tg->node_name);
    free(tg);
}

void ac_node_telegram_stats(ac_node_telegram_t *tg, ac_node_telegram_stats_t *out)
{
    if (tg == NULL) {
        memset(out, 0, sizeof(*out));
        snprintf(out->state, sizeof(out->state), "off");
        return;
    }
    pthread_mutex_lock(&tg->mu);
    *out = tg->stats;
    pthread_mutex_unlock(&tg->mu);
}
