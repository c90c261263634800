/* node/pgembed.c - the embedded PostgreSQL server of pgembed.h: find the binaries, initdb once, start and stop the
 * server as an unprivileged user, and share it between the alexclaw processes of one data directory.
 *
 * The server's programs run in a forked child that drops to the server user and execs them with a minimal
 * environment (no secrets reach them: the caller erased those from its environment before). This runs before the
 * node starts any thread and after it joined them all, so fork() is safe. */
#include "node/pgembed.h"

#include "node/db.h"
#include "node/log.h"
#include "policy/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DB_NAME  "alexclaw"
#define DB_ROLE  "alexclaw"
#define OUT_TAIL 1536

struct ac_node_pgembed {
    char bindir[512];
    char pgdata[1024];
    char logfile[1100];
    char sockdir[1100];
    bool started; /* this process started the server (stop it if the start fails later) */
    char conninfo[1200];
    uid_t uid;
    gid_t gid;
    bool drop; /* running as root: children switch to uid/gid */
    int users_fd;
};

/* Runs argv as the server user with a minimal environment; collects the tail of its output into out.
 * Returns the exit status (0..255), or -AC_ESYS when it could not run. */
static int run(const ac_node_pgembed_t *pg, char *const argv[], char *out, size_t cap)
{
    int p[2];
    if (out != NULL)
        out[0] = '\0';
    if (pipe2(p, O_CLOEXEC) != 0)
        return -AC_ESYS;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -AC_ESYS;
    }
    if (pid == 0) {
        static char *const envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", "LANG=C", NULL};
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(p[1], 1);
        dup2(p[1], 2);
        if (pg->drop && (setgroups(0, NULL) != 0 || setgid(pg->gid) != 0 || setuid(pg->uid) != 0))
            _exit(126);
        if (chdir("/") != 0)
            _exit(126);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    char buf[512];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof(buf))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (out == NULL)
            continue;
        /* keep the tail: the end of a failing program's output says why */
        for (ssize_t i = 0; i < n; i++) {
            if (len + 1 >= cap) {
                memmove(out, out + cap / 2, len - cap / 2);
                len -= cap / 2;
            }
            out[len++] = buf[i];
        }
    }
    if (out != NULL)
        out[len] = '\0';
    close(p[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -AC_ESYS;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 255;
}

/* Asks, as the server user, whether it can search (x) every directory down to and including `path`.
 * Returns 0, or the errno the user got. */
static int user_can_reach(const ac_node_pgembed_t *pg, const char *path)
{
    if (!pg->drop)
        return access(path, X_OK) == 0 ? 0 : errno;
    pid_t pid = fork();
    if (pid < 0)
        return errno;
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(pg->gid) != 0 || setuid(pg->uid) != 0)
            _exit(EPERM);
        _exit(access(path, X_OK) == 0 ? 0 : (errno & 0xff));
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return errno;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : EPERM;
}

/* Explains which directory on the way to path the server user cannot search. */
static int explain_unreachable(const ac_node_pgembed_t *pg, const char *user, const char *path, ac_errmsg_t *err)
{
    char prefix[1100];
    size_t n = strlen(path);
    if (n >= sizeof(prefix))
        return ac_errmsg_set(err, -AC_ETOOLONG, "data directory path is too long");
    for (size_t i = 1; i <= n; i++) {
        if (i < n && path[i] != '/')
            continue;
        memcpy(prefix, path, i);
        prefix[i] = '\0';
        if (user_can_reach(pg, prefix) != 0) {
            struct stat st;
            unsigned mode = stat(prefix, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
            return ac_errmsg_set(err, -AC_EPERM,
                                 "the embedded PostgreSQL server runs as user '%s', which cannot reach the data "
                                 "directory %s: no search permission on %s (mode %04o). Choose ALEXCLAW_DATA_DIR "
                                 "under a directory that user can enter (e.g. /var/lib/alexclaw), or set DATABASE_URL",
                                 user, path, prefix, mode);
        }
    }
    return ac_errmsg_set(err, -AC_EPERM, "user '%s' cannot reach %s", user, path);
}

static bool executable(const char *dir, const char *prog)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/%s", dir, prog);
    return access(p, X_OK) == 0;
}

static int find_bindir(const char *configured, char *out, size_t cap, ac_errmsg_t *err)
{
    if (configured != NULL) {
        if (!executable(configured, "initdb") || !executable(configured, "pg_ctl") ||
            !executable(configured, "postgres"))
            return ac_errmsg_set(err, -AC_ECONFIG, "ALEXCLAW_PG_BINDIR=%s does not hold initdb, pg_ctl and postgres",
                                 configured);
        if (strlen(configured) >= cap)
            return ac_errmsg_set(err, -AC_ETOOLONG, "ALEXCLAW_PG_BINDIR is too long");
        snprintf(out, cap, "%s", configured);
        return 0;
    }
    glob_t g;
    int best = -1;
    long best_ver = -1;
    if (glob("/usr/lib/postgresql/*/bin", 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            long v = strtol(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"), NULL, 10);
            if (v > best_ver && executable(g.gl_pathv[i], "initdb") && executable(g.gl_pathv[i], "pg_ctl") &&
                executable(g.gl_pathv[i], "postgres")) {
                best_ver = v;
                best = (int)i;
            }
        }
        if (best >= 0)
            snprintf(out, cap, "%s", g.gl_pathv[best]);
        globfree(&g);
    }
    if (best >= 0)
        return 0;
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s", path != NULL ? path : "/usr/bin:/bin");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
        if (executable(d, "initdb") && executable(d, "pg_ctl") && executable(d, "postgres")) {
            snprintf(out, cap, "%s", d);
            return 0;
        }
    }
    return ac_errmsg_set(err, -AC_ECONFIG,
                         "PostgreSQL server programs (initdb, pg_ctl, postgres) not found: install the Debian package "
                         "postgresql (deploy/install-deps.sh does), set ALEXCLAW_PG_BINDIR, or set DATABASE_URL");
}

/* Creates (or checks) a directory owned by the server user with mode 0700; refuses symlinks and foreign owners. */
static int own_dir(const ac_node_pgembed_t *pg, const char *path, ac_errmsg_t *err)
{
    bool created = mkdir(path, 0700) == 0;
    if (!created && errno != EEXIST)
        return ac_errmsg_set(err, -AC_ESYS, "cannot create %s: %s", path, strerror(errno));
    struct stat st;
    if (lstat(path, &st) != 0)
        return ac_errmsg_set(err, -AC_ESYS, "cannot stat %s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ac_errmsg_set(err, -AC_EPERM, "%s exists and is not a directory", path);
    /* Only a directory we just made is handed over; an existing one must already belong to the server user
     * (in /tmp, anyone could have made it first). */
    if (st.st_uid != pg->uid && !(created && pg->drop && chown(path, pg->uid, pg->gid) == 0))
        return ac_errmsg_set(err, -AC_EPERM, "%s is owned by uid %u, but the database server runs as uid %u", path,
                             (unsigned)st.st_uid, (unsigned)pg->uid);
    if ((st.st_mode & 077) != 0 && chmod(path, 0700) != 0)
        return ac_errmsg_set(err, -AC_ESYS, "cannot set mode 0700 on %s: %s", path, strerror(errno));
    return 0;
}

/* The socket directory: <data>/postgres-run when the socket path fits the 107-byte limit of sun_path (no other user
 * can create names in the data directory); else /tmp/.alexclaw-pg-<hash of the data directory>, which own_dir()
 * refuses unless it belongs to the server's user. */
static void sock_dir_for(const char *data_dir, char *out, size_t cap)
{
    if (strlen(data_dir) + strlen("/postgres-run/.s.PGSQL.5432") < 108) {
        snprintf(out, cap, "%s/postgres-run", data_dir);
        return;
    }
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data_dir, strlen(data_dir), md, &mdlen, EVP_sha256(), NULL);
    snprintf(out, cap, "/tmp/.alexclaw-pg-%02x%02x%02x%02x%02x%02x", md[0], md[1], md[2], md[3], md[4], md[5]);
}

static int lock_file(const char *path, int op, int *fd_out, ac_errmsg_t *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return ac_errmsg_set(err, -AC_ESYS, "cannot open %s: %s", path, strerror(errno));
    while (flock(fd, op) != 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return -AC_ESTATE;
        return ac_errmsg_set(err, -AC_ESYS, "cannot lock %s: %s", path, strerror(e));
    }
    *fd_out = fd;
    return 0;
}

static bool server_running(const ac_node_pgembed_t *pg)
{
    char pgctl[600];
    snprintf(pgctl, sizeof(pgctl), "%s/pg_ctl", pg->bindir);
    char *const argv[] = {pgctl, "status", "-D", (char *)pg->pgdata, NULL};
    return run(pg, argv, NULL, 0) == 0;
}

static int init_cluster(const ac_node_pgembed_t *pg, ac_errmsg_t *err)
{
    char initdb[600], out[OUT_TAIL];
    snprintf(initdb, sizeof(initdb), "%s/initdb", pg->bindir);
    char *const argv[] = {initdb,
                          "-D",
                          (char *)pg->pgdata,
                          "-U",
                          DB_ROLE,
                          "-E",
                          "UTF8",
                          "--locale=C",
                          "--auth-local=trust",
                          "--auth-host=reject",
                          NULL};
    ac_log_info("pgembed", "initdb", "pgdata=%s", pg->pgdata);
    int rc = run(pg, argv, out, sizeof(out));
    if (rc != 0)
        return ac_errmsg_set(err, -AC_EDB, "initdb failed (exit %d): %s", rc, out);
    return 0;
}

static int start_server(const ac_node_pgembed_t *pg, ac_errmsg_t *err)
{
    char pgctl[600], opts[1300], out[OUT_TAIL];
    snprintf(pgctl, sizeof(pgctl), "%s/pg_ctl", pg->bindir);
    /* pg_ctl hands -o to a shell: the socket directory is ours and holds no blanks or quotes. */
    snprintf(opts, sizeof(opts), "-c listen_addresses='' -c unix_socket_directories=%s -c unix_socket_permissions=0700",
             pg->sockdir);
    char *const argv[] = {pgctl, "start", "-w", "-t", "60", "-D", (char *)pg->pgdata, "-l", (char *)pg->logfile,
                          "-o",  opts,    NULL};
    int rc = run(pg, argv, out, sizeof(out));
    if (rc != 0)
        return ac_errmsg_set(err, -AC_EDB, "the embedded PostgreSQL server did not start (exit %d); see %s: %s", rc,
                             pg->logfile, out);
    ac_log_info("pgembed", "started", "pgdata=%s socket_dir=%s", pg->pgdata, pg->sockdir);
    return 0;
}

static void stop_server(const ac_node_pgembed_t *pg)
{
    char pgctl[600], out[OUT_TAIL];
    snprintf(pgctl, sizeof(pgctl), "%s/pg_ctl", pg->bindir);
    char *const argv[] = {pgctl, "stop", "-w", "-t", "60", "-m", "fast", "-D", (char *)pg->pgdata, NULL};
    int rc = run(pg, argv, out, sizeof(out));
    if (rc != 0)
        ac_log_error("pgembed", "stop_failed", "exit=%d output=%s", rc, out);
    else
        ac_log_info("pgembed", "stopped", "pgdata=%s", pg->pgdata);
}

static int ensure_database(const ac_node_pgembed_t *pg, ac_errmsg_t *err)
{
    char ci[1200];
    snprintf(ci, sizeof(ci), "host=%s dbname=postgres user=" DB_ROLE, pg->sockdir);
    PGconn *c = NULL;
    int rc = ac_node_db_connect(ci, &c, err);
    if (rc != 0)
        return rc;
    PGresult *r = PQexec(c, "SELECT 1 FROM pg_database WHERE datname = '" DB_NAME "'");
    bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (!exists)
        rc = ac_node_db_exec(c, "CREATE DATABASE " DB_NAME, "creating the database", err);
    PQfinish(c);
    return rc;
}

int ac_node_pgembed_start(const ac_node_pgembed_opts_t *opts, ac_node_pgembed_t **out, ac_errmsg_t *err)
{
    ac_node_pgembed_t *pg = ac_calloc(1, sizeof(*pg));
    pg->users_fd = -1;
    int start_fd = -1, rc;
    const char *user = opts->run_as != NULL ? opts->run_as : AC_NODE_PGEMBED_DEFAULT_USER;
    char path[1100];

    if ((rc = find_bindir(opts->bindir, pg->bindir, sizeof(pg->bindir), err)) != 0)
        goto Exit;
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam(user);
        if (pw == NULL) {
            rc = ac_errmsg_set(err, -AC_ECONFIG,
                               "the node runs as root, so the embedded PostgreSQL server needs an unprivileged user, "
                               "but user '%s' does not exist: deploy/install-deps.sh creates it, or run "
                               "useradd --system --user-group --no-create-home --home-dir /nonexistent "
                               "--shell /usr/sbin/nologin %s, or set ALEXCLAW_PG_USER",
                               user, user);
            goto Exit;
        }
        if (pw->pw_uid == 0) {
            rc = ac_errmsg_set(err, -AC_ECONFIG, "ALEXCLAW_PG_USER '%s' is root; PostgreSQL refuses to run as root",
                               user);
            goto Exit;
        }
        pg->uid = pw->pw_uid;
        pg->gid = pw->pw_gid;
        pg->drop = true;
    } else {
        user = "(this user)";
        pg->uid = geteuid();
        pg->gid = getegid();
    }
    /* initdb and pg_ctl hand these paths to /bin/sh inside double quotes */
    if (strpbrk(opts->data_dir, "\"$`\\\n") != NULL) {
        rc = ac_errmsg_set(err, -AC_ECONFIG, "the data directory path may not contain \", $, `, \\ or a newline");
        goto Exit;
    }
    if (snprintf(pg->pgdata, sizeof(pg->pgdata), "%s/postgres", opts->data_dir) >= (int)sizeof(pg->pgdata)) {
        rc = ac_errmsg_set(err, -AC_ETOOLONG, "data directory path is too long");
        goto Exit;
    }
    snprintf(pg->logfile, sizeof(pg->logfile), "%s/server.log", pg->pgdata);
    sock_dir_for(opts->data_dir, pg->sockdir, sizeof(pg->sockdir));
    snprintf(pg->conninfo, sizeof(pg->conninfo), "host=%s dbname=" DB_NAME " user=" DB_ROLE, pg->sockdir);

    if (pg->drop && user_can_reach(pg, opts->data_dir) != 0) {
        rc = explain_unreachable(pg, user, opts->data_dir, err);
        goto Exit;
    }
    /* One process at a time decides whether to start or stop the server. */
    snprintf(path, sizeof(path), "%s/postgres.lock", opts->data_dir);
    if ((rc = lock_file(path, LOCK_EX, &start_fd, err)) != 0)
        goto Exit;
    if ((rc = own_dir(pg, pg->pgdata, err)) != 0 || (rc = own_dir(pg, pg->sockdir, err)) != 0)
        goto Exit;
    snprintf(path, sizeof(path), "%s/PG_VERSION", pg->pgdata);
    if (access(path, F_OK) != 0 && (rc = init_cluster(pg, err)) != 0)
        goto Exit;
    if (server_running(pg)) {
        ac_log_info("pgembed", "attached", "pgdata=%s socket_dir=%s", pg->pgdata, pg->sockdir);
    } else if ((rc = start_server(pg, err)) != 0) {
        goto Exit;
    } else {
        pg->started = true;
    }
    if ((rc = ensure_database(pg, err)) != 0)
        goto Exit;
    snprintf(path, sizeof(path), "%s/postgres.users", opts->data_dir);
    if ((rc = lock_file(path, LOCK_SH, &pg->users_fd, err)) != 0)
        goto Exit;
    *out = pg;
    pg = NULL;
Exit:
    if (pg != NULL) {
        if (pg->started) /* do not leave a server behind that nobody will stop */
            stop_server(pg);
        if (pg->users_fd >= 0)
            close(pg->users_fd);
        free(pg);
    }
    if (start_fd >= 0)
        close(start_fd);
    return rc;
}

const char *ac_node_pgembed_conninfo(const ac_node_pgembed_t *pg)
{
    return pg->conninfo;
}

void ac_node_pgembed_stop(ac_node_pgembed_t *pg)
{
    if (pg == NULL)
        return;
    char dir[1024], path[1100];
    snprintf(dir, sizeof(dir), "%.*s", (int)(strlen(pg->pgdata) - strlen("/postgres")), pg->pgdata);
    int start_fd = -1;
    snprintf(path, sizeof(path), "%s/postgres.lock", dir);
    if (lock_file(path, LOCK_EX, &start_fd, NULL) == 0) {
        /* Trade our shared hold for an exclusive try: it succeeds only when no other process uses the server. */
        if (flock(pg->users_fd, LOCK_EX | LOCK_NB) == 0) {
            stop_server(pg);
        } else
            ac_log_info("pgembed", "left_running", "reason=%s", "another alexclaw process uses it");
        close(start_fd);
    }
    close(pg->users_fd);
    free(pg);
}
