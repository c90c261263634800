/* skills/breaker.h - circuit breakers, one per skill name.
 *
 * closed --(max_failures consecutive failures)--> open --(reset_ms later, on the next call)--> half-open, which admits
 * exactly ONE probe call (the original admitted any number); every other call is refused while the probe runs.
 * The probe's success closes the breaker; its failure opens it again for another reset_ms.
 * A call that started while the breaker was closed and ends after it opened changes nothing.
 *
 * Thread-safe. No clock of its own: callers pass CLOCK_MONOTONIC milliseconds, so tests control time. Transitions are
 * logged and handed to an optional hook (the Telegram gateway will notify the owner through it). */
#ifndef AC_SKILLS_BREAKER_H
#define AC_SKILLS_BREAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { AC_BREAKER_CLOSED = 0, AC_BREAKER_OPEN, AC_BREAKER_HALF_OPEN } ac_skills_breaker_state_t;

typedef struct ac_skills_breakers ac_skills_breakers_t;

/* Called with the breakers' lock released, from the thread whose call caused the transition. */
typedef void (*ac_skills_breaker_hook_fn)(void *arg, const char *skill, ac_skills_breaker_state_t from,
                                          ac_skills_breaker_state_t to, int failures, const char *last_error);

/* Whether an admitted call is the half-open probe (the caller hands it back to release). */
typedef struct ac_skills_breaker_ticket {
    bool probe;
} ac_skills_breaker_ticket_t;

typedef struct ac_skills_breaker_view {
    char skill[64];
    ac_skills_breaker_state_t state;
    int failures;
    char last_error[200];
} ac_skills_breaker_view_t;

ac_skills_breakers_t *ac_skills_breakers_new(int max_failures, int64_t reset_ms);
void ac_skills_breakers_free(ac_skills_breakers_t *b);
/* Changes the limits at runtime (settings skills.circuit_breaker.*); values < 1 are ignored. */
void ac_skills_breakers_configure(ac_skills_breakers_t *b, int max_failures, int64_t reset_ms);
void ac_skills_breakers_set_hook(ac_skills_breakers_t *b, ac_skills_breaker_hook_fn hook, void *arg);

/* Asks to call `skill`. Returns 0 (admitted; *t says whether it is the probe) or -AC_ESTATE (circuit open). */
int ac_skills_breakers_acquire(ac_skills_breakers_t *b, const char *skill, int64_t now_ms,
                               ac_skills_breaker_ticket_t *t);
/* Reports how an admitted call ended. error (may be NULL) is kept, cut to 199 bytes, for views. */
void ac_skills_breakers_release(ac_skills_breakers_t *b, const char *skill, const ac_skills_breaker_ticket_t *t,
                                bool success, const char *error, int64_t now_ms);
/* Closes a skill's breaker (for the admin). */
void ac_skills_breakers_reset(ac_skills_breakers_t *b, const char *skill);
/* Copies up to max breakers' state (ordered by skill). Returns how many were copied. */
size_t ac_skills_breakers_snapshot(ac_skills_breakers_t *b, ac_skills_breaker_view_t *out, size_t max);
const char *ac_skills_breaker_state_name(ac_skills_breaker_state_t s);

#endif
