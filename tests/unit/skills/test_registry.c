/* tests/unit/skills/test_registry.c - the skill registry: core names cannot be taken or removed, and the holder sees
 * one hold for every non-core definition find and list hand out and one release for each given back (core ones are
 * never held), so its owner can free a removed definition once its last caller is done. */
#include "skills/registry.h"

#include "policy/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static const char *const routes[] = {"on_success", NULL};

static int noop(const ac_skill_ctx_t *ctx, const ac_skill_args_t *a, ac_skill_result_t *res)
{
    (void)ctx;
    (void)a;
    return ac_skill_ok(res, NULL, NULL);
}

static const ac_skill_def_t d_one = {.name = "one", .description = "", .routes = routes, .run = noop};
static const ac_skill_def_t d_two = {.name = "two", .description = "", .routes = routes, .run = noop};

typedef struct {
    int holds[2], releases[2], others;
} counts_t;

static int slot_of(const ac_skill_def_t *def)
{
    return def == &d_one ? 0 : def == &d_two ? 1 : -1;
}

static void on_hold(void *arg, const ac_skill_def_t *def)
{
    counts_t *c = arg;
    int i = slot_of(def);
    if (i < 0)
        c->others++;
    else
        c->holds[i]++;
}

static void on_release(void *arg, const ac_skill_def_t *def)
{
    counts_t *c = arg;
    int i = slot_of(def);
    if (i >= 0) /* a core definition given back: the holder ignores what it does not own */
        c->releases[i]++;
}

static void core_names_are_kept(void **state)
{
    (void)state;
    ac_skills_registry_t *r = ac_skills_registry_new();
    ac_skills_registry_add_core(r);
    static const ac_skill_def_t fake_shell = {.name = "shell", .description = "", .routes = routes, .run = noop};
    assert_int_equal(ac_skills_registry_add(r, &fake_shell, false), -AC_EEXIST);
    assert_int_equal(ac_skills_registry_remove(r, "shell"), -AC_EPERM);
    assert_int_equal(ac_skills_registry_remove(r, "nope"), -AC_ENOENT);
    assert_true(ac_skills_registry_is_core(r, "rss_collector")); /* reserved, though not built */
    assert_true(ac_skills_registry_has(r, "shell"));
    assert_false(ac_skills_registry_has(r, "nope"));
    ac_skills_registry_free(r);
}

static void the_holder_sees_every_hold_and_release(void **state)
{
    (void)state;
    ac_skills_registry_t *r = ac_skills_registry_new();
    ac_skills_registry_add_core(r);
    counts_t c;
    memset(&c, 0, sizeof(c));
    ac_skills_registry_holder_t h = {on_hold, on_release, &c};
    ac_skills_registry_set_holder(r, &h);
    assert_int_equal(ac_skills_registry_add(r, &d_one, false), 0);
    assert_int_equal(ac_skills_registry_add(r, &d_two, false), 0);

    const ac_skill_def_t *one = ac_skills_registry_find(r, "one");
    assert_ptr_equal(one, &d_one);
    assert_int_equal(c.holds[0], 1);
    const ac_skill_def_t *shell = ac_skills_registry_find(r, "shell");
    assert_non_null(shell);
    assert_int_equal(c.others, 0); /* core definitions are never held */
    assert_null(ac_skills_registry_find(r, "nope"));
    assert_true(ac_skills_registry_has(r, "two"));
    assert_int_equal(c.holds[1], 0); /* has takes no hold */

    /* removed while held: the caller still has it, and gives it back */
    assert_int_equal(ac_skills_registry_remove(r, "one"), 0);
    assert_null(ac_skills_registry_find(r, "one"));
    assert_string_equal(one->name, "one");
    ac_skills_registry_release(r, one);
    ac_skills_registry_release(r, shell);
    ac_skills_registry_release(r, NULL);
    assert_int_equal(c.releases[0], 1);

    /* list holds what it copies, only that */
    const ac_skill_def_t *all[64];
    size_t n = ac_skills_registry_list(r, all, 64);
    assert_true(n > 2 && n <= 64);
    assert_int_equal(c.holds[1], 1);
    ac_skills_registry_release_list(r, all, n);
    assert_int_equal(c.releases[1], 1);
    const ac_skill_def_t *few[1];
    assert_int_equal(ac_skills_registry_list(r, few, 1), n); /* one copied (a core skill, the first added) */
    assert_int_equal(c.holds[1], 1);
    ac_skills_registry_release_list(r, few, 1);
    assert_int_equal(c.releases[1], 1);

    /* without a holder nothing is counted */
    ac_skills_registry_set_holder(r, NULL);
    ac_skills_registry_release(r, ac_skills_registry_find(r, "two"));
    assert_int_equal(c.holds[1], 1);
    assert_int_equal(c.releases[1], 1);
    assert_int_equal(c.others, 0);
    ac_skills_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(core_names_are_kept),
        cmocka_unit_test(the_holder_sees_every_hold_and_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
