/* node/coder_chat.c - the "/coder <goal>" chat command (coder.h: ac_node_coder_chat_start, ac_node_coder_chat_busy).
 * It owns the /coder thread: at most one at a time, with its own database connection and a deadline, running the
 * coder's generation (ac_node_coder__generate, node/coder.c) with progress lines for the chat, then reporting the
 * result there in plain words; and its end (ac_node_coder__chat_stop, from ac_node_coder_free). The generation
 * itself, and everything it trusts or refuses, is node/coder.c's. */
#include "node/coder_int.h"

#include "policy/alloc.h"
#include "policy/utf8.h"

#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct chat_job {
    ac_node_coder_t *c;
    char *goal;
    char chat_id[64];
    bool create_workflow;
    ac_node_coder_say_fn say;
    void *arg;
} chat_job_t;

static void chat_result(chat_job_t *j, int rc, const ac_skill_result_t *res)
{
    char text[2048];
    if (rc != 0) {
        snprintf(text, sizeof(text), "Coder: no skill was made: %s", res->error);
    } else {
        const json_t *o = res->output;
        const char *approval = json_string_value(json_object_get(o, "approval"));
        const char *sha = json_string_value(json_object_get(o, "checksum"));
        int n = snprintf(text, sizeof(text), "Coder: the skill %s is written (%s, attempt %lld, SHA-256 %.16s...). ",
                         json_string_value(json_object_get(o, "skill")), json_string_value(json_object_get(o, "file")),
                         (long long)json_integer_value(json_object_get(o, "attempts")), sha != NULL ? sha : "?");
        if (approval != NULL && strcmp(approval, "pending_2fa") == 0)
            n += snprintf(text + n, sizeof(text) - (size_t)n,
                          "It is NOT loaded: answer the 2FA request with your code to load it.");
        else
            n += snprintf(text + n, sizeof(text) - (size_t)n, "It is NOT loaded (%s).",
                          approval != NULL ? approval : "?");
        const json_t *wid = json_object_get(o, "workflow_id");
        if (wid != NULL && n > 0 && (size_t)n < sizeof(text))
            snprintf(text + n, sizeof(text) - (size_t)n, " Workflow \"Auto: %s\" created, disabled (id %lld).",
                     json_string_value(json_object_get(o, "skill")), (long long)json_integer_value(wid));
    }
    text[ac_policy_utf8_fit(text, strlen(text), sizeof(text) - 1)] = '\0';
    j->say(j->arg, j->chat_id, text);
}

static void *chat_main(void *arg)
{
    chat_job_t *j = arg;
    ac_node_coder_t *c = j->c;
    sigset_t all; /* signals are the main thread's business */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    ac_skill_ctx_t ctx = c->base;
    ctx.db = NULL;
    ctx.cancel = &c->cancel;
    ctx.self = &c->def;
    ctx.run_id = 0;
    ctx.deadline_ms = ac_skill_now_ms() + AC_NODE_CODER_CHAT_TIMEOUT_MS;
    json_t *config = json_pack("{s:s, s:b}", "goal", j->goal, "create_workflow", j->create_workflow);
    ac_skill_args_t args = {.config = config};
    ac_skill_result_t res = {0};
    int rc = ac_node_coder__generate(c, &ctx, &args, j->say, j->arg, j->chat_id, &res);
    chat_result(j, rc, &res);
    json_decref(res.output);
    json_decref(config);
    free(j->goal);
    free(j);
    pthread_mutex_lock(&c->lock);
    c->chat_running = false;
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int ac_node_coder_chat_start(ac_node_coder_t *c, const char *chat_id, const char *goal, bool create_workflow,
                             ac_node_coder_say_fn say, void *arg, ac_errmsg_t *err)
{
    size_t i = 0;
    while (goal != NULL && goal[i] != '\0' && isspace((unsigned char)goal[i]))
        i++;
    if (goal == NULL || goal[i] == '\0')
        return ac_errmsg_set(err, -AC_EINVAL, "no_goal: usage: /coder <what the skill should do>");
    if (strlen(goal) > AC_NODE_CODER_GOAL_MAX || !ac_policy_utf8_valid(goal, strlen(goal)))
        return ac_errmsg_set(err, -AC_EINVAL, "goal_too_long: at most %d bytes of text", AC_NODE_CODER_GOAL_MAX);
    if (chat_id == NULL || strlen(chat_id) >= 64 || say == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "no chat to answer");
    if (c->conninfo == NULL || c->dyn == NULL)
        return ac_errmsg_set(err, -AC_ESTATE, "the coder needs the database and dynamic skills");
    pthread_mutex_lock(&c->lock);
    if (c->chat_running || c->cancel) {
        bool stopping = c->cancel != 0;
        pthread_mutex_unlock(&c->lock);
        return stopping ? ac_errmsg_set(err, -AC_ESTATE, "stopping")
                        : ac_errmsg_set(err, -AC_EAGAIN, "busy: a generation is running; wait for its result");
    }
    if (c->chat_joinable) { /* the last one ended (chat_running is false): reap it */
        pthread_join(c->chat_thread, NULL);
        c->chat_joinable = false;
    }
    chat_job_t *j = ac_calloc(1, sizeof(*j));
    j->c = c;
    j->goal = ac_strdup(goal);
    snprintf(j->chat_id, sizeof(j->chat_id), "%s", chat_id);
    j->create_workflow = create_workflow;
    j->say = say;
    j->arg = arg;
    int e = pthread_create(&c->chat_thread, NULL, chat_main, j);
    if (e != 0) {
        pthread_mutex_unlock(&c->lock);
        free(j->goal);
        free(j);
        return ac_errmsg_set(err, -AC_ESYS, "pthread_create: %s", strerror(e));
    }
    c->chat_running = true;
    c->chat_joinable = true;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

bool ac_node_coder_chat_busy(ac_node_coder_t *c)
{
    pthread_mutex_lock(&c->lock);
    bool busy = c->chat_running;
    pthread_mutex_unlock(&c->lock);
    return busy;
}

void ac_node_coder__chat_stop(ac_node_coder_t *c)
{
    pthread_mutex_lock(&c->lock);
    c->cancel = 1;
    bool join = c->chat_joinable;
    c->chat_joinable = false;
    pthread_mutex_unlock(&c->lock);
    if (join)
        pthread_join(c->chat_thread, NULL);
}
