/* tests/bench/bench_sandbox.c - what the jail costs (issue 7): one call of a no-op dynamic skill in its sandbox
 * (ac_skills_sandbox_run: posix_spawn of alexclaw-sandbox, user switch when root, rlimits, the Lua state, the seccomp
 * filter, the start frame, `function run() return true end`, the done frame, the reap) against one call of an
 * in-process core no-op skill through the same contract (ac_skill_def_t.run), measured in the same run. A third case
 * spawns /bin/true and reaps it (the floor of any process-per-call design), and a fourth adds one SkillAPI round trip (a call frame out, the node's reply in) to the sandboxed no-op, to separate the
 * per-call cost of the channel from the per-run cost of the jail.
 *
 * Single thread, CLOCK_MONOTONIC wall time per call (the sandbox's cost is mostly in the kernel and in the child,
 * which the caller's CPU clock would not see). REPS repetitions of CALLS calls per case, the cases interleaved; the
 * figure is the median per call, and the ratio sandboxed / core.
 *
 * usage: bench_sandbox HELPER [CALLS [REPS]]   (defaults 200 and 7; HELPER is build/alexclaw-sandbox) */
#include "skills/sandbox.h"
#include "skills/skill.h"

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static int core_noop(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, ac_skill_result_t *res)
{
    (void)ctx;
    (void)args;
    return ac_skill_ok(res, NULL, NULL);
}

static const char *const routes[] = {"on_success", "on_error", NULL};
static const ac_skill_def_t core_def = {"noop", "does nothing", routes, "", false, core_noop, NULL};

static int serve(void *ud, const ac_skills_channel_msg_t *call, json_t **result, char *err, size_t errcap)
{
    (void)ud;
    (void)call;
    (void)err;
    (void)errcap;
    *result = json_true();
    return 0;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ns per call of one case */
static double run_core(int calls)
{
    ac_skill_ctx_t ctx = {.self = &core_def};
    json_t *config = json_object();
    ac_skill_args_t a = {NULL, config, NULL, NULL, NULL};
    double t0 = now_ns();
    for (int i = 0; i < calls; i++) {
        ac_skill_result_t res;
        memset(&res, 0, sizeof(res));
        if (core_def.run(&ctx, &a, &res) != 0)
            abort();
        json_decref(res.output);
    }
    double t = (now_ns() - t0) / calls;
    json_decref(config);
    return t;
}

/* The floor any process-per-call design pays: posix_spawn of /bin/true and its reap. */
static double run_true(int calls)
{
    char *argv[] = {(char *)"true", NULL};
    char *envp[] = {NULL};
    double t0 = now_ns();
    for (int i = 0; i < calls; i++) {
        pid_t pid;
        int st;
        if (posix_spawn(&pid, "/bin/true", NULL, NULL, argv, envp) != 0 || waitpid(pid, &st, 0) != pid)
            abort();
    }
    return (now_ns() - t0) / calls;
}

static double run_sandboxed(const char *helper, int calls, const char *src)
{
    ac_skills_sandbox_opts_t o = {.helper = helper, .uid = 65534, .gid = 65534};
    json_t *args = json_pack("{s:s, s:{}}", "input", "x", "config");
    double t0 = now_ns();
    for (int i = 0; i < calls; i++) {
        ac_skills_sandbox_result_t res;
        ac_errmsg_t err = {{0}};
        if (ac_skills_sandbox_run(&o, "run", "noop", src, strlen(src), args, serve, NULL, &res, &err) != 0 ||
            res.outcome != AC_SKILLS_SANDBOX_OK) {
            fprintf(stderr, "bench_sandbox: %s %s\n", err.msg, res.error);
            exit(1);
        }
        ac_skills_sandbox_result_clear(&res);
    }
    double t = (now_ns() - t0) / calls;
    json_decref(args);
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_sandbox HELPER [CALLS [REPS]]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    const char *helper = argv[1];
    int calls = argc > 2 ? atoi(argv[2]) : 200, reps = argc > 3 ? atoi(argv[3]) : 7;
    if (calls < 1 || reps < 1 || reps > 99)
        return 2;
    const char *noop = "function run() return true end";
    const char *one_call = "function run() assert(SkillAPI.config_get('x')) return true end";
    double core[99], sand[99], chan[99], proc[99];
    run_sandboxed(helper, 5, noop); /* warm the page cache and the dynamic loader */
    for (int r = 0; r < reps; r++) {
        if (r % 2 == 0) {
            core[r] = run_core(calls * 1000);
            proc[r] = run_true(calls);
            sand[r] = run_sandboxed(helper, calls, noop);
            chan[r] = run_sandboxed(helper, calls, one_call);
        } else {
            chan[r] = run_sandboxed(helper, calls, one_call);
            sand[r] = run_sandboxed(helper, calls, noop);
            proc[r] = run_true(calls);
            core[r] = run_core(calls * 1000);
        }
    }
    double mc = median(core, reps), ms = median(sand, reps), mch = median(chan, reps), mp = median(proc, reps);
    printf("calls per case: %d sandboxed (%d core), repetitions: %d\n", calls, calls * 1000, reps);
    printf("core no-op, in process        %12.1f ns per call (baseline)\n", mc);
    printf("sandboxed no-op               %12.1f ns per call   ratio %.0fx\n", ms, ms / mc);
    printf("posix_spawn of /bin/true      %12.1f ns per call   (the floor of a process per call; sandbox / this "
           "%.1fx)\n",
           mp, ms / mp);
    printf("sandboxed + 1 SkillAPI call   %12.1f ns per call   +%.1f us for the round trip\n", mch, (mch - ms) / 1000);
    return 0;
}
