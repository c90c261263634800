/* node/migrate.h - schema migrations: migrations/NNNN_name.sql applied in order, each in its own transaction,
 * recorded in `alexclaw_schema_migrations`, under an advisory lock so nodes sharing a database never race.
 *
 * A failing migration is rolled back whole (earlier ones stay applied and recorded) and its name and the server's
 * message are returned. A recorded migration whose SQL changed since it was applied is refused: the schema would no
 * longer be what the code expects. */
#ifndef AC_NODE_MIGRATE_H
#define AC_NODE_MIGRATE_H

#include "policy/error.h"

#include <libpq-fe.h>
#include <stddef.h>

typedef struct ac_node_migration {
    int version;      /* NNNN */
    const char *name; /* the part after NNNN_ */
    const char *sql;
    size_t len;
} ac_node_migration_t;

/* The migrations built into the binary (generated from migrations/ by migrations/embed.cmake), ordered. */
extern const ac_node_migration_t ac_node_migrations_embedded[];
extern const size_t ac_node_migrations_embedded_count;

/* Reads NNNN_name.sql files from dir, ordered by version; duplicate versions and other names are errors.
 * OUT: *out (free with ac_node_migrate_list_free), *n. */
int ac_node_migrate_load_dir(const char *dir, ac_node_migration_t **out, size_t *n, ac_errmsg_t *err);
void ac_node_migrate_list_free(ac_node_migration_t *list, size_t n);

/* Applies every migration of list[0..n) not yet recorded. OUT: *applied = how many were applied now (may be NULL).
 * Returns 0, or -AC_EMIGRATION / -AC_EDB / -AC_EDBDOWN with err naming the migration and the cause. */
int ac_node_migrate_run(PGconn *c, const ac_node_migration_t *list, size_t n, int *applied, ac_errmsg_t *err);

#endif
