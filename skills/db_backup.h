/* skills/db_backup.h - the `db_backup` core skill: pg_dump of the node's database, gzip-compressed, with rotation.
 *
 * One run:
 *   1. BACKUP_DIR (ctx->backup_dir) is created with mode 0700 when missing and proven writable by a real write,
 *      else error "backup_dir_not_writable: <dir> (<reason>)". Nothing is dumped before this check passes.
 *   2. pg_dump is located: $ALEXCLAW_PG_DUMP when set (read once per process; meant for tests), else the newest
 *      /usr/lib/postgresql/<version>/bin/pg_dump, else the first pg_dump on PATH; none: error "no_pg_dump".
 *   3. `pg_dump --version` is compared with the server's version (a short connection, PQserverVersion); a server of a
 *      newer major version: error "pg_dump_too_old: server <X.Y> is newer than pg_dump <A.B>".
 *   4. pg_dump runs (fork+exec, own process group, stdin /dev/null, environment PATH, LC_ALL=C and PGPASSWORD when the
 *      conninfo has a password; the password never appears in its argv). Its stdout is gzip-compressed in-process
 *      into a hidden temp file in BACKUP_DIR, which is fsynced and renamed to
 *      `alexclaw-<dbname>-<UTC YYYYmmddTHHMMSSZ>.sql.gz` (mode 0600) only once pg_dump exited 0. A backup made in the
 *      same second as an earlier one replaces it atomically. Failure: "pg_dump_failed: <first line of its stderr>".
 *   5. Rotation keeps the newest `backup.max_files` (setting, default 7, at least 1) regular files named
 *      `alexclaw-<same dbname>-<timestamp>.sql.gz` (newest by the timestamp in the name) and deletes the older ones;
 *      no other file is ever touched.
 * The whole run honours ctx->deadline_ms (pg_dump's process group is killed: error "timeout") and ctx->cancel (error
 * "cancelled"). Other errors: "no_database" (no conninfo), "db_connect_failed: <libpq's first line>" (the version
 * check's connection), "bad_conninfo", "write_failed: <reason>" (compressing or writing the file).
 * Output on success: {"file": "<path>", "bytes": <size of the .sql.gz>, "deleted": ["<path>", ...]}, branch
 * on_success. The conninfo is never logged or returned. */
#ifndef AC_SKILLS_DB_BACKUP_H
#define AC_SKILLS_DB_BACKUP_H

#include "skills/skill.h"

/* The registry entry: name "db_backup", routes on_success and on_error, no config keys. */
extern const ac_skill_def_t ac_skills_db_backup;

/* Runs one backup as described above, for the skill and for a CLI command. Uses ctx->conninfo, ctx->backup_dir,
 * ctx->settings (may be NULL: defaults), ctx->deadline_ms and ctx->cancel (may be NULL).
 * Returns 0 with res->output set (owned by res: the caller releases it with json_decref) and res->branch
 * "on_success", or -1 with res->error set ("code: detail") and res->output left NULL. */
int ac_skills_db_backup_run(const ac_skill_ctx_t *ctx, ac_skill_result_t *res);

#endif
