/* tests/unit/skills/test_shell.c - the shell skill end to end with real processes (as nobody when run as root):
 * the enable switch, the result format, exit codes and branches, the output cap in characters, the timeout killing
 * the whole process group, the deadline and cancel, step-config overrides ignored, no_command, the sandbox (only
 * PATH in the environment, no inherited descriptors, the scratch directory as cwd, the limits, no new privileges,
 * the unprivileged user), the refusal of every command when the node is not root, the node's secrets out of reach
 * whatever the command, git finding no repository above the scratch directory, refusals from the policy, malformed
 * settings, and the /shell entry point. Commands only run when the node runs as root: as another user the tests
 * that need a command to run are skipped, and the refusal is checked directly. Settings live in an in-memory cache;
 * no database is needed. Each test finishes within about two seconds. */
#include "skills/shell.h"

#include "node/log.h"
#include "node/settings.h"
#include "policy/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static const uint8_t test_key[32] = {7};

typedef struct fixture {
    ac_node_settings_t *settings;
    char data_dir[64];
    ac_skill_ctx_t ctx;
    volatile sig_atomic_t cancel;
} fixture_t;

static void put(fixture_t *f, const char *key, const char *value, ac_node_setting_type_t type)
{
    ac_node_setting_t r;
    memset(&r, 0, sizeof(r));
    r.key = ac_strdup(key);
    r.value = ac_strdup(value);
    r.type = type;
    r.category = ac_strdup("shell");
    r.description = ac_strdup("test");
    ac_node_settings_put(f->settings, &r);
}

static void enable(fixture_t *f)
{
    put(f, "shell.enabled", "true", AC_SETTING_BOOLEAN);
}

static void whitelist(fixture_t *f, const char *json)
{
    put(f, "shell.whitelist", json, AC_SETTING_STRING);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->settings = ac_node_settings_new(test_key);
    snprintf(f->data_dir, sizeof(f->data_dir), "/tmp/ac-shell-test-XXXXXX");
    assert_non_null(mkdtemp(f->data_dir));
    f->ctx.settings = f->settings;
    f->ctx.data_dir = f->data_dir;
    f->ctx.node_name = "test";
    f->ctx.deadline_ms = ac_skill_now_ms() + 10000;
    f->ctx.cancel = &f->cancel;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char path[128];
    snprintf(path, sizeof(path), "%s/secrets.env", f->data_dir); /* left by a failed cannot_read_the_nodes_secrets */
    unlink(path);
    snprintf(path, sizeof(path), "%s/shell-scratch", f->data_dir);
    rmdir(path);
    rmdir(f->data_dir);
    ac_node_settings_free(f->settings);
    free(f);
    return 0;
}

/* Runs the skill with a config given as JSON text (and an optional input). Returns the skill's return code. */
static int run(fixture_t *f, const char *config_json, const char *input, ac_skill_result_t *res)
{
    json_error_t err;
    json_t *config = json_loads(config_json, JSON_ALLOW_NUL, &err);
    assert_non_null(config);
    json_t *in = input != NULL ? json_string(input) : NULL;
    ac_skill_args_t args = {.input = in, .config = config};
    memset(res, 0, sizeof(*res));
    int rc = ac_skills_shell.run(&f->ctx, &args, res);
    json_decref(config);
    json_decref(in);
    return rc;
}

static int run_cmd(fixture_t *f, const char *cmd, ac_skill_result_t *res)
{
    json_t *config = json_pack("{s:s}", "command", cmd);
    char *text = json_dumps(config, 0);
    int rc = run(f, text, NULL, res);
    free(text);
    json_decref(config);
    return rc;
}

static const char *out_text(const ac_skill_result_t *res)
{
    assert_true(json_is_string(res->output));
    return json_string_value(res->output);
}

/* The command's output: what follows the first blank line. */
static const char *body(const ac_skill_result_t *res)
{
    const char *s = strstr(out_text(res), "\n\n");
    assert_non_null(s);
    return s + 2;
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

static bool is_root(void)
{
    return geteuid() == 0;
}

/* Commands only run when the node runs as root: tests that need one to run are skipped otherwise. */
#define NEED_ROOT()                                                                                                    \
    do {                                                                                                               \
        if (!is_root())                                                                                                \
            skip();                                                                                                    \
    } while (0)

static uid_t nobody_uid(void)
{
    struct passwd *pw = getpwnam("nobody");
    assert_non_null(pw);
    return pw->pw_uid;
}

static gid_t nobody_gid(void)
{
    struct passwd *pw = getpwnam("nobody");
    assert_non_null(pw);
    return pw->pw_gid;
}

static bool ring_contains(const char *needle)
{
    char *lines[AC_LOG_RING_LINES];
    size_t n = ac_log_ring_copy(lines, AC_LOG_RING_LINES);
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        found = found || strstr(lines[i], needle) != NULL;
        free(lines[i]);
    }
    return found;
}

/* --- tests ------------------------------------------------------------------------------------------------------- */

static void disabled_by_default(void **state)
{
    fixture_t *f = *state;
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "uname -a", &res), -1);
    assert_string_equal(res.error, "shell_disabled");
    put(f, "shell.enabled", "false", AC_SETTING_BOOLEAN);
    assert_int_equal(ac_skills_shell_run_command(&f->ctx, "uname -a", &res), -1);
    assert_string_equal(res.error, "shell_disabled");
    assert_null(res.output);
}

static void describes_itself(void **state)
{
    (void)state;
    assert_string_equal(ac_skills_shell.name, "shell");
    assert_string_equal(ac_skills_shell.config_hint, "command");
    assert_string_equal(ac_skills_shell.routes[0], "on_success");
    assert_string_equal(ac_skills_shell.routes[1], "on_error");
    assert_string_equal(ac_skills_shell.routes[2], "on_timeout");
    assert_null(ac_skills_shell.routes[3]);
    assert_false(ac_skills_shell.external);
}

static void runs_uname_without_a_shell(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "uname -a", &res), 0);
    assert_string_equal(res.branch, "on_success");
    const char *s = out_text(&res);
    const char *head = "$ uname -a\nExit: 0 | Time: ";
    assert_memory_equal(s, head, strlen(head));
    const char *p = s + strlen(head);
    assert_true(*p >= '0' && *p <= '9');
    while (*p >= '0' && *p <= '9')
        p++;
    assert_memory_equal(p, "ms\n\nLinux ", 10);
    assert_null(strstr(s, "[truncated"));
    json_decref(res.output);
}

static void nonzero_exit_takes_on_error(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "ls /nonexistent", &res), 0);
    assert_string_equal(res.branch, "on_error");
    assert_memory_equal(out_text(&res), "$ ls /nonexistent\nExit: 2 | Time: ", 33);
    assert_non_null(strstr(body(&res), "No such file or directory"));
    json_decref(res.output);
}

static void caps_output_at_max_chars(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    put(f, "shell.max_output_chars", "100", AC_SETTING_INTEGER);
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "ls -la /usr/bin", &res), 0);
    assert_string_equal(res.branch, "on_success");
    const char *b = body(&res);
    const char *marker = "\n\n[truncated at 100 chars]";
    size_t n = strlen(b);
    assert_true(n > strlen(marker));
    assert_string_equal(b + n - strlen(marker), marker);
    assert_int_equal(utf8_chars(b, n - strlen(marker)), 100);
    json_decref(res.output);
}

/* A directory nobody can read, holding one file named `name`. */
static void make_listing_dir(char *dir, size_t cap, const char *name)
{
    snprintf(dir, cap, "/tmp/ac-shell-ls-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    close(fd);
}

static void remove_listing_dir(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
    rmdir(dir);
}

static void counts_characters_not_bytes(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    put(f, "shell.max_output_chars", "3", AC_SETTING_INTEGER);
    char dir[64], cmd[96];
    const char *name = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"; /* four e-acute */
    make_listing_dir(dir, sizeof(dir), name);
    snprintf(cmd, sizeof(cmd), "ls %s", dir);
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, cmd, &res), 0);
    assert_string_equal(body(&res), "\xc3\xa9\xc3\xa9\xc3\xa9\n\n[truncated at 3 chars]");
    json_decref(res.output);
    remove_listing_dir(dir, name);

    /* Bytes that are not UTF-8 become U+FFFD, one character each. */
    make_listing_dir(dir, sizeof(dir), "\xff\xfe");
    snprintf(cmd, sizeof(cmd), "ls %s", dir);
    assert_int_equal(run_cmd(f, cmd, &res), 0);
    assert_string_equal(body(&res), "\xef\xbf\xbd\xef\xbf\xbd\n");
    json_decref(res.output);
    remove_listing_dir(dir, "\xff\xfe");
}

typedef struct bg_run {
    fixture_t *f;
    const char *cmd;
    ac_skill_result_t res;
    int rc;
    int64_t ms;
} bg_run_t;

static void *bg_main(void *arg)
{
    bg_run_t *b = arg;
    int64_t t0 = ac_skill_now_ms();
    b->rc = run_cmd(b->f, b->cmd, &b->res);
    b->ms = ac_skill_now_ms() - t0;
    return NULL;
}

/* Reads the state, parent pid and process group of pid from /proc; -1 when it is gone. */
static int proc_ids(pid_t pid, char *state, pid_t *ppid, pid_t *pgid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(path, "re");
    if (fp == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* after the command name, which may hold anything */
    int a, b;
    char st;
    if (p == NULL || sscanf(p + 1, " %c %d %d", &st, &a, &b) != 3)
        return -1;
    *state = st;
    *ppid = a;
    *pgid = b;
    return 0;
}

/* The first child of this process found in /proc, or 0. */
static pid_t find_child(pid_t *pgid)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    pid_t found = 0;
    struct dirent *e;
    while (found == 0 && (e = readdir(d)) != NULL) {
        pid_t pid = (pid_t)atoi(e->d_name), ppid, g;
        char st;
        if (pid > 0 && proc_ids(pid, &st, &ppid, &g) == 0 && ppid == getpid()) {
            found = pid;
            *pgid = g;
        }
    }
    closedir(d);
    return found;
}

/* Members of process group pgid that are not zombies. */
static int live_members(pid_t pgid)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        pid_t pid = (pid_t)atoi(e->d_name), ppid, g;
        char st;
        if (pid > 0 && proc_ids(pid, &st, &ppid, &g) == 0 && g == pgid && st != 'Z')
            n++;
    }
    closedir(d);
    return n;
}

static void timeout_kills_the_process_group(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    whitelist(f, "[\"sleep\",\"date\",\"timeout\"]");
    put(f, "shell.timeout_seconds", "1", AC_SETTING_INTEGER);
    /* timeout(1) forks sleep into the same group: killing only the leader would leave it behind. */
    bg_run_t b = {.f = f, .cmd = "timeout 30 sleep 30"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, bg_main, &b), 0);
    pid_t pgid = 0, leader = 0;
    for (int i = 0; i < 80 && leader == 0; i++) {
        usleep(10000);
        leader = find_child(&pgid);
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(leader > 0);
    assert_int_equal(pgid, leader); /* its own group */
    assert_int_equal(b.rc, 0);
    assert_string_equal(b.res.branch, "on_timeout");
    assert_string_equal(out_text(&b.res), "$ timeout 30 sleep 30\nTimed out after 1s");
    assert_true(b.ms >= 950 && b.ms < 2500);
    /* Every member is dead at once; this process is a child subreaper (main), as the node is when it runs as
     * PID 1 in a container, so the orphaned sleep was re-parented here and the skill reaped it too. */
    assert_int_equal(live_members(pgid), 0);
    errno = 0;
    assert_int_equal(kill(-pgid, 0), -1);
    assert_int_equal(errno, ESRCH);
    json_decref(b.res.output);
}

static void deadline_shortens_the_timeout(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    whitelist(f, "[\"sleep\"]");
    f->ctx.deadline_ms = ac_skill_now_ms() + 400;
    int64_t t0 = ac_skill_now_ms();
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "sleep 5", &res), 0);
    int64_t ms = ac_skill_now_ms() - t0;
    assert_string_equal(res.branch, "on_timeout");
    assert_string_equal(out_text(&res), "$ sleep 5\nTimed out after 1s");
    assert_true(ms >= 350 && ms < 1500);
    json_decref(res.output);

    /* Already past the deadline: nothing starts. */
    f->ctx.deadline_ms = ac_skill_now_ms() - 1;
    assert_int_equal(run_cmd(f, "sleep 5", &res), 0);
    assert_string_equal(res.branch, "on_timeout");
    json_decref(res.output);
}

static void *cancel_later(void *arg)
{
    fixture_t *f = arg;
    usleep(200000);
    f->cancel = 1;
    return NULL;
}

static void cancel_stops_the_command(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    whitelist(f, "[\"sleep\"]");
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, f), 0);
    int64_t t0 = ac_skill_now_ms();
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "sleep 5", &res), -1);
    int64_t ms = ac_skill_now_ms() - t0;
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_string_equal(res.error, "cancelled");
    assert_true(ms < 1500);
    pid_t g;
    assert_int_equal(find_child(&g), 0); /* reaped */
}

static void step_config_cannot_change_limits(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    ac_skill_result_t res;
    assert_int_equal(run(f, "{\"command\":\"id\",\"whitelist\":[\"id\"]}", NULL, &res), -1);
    assert_string_equal(res.error, "not_whitelisted: id");
    assert_true(ring_contains("event=config_ignored keys=whitelist"));

    assert_int_equal(run(f, "{\"command\":\"ls /\",\"blocklist\":[\"/\"]}", NULL, &res), 0);
    json_decref(res.output);

    /* The cap stays at the settings' 4000 characters. */
    assert_int_equal(
        run(f, "{\"command\":\"ls -la /usr/bin\",\"max_output_chars\":10,\"timeout_seconds\":\"1\"}", NULL, &res), 0);
    assert_non_null(strstr(out_text(&res), "[truncated at 4000 chars]"));
    assert_true(ring_contains("keys=timeout_seconds,max_output_chars"));
    json_decref(res.output);
}

static void no_command_even_with_input(void **state)
{
    fixture_t *f = *state;
    enable(f);
    ac_skill_result_t res;
    assert_int_equal(run(f, "{}", "uname -a", &res), -1);
    assert_string_equal(res.error, "no_command");
    assert_int_equal(run(f, "{\"command\":5}", "uname -a", &res), -1);
    assert_string_equal(res.error, "no_command");
    assert_int_equal(run(f, "{\"command\":\" \\n \"}", NULL, &res), -1);
    assert_string_equal(res.error, "no_command");
    assert_int_equal(ac_skills_shell_run_command(&f->ctx, "", &res), -1);
    assert_string_equal(res.error, "no_command");
}

static void environment_is_only_path(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    whitelist(f, "[\"printenv\"]");
    setenv("AC_SHELL_TEST_SECRET", "do-not-leak", 1);
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "printenv", &res), 0);
    assert_string_equal(body(&res), "PATH=/usr/local/bin:/usr/bin:/bin\n");
    assert_false(ring_contains("PATH=/usr/local/bin")); /* output is never logged */
    assert_true(ring_contains("command=printenv"));
    json_decref(res.output);
    unsetenv("AC_SHELL_TEST_SECRET");
}

static void inherits_no_descriptors(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    int leak = open("/dev/null", O_RDONLY); /* deliberately without O_CLOEXEC */
    assert_true(leak >= 0);
    ac_skill_result_t res;
    /* ls's own directory descriptor is 3; nothing else beyond stdin, stdout and stderr. */
    assert_int_equal(run_cmd(f, "ls /proc/self/fd", &res), 0);
    assert_string_equal(body(&res), "0\n1\n2\n3\n");
    json_decref(res.output);
    close(leak);
}

static void runs_in_the_scratch_directory(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    whitelist(f, "[\"pwd\"]");
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "pwd", &res), 0);
    char want[128];
    snprintf(want, sizeof(want), "%s/shell-scratch\n", f->data_dir);
    assert_string_equal(body(&res), want);
    json_decref(res.output);
    struct stat st;
    want[strlen(want) - 1] = '\0';
    assert_int_equal(lstat(want, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(st.st_uid, nobody_uid());
}

static void limits_and_no_new_privileges(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    whitelist(f, "[\"cat /proc/self\"]");
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "cat /proc/self/limits", &res), 0);
    const char *b = body(&res);
    const char *fsize = strstr(b, "Max file size");
    const char *core = strstr(b, "Max core file size");
    assert_non_null(fsize);
    assert_non_null(core);
    int s1 = -1, h1 = -1, s2 = -1, h2 = -1;
    assert_int_equal(sscanf(fsize + strlen("Max file size"), " %d %d", &s1, &h1), 2);
    assert_int_equal(sscanf(core + strlen("Max core file size"), " %d %d", &s2, &h2), 2);
    assert_int_equal(s1 + h1 + s2 + h2, 0);
    const char *nproc = strstr(b, "Max processes");
    assert_non_null(nproc);
    assert_int_equal(sscanf(nproc + strlen("Max processes"), " %d %d", &s1, &h1), 2);
    assert_int_equal(s1, 64);
    assert_int_equal(h1, 64);
    json_decref(res.output);

    assert_int_equal(run_cmd(f, "cat /proc/self/status", &res), 0);
    assert_non_null(strstr(body(&res), "NoNewPrivs:\t1"));
    if (is_root()) {
        char uid_line[64];
        snprintf(uid_line, sizeof(uid_line), "Uid:\t%u\t%u\t%u\t%u", nobody_uid(), nobody_uid(), nobody_uid(),
                 nobody_uid());
        assert_non_null(strstr(body(&res), uid_line));
        const char *groups = strstr(body(&res), "Groups:");
        assert_non_null(groups);
        assert_int_equal(strcspn(groups, "\n"), strcspn(groups, "0123456789\n")); /* no supplementary group */
    }
    json_decref(res.output);
}

static void runs_as_nobody_when_root(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "whoami", &res), 0);
    assert_string_equal(body(&res), "nobody\n");
    json_decref(res.output);

    /* A privileged operation fails: reading a file only root may read. */
    whitelist(f, "[\"cat\",\"hostname\"]");
    assert_int_equal(run_cmd(f, "cat /etc/shadow", &res), 0);
    assert_string_equal(res.branch, "on_error");
    assert_non_null(strstr(body(&res), "Permission denied"));
    json_decref(res.output);
    /* Setting the host name (to its current value) is not even attempted. */
    char host[256], cmd[300];
    assert_int_equal(gethostname(host, sizeof(host)), 0);
    snprintf(cmd, sizeof(cmd), "hostname %s", host);
    assert_int_equal(run_cmd(f, cmd, &res), -1);
    assert_memory_equal(res.error, "option_not_allowed", 18);
}

/* What the skill answers to `command` in a process that is not root: 0 when it refused with no_unprivileged_user
 * and a detail that names root, 1 otherwise. No cmocka assertion here: it also runs in a forked child. */
static int refused_as_non_root(fixture_t *f, const char *command)
{
    ac_skill_result_t res;
    memset(&res, 0, sizeof(res));
    int rc = ac_skills_shell_run_command(&f->ctx, command, &res);
    const char *want = "no_unprivileged_user: commands only run when the node runs as root";
    bool ok = rc == -1 && res.output == NULL && strncmp(res.error, want, strlen(want)) == 0 &&
              strstr(res.error, "ALEXCLAW_SHELL_USER") != NULL;
    if (!ok)
        fprintf(stderr, "as uid %u, %s: rc=%d error=%s\n", (unsigned)geteuid(), command, rc, res.error);
    json_decref(res.output);
    return ok ? 0 : 1;
}

static void refuses_every_command_when_not_root(void **state)
{
    fixture_t *f = *state;
    enable(f);
    whitelist(f, "[\"uname\",\"printenv\",\"ac-no-such-program\",\"git\"]");
    static const char *const commands[] = {"uname -a", "printenv", "ac-no-such-program", "git diff a b"};
    if (!is_root()) {
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            assert_int_equal(refused_as_non_root(f, commands[i]), 0);
        return;
    }
    /* As root: a child drops to nobody, as a node started by an ordinary user would be, and asks. This process has
     * no other thread now, so the child may allocate. */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setresgid(nobody_gid(), nobody_gid(), nobody_gid()) != 0 ||
            setresuid(nobody_uid(), nobody_uid(), nobody_uid()) != 0 || geteuid() == 0)
            _exit(2);
        int bad = 0;
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            bad += refused_as_non_root(f, commands[i]);
        /* The policy still answers first. */
        ac_skill_result_t res;
        memset(&res, 0, sizeof(res));
        if (ac_skills_shell_run_command(&f->ctx, "uname -a; id", &res) != -1 ||
            strcmp(res.error, "blocked_metachar: ;") != 0) {
            fprintf(stderr, "uname -a; id: %s\n", res.error);
            bad++;
        }
        _exit(bad == 0 ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* Nothing was started: the scratch directory was not even made. */
    char scratch[128];
    struct stat st;
    snprintf(scratch, sizeof(scratch), "%s/shell-scratch", f->data_dir);
    assert_int_equal(lstat(scratch, &st), -1);
}

/* Starts `sleep 5` with SECRET_KEY_BASE=<secret> as its whole environment, as uid (0: stays root). */
static pid_t start_sleeper(const char *secret, uid_t uid, gid_t gid)
{
    char env0[160];
    snprintf(env0, sizeof(env0), "SECRET_KEY_BASE=%s", secret);
    char *const argv[] = {"sleep", "5", NULL};
    char *const envp[] = {env0, NULL};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (uid != 0 && (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0))
            _exit(2);
        execve("/bin/sleep", argv, envp);
        _exit(127);
    }
    return pid;
}

static void stop_sleeper(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* The promise of issue 3: whatever the whitelist, no command reads the node's secrets. A secrets file (0600, root)
 * in the data directory, and processes holding the secret in their environment (one as root, like the node and its
 * pg_dump, one as nobody, the user the commands run as), are out of reach of every command below: each is refused,
 * or runs and prints no secret. */
static void cannot_read_the_nodes_secrets(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    assert_int_equal(chmod(f->data_dir, 0711), 0); /* nobody may traverse it to the scratch directory */
    char secret[64], file[128], line[128];
    snprintf(secret, sizeof(secret), "ac-e2e-secret-%d-%lld", (int)getpid(), (long long)ac_skill_now_ms());
    snprintf(file, sizeof(file), "%s/secrets.env", f->data_dir);
    int fd = open(file, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    int n = snprintf(line, sizeof(line), "SECRET_KEY_BASE=%s\n", secret);
    assert_int_equal(write(fd, line, (size_t)n), n);
    assert_int_equal(fchown(fd, 0, 0), 0);
    close(fd);
    pid_t root_sleeper = start_sleeper(secret, 0, 0);
    pid_t nobody_sleeper = start_sleeper(secret, nobody_uid(), nobody_gid());
    usleep(50000); /* both have exec'd */

    whitelist(f, "[\"git\",\"ps\",\"date\",\"ls\"]");
    typedef struct attempt {
        const char *cmd;     /* FILE: the secrets file's absolute path */
        const char *refusal; /* the expected error code when the policy must refuse it; NULL: may run */
        const char *says;    /* when it runs: a piece of its output, if any is certain */
    } attempt_t;
    static const attempt_t attempts[] = {
        {"git diff /dev/null FILE", "git_not_allowed", NULL},
        {"git diff /dev/null ../secrets.env", "git_not_allowed", NULL},
        {"git diff -- ../secrets.env x", "git_not_allowed", NULL},
        {"git diff --no-index /dev/null ../secrets.env", "git_not_allowed", NULL},
        {"git show HEAD:../secrets.env", "git_not_allowed", NULL},
        {"git diff secrets.env x", NULL, "Could not access 'secrets.env'"}, /* in the scratch dir: nothing there */
        {"ps eww", "option_not_allowed", NULL},
        {"ps aux e", "option_not_allowed", NULL},
        {"ps -u ex", "option_not_allowed", NULL},
        {"ps -ex", NULL, NULL}, /* runs as ps -Ax: the BSD re-parse cannot read the modifier e */
        {"ps -e -x", NULL, NULL},
        {"ps auxww", NULL, NULL}, /* command lines only */
        {"date -f FILE", "option_not_allowed", NULL},
        {"date -f ../secrets.env", "option_not_allowed", NULL},
        {"date -r ../secrets.env", NULL, NULL}, /* its modification time only */
        {"ls -la ..", NULL, NULL},
        {"ls -la FILE", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        char cmd[256];
        const char *mark = strstr(attempts[i].cmd, "FILE");
        if (mark != NULL)
            snprintf(cmd, sizeof(cmd), "%.*s%s%s", (int)(mark - attempts[i].cmd), attempts[i].cmd, file, mark + 4);
        else
            snprintf(cmd, sizeof(cmd), "%s", attempts[i].cmd);
        ac_skill_result_t res;
        int rc = run_cmd(f, cmd, &res);
        if (attempts[i].refusal != NULL) {
            if (rc != -1 || strncmp(res.error, attempts[i].refusal, strlen(attempts[i].refusal)) != 0)
                print_error("%s: rc=%d error=%s\n", cmd, rc, res.error);
            assert_int_equal(rc, -1);
            assert_memory_equal(res.error, attempts[i].refusal, strlen(attempts[i].refusal));
        } else {
            assert_int_equal(rc, 0);
            if (strstr(out_text(&res), secret) != NULL)
                print_error("%s printed the secret:\n%s\n", cmd, out_text(&res));
            assert_null(strstr(out_text(&res), secret));
            if (attempts[i].says != NULL)
                assert_non_null(strstr(body(&res), attempts[i].says));
            json_decref(res.output);
        }
        assert_null(strstr(res.error, secret));
    }
    /* Whatever the whitelist: even a program that reads files runs as nobody, who may not read the file. */
    whitelist(f, "[\"cat\"]");
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "cat ../secrets.env", &res), 0);
    assert_string_equal(res.branch, "on_error");
    assert_non_null(strstr(body(&res), "Permission denied"));
    assert_null(strstr(out_text(&res), secret));
    json_decref(res.output);
    assert_false(ring_contains(secret));

    stop_sleeper(root_sleeper);
    stop_sleeper(nobody_sleeper);
    unlink(file);
}

/* GIT_CEILING_DIRECTORIES=<data_dir>: a repository in the data directory, owned by nobody so that git would trust
 * it, is not found from the scratch directory, although git finds it there without the ceiling. */
static void git_finds_no_repository_above_the_scratch_directory(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    whitelist(f, "[\"git\"]");
    char cmd[512], scratch[128], found[256] = "";
    snprintf(scratch, sizeof(scratch), "%s/shell-scratch", f->data_dir);
    snprintf(cmd, sizeof(cmd), "git init -q '%s' && chown -R nobody '%s'", f->data_dir, f->data_dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(chmod(f->data_dir, 0711), 0);
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "git status", &res), 0);
    assert_memory_equal(out_text(&res), "$ git status\nExit: 128 | Time: ", 31);
    assert_non_null(strstr(body(&res), "not a git repository"));
    json_decref(res.output);
    /* The control: without the ceiling, git finds the repository from the scratch directory. */
    snprintf(cmd, sizeof(cmd), "git -c safe.directory='*' -C '%s' rev-parse --absolute-git-dir", scratch);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(found, sizeof(found), p));
    assert_int_equal(pclose(p), 0);
    snprintf(cmd, sizeof(cmd), "%s/.git\n", f->data_dir);
    assert_string_equal(found, cmd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/.git'", f->data_dir);
    assert_int_equal(system(cmd), 0);
}

static void refuses_root_as_the_shell_user(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    ac_skill_result_t res;
    f->ctx.shell_user = "root";
    assert_int_equal(run_cmd(f, "whoami", &res), -1);
    assert_memory_equal(res.error, "no_unprivileged_user", 20);
    f->ctx.shell_user = "no-such-user-ac";
    assert_int_equal(run_cmd(f, "whoami", &res), -1);
    assert_memory_equal(res.error, "no_unprivileged_user", 20);
}

static void not_found_reports_exit_127(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    whitelist(f, "[\"ac-no-such-program\"]");
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "ac-no-such-program -x", &res), 0);
    assert_string_equal(res.branch, "on_error");
    assert_string_equal(out_text(&res), "$ ac-no-such-program -x\nExit: 127 | Time: 0ms\n\n"
                                        "ac-no-such-program: command not found in /usr/local/bin:/usr/bin:/bin");
    json_decref(res.output);
}

static void refusals_carry_the_policy_codes(void **state)
{
    fixture_t *f = *state;
    enable(f);
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "uptime && id", &res), -1);
    assert_string_equal(res.error, "blocked_metachar: &&");
    assert_int_equal(run_cmd(f, "define", &res), -1);
    assert_string_equal(res.error, "not_whitelisted: define");
    assert_int_equal(run_cmd(f, "git push", &res), -1);
    assert_memory_equal(res.error, "git_not_allowed", 15);
    assert_int_equal(run_cmd(f,
                             "\xd1\x81"
                             "at /etc/passwd",
                             &res),
                     -1);
    assert_memory_equal(res.error, "non_ascii", 9);
    assert_int_equal(run_cmd(f, "ls 'x", &res), -1);
    assert_memory_equal(res.error, "parse_error", 11);
    /* A NUL inside the JSON string is seen, not cut off. */
    assert_int_equal(run(f, "{\"command\":\"ls\\u0000 /\"}", NULL, &res), -1);
    assert_memory_equal(res.error, "parse_error", 11);
    assert_null(res.output);
}

static void malformed_lists_fail_closed(void **state)
{
    fixture_t *f = *state;
    enable(f);
    static const char *const bad[] = {"not json",      "{\"df\":1}",      "[\"df\",1]",
                                      "[\"df\",\"\"]", "[\"d\\u0000f\"]", "\"df\""};
    ac_skill_result_t res;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        whitelist(f, bad[i]);
        assert_int_equal(run_cmd(f, "df -h", &res), -1);
        assert_memory_equal(res.error, "invalid_setting", 15);
    }
    whitelist(f, "[\"df\"]");
    put(f, "shell.blocklist", "[1]", AC_SETTING_STRING);
    assert_int_equal(run_cmd(f, "df -h", &res), -1);
    assert_memory_equal(res.error, "invalid_setting", 15);
}

static void git_runs_outside_any_repository(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    ac_skill_result_t res;
    /* The scratch directory lies in no repository: git runs (with its fixed environment) and says so. git stats
     * its cwd by path, so nobody must be able to traverse the data directory (a 0700 one makes git fail early). */
    assert_int_equal(chmod(f->data_dir, 0711), 0);
    assert_int_equal(run_cmd(f, "git status", &res), 0);
    assert_string_equal(res.branch, "on_error");
    assert_memory_equal(out_text(&res), "$ git status\nExit: 128 | Time: ", 31);
    assert_non_null(strstr(body(&res), "not a git repository"));
    json_decref(res.output);
    assert_int_equal(run_cmd(f, "git log --output=/tmp/ac-shell-x", &res), -1);
    assert_memory_equal(res.error, "git_not_allowed", 15);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static void releases_every_descriptor(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    whitelist(f, "[\"uname\",\"sleep\",\"ac-no-such-program\"]");
    ac_skill_result_t res;
    assert_int_equal(run_cmd(f, "uname", &res), 0); /* creates the scratch directory */
    json_decref(res.output);
    int before = count_fds();
    assert_int_equal(run_cmd(f, "uname -a", &res), 0);
    json_decref(res.output);
    assert_int_equal(run_cmd(f, "ac-no-such-program", &res), 0);
    json_decref(res.output);
    assert_int_equal(run_cmd(f, "uname; id", &res), -1);
    f->ctx.deadline_ms = ac_skill_now_ms() + 200;
    assert_int_equal(run_cmd(f, "sleep 5", &res), 0);
    assert_string_equal(res.branch, "on_timeout");
    json_decref(res.output);
    assert_int_equal(count_fds(), before);
}

static void run_command_entry_point(void **state)
{
    fixture_t *f = *state;
    NEED_ROOT();
    enable(f);
    ac_skill_result_t res;
    memset(&res, 0, sizeof(res));
    assert_int_equal(ac_skills_shell_run_command(&f->ctx, "uname -s", &res), 0);
    assert_string_equal(res.branch, "on_success");
    assert_string_equal(body(&res), "Linux\n");
    json_decref(res.output);
}

static int group_teardown(void **state)
{
    (void)state;
    ac_log_shutdown();
    return 0;
}

int main(void)
{
    ac_log_output_set(NULL);
    /* Orphans of the commands come back here, as they do to a node running as PID 1 (see the timeout test). */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(disabled_by_default, setup, teardown),
        cmocka_unit_test(describes_itself),
        cmocka_unit_test_setup_teardown(runs_uname_without_a_shell, setup, teardown),
        cmocka_unit_test_setup_teardown(nonzero_exit_takes_on_error, setup, teardown),
        cmocka_unit_test_setup_teardown(caps_output_at_max_chars, setup, teardown),
        cmocka_unit_test_setup_teardown(counts_characters_not_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(timeout_kills_the_process_group, setup, teardown),
        cmocka_unit_test_setup_teardown(deadline_shortens_the_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_stops_the_command, setup, teardown),
        cmocka_unit_test_setup_teardown(step_config_cannot_change_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(no_command_even_with_input, setup, teardown),
        cmocka_unit_test_setup_teardown(environment_is_only_path, setup, teardown),
        cmocka_unit_test_setup_teardown(inherits_no_descriptors, setup, teardown),
        cmocka_unit_test_setup_teardown(runs_in_the_scratch_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(limits_and_no_new_privileges, setup, teardown),
        cmocka_unit_test_setup_teardown(runs_as_nobody_when_root, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_root_as_the_shell_user, setup, teardown),
        cmocka_unit_test_setup_teardown(refuses_every_command_when_not_root, setup, teardown),
        cmocka_unit_test_setup_teardown(cannot_read_the_nodes_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(git_finds_no_repository_above_the_scratch_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(not_found_reports_exit_127, setup, teardown),
        cmocka_unit_test_setup_teardown(refusals_carry_the_policy_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_lists_fail_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(git_runs_outside_any_repository, setup, teardown),
        cmocka_unit_test_setup_teardown(releases_every_descriptor, setup, teardown),
        cmocka_unit_test_setup_teardown(run_command_entry_point, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
