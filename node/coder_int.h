/* node/coder_int.h - internal to the coder skill: what node/coder.c (the skill and its generation pipeline) and
 * node/coder_chat.c (the "/coder" chat command and its thread) share. Not part of the contract (node/coder.h):
 * nothing outside those two files includes it. */
#ifndef AC_NODE_CODER_INT_H
#define AC_NODE_CODER_INT_H

#include "node/coder.h"
#include "skills/dynfile.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#define AC_NODE_CODER_RESERVED_MAX 16 /* generations in flight in this process */

struct ac_node_coder {
    ac_skill_def_t def; /* def.impl points back here */
    ac_node_dynskills_t *dyn;
    ac_node_settings_t *settings;
    ac_node_ask_owner_t ask;
    ac_skills_registry_t *registry; /* where the definition is registered (ac_node_coder_register) */
    char *conninfo;
    ac_skill_ctx_t base;
    pthread_mutex_t lock;
    char reserved[AC_NODE_CODER_RESERVED_MAX][AC_SKILLS_DYNFILE_NAME_MAX + 1]; /* names of generations in flight */
    /* the /coder thread (node/coder_chat.c); chat_* under lock */
    bool chat_running, chat_joinable;
    pthread_t chat_thread;
    volatile sig_atomic_t cancel; /* stops the /coder generation (ac_node_coder__chat_stop) */
};

/* One generation (node/coder.c): goal, max_retries and create_workflow from args (the step's input and config), then
 * the whole pipeline on ctx->db, or on a connection of its own (c->conninfo, else ctx->conninfo) when ctx->db is
 * NULL. say(say_arg, chat_id, ...) gets the progress lines (start, each failed attempt but the last); say NULL: none
 * (a workflow step). Returns as a skill's run does: 0 (res->branch, res->output: the caller's reference) or -1
 * (res->error). */
int ac_node_coder__generate(ac_node_coder_t *c, const ac_skill_ctx_t *ctx, const ac_skill_args_t *args,
                            ac_node_coder_say_fn say, void *say_arg, const char *chat_id, ac_skill_result_t *res);

/* Stops the /coder generation in flight, if any (node/coder_chat.c): sets c->cancel (no /coder starts after it) and
 * waits for its thread. For ac_node_coder_free. */
void ac_node_coder__chat_stop(ac_node_coder_t *c);

#endif
