/* tests/unit/policy/test_strbuf.c - the growing text buffer (policy/strbuf.h). */
#include "policy/strbuf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void appends_grow_and_stay_terminated(void **state)
{
    (void)state;
    ac_policy_strbuf_t b = {0};
    ac_policy_strbuf_put(&b, NULL, 0);
    assert_non_null(b.p);
    assert_string_equal(b.p, "");
    for (int i = 0; i < 1000; i++)
        ac_policy_strbuf_puts(&b, "abc");
    assert_int_equal(b.len, 3000);
    assert_int_equal(strlen(b.p), 3000);
    assert_memory_equal(b.p + 2997, "abc", 4);
    ac_policy_strbuf_put(&b, "x\0y", 3); /* bytes, NUL included */
    assert_int_equal(b.len, 3003);
    assert_memory_equal(b.p + 3000, "x\0y", 4);
    char *s = ac_policy_strbuf_take(&b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(s);
}

static void take_of_an_empty_buffer_is_an_empty_string(void **state)
{
    (void)state;
    ac_policy_strbuf_t b = {0};
    char *s = ac_policy_strbuf_take(&b);
    assert_string_equal(s, "");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_grow_and_stay_terminated),
        cmocka_unit_test(take_of_an_empty_buffer_is_an_empty_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
