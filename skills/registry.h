/* skills/registry.h - the skills a node knows, by name: the core skills written in C and, later, dynamic skills.
 *
 * Built at start and read by every executor thread; additions and removals (dynamic skills, issue 7) take the write
 * lock. Definitions are borrowed: core definitions are static, dynamic ones are owned by their loader, which frees
 * one only when it is removed and no caller holds it: find and list take a hold through the registry's holder (the
 * loader), and every caller gives each definition back with ac_skills_registry_release(). */
#ifndef AC_SKILLS_REGISTRY_H
#define AC_SKILLS_REGISTRY_H

#include "skills/skill.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct ac_skills_registry ac_skills_registry_t;

ac_skills_registry_t *ac_skills_registry_new(void);
void ac_skills_registry_free(ac_skills_registry_t *r);
/* Adds every core skill. */
void ac_skills_registry_add_core(ac_skills_registry_t *r);
/* Adds one skill. Returns 0, or -AC_EEXIST when the name is taken (a core name can never be replaced). */
int ac_skills_registry_add(ac_skills_registry_t *r, const ac_skill_def_t *def, bool core);
/* Removes a non-core skill: 0, -AC_ENOENT, or -AC_EPERM for a core skill. */
int ac_skills_registry_remove(ac_skills_registry_t *r, const char *name);
/* Who owns the non-core definitions: hold and release are called for each one find and list return, and for each
 * one given back (also for core ones: release ignores what it does not own). Both must be quick and never call the
 * registry. */
typedef struct ac_skills_registry_holder {
    void (*hold)(void *arg, const ac_skill_def_t *def);
    void (*release)(void *arg, const ac_skill_def_t *def);
    void *arg;
} ac_skills_registry_holder_t;
/* Sets (h copied) or clears (NULL) the holder. */
void ac_skills_registry_set_holder(ac_skills_registry_t *r, const ac_skills_registry_holder_t *h);
/* The definition of name, or NULL. Valid until ac_skills_registry_release(), even if the skill is removed meanwhile. */
const ac_skill_def_t *ac_skills_registry_find(ac_skills_registry_t *r, const char *name);
/* Whether name is registered now (no hold is taken). */
bool ac_skills_registry_has(ac_skills_registry_t *r, const char *name);
/* Gives back a definition from find or list (NULL is ignored). */
void ac_skills_registry_release(ac_skills_registry_t *r, const ac_skill_def_t *def);
/* Gives back the n definitions at defs (what list copied: the smaller of its result and max). */
void ac_skills_registry_release_list(ac_skills_registry_t *r, const ac_skill_def_t *const *defs, size_t n);
bool ac_skills_registry_is_core(ac_skills_registry_t *r, const char *name);
/* Copies up to max definitions (ordered by name) into out, each held (give them back with
 * ac_skills_registry_release_list). Returns how many there are in all. */
size_t ac_skills_registry_list(ac_skills_registry_t *r, const ac_skill_def_t **out, size_t max);
/* True when `branch` is one of def's routes. */
bool ac_skills_def_has_route(const ac_skill_def_t *def, const char *branch);

/* Names of every core skill, NULL-terminated (a dynamic skill may not take one). */
extern const char *const ac_skills_core_names[];

#endif
