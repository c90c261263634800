/* skills/notify.h - the `telegram_notify` core skill: formats the step input as a Telegram message and hands it to
 * the sender the Telegram gateway installs (issue 6). The bot token always comes from settings, never from the
 * step config; without an installed sender the skill fails with `telegram_unavailable`. */
#ifndef AC_SKILLS_NOTIFY_H
#define AC_SKILLS_NOTIFY_H

#include "skills/skill.h"

#include <stddef.h>

#define AC_SKILLS_NOTIFY_MAX_CHARS 4000

extern const ac_skill_def_t ac_skills_telegram_notify;

/* Sends html (Telegram's HTML subset) with plain as the fallback text to chat_id. Returns 0 or fills err (no
 * secrets) and returns -1. Installed by the Telegram gateway; called from executor threads. */
typedef int (*ac_skills_notify_send_fn)(void *arg, const char *chat_id, const char *html, const char *plain, char *err,
                                        size_t errlen);
void ac_skills_notify_set_sender(ac_skills_notify_send_fn fn, void *arg);

/* Run notices to the owner's chat (reference section 6), for runs of workflows that have a telegram_notify step:
 * "<gear> <b>wf</b> started\n<step names joined by ' -> '>" and "<cross> <b>wf</b> failed at <i>step</i>\n<code>reason
 * (200 bytes)</code>". Sent through the installed sender when there is one; a failure is logged and never touches
 * the run. Called from executor threads. */
void ac_skills_notify_run_started(const char *workflow, const char *const *steps, size_t n);
void ac_skills_notify_run_failed(const char *workflow, const char *step, const char *reason);

/* The message for an input, as the original builds it: "Workflow completed (no output)" for none; cut to 4000
 * characters plus "\n... (truncated)". OUT: *plain and *html (Markdown turned into Telegram HTML, everything else
 * escaped), both from ac_malloc. */
void ac_skills_notify_format(const json_t *input, char **plain, char **html);

#endif
