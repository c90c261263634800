/* tests/unit/skills/test_db_backup.c - the db_backup skill against a real PostgreSQL database: a valid gzip dump,
 * its name, rotation, the refusals (unwritable directory, old pg_dump, missing pg_dump), pg_dump's errors, the
 * password kept out of pg_dump's argv, the deadline and cancellation.
 *
 * ALEXCLAW_PG_DUMP is read once per process, so it names one script path for the whole run and each test rewrites
 * that script: by default it execs the real pg_dump; fakes report versions, fail, record their argv and environment
 * (from /proc, exactly as execve gave it) or sleep. */
#include "policy/alloc.h"
#include "skills/db_backup.h"
#include "tests/support/testdb.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

static const char password[] = "S3cret-pw-71x";

static char root[256];           /* this run's scratch directory */
static char fake[320];           /* the script ALEXCLAW_PG_DUMP names */
static char rec[320];            /* what the recording fake writes */
static char real_dump[PATH_MAX]; /* the real pg_dump the default script execs */

typedef struct fx {
    char ci[512];
    char db[128];
    char dir[512];
    ac_node_settings_t *s;
    ac_skill_ctx_t ctx;
    ac_skill_result_t res;
} fx_t;

/* --- helpers ------------------------------------------------------------------------------------------------------ */

static void write_file(const char *path, const char *text, mode_t mode)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(tmp, mode), 0);
    assert_int_equal(rename(tmp, path), 0);
}

static void script(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void script(const char *fmt, ...)
{
    char body[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    write_file(fake, body, 0755);
}

/* A fake that answers --version like a pg_dump newer than any server, and runs `rest` otherwise. */
static void fake_with(const char *rest)
{
    script("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 99.0'; exit 0; fi\n%s\n", rest);
}

static void fake_recorder(void)
{
    char rest[1024];
    snprintf(rest, sizeof(rest),
             "{ for a in \"$@\"; do printf 'ARG %%s\\n' \"$a\"; done; tr '\\0' '\\n' </proc/$$/environ | sed "
             "'s/^/ENV /'; } >'%s'\necho '-- fake dump'",
             rec);
    fake_with(rest);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char *buf = ac_malloc(1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Decompresses a whole .gz file with zlib. From ac_malloc. */
static char *gunzip(const char *path)
{
    gzFile g = gzopen(path, "rb");
    assert_non_null(g);
    size_t cap = 1 << 16, n = 0;
    char *buf = ac_malloc(cap);
    for (;;) {
        if (n + 4096 + 1 > cap)
            buf = ac_realloc(buf, cap *= 2);
        int got = gzread(g, buf + n, 4096);
        assert_true(got >= 0);
        if (got == 0)
            break;
        n += (size_t)got;
    }
    int err = 0;
    gzerror(g, &err);
    assert_int_equal(err, Z_OK); /* a truncated or corrupt stream would say so here */
    assert_int_equal(gzclose(g), Z_OK);
    buf[n] = '\0';
    return buf;
}

static size_t count_entries(const char *dir)
{
    char pat[PATH_MAX + 8];
    glob_t g;
    size_t n = 0;
    snprintf(pat, sizeof(pat), "%s/*", dir);
    if (glob(pat, GLOB_PERIOD, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            const char *b = strrchr(g.gl_pathv[i], '/') + 1;
            n += strcmp(b, ".") != 0 && strcmp(b, "..") != 0;
        }
        globfree(&g);
    }
    return n;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static int64_t now_ms(void)
{
    return ac_skill_now_ms();
}

static int run(fx_t *f)
{
    json_decref(f->res.output);
    memset(&f->res, 0, sizeof(f->res));
    ac_skill_args_t args = {.input = NULL, .config = json_object()};
    int rc = ac_skills_db_backup.run(&f->ctx, &args, &f->res);
    json_decref(args.config);
    return rc;
}

static void run_ok(fx_t *f)
{
    if (run(f) != 0)
        fail_msg("backup failed: %s", f->res.error);
    assert_string_equal(f->res.branch, "on_success");
}

static void set_max_files(fx_t *f, const char *v)
{
    ac_node_setting_t row = {.key = ac_strdup("backup.max_files"), .value = ac_strdup(v), .type = AC_SETTING_INTEGER};
    ac_node_settings_put(f->s, &row);
}

static void wait_next_second(void)
{
    time_t t0 = time(NULL);
    while (time(NULL) == t0)
        usleep(10000);
}

/* --- fixture ------------------------------------------------------------------------------------------------------ */

static int setup(void **state)
{
    static int n;
    fx_t *f = ac_calloc(1, sizeof(*f));
    snprintf(f->ci, sizeof(f->ci), "%s", ac_test_db_create("dbbackup"));
    const char *d = strstr(f->ci, "dbname=") + strlen("dbname=");
    snprintf(f->db, sizeof(f->db), "%.*s", (int)strcspn(d, " "), d);
    /* not created: the skill makes it */
    snprintf(f->dir, sizeof(f->dir), "%s/t%d/backups", root, n++);
    uint8_t key[32] = {0};
    f->s = ac_node_settings_new(key);
    f->ctx = (ac_skill_ctx_t){.settings = f->s,
                              .conninfo = f->ci,
                              .backup_dir = f->dir,
                              .node_name = "test",
                              .deadline_ms = now_ms() + 60000};
    script("#!/bin/sh\nexec '%s' \"$@\"\n", real_dump);
    unlink(rec);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    json_decref(f->res.output);
    ac_node_settings_free(f->s);
    ac_test_db_drop(f->ci);
    free(f);
    return 0;
}

/* --- tests -------------------------------------------------------------------------------------------------------- */

static void writes_a_valid_gzip_dump_with_the_marker_row(void **state)
{
    fx_t *f = *state;
    PGconn *c = ac_test_db_connect(f->ci);
    ac_test_db_exec(c, "CREATE TABLE backup_marker (note text)");
    ac_test_db_exec(c, "INSERT INTO backup_marker VALUES ('marker-row-5e1f')");
    PQfinish(c);

    run_ok(f);
    const char *file = json_string_value(json_object_get(f->res.output, "file"));
    assert_non_null(file);
    assert_int_equal(json_array_size(json_object_get(f->res.output, "deleted")), 0);
    assert_true(json_is_array(json_object_get(f->res.output, "deleted")));

    /* BACKUP_DIR/alexclaw-<dbname>-<UTC YYYYmmddTHHMMSSZ>.sql.gz, the stamp being now */
    char pat[1024];
    snprintf(pat, sizeof(pat), "^%s/alexclaw-%s-([0-9]{8}T[0-9]{6}Z)\\.sql\\.gz$", f->dir, f->db);
    regex_t re;
    regmatch_t m[2];
    assert_int_equal(regcomp(&re, pat, REG_EXTENDED), 0);
    assert_int_equal(regexec(&re, file, 2, m, 0), 0);
    regfree(&re);
    struct tm tm = {0};
    assert_non_null(strptime(file + m[1].rm_so, "%Y%m%dT%H%M%SZ", &tm));
    assert_true(llabs((long long)(timegm(&tm) - time(NULL))) <= 10);

    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal((json_int_t)st.st_size, json_integer_value(json_object_get(f->res.output, "bytes")));
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(f->dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(count_entries(f->dir), 1); /* no temp or probe file left behind */

    char *sql = gunzip(file);
    assert_non_null(strstr(sql, "CREATE TABLE public.backup_marker"));
    assert_non_null(strstr(sql, "marker-row-5e1f"));
    assert_null(strstr(sql, password));
    free(sql);
}

static void rotation_keeps_the_newest_max_files_and_nothing_else(void **state)
{
    fx_t *f = *state;
    set_max_files(f, "3");
    char other[PATH_MAX + 64], notes[PATH_MAX + 64], lookalike_dir[PATH_MAX + 128], partial[PATH_MAX + 128];
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%.*s", (int)(strrchr(f->dir, '/') - f->dir), f->dir);
    assert_int_equal(mkdir(parent, 0700), 0);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    snprintf(notes, sizeof(notes), "%s/notes.txt", f->dir);
    snprintf(other, sizeof(other), "%s/alexclaw-otherdb-20200101T000000Z.sql.gz", f->dir);
    snprintf(partial, sizeof(partial), "%s/alexclaw-%s-20200101T000000Z.sql.gz.old", f->dir, f->db);
    snprintf(lookalike_dir, sizeof(lookalike_dir), "%s/alexclaw-%s-20000101T000000Z.sql.gz", f->dir, f->db);
    write_file(notes, "keep me\n", 0644);
    write_file(other, "another database's backup\n", 0600);
    write_file(partial, "not the pattern\n", 0600);
    assert_int_equal(mkdir(lookalike_dir, 0700), 0);

    char files[5][PATH_MAX];
    json_t *all_deleted = json_array();
    for (int i = 0; i < 5; i++) {
        wait_next_second(); /* names carry seconds: one backup per second */
        f->ctx.deadline_ms = now_ms() + 60000;
        run_ok(f);
        snprintf(files[i], sizeof(files[i]), "%s", json_string_value(json_object_get(f->res.output, "file")));
        json_array_extend(all_deleted, json_object_get(f->res.output, "deleted"));
        assert_true(json_array_size(json_object_get(f->res.output, "deleted")) == (i < 3 ? 0u : 1u));
    }
    for (int i = 0; i < 5; i++)
        assert_true(exists(files[i]) == (i >= 2));
    assert_int_equal(json_array_size(all_deleted), 2);
    assert_string_equal(json_string_value(json_array_get(all_deleted, 0)), files[0]);
    assert_string_equal(json_string_value(json_array_get(all_deleted, 1)), files[1]);
    json_decref(all_deleted);
    assert_true(exists(notes));
    assert_true(exists(other));
    assert_true(exists(partial));
    assert_true(exists(lookalike_dir));
    assert_int_equal(count_entries(f->dir), 3 + 4);
}

static void unwritable_backup_dir_is_refused_before_dumping(void **state)
{
    fx_t *f = *state;
    fake_recorder();
    char file[PATH_MAX], bad[PATH_MAX + 32], expect[PATH_MAX + 64];
    snprintf(file, sizeof(file), "%s/a-regular-file", root);
    write_file(file, "x\n", 0644);
    /* tests run as root, where permission bits stop nothing: use paths no one can create */
    const char *dirs[] = {bad, "/proc/alexclaw-no-such/backups", "relative/backups"};
    snprintf(bad, sizeof(bad), "%s/backups", file);
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        f->ctx.backup_dir = dirs[i];
        assert_int_equal(run(f), -1);
        snprintf(expect, sizeof(expect), "backup_dir_not_writable: %s (", dirs[i]);
        if (strncmp(f->res.error, expect, strlen(expect)) != 0)
            fail_msg("unexpected error: %s", f->res.error);
        assert_null(f->res.output);
        assert_false(exists(rec)); /* pg_dump never ran */
        assert_false(exists(dirs[i]));
    }
}

static void pg_dump_older_than_the_server_is_refused(void **state)
{
    fx_t *f = *state;
    char ran[PATH_MAX + 8], expect[256];
    snprintf(ran, sizeof(ran), "%s/ran", root);
    unlink(ran);
    script("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 9.6.24'; exit 0; fi\n"
           "touch '%s'\necho '-- fake'\n",
           ran);
    PGconn *c = ac_test_db_connect(f->ci);
    int v = PQserverVersion(c);
    PQfinish(c);
    snprintf(expect, sizeof(expect), "pg_dump_too_old: server %d.%d is newer than pg_dump 9.6", v / 10000, v % 10000);
    assert_int_equal(run(f), -1);
    assert_string_equal(f->res.error, expect);
    assert_false(exists(ran));
    assert_int_equal(count_entries(f->dir), 0);
}

static void missing_pg_dump_is_reported(void **state)
{
    fx_t *f = *state;
    assert_int_equal(unlink(fake), 0);
    assert_int_equal(run(f), -1);
    assert_non_null(strstr(f->res.error, "no_pg_dump: ALEXCLAW_PG_DUMP="));
}

static void pg_dump_error_is_reported_with_its_first_line(void **state)
{
    fx_t *f = *state;
    fake_with("echo '-- partial output'\n"
              "echo 'pg_dump: error: connection to server failed: role \"x\" does not exist' >&2\n"
              "echo 'pg_dump: detail: second line' >&2\nexit 1");
    assert_int_equal(run(f), -1);
    assert_string_equal(f->res.error,
                        "pg_dump_failed: pg_dump: error: connection to server failed: role \"x\" does not exist");
    assert_null(f->res.output);
    assert_int_equal(count_entries(f->dir), 0); /* the half-written temp file is gone too */
}

/* Runs a backup through the recording fake and checks where the password went. */
static void check_secret_path(fx_t *f, const char *conninfo, bool with_password)
{
    unlink(rec);
    f->ctx.conninfo = conninfo;
    f->ctx.deadline_ms = now_ms() + 60000;
    run_ok(f);
    char *got = slurp(rec);
    assert_non_null(got);
    size_t hits = 0;
    for (const char *p = got; (p = strstr(p, password)) != NULL; p++)
        hits++;
    assert_int_equal(hits, with_password ? 1 : 0);
    bool saw_nopw = false, saw_db = false, saw_pgpw = false;
    size_t envs = 0;
    for (char *line = strtok(got, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strncmp(line, "ARG ", 4) == 0) {
            saw_nopw |= strcmp(line + 4, "--no-password") == 0;
            if (strncmp(line + 4, "--dbname=", 9) == 0) {
                saw_db = true;
                char want[160];
                snprintf(want, sizeof(want), "dbname='%s'", f->db);
                assert_non_null(strstr(line, want));
                assert_non_null(strstr(line, "user='postgres'"));
                assert_null(strstr(line, "password"));
            }
        } else if (strncmp(line, "ENV ", 4) == 0) {
            const char *e = line + 4;
            envs++;
            if (strncmp(e, "PGPASSWORD=", 11) == 0) {
                assert_string_equal(e + 11, password);
                saw_pgpw = true;
            } else if (strncmp(e, "PATH=", 5) != 0 && strcmp(e, "LC_ALL=C") != 0) {
                fail_msg("unexpected variable in pg_dump's environment: %s", e);
            }
        }
    }
    assert_true(saw_nopw);
    assert_true(saw_db);
    assert_true(saw_pgpw == with_password);
    assert_int_equal(envs, with_password ? 3 : 2);
    free(got);
    char *sql = gunzip(json_string_value(json_object_get(f->res.output, "file")));
    assert_string_equal(sql, "-- fake dump\n");
    free(sql);
}

static void password_reaches_pg_dump_only_through_its_environment(void **state)
{
    fx_t *f = *state;
    fake_recorder();
    char kv[768], url[768];
    const char *host = getenv("AC_TEST_PGHOST");
    snprintf(kv, sizeof(kv), "%s password=%s", f->ci, password);
    snprintf(url, sizeof(url), "postgresql://postgres:%s@/%s?host=%s", password, f->db, host);
    check_secret_path(f, kv, true);
    check_secret_path(f, url, true);
    check_secret_path(f, f->ci, false);
}

static void slow_pg_dump_is_killed_at_the_deadline(void **state)
{
    fx_t *f = *state;
    char pidfile[PATH_MAX + 8], rest[PATH_MAX + 64];
    snprintf(pidfile, sizeof(pidfile), "%s/sleep.pid", root);
    unlink(pidfile);
    snprintf(rest, sizeof(rest), "sleep 30 &\necho $! >'%s'\nwait", pidfile);
    fake_with(rest);
    int64_t t0 = now_ms();
    f->ctx.deadline_ms = t0 + 1000;
    assert_int_equal(run(f), -1);
    int64_t took = now_ms() - t0;
    assert_string_equal(f->res.error, "timeout");
    assert_true(took >= 900 && took < 4000);
    assert_int_equal(count_entries(f->dir), 0);

    /* the whole process group died, the shell's background sleep included (gone, or a zombie awaiting init) */
    char *pid = slurp(pidfile);
    assert_non_null(pid);
    char stat_path[64];
    snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat", atoi(pid));
    free(pid);
    bool dead = false;
    for (int i = 0; i < 200 && !dead; i++) {
        char *st = slurp(stat_path);
        dead = st == NULL || strstr(st, ") Z ") != NULL;
        free(st);
        if (!dead)
            usleep(10000);
    }
    assert_true(dead);
}

static void *cancel_later(void *arg)
{
    usleep(300 * 1000);
    *(volatile sig_atomic_t *)arg = 1;
    return NULL;
}

static void cancelled_run_stops_pg_dump(void **state)
{
    fx_t *f = *state;
    fake_with("exec sleep 30");
    volatile sig_atomic_t cancel = 0;
    f->ctx.cancel = &cancel;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, (void *)&cancel), 0);
    int64_t t0 = now_ms();
    assert_int_equal(run(f), -1);
    pthread_join(t, NULL);
    assert_string_equal(f->res.error, "cancelled");
    assert_true(now_ms() - t0 < 5000);
    assert_int_equal(count_entries(f->dir), 0);
}

static void skill_definition(void **state)
{
    (void)state;
    assert_string_equal(ac_skills_db_backup.name, "db_backup");
    assert_string_equal(ac_skills_db_backup.routes[0], "on_success");
    assert_string_equal(ac_skills_db_backup.routes[1], "on_error");
    assert_null(ac_skills_db_backup.routes[2]);
    assert_false(ac_skills_db_backup.external);
}

/* The newest /usr/lib/postgresql/<v>/bin/pg_dump, for the default pass-through script. */
static void find_real_pg_dump(void)
{
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/pg_dump", 0, NULL, &g) != 0) {
        fprintf(stderr, "no /usr/lib/postgresql/*/bin/pg_dump installed\n");
        abort();
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        if (real_dump[0] == '\0' || strverscmp(g.gl_pathv[i], real_dump) > 0)
            snprintf(real_dump, sizeof(real_dump), "%s", g.gl_pathv[i]);
    }
    globfree(&g);
}

int main(void)
{
    const char *tmp = getenv("AC_TEST_TMP");
    tmp = tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp";
    (void)mkdir(tmp, 0755);
    snprintf(root, sizeof(root), "%s/dbbackup-XXXXXX", tmp);
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    char bin[300];
    snprintf(bin, sizeof(bin), "%s/bin", root);
    mkdir(bin, 0755);
    snprintf(fake, sizeof(fake), "%s/pg_dump", bin);
    snprintf(rec, sizeof(rec), "%s/record.txt", root);
    find_real_pg_dump();
    setenv("ALEXCLAW_PG_DUMP", fake, 1); /* before the first run: the skill reads it once */

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(skill_definition),
        cmocka_unit_test_setup_teardown(writes_a_valid_gzip_dump_with_the_marker_row, setup, teardown),
        cmocka_unit_test_setup_teardown(rotation_keeps_the_newest_max_files_and_nothing_else, setup, teardown),
        cmocka_unit_test_setup_teardown(unwritable_backup_dir_is_refused_before_dumping, setup, teardown),
        cmocka_unit_test_setup_teardown(pg_dump_older_than_the_server_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_pg_dump_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(pg_dump_error_is_reported_with_its_first_line, setup, teardown),
        cmocka_unit_test_setup_teardown(password_reaches_pg_dump_only_through_its_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(slow_pg_dump_is_killed_at_the_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(cancelled_run_stops_pg_dump, setup, teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (failed == 0) {
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        (void)!system(cmd);
    }
    return failed;
}
