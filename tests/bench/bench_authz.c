/* tests/bench/bench_authz.c - policy engine decisions (ac_policy_authz_decide, issue 7) with 0 enabled rules (the
 * baseline) and with 100 enabled rules that do not deny, measured in the same run. Pure CPU: no database, no I/O.
 *
 * The decision is the path a SkillAPI request of a dynamic skill takes when it is allowed: the permission is declared,
 * the skill holds a valid capability token (so the HMAC check runs every time), and the call is one skill_invoke deep
 * (chain depth 1, so the chain_restriction rules really compare their pattern). The 100 rules, parsed from their JSON
 * configs and sorted by priority as the node does:
 *   25 rate_limit          22 on other permissions (skip at once), 3 that apply (2 on the permission, 1 on every
 *                          permission) with max_calls 100000 per 10 s, so the limiter (its mutex, its ring) runs 3
 *                          times per decision and never refuses
 *   25 time_window         windows that exclude the test hour (12 UTC): 10 on every permission, 5 on the permission,
 *                          10 on other permissions
 *   25 chain_restriction   patterns that do not occur in the caller
 *   25 permission_override 15 "deny" on other permissions, 5 "allow" on the permission, 5 "deny" on the permission
 *                          that expired
 * The clock is simulated: it starts at 2026-11-26T12:00:00Z and advances 1 ms per decision, so every rate-limit window
 * holds 3 x 10 000 calls and the hour stays 12. Each repetition gets a fresh limiter and 20 000 untimed warm-up
 * decisions (the limiter's ring is then at its steady size).
 *
 * Single thread: REPS repetitions of DECISIONS decisions per case, the cases interleaved (their order alternates). The
 * figure is the thread's CPU time per decision (CLOCK_THREAD_CPUTIME_ID), which time slices lost to other processes on
 * a shared machine do not inflate; the wall time is printed too. Per case: the median, its difference to the
 * baseline's median, and the median of the differences repetition by repetition. Extra cases: each rule type's 25
 * rules alone, and the 100 rules with 100 or 1 000 other callers' keys on the same permission already in the limiter,
 * ahead of ours (the limiter finds a key by a linear scan).
 *
 * Then 1, 2 and 4 threads sharing one limiter (each thread its own caller, so its own key; they share the mutex),
 * DECISIONS in all per run, for 0 and 100 rules: decisions per second of wall time, the median of REPS runs.
 *
 * usage: bench_authz [DECISIONS [REPS]]   (defaults 200000 and 9) */
#include "policy/authz.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PERM        AC_POLICY_PERM_WEB_READ
#define WARMUP      20000
#define MAX_RULES   100
#define MAX_THREADS 4

static const char *const other_perms[] = {
    "llm",         "telegram_send",  "gateway_send", "memory_read", "memory_write", "knowledge_read", "knowledge_write",
    "config_read", "resources_read", "skill_invoke", "skill_write", "skill_manage", "workflow_manage"};
#define N_OTHER (sizeof(other_perms) / sizeof(other_perms[0]))

static uint8_t key[AC_POLICY_CAPTOKEN_KEY_LEN];
static ac_policy_captoken_t token;
static int64_t base_ms; /* 2026-11-26T12:00:00Z */

static double now_ns(clockid_t clk)
{
    struct timespec t;
    clock_gettime(clk, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[64];
    memcpy(s, v, (size_t)n * sizeof(double));
    qsort(s, (size_t)n, sizeof(double), cmp);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double min_of(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

static double max_of(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

static void add_rule(ac_policy_rule_t *rules, size_t *n, const char *type, const char *config)
{
    ac_errmsg_t err = {{0}};
    ac_policy_rule_t *r = &rules[*n];
    if (ac_policy_rule_parse(type, config, strlen(config), r, &err) != 0) {
        fprintf(stderr, "rule %s %s: %s\n", type, config, err.msg);
        exit(1);
    }
    r->id = (int64_t)*n + 1;
    r->priority = (int)((*n * 37) % 100);
    (*n)++;
}

/* The 100 rules of the top of the file, sorted. */
static size_t build_rules(ac_policy_rule_t *rules)
{
    size_t n = 0;
    char c[256];
    for (int i = 0; i < 22; i++) {
        snprintf(c, sizeof(c), "{\"permission\":\"%s\",\"max_calls\":%d,\"window_seconds\":60}",
                 other_perms[(size_t)i % N_OTHER], 5 + i);
        add_rule(rules, &n, "rate_limit", c);
    }
    add_rule(rules, &n, "rate_limit", "{\"permission\":\"web_read\",\"max_calls\":100000,\"window_seconds\":10}");
    add_rule(rules, &n, "rate_limit", "{\"permission\":\"web_read\",\"max_calls\":99999,\"window_seconds\":10}");
    add_rule(rules, &n, "rate_limit", "{\"max_calls\":100000,\"window_seconds\":10}");

    static const int windows[][2] = {{0, 6},   {1, 7},  {2, 8},   {0, 12},  {13, 24}, {18, 24}, {20, 24},
                                     {22, 24}, {6, 12}, {3, 5},   {0, 1},   {23, 24}, {14, 18}, {0, 9},
                                     {16, 22}, {4, 11}, {19, 23}, {13, 14}, {7, 12},  {0, 3},   {21, 24},
                                     {15, 20}, {1, 4},  {8, 10},  {17, 24}};
    for (int i = 0; i < 25; i++) {
        if (i < 10)
            snprintf(c, sizeof(c), "{\"deny_start_hour\":%d,\"deny_end_hour\":%d}", windows[i][0], windows[i][1]);
        else
            snprintf(c, sizeof(c), "{\"permission\":\"%s\",\"deny_start_hour\":%d,\"deny_end_hour\":%d}",
                     i < 15 ? "web_read" : other_perms[(size_t)i % N_OTHER], windows[i][0], windows[i][1]);
        add_rule(rules, &n, "time_window", c);
    }

    static const char *const words[] = {"scraper", "shell", "untrusted", "crawler", "mailer"};
    for (int i = 0; i < 25; i++) {
        if (i < 20)
            snprintf(c, sizeof(c), "{\"caller_pattern\":\"dynamic:%s_%02d\"}", words[i % 5], i);
        else
            snprintf(c, sizeof(c), "{\"caller_pattern\":\"%s\"}", words[i % 5]);
        add_rule(rules, &n, "chain_restriction", c);
    }

    for (int i = 0; i < 25; i++) {
        if (i < 15)
            snprintf(c, sizeof(c), "{\"permission\":\"%s\",\"action\":\"deny\"}", other_perms[(size_t)i % N_OTHER]);
        else if (i < 20)
            snprintf(c, sizeof(c), "{\"permission\":\"web_read\",\"action\":\"allow\"}");
        else
            snprintf(c, sizeof(c),
                     "{\"permission\":\"web_read\",\"action\":\"deny\",\"expires_at\":\"2026-01-%02dT00:00:00Z\"}", i);
        add_rule(rules, &n, "permission_override", c);
    }
    ac_policy_rules_sort(rules, n);
    return n;
}

static ac_policy_authctx_t make_ctx(const char *caller)
{
    ac_policy_authctx_t ctx = {
        .caller = caller,
        .type = AC_POLICY_CALLER_DYNAMIC,
        .permission = PERM,
        .declared = AC_POLICY_PERM_WEB_READ | AC_POLICY_PERM_LLM | AC_POLICY_PERM_MEMORY_READ,
        .chain_depth = 1,
        .run_id = 42,
        .now_ms = base_ms,
        .token = &token,
    };
    return ctx;
}

/* Decisions from clock step `from` to `to` (exclusive); returns how many were not allowed. */
static long decide_range(const ac_policy_authz_cfg_t *cfg, const ac_policy_rule_t *rules, size_t n,
                         ac_policy_skillrate_t *rl, const char *caller, long from, long to)
{
    ac_policy_authctx_t ctx = make_ctx(caller);
    char reason[AC_POLICY_AUTHZ_REASON_MAX];
    long fails = 0;
    for (long i = from; i < to; i++) {
        ctx.now_ms = base_ms + i;
        fails += ac_policy_authz_decide(cfg, rules, n, rl, &ctx, reason, sizeof(reason)) != 0;
    }
    return fails;
}

static const ac_policy_authz_cfg_t cfg = {
    .token_key = key, .max_chain_depth = 0, .require_token = true}; /* as the node */

/* One timed run of `decisions` decisions on one thread with a fresh limiter (prefilled with `other` keys). Returns
 * the thread's CPU time per decision (ns); *wall gets the wall time per decision. */
static double run_single(const ac_policy_rule_t *rules, size_t n, long decisions, int other, double *wall)
{
    ac_policy_skillrate_t *rl = ac_policy_skillrate_new();
    for (int k = 0; k < other; k++) { /* other skills' keys on the same permission, before ours: a full scan */
        char who[64];
        snprintf(who, sizeof(who), "dynamic:other_skill_%04d", k);
        ac_policy_skillrate_check(rl, who, PERM, 100000, 10, base_ms / 1000);
    }
    long fails = decide_range(&cfg, rules, n, rl, "dynamic:bench_skill", 0, WARMUP);
    double w0 = now_ns(CLOCK_MONOTONIC), t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    fails += decide_range(&cfg, rules, n, rl, "dynamic:bench_skill", WARMUP, WARMUP + decisions);
    double t1 = now_ns(CLOCK_THREAD_CPUTIME_ID), w1 = now_ns(CLOCK_MONOTONIC);
    *wall = (w1 - w0) / (double)decisions;
    ac_policy_skillrate_free(rl);
    if (fails != 0) {
        fprintf(stderr, "%ld decisions were not allowed (%zu rules)\n", fails, n);
        exit(1);
    }
    return (t1 - t0) / (double)decisions;
}

typedef struct job {
    const ac_policy_rule_t *rules;
    size_t n;
    ac_policy_skillrate_t *rl;
    char caller[64];
    long decisions, fails;
    pthread_barrier_t *go, *done;
} job_t;

static void *worker(void *arg)
{
    job_t *j = arg;
    j->fails = decide_range(&cfg, j->rules, j->n, j->rl, j->caller, 0, WARMUP);
    pthread_barrier_wait(j->go);
    j->fails += decide_range(&cfg, j->rules, j->n, j->rl, j->caller, WARMUP, WARMUP + j->decisions);
    pthread_barrier_wait(j->done);
    return NULL;
}

/* `threads` threads sharing one limiter, `decisions` in all; returns decisions per second of wall time. */
static double run_threads(const ac_policy_rule_t *rules, size_t n, long decisions, int threads)
{
    ac_policy_skillrate_t *rl = ac_policy_skillrate_new();
    pthread_barrier_t go, done;
    pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&done, NULL, (unsigned)threads + 1);
    job_t jobs[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job_t){rules, n, rl, "", decisions / threads, 0, &go, &done};
        snprintf(jobs[t].caller, sizeof(jobs[t].caller), "dynamic:bench_skill_%d", t);
        if (pthread_create(&tid[t], NULL, worker, &jobs[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            exit(1);
        }
    }
    pthread_barrier_wait(&go);
    double t0 = now_ns(CLOCK_MONOTONIC);
    pthread_barrier_wait(&done);
    double t1 = now_ns(CLOCK_MONOTONIC);
    long total = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        total += jobs[t].decisions;
        if (jobs[t].fails != 0) {
            fprintf(stderr, "%ld decisions were not allowed (%d threads, %zu rules)\n", jobs[t].fails, threads, n);
            exit(1);
        }
    }
    pthread_barrier_destroy(&go);
    pthread_barrier_destroy(&done);
    ac_policy_skillrate_free(rl);
    return (double)total / ((t1 - t0) / 1e9);
}

/* The decision must be what the benchmark claims: allowed with and without the rules, the token really checked. */
static void sanity(const ac_policy_rule_t *rules, size_t n)
{
    ac_policy_skillrate_t *rl = ac_policy_skillrate_new();
    ac_policy_authctx_t ctx = make_ctx("dynamic:bench_skill");
    char reason[AC_POLICY_AUTHZ_REASON_MAX];
    int a = ac_policy_authz_decide(&cfg, NULL, 0, rl, &ctx, reason, sizeof(reason));
    int b = ac_policy_authz_decide(&cfg, rules, n, rl, &ctx, reason, sizeof(reason));
    size_t keys = ac_policy_skillrate_size(rl); /* the limiter ran: one key, (caller, web_read) */
    ac_policy_captoken_t forged = token;
    forged.sig[0] ^= 1;
    ctx.token = &forged;
    int c = ac_policy_authz_decide(&cfg, rules, n, rl, &ctx, reason, sizeof(reason));
    ac_policy_skillrate_free(rl);
    if (a != 0 || b != 0 || keys != 1 || c != -AC_EPERM || strcmp(reason, "invalid capability token") != 0) {
        fprintf(stderr, "sanity check failed: %d %d %zu %d (%s)\n", a, b, keys, c, reason);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    long decisions = argc > 1 ? atol(argv[1]) : 200000;
    int reps = argc > 2 ? atoi(argv[2]) : 9;
    if (decisions < 1000 || decisions > 3000000 || reps < 1 || reps > 64) {
        fprintf(stderr, "usage: %s [DECISIONS (1000..3000000) [REPS (1..64)]]\n", argv[0]);
        return 2;
    }
    static const char secret[] = "bench-secret-key-base-of-at-least-32-bytes-0123456789";
    if (ac_policy_captoken_key(secret, sizeof(secret) - 1, key) != 0 ||
        ac_policy_iso8601_ms("2026-11-26T12:00:00Z", &base_ms) != 0) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    ac_policy_captoken_mint(key, AC_POLICY_PERM_WEB_READ | AC_POLICY_PERM_LLM | AC_POLICY_PERM_MEMORY_READ, 42,
                            base_ms + 86400000, 3, &token);
    static ac_policy_rule_t rules[MAX_RULES];
    size_t n = build_rules(rules);
    sanity(rules, n);

    printf("== policy engine decisions (issue 7): ac_policy_authz_decide, dynamic skill, allowed\n");
    printf("command: %s %ld %d   (nproc %ld)\n", argv[0], decisions, reps, sysconf(_SC_NPROCESSORS_ONLN));
    printf("context: web_read declared, valid capability token (HMAC-SHA256 checked), chain depth 1, 12:00 UTC\n");
    printf("rules: %zu = 25 rate_limit (3 run the limiter), 25 time_window, 25 chain_restriction, "
           "25 permission_override; none denies\n\n",
           n);

    /* The cases; the subsets keep the rules' sorted order. */
    typedef struct bcase {
        const char *name;
        int type; /* -2: no rule, -1: all 100, else one rule type's 25 */
        int other_keys;
        ac_policy_rule_t sub[MAX_RULES];
        size_t n;
    } bcase_t;
    static bcase_t cases[] = {
        {"0 rules (baseline)", -2, 0, {{0}}, 0},
        {"100 rules", -1, 0, {{0}}, 0},
        {"25 rate_limit only (3 run the limiter)", AC_POLICY_RULE_RATE_LIMIT, 0, {{0}}, 0},
        {"25 time_window only", AC_POLICY_RULE_TIME_WINDOW, 0, {{0}}, 0},
        {"25 chain_restriction only", AC_POLICY_RULE_CHAIN_RESTRICTION, 0, {{0}}, 0},
        {"25 permission_override only", AC_POLICY_RULE_PERMISSION_OVERRIDE, 0, {{0}}, 0},
        {"100 rules, limiter holds 100 other keys", -1, 100, {{0}}, 0},
        {"100 rules, limiter holds 1000 other keys", -1, 1000, {{0}}, 0},
    };
    enum { C_N = sizeof(cases) / sizeof(cases[0]) };
    for (int c = 0; c < C_N; c++)
        for (size_t i = 0; i < n; i++)
            if (cases[c].type == -1 || cases[c].type == (int)rules[i].type)
                cases[c].sub[cases[c].n++] = rules[i];
    double ns[C_N][64], wall[C_N][64];
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < C_N; k++) {
            int c = r % 2 ? C_N - 1 - k : k; /* alternate the order */
            ns[c][r] = run_single(cases[c].sub, cases[c].n, decisions, cases[c].other_keys, &wall[c][r]);
        }
    double base = median(ns[0], reps);
    printf("single thread: %d repetitions of %ld decisions per case, interleaved; ns/decision of the thread's CPU "
           "time (wall time: last column)\n",
           reps, decisions);
    printf(
        "| case | median ns/decision | min | max | decisions per CPU-second | ratio to baseline | added ns/decision | "
        "added, paired median | wall median ns |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int c = 0; c < C_N; c++) {
        double m = median(ns[c], reps), pair[64];
        for (int r = 0; r < reps; r++)
            pair[r] = ns[c][r] - ns[0][r];
        printf("| %s | %.0f | %.0f | %.0f | %.0f | %.2f | %+.0f | %+.0f | %.0f |\n", cases[c].name, m,
               min_of(ns[c], reps), max_of(ns[c], reps), 1e9 / m, m / base, m - base, median(pair, reps),
               median(wall[c], reps));
    }
    printf("goal: the 100 rules add well under 1000 ns per decision\n\n");

    static const int tcounts[] = {1, 2, 4};
    double tput[3][2][64];
    for (int r = 0; r < reps; r++)
        for (int t = 0; t < 3; t++)
            for (int k = 0; k < 2; k++) {
                int c = r % 2 ? 1 - k : k;
                tput[t][c][r] = run_threads(rules, c ? n : 0, decisions, tcounts[t]);
            }
    printf("threads sharing one limiter: %ld decisions in all per run, %d repetitions, median decisions per second of "
           "wall time\n",
           decisions, reps);
    printf("| threads | 0 rules decisions/s | 100 rules decisions/s | ratio 100/0 | 100 rules vs 1 thread |\n");
    printf("|---|---|---|---|---|\n");
    double one = median(tput[0][1], reps);
    for (int t = 0; t < 3; t++) {
        double z = median(tput[t][0], reps), h = median(tput[t][1], reps);
        printf("| %d | %.0f | %.0f | %.2f | %.2f |\n", tcounts[t], z, h, h / z, h / one);
    }
    return 0;
}
