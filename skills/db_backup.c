/* skills/db_backup.c - the `db_backup` core skill (db_backup.h): pg_dump piped through zlib into BACKUP_DIR.
 *
 * The node is multi-threaded, so pg_dump is started with fork+exec and the child makes only async-signal-safe calls
 * before execve: everything it needs (argv, environment, messages) is built beforehand. The password travels to
 * pg_dump only as PGPASSWORD in its environment (a process's argv is readable by every user through ps); pg_dump gets
 * the rest of the conninfo as a key=value string in --dbname. A backup becomes visible under its final name only after
 * pg_dump succeeded and the compressed data reached the disk (fsync, rename, fsync of the directory). Every wait is a
 * poll() slice of at most SLICE_MS, so the deadline and the cancel flag are noticed promptly. */
#include "skills/db_backup.h"

#include "node/log.h"
#include "policy/alloc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define NAME_PREFIX       "alexclaw-"
#define NAME_SUFFIX       ".sql.gz"
#define STAMP_LEN         16 /* YYYYmmddTHHMMSSZ */
#define DBNAME_MAX        63 /* NAMEDATALEN - 1 */
#define STDERR_CAP        4096
#define VERSION_CAP       512
#define CHUNK             (64 * 1024)
#define SLICE_MS          100
#define MAX_FILES_DEFAULT 7
#define MAX_FILES_LIMIT   100000
#define PG_LIB_DIR        "/usr/lib/postgresql"

static const char *const routes[] = {"on_success", "on_error", NULL};

/* The process environment, read once (getenv races with setenv in other threads; the node never changes these). */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static char *env_pg_dump; /* ALEXCLAW_PG_DUMP: a test override of the pg_dump path, or NULL */
static char *env_path;    /* PATH, searched for pg_dump and handed to it */

static void env_read(void)
{
    const char *v = getenv("ALEXCLAW_PG_DUMP");
    env_pg_dump = v != NULL && v[0] != '\0' ? ac_strdup(v) : NULL;
    v = getenv("PATH");
    env_path = ac_strdup(v != NULL && v[0] != '\0' ? v : "/usr/local/bin:/usr/bin:/bin");
}

/* --- small helpers ---------------------------------------------------------------------------------------------- */

/* -1 with res->error set when the run was cancelled or its time is up. */
static int check_stop(const ac_skill_ctx_t *ctx, ac_skill_result_t *res)
{
    if (ctx->cancel != NULL && *ctx->cancel)
        return ac_skill_fail(res, "cancelled", NULL);
    if (ac_skill_ms_left(ctx) == 0)
        return ac_skill_fail(res, "timeout", NULL);
    return 0;
}

static int slice_ms(const ac_skill_ctx_t *ctx)
{
    int64_t left = ac_skill_ms_left(ctx);
    return left < SLICE_MS ? (int)left : SLICE_MS;
}

/* Copies the first non-empty line of s into out, control characters replaced, so it is safe in one error line. */
static void first_line(const char *s, char *out, size_t cap)
{
    while (*s == '\n' || *s == '\r' || *s == ' ')
        s++;
    size_t n = 0;
    for (; *s != '\0' && *s != '\n' && *s != '\r' && n + 1 < cap; s++)
        out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
    out[n] = '\0';
}

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* "15" -> 150000, "9.6" -> 90600: a PostgreSQL major version in PQserverVersion's scale; -1 when not a version. */
static long major_scaled(const char *s, long *a_out, long *b_out)
{
    if (!isdigit((unsigned char)*s))
        return -1;
    char *end;
    long a = strtol(s, &end, 10), b = 0;
    if (*end == '.' && isdigit((unsigned char)end[1]))
        b = strtol(end + 1, &end, 10);
    if (a <= 0 || a > 1000 || b < 0 || b > 99)
        return -1;
    if (a_out != NULL)
        *a_out = a;
    if (b_out != NULL)
        *b_out = b;
    return a >= 10 ? a * 10000 : a * 10000 + b * 100;
}

/* --- locating pg_dump ------------------------------------------------------------------------------------------ */

/* OUT: *path from ac_malloc. */
static int find_pg_dump(char **path, char *why, size_t cap)
{
    pthread_once(&env_once, env_read);
    if (env_pg_dump != NULL) {
        if (is_executable_file(env_pg_dump)) {
            *path = ac_strdup(env_pg_dump);
            return 0;
        }
        snprintf(why, cap, "ALEXCLAW_PG_DUMP=%s is not an executable file", env_pg_dump);
        return -1;
    }
    /* Debian's layout: one directory per installed major version; the newest can dump every older server. */
    char best[PATH_MAX] = "";
    long best_v = -1;
    DIR *d = opendir(PG_LIB_DIR);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            long v = major_scaled(e->d_name, NULL, NULL);
            char cand[PATH_MAX];
            if (v > best_v &&
                (size_t)snprintf(cand, sizeof(cand), "%s/%s/bin/pg_dump", PG_LIB_DIR, e->d_name) < sizeof(cand) &&
                is_executable_file(cand)) {
                best_v = v;
                memcpy(best, cand, sizeof(best));
            }
        }
        closedir(d);
    }
    if (best_v >= 0) {
        *path = ac_strdup(best);
        return 0;
    }
    for (const char *p = env_path; *p != '\0';) {
        size_t n = strcspn(p, ":");
        char cand[PATH_MAX];
        if (n > 0 && p[0] == '/' && (size_t)snprintf(cand, sizeof(cand), "%.*s/pg_dump", (int)n, p) < sizeof(cand) &&
            is_executable_file(cand)) {
            *path = ac_strdup(cand);
            return 0;
        }
        p += n + (p[n] == ':');
    }
    snprintf(why, cap, "pg_dump not found in %s/*/bin or PATH", PG_LIB_DIR);
    return -1;
}

/* --- the child process ----------------------------------------------------------------------------------------- */

typedef struct child {
    pid_t pid;
    int out; /* read end of its stdout, -1 once closed */
    int err; /* read end of its stderr, -1 once closed */
} child_t;

typedef struct child_prep {
    struct sigaction dfl;
    sigset_t empty;
    int max_fd;
    char fail_msg[PATH_MAX + 32];
    size_t fail_len;
} child_prep_t;

/* Runs in the forked child: async-signal-safe calls only. Never returns. */
static void child_exec(char *const argv[], char *const envp[], int out_w, int err_w, const child_prep_t *p)
{
    /* Signals are all blocked (the parent blocked them around fork): reset every handler before unblocking, so no
     * handler of the node ever runs in the child, and pg_dump starts with default dispositions. */
    for (int s = 1; s < NSIG; s++)
        (void)sigaction(s, &p->dfl, NULL);
    (void)setpgid(0, 0);
    int nul = open("/dev/null", O_RDONLY);
    /* Moved above 2 first, so a pipe end that happens to be 0, 1 or 2 is not clobbered by the dup2 calls below. */
    int in = nul >= 0 ? fcntl(nul, F_DUPFD, 3) : -1;
    int out = fcntl(out_w, F_DUPFD, 3);
    int err = fcntl(err_w, F_DUPFD, 3);
    if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(126);
    if (close_range(3, ~0U, 0) != 0) {
        for (int fd = 3; fd <= p->max_fd; fd++)
            (void)close(fd);
    }
    (void)sigprocmask(SIG_SETMASK, &p->empty, NULL);
    execve(argv[0], argv, envp);
    (void)!write(2, p->fail_msg, p->fail_len);
    _exit(127);
}

/* Starts argv[0] in its own process group with stdin /dev/null and stdout/stderr on pipes. */
static int child_start(char *const argv[], char *const envp[], child_t *ch, char *why, size_t cap)
{
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    ch->pid = -1;
    ch->out = ch->err = -1;
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        snprintf(why, cap, "pipe: %s", strerror(errno));
        goto Fail;
    }
    child_prep_t prep;
    memset(&prep, 0, sizeof(prep));
    prep.dfl.sa_handler = SIG_DFL;
    sigemptyset(&prep.dfl.sa_mask);
    sigemptyset(&prep.empty);
    struct rlimit rl;
    prep.max_fd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur - 1 : 65535;
    int n = snprintf(prep.fail_msg, sizeof(prep.fail_msg), "cannot execute %s\n", argv[0]);
    prep.fail_len = n > 0 && (size_t)n < sizeof(prep.fail_msg) ? (size_t)n : 0;

    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
        child_exec(argv, envp, out[1], err[1], &prep);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        snprintf(why, cap, "fork: %s", strerror(fork_errno));
        goto Fail;
    }
    (void)setpgid(pid, pid); /* the child does it too; whichever runs first wins, so a kill never misses the group */
    close(out[1]);
    close(err[1]);
    (void)fcntl(out[0], F_SETFL, O_NONBLOCK); /* read ends only: pg_dump's own writes stay blocking */
    (void)fcntl(err[0], F_SETFL, O_NONBLOCK);
    ch->pid = pid;
    ch->out = out[0];
    ch->err = err[0];
    return 0;

Fail:
    for (int i = 0; i < 2; i++) {
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
    }
    return -1;
}

/* Receives the child's stdout; returns 0, or -1 to abandon the child (the sink keeps its own reason). */
typedef int (*sink_fn)(void *arg, const unsigned char *p, size_t n);

typedef enum { CHILD_EXITED = 0, CHILD_TIMEOUT, CHILD_CANCELLED, CHILD_SINK_FAILED, CHILD_SYS_FAILED } child_end_t;

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Pumps the child's output until both pipes close, then reaps it. Its stderr goes into errbuf (bounded, the rest
 * discarded). On timeout, cancel or a sink failure the whole process group is killed and reaped. */
static child_end_t child_finish(const ac_skill_ctx_t *ctx, child_t *ch, sink_fn sink, void *arg, char *errbuf,
                                size_t errcap, int *status)
{
    unsigned char *buf = ac_malloc(CHUNK);
    size_t errlen = 0;
    child_end_t end = CHILD_EXITED;
    errbuf[0] = '\0';
    while (end == CHILD_EXITED && (ch->out >= 0 || ch->err >= 0)) {
        if (ctx->cancel != NULL && *ctx->cancel) {
            end = CHILD_CANCELLED;
            break;
        }
        if (ac_skill_ms_left(ctx) == 0) {
            end = CHILD_TIMEOUT;
            break;
        }
        struct pollfd p[2] = {{.fd = ch->out, .events = POLLIN}, {.fd = ch->err, .events = POLLIN}};
        int r = poll(p, 2, slice_ms(ctx)); /* negative fds are ignored by poll */
        if (r < 0 && errno != EINTR)
            end = CHILD_SYS_FAILED;
        for (int i = 0; r > 0 && end == CHILD_EXITED && i < 2; i++) {
            if (p[i].fd < 0 || p[i].revents == 0)
                continue;
            ssize_t got = read(p[i].fd, buf, CHUNK);
            if (got > 0 && i == 0) {
                if (sink(arg, buf, (size_t)got) != 0)
                    end = CHILD_SINK_FAILED;
            } else if (got > 0) {
                size_t keep = errlen + 1 < errcap ? errcap - 1 - errlen : 0;
                keep = (size_t)got < keep ? (size_t)got : keep;
                memcpy(errbuf + errlen, buf, keep);
                errlen += keep;
                errbuf[errlen] = '\0';
            } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                close_fd(i == 0 ? &ch->out : &ch->err);
            }
        }
    }
    free(buf);
    /* Both pipes closed: the child is exiting. Bounded wait anyway, a child can close its output and linger. */
    while (end == CHILD_EXITED) {
        pid_t w = waitpid(ch->pid, status, WNOHANG);
        if (w == ch->pid) {
            ch->pid = -1;
            break;
        }
        if (w < 0 && errno != EINTR) {
            end = CHILD_SYS_FAILED;
            break;
        }
        if (ctx->cancel != NULL && *ctx->cancel)
            end = CHILD_CANCELLED;
        else if (ac_skill_ms_left(ctx) == 0)
            end = CHILD_TIMEOUT;
        else
            nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
    }
    if (ch->pid > 0) {
        (void)kill(-ch->pid, SIGKILL);
        while (waitpid(ch->pid, status, 0) < 0 && errno == EINTR)
            ;
        ch->pid = -1;
    }
    close_fd(&ch->out);
    close_fd(&ch->err);
    return end;
}

/* Maps a child's end to res->error; returns 0 only for a clean exit with status 0. */
static int child_verdict(child_end_t end, int status, const char *errbuf, const char *sink_why, ac_skill_result_t *res)
{
    char line[300];
    switch (end) {
    case CHILD_TIMEOUT: return ac_skill_fail(res, "timeout", NULL);
    case CHILD_CANCELLED: return ac_skill_fail(res, "cancelled", NULL);
    case CHILD_SINK_FAILED: return ac_skill_fail(res, "write_failed", "%s", sink_why);
    case CHILD_SYS_FAILED: return ac_skill_fail(res, "pg_dump_failed", "waiting for pg_dump failed");
    case CHILD_EXITED: break;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    first_line(errbuf, line, sizeof(line));
    if (line[0] != '\0')
        return ac_skill_fail(res, "pg_dump_failed", "%s", line);
    if (WIFSIGNALED(status))
        return ac_skill_fail(res, "pg_dump_failed", "killed by signal %d", WTERMSIG(status));
    return ac_skill_fail(res, "pg_dump_failed", "exit status %d", WEXITSTATUS(status));
}

/* --- versions -------------------------------------------------------------------------------------------------- */

typedef struct text_sink {
    char buf[VERSION_CAP];
    size_t len;
} text_sink_t;

static int text_sink(void *arg, const unsigned char *p, size_t n)
{
    text_sink_t *t = arg;
    size_t keep = sizeof(t->buf) - 1 - t->len;
    keep = n < keep ? n : keep;
    memcpy(t->buf + t->len, p, keep);
    t->len += keep;
    t->buf[t->len] = '\0';
    return 0;
}

/* Runs `pg_dump --version` ("pg_dump (PostgreSQL) 15.5 (Debian ...)"). OUT: *scaled as in major_scaled, label "A.B". */
static int pg_dump_version(const ac_skill_ctx_t *ctx, const char *pg_dump, char *const envp[], long *scaled,
                           char *label, size_t cap, ac_skill_result_t *res)
{
    char *argv[] = {(char *)pg_dump, "--version", NULL};
    char why[256], errbuf[STDERR_CAP];
    child_t ch;
    if (child_start(argv, envp, &ch, why, sizeof(why)) != 0)
        return ac_skill_fail(res, "pg_dump_failed", "%s", why);
    text_sink_t out = {.len = 0};
    int status = 0;
    child_end_t end = child_finish(ctx, &ch, text_sink, &out, errbuf, sizeof(errbuf), &status);
    if (child_verdict(end, status, errbuf, "", res) != 0)
        return -1;
    const char *p = strstr(out.buf, "(PostgreSQL)");
    p = p != NULL ? p + strlen("(PostgreSQL)") : out.buf;
    while (*p != '\0' && !isdigit((unsigned char)*p))
        p++;
    long a = 0, b = 0;
    *scaled = major_scaled(p, &a, &b);
    if (*scaled < 0) {
        char line[200];
        first_line(out.buf, line, sizeof(line));
        return ac_skill_fail(res, "pg_dump_failed", "unrecognised version output: %s", line);
    }
    snprintf(label, cap, "%ld.%ld", a, b);
    return 0;
}

/* A short connection, bounded by the deadline: the server's version number and the database's real name. */
static int server_info(const ac_skill_ctx_t *ctx, int *version, char *dbname, size_t cap, ac_skill_result_t *res)
{
    const char *const kw[] = {"dbname", "fallback_application_name", NULL};
    const char *const val[] = {ctx->conninfo, "alexclaw-backup", NULL};
    int rc = -1;
    PGconn *c = PQconnectStartParams(kw, val, 1);
    if (c == NULL)
        return ac_skill_fail(res, "db_connect_failed", "out of memory");
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        if (check_stop(ctx, res) != 0)
            goto Exit;
        struct pollfd p = {.fd = PQsocket(c), .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int r = poll(&p, 1, slice_ms(ctx));
        if (r < 0 && errno != EINTR) {
            ac_skill_fail(res, "db_connect_failed", "poll: %s", strerror(errno));
            goto Exit;
        }
        if (r > 0)
            st = PQconnectPoll(c);
    }
    if (PQstatus(c) != CONNECTION_OK) {
        char line[300];
        first_line(PQerrorMessage(c), line, sizeof(line)); /* libpq never puts the password in its messages */
        ac_skill_fail(res, "db_connect_failed", "%s", line);
        goto Exit;
    }
    *version = PQserverVersion(c);
    snprintf(dbname, cap, "%s", PQdb(c));
    rc = 0;
Exit:
    PQfinish(c);
    return rc;
}

/* --- conninfo -------------------------------------------------------------------------------------------------- */

/* Splits the conninfo into a key=value string without any password-like option (for pg_dump's argv) and the
 * password (for its environment). OUT: *safe and *password from ac_malloc (*password NULL when there is none;
 * free it with ac_free_secret_str). Parser messages are not passed on: they may quote the password. */
static int conninfo_split(const char *conninfo, char **safe, char **password)
{
    char *perr = NULL;
    *safe = *password = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
    if (opts == NULL) {
        if (perr != NULL) {
            explicit_bzero(perr, strlen(perr));
            PQfreemem(perr);
        }
        return -1;
    }
    size_t cap = 1;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        cap += o->val != NULL ? strlen(o->keyword) + 2 * strlen(o->val) + 4 : 0;
    char *s = ac_malloc(cap), *w = s;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL)
            continue;
        if (strcmp(o->keyword, "password") == 0 && o->val[0] != '\0') {
            *password = ac_strdup(o->val);
        } else if (strstr(o->keyword, "password") == NULL && o->val[0] != '\0') {
            w += sprintf(w, "%s%s='", w == s ? "" : " ", o->keyword);
            for (const char *v = o->val; *v != '\0'; v++) {
                if (*v == '\'' || *v == '\\')
                    *w++ = '\\';
                *w++ = *v;
            }
            *w++ = '\'';
        }
        explicit_bzero(o->val, strlen(o->val));
    }
    *w = '\0';
    PQconninfoFree(opts);
    *safe = s;
    return 0;
}

/* --- the backup directory and the compressed file ---------------------------------------------------------------- */

/* Creates dir (and missing parents) with mode 0700 and proves it writable by creating, writing and removing a file. */
static int dir_ready(const char *dir, char *why, size_t cap)
{
    char path[PATH_MAX];
    memcpy(path, dir, strlen(dir) + 1); /* the caller checked the length */
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            snprintf(why, cap, "mkdir %s: %s", path, strerror(errno));
            return -1;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        snprintf(why, cap, "%s", strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, cap, "not a directory");
        return -1;
    }
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof(probe), "%s/.alexclaw-write-test-XXXXXX", dir);
    int fd = mkostemp(probe, O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, cap, "%s", strerror(errno));
        return -1;
    }
    int rc = write(fd, "x", 1) == 1 ? 0 : -1;
    if (rc != 0)
        snprintf(why, cap, "write: %s", strerror(errno));
    close(fd);
    unlink(probe);
    return rc;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

typedef struct gz_sink {
    z_stream z;
    bool ready;
    int fd;
    unsigned char *out;
    char why[200];
} gz_sink_t;

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int gz_pump(gz_sink_t *g, const unsigned char *p, size_t n, int flush)
{
    g->z.next_in = (Bytef *)p;
    g->z.avail_in = (uInt)n;
    do {
        g->z.next_out = g->out;
        g->z.avail_out = CHUNK;
        if (deflate(&g->z, flush) == Z_STREAM_ERROR) {
            snprintf(g->why, sizeof(g->why), "zlib deflate failed");
            return -1;
        }
        if (write_all(g->fd, g->out, CHUNK - g->z.avail_out) != 0) {
            snprintf(g->why, sizeof(g->why), "%s", strerror(errno));
            return -1;
        }
    } while (g->z.avail_out == 0);
    return 0;
}

static int gz_sink(void *arg, const unsigned char *p, size_t n)
{
    return gz_pump(arg, p, n, Z_NO_FLUSH);
}

/* --- rotation -------------------------------------------------------------------------------------------------- */

/* True for exactly `alexclaw-<db>-YYYYmmddTHHMMSSZ.sql.gz`. */
static bool backup_name(const char *name, const char *db)
{
    size_t pl = strlen(NAME_PREFIX), dl = strlen(db);
    if (strncmp(name, NAME_PREFIX, pl) != 0 || strncmp(name + pl, db, dl) != 0 || name[pl + dl] != '-')
        return false;
    const char *t = name + pl + dl + 1;
    for (int i = 0; i < STAMP_LEN; i++) {
        bool ok = i == 8 ? t[i] == 'T' : i == STAMP_LEN - 1 ? t[i] == 'Z' : isdigit((unsigned char)t[i]) != 0;
        if (!ok)
            return false;
    }
    return strcmp(t + STAMP_LEN, NAME_SUFFIX) == 0;
}

static int newest_first(const void *a, const void *b)
{
    return strcmp(*(char *const *)b, *(char *const *)a);
}

/* Keeps `mine` and the newest keep-1 other backups of db (by the timestamp in their names, which sorts as text);
 * deletes the rest and appends their paths to `deleted`. Failures are logged: the new backup stands regardless. */
static void rotate(const char *dir, const char *db, const char *mine, int64_t keep, json_t *deleted)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        ac_log_warn("skills", "db_backup_rotate_failed", "dir=%s error=%s", dir, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (!backup_name(e->d_name, db) || strcmp(e->d_name, mine) == 0 ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap != 0 ? cap * 2 : 16;
            names = ac_realloc(names, cap * sizeof(*names));
        }
        names[n++] = ac_strdup(e->d_name);
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), newest_first);
    for (size_t i = 0; i < n; i++) {
        if ((int64_t)i >= keep - 1) {
            char path[PATH_MAX + NAME_MAX + 2];
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
            if (unlinkat(dirfd(d), names[i], 0) == 0) {
                json_array_append_new(deleted, json_string(path));
                ac_log_info("skills", "db_backup_deleted", "file=%s", path);
            } else {
                ac_log_warn("skills", "db_backup_delete_failed", "file=%s error=%s", path, strerror(errno));
            }
        }
        free(names[i]);
    }
    free(names);
    closedir(d);
}

/* --- the run --------------------------------------------------------------------------------------------------- */

static char *concat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = ac_malloc(la + lb + 1);
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

int ac_skills_db_backup_run(const ac_skill_ctx_t *ctx, ac_skill_result_t *res)
{
    int rc = -1, tmp_fd = -1, server_v = 0;
    long dump_v = 0;
    char why[400] = "", dir[PATH_MAX], dbname[DBNAME_MAX + 1] = "", rawdb[256] = "", dump_label[32] = "";
    char stamp[STAMP_LEN + 1], errbuf[STDERR_CAP], *tmp_path = NULL, *final_path = NULL;
    char *pg_dump = NULL, *safe_ci = NULL, *password = NULL, *env_pw = NULL, *env_p = NULL, *arg_db = NULL;
    gz_sink_t gz = {.ready = false, .fd = -1, .out = NULL};
    res->output = NULL;

    if (ctx->conninfo == NULL || ctx->conninfo[0] == '\0') {
        ac_skill_fail(res, "no_database", "the node has no database connection string");
        goto Exit;
    }
    const char *bd = ctx->backup_dir != NULL ? ctx->backup_dir : "";
    size_t dl = strlen(bd);
    while (dl > 1 && bd[dl - 1] == '/')
        dl--;
    if (bd[0] != '/' || dl + 64 + DBNAME_MAX >= sizeof(dir)) {
        ac_skill_fail(res, "backup_dir_not_writable", "%s (not an absolute path of a sane length)",
                      bd[0] != '\0' ? bd : "BACKUP_DIR is not set");
        goto Exit;
    }
    memcpy(dir, bd, dl);
    dir[dl] = '\0';
    if (dir_ready(dir, why, sizeof(why)) != 0) {
        ac_skill_fail(res, "backup_dir_not_writable", "%s (%s)", dir, why);
        goto Exit;
    }
    if (find_pg_dump(&pg_dump, why, sizeof(why)) != 0) {
        ac_skill_fail(res, "no_pg_dump", "%s", why);
        goto Exit;
    }
    if (check_stop(ctx, res) != 0)
        goto Exit;

    env_p = concat("PATH=", env_path);
    char *envp[] = {env_p, "LC_ALL=C", NULL, NULL};
    if (pg_dump_version(ctx, pg_dump, envp, &dump_v, dump_label, sizeof(dump_label), res) != 0 ||
        server_info(ctx, &server_v, rawdb, sizeof(rawdb), res) != 0)
        goto Exit;
    long server_major = server_v >= 100000 ? server_v / 10000 * 10000L : server_v / 100 * 100L;
    if (server_major > dump_v) {
        if (server_v >= 100000)
            ac_skill_fail(res, "pg_dump_too_old", "server %d.%d is newer than pg_dump %s", server_v / 10000,
                          server_v % 10000, dump_label);
        else
            ac_skill_fail(res, "pg_dump_too_old", "server %d.%d is newer than pg_dump %s", server_v / 10000,
                          server_v / 100 % 100, dump_label);
        goto Exit;
    }
    if (conninfo_split(ctx->conninfo, &safe_ci, &password) != 0) {
        ac_skill_fail(res, "bad_conninfo", "the database connection string does not parse");
        goto Exit;
    }
    if (password != NULL) {
        env_pw = concat("PGPASSWORD=", password);
        envp[2] = env_pw;
    }
    if (safe_ci[0] != '\0')
        arg_db = concat("--dbname=", safe_ci);

    /* The name: the database's real name, reduced to characters safe in a file name. */
    size_t i = 0;
    for (; rawdb[i] != '\0' && i < DBNAME_MAX; i++) {
        unsigned char c = (unsigned char)rawdb[i];
        dbname[i] = isalnum(c) || c == '_' || c == '.' || c == '-' ? (char)c : '_';
    }
    dbname[i] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    char name[NAME_MAX + 1];
    snprintf(name, sizeof(name), NAME_PREFIX "%s-%s" NAME_SUFFIX, dbname, stamp);
    final_path = concat(dir, "/");
    char *t = concat(final_path, name);
    free(final_path);
    final_path = t;
    tmp_path = ac_malloc(strlen(dir) + strlen(name) + 16);
    sprintf(tmp_path, "%s/.%s.XXXXXX", dir, name); /* hidden, and never matches the backup pattern */
    tmp_fd = mkostemp(tmp_path, O_CLOEXEC);        /* mode 0600: a dump holds every row of the node */
    if (tmp_fd < 0) {
        ac_skill_fail(res, "write_failed", "%s: %s", dir, strerror(errno));
        free(tmp_path);
        tmp_path = NULL;
        goto Exit;
    }

    gz.fd = tmp_fd;
    gz.out = ac_malloc(CHUNK);
    if (deflateInit2(&gz.z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        ac_skill_fail(res, "write_failed", "zlib initialisation failed");
        goto Exit;
    }
    gz.ready = true;
    char *argv[] = {pg_dump, "--no-password", arg_db, NULL};
    child_t ch;
    if (child_start(argv, envp, &ch, why, sizeof(why)) != 0) {
        ac_skill_fail(res, "pg_dump_failed", "%s", why);
        goto Exit;
    }
    int status = 0;
    child_end_t end = child_finish(ctx, &ch, gz_sink, &gz, errbuf, sizeof(errbuf), &status);
    if (child_verdict(end, status, errbuf, gz.why, res) != 0)
        goto Exit;
    struct stat st;
    if (gz_pump(&gz, NULL, 0, Z_FINISH) != 0 || fsync(tmp_fd) != 0 || fstat(tmp_fd, &st) != 0) {
        ac_skill_fail(res, "write_failed", "%s: %s", dir, gz.why[0] != '\0' ? gz.why : strerror(errno));
        goto Exit;
    }
    int cr = close(tmp_fd);
    tmp_fd = -1;
    if (cr != 0 || rename(tmp_path, final_path) != 0) {
        ac_skill_fail(res, "write_failed", "%s: %s", dir, strerror(errno));
        goto Exit;
    }
    free(tmp_path);
    tmp_path = NULL;

    int64_t keep = ctx->settings != NULL ? ac_node_settings_int_or(ctx->settings, "backup.max_files", MAX_FILES_DEFAULT)
                                         : MAX_FILES_DEFAULT;
    keep = keep < 1 ? 1 : keep > MAX_FILES_LIMIT ? MAX_FILES_LIMIT : keep;
    json_t *deleted = json_array();
    rotate(dir, dbname, name, keep, deleted);
    fsync_dir(dir); /* makes the rename and the deletions durable */
    ac_log_info("skills", "db_backup_written", "file=%s bytes=%lld deleted=%zu", final_path, (long long)st.st_size,
                json_array_size(deleted));
    ac_skill_ok(res,
                json_pack("{s:s, s:I, s:o}", "file", final_path, "bytes", (json_int_t)st.st_size, "deleted", deleted),
                "on_success");
    rc = 0;

Exit:
    if (gz.ready)
        deflateEnd(&gz.z);
    free(gz.out);
    if (tmp_fd >= 0)
        close(tmp_fd);
    if (tmp_path != NULL) {
        unlink(tmp_path);
        free(tmp_path);
    }
    free(final_path);
    free(pg_dump);
    free(safe_ci);
    free(arg_db);
    free(env_p);
    ac_free_secret_str(password);
    ac_free_secret_str(env_pw);
    return rc;
}

static int run(const ac_skill_ctx_t *ctx, const ac_skill_args_t *args, ac_skill_result_t *res)
{
    (void)args; /* no config keys: where and how many come from BACKUP_DIR and the settings */
    return ac_skills_db_backup_run(ctx, res);
}

const ac_skill_def_t ac_skills_db_backup = {
    .name = "db_backup",
    .description = "Dumps the node's database with pg_dump into BACKUP_DIR as a gzip file, keeping the newest "
                   "backup.max_files backups",
    .routes = routes,
    .config_hint = "none (setting backup.max_files, default 7)",
    .external = false,
    .run = run,
};
