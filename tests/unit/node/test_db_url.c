/* tests/unit/node/test_db_url.c - ac_node_db_url_check() of node/db.c, which needs no server (libpq's
 * PQconninfoParse): the accepted forms of DATABASE_URL (postgresql:// and postgres:// URLs, key=value strings, a
 * socket directory in ?host=), the malformed ones that must fail with -AC_ECONFIG, and the promise that the error
 * message never repeats the password, whether it sits in the user-info, in a query parameter, carries a bad
 * percent-escape itself, or is too long for a fixed buffer. */
#include "node/db.h"
#include "policy/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define PW "Sup3rS3cretPW"

static void assert_accepted(const char *url)
{
    ac_errmsg_t err = {{0}};
    int rc = ac_node_db_url_check(url, &err);
    if (rc != 0)
        fail_msg("rejected %s: %d %s", url, rc, err.msg);
}

/* Checks rejection with a message, and that the message holds none of the given secrets. */
static void assert_rejected_without(const char *url, const char *secret1, const char *secret2)
{
    ac_errmsg_t err = {{0}};
    int rc = ac_node_db_url_check(url, &err);
    if (rc != -AC_ECONFIG)
        fail_msg("expected -AC_ECONFIG for %s, got %d", url, rc);
    assert_true(err.msg[0] != '\0');
    if (secret1 != NULL && strstr(err.msg, secret1) != NULL)
        fail_msg("error message repeats the password: %s", err.msg);
    if (secret2 != NULL && strstr(err.msg, secret2) != NULL)
        fail_msg("error message repeats the password: %s", err.msg);
}

static void assert_rejected(const char *url)
{
    assert_rejected_without(url, NULL, NULL);
}

/* --- accepted --- */

static void accepts_postgresql_url(void **state)
{
    assert_accepted("postgresql://alexclaw:" PW "@db.example.com:5432/alexclaw");
    assert_accepted("postgresql://localhost/alexclaw");
    assert_accepted("postgresql://");
}

static void accepts_postgres_scheme(void **state)
{
    assert_accepted("postgres://alexclaw:" PW "@127.0.0.1:5433/alexclaw?sslmode=require");
}

static void accepts_url_with_percent_encoded_password(void **state)
{
    assert_accepted("postgresql://u:p%40ss%2Fw%3Ard@h:5432/db");
}

static void accepts_url_with_socket_directory_in_host_parameter(void **state)
{
    assert_accepted("postgresql:///alexclaw?host=/var/run/postgresql");
    assert_accepted("postgresql://u@%2Ftmp%2Fsock/alexclaw");
    assert_accepted("postgresql://u:" PW "@/alexclaw?host=/tmp/ac-sock&port=5433");
}

static void accepts_ipv6_and_multi_host_urls(void **state)
{
    assert_accepted("postgresql://u@[::1]:5432/db");
    assert_accepted("postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write");
}

static void accepts_key_value_string(void **state)
{
    assert_accepted("host=/tmp/sock dbname=alexclaw user=alexclaw password=" PW);
    assert_accepted("host=localhost port=5432 dbname=alexclaw password='with space' connect_timeout=5");
    assert_accepted("dbname=alexclaw");
}

static void accepts_url_of_exactly_4096_chars(void **state)
{
    const char *prefix = "postgresql://u@h/";
    size_t pl = strlen(prefix);
    char *url = malloc(4097);
    assert_non_null(url);
    memcpy(url, prefix, pl);
    memset(url + pl, 'd', 4096 - pl);
    url[4096] = '\0';
    assert_accepted(url);
    free(url);
}

/* --- rejected --- */

static void rejects_null_and_empty_url(void **state)
{
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_node_db_url_check(NULL, &err), -AC_ECONFIG);
    assert_true(err.msg[0] != '\0');
    assert_rejected("");
}

static void rejects_string_without_scheme_or_equals_sign(void **state)
{
    assert_rejected("localhost/alexclaw");
    assert_rejected("u:" PW "@localhost:5432/alexclaw");
    assert_rejected("mysql://u:" PW "@h/db");
    assert_rejected("POSTGRESQL://u@h/db");
}

static void rejects_url_with_non_numeric_port(void **state)
{
    assert_rejected("postgresql://u:pw@h:notaport/db");
}

static void rejects_bad_percent_encoding(void **state)
{
    assert_rejected("postgresql://u@h/d%zzb");
    assert_rejected("postgresql://u@h/db%4");
    assert_rejected("postgresql://u@h/db%00");
}

static void rejects_malformed_query_parameters(void **state)
{
    assert_rejected("postgresql://u@h/db?sslmode");
    assert_rejected("postgresql://u@h/db?a=b=c");
    assert_rejected("postgresql://u@h/db?no_such_option=1");
}

static void rejects_malformed_ipv6_host(void **state)
{
    assert_rejected("postgresql://u@[::1/db");
    assert_rejected("postgresql://u@[]/db");
    assert_rejected("postgresql://u@[::1]x/db");
}

static void rejects_malformed_key_value_strings(void **state)
{
    assert_rejected("host=h port");
    assert_rejected("host=h password='unterminated");
    assert_rejected("host=h no_such_option=1");
}

static void rejects_url_longer_than_4096_chars(void **state)
{
    const char *prefix = "postgresql://u@h/";
    size_t pl = strlen(prefix);
    char *url = malloc(4098);
    assert_non_null(url);
    memcpy(url, prefix, pl);
    memset(url + pl, 'd', 4097 - pl);
    url[4097] = '\0';
    assert_rejected(url);
    free(url);
}

/* --- the password never reaches the message --- */

static void error_omits_password_quoted_back_by_libpq(void **state)
{
    /* libpq quotes the whole URI in these messages. */
    assert_rejected_without("postgresql://u:" PW "@[::1/db", PW, NULL);
    assert_rejected_without("postgresql://u:" PW "@[]/db", PW, NULL);
    assert_rejected_without("postgresql://u:" PW "@[::1]x/db", PW, NULL);
}

static void error_omits_percent_encoded_password_in_both_forms(void **state)
{
    /* "Sup3r%53ecretPW" decodes to "Sup3rSecretPW". */
    assert_rejected_without("postgresql://u:Sup3r%53ecretPW@[::1/db", "Sup3r%53ecretPW", "Sup3rSecretPW");
}

static void error_omits_password_with_a_bad_percent_escape(void **state)
{
    assert_rejected_without("postgresql://u:pa%zzss@h/db", "pa%zzss", NULL);
    assert_rejected_without("postgresql://u:" PW "%zz@h/db", PW, NULL);
    assert_rejected_without("postgresql://u:" PW "%00@h/db", PW, NULL);
}

static void error_omits_password_when_another_part_is_malformed(void **state)
{
    assert_rejected_without("postgresql://u:" PW "@h:notaport/db", PW, NULL);
    assert_rejected_without("postgresql://u:" PW "@h/d%zzb", PW, NULL);
    assert_rejected_without("postgresql://u:" PW "@h/db?sslmode", PW, NULL);
    assert_rejected_without("postgresql://u:" PW "@h/db?no_such_option=1", PW, NULL);
}

static void error_omits_password_given_as_query_parameter(void **state)
{
    assert_rejected_without("postgresql://u@h/db?password=" PW "=x", PW, NULL);
    assert_rejected_without("postgresql://u@h/db?password=" PW "%zz", PW, NULL);
    assert_rejected_without("postgresql://u@h/db?password=pa%zzss", "pa%zzss", NULL);
}

static void error_omits_password_in_key_value_form(void **state)
{
    assert_rejected_without("host=h password=" PW " port", PW, NULL);
    assert_rejected_without("host=h password=" PW " no_such_option=1", PW, NULL);
    assert_rejected_without("host=h password='" PW, PW, NULL);
    assert_rejected_without("host=h password='" PW " with space' bogus", PW, NULL);
}

static void error_omits_a_password_of_several_hundred_chars(void **state)
{
    char pw[50 * sizeof(PW)];
    char url[sizeof(pw) + 64];
    pw[0] = '\0';
    for (int i = 0; i < 50; i++)
        strcat(pw, PW);
    snprintf(url, sizeof(url), "postgresql://u:%s@[::1/db", pw);
    assert_true(strlen(url) < 4096);
    assert_rejected_without(url, PW, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_postgresql_url),
        cmocka_unit_test(accepts_postgres_scheme),
        cmocka_unit_test(accepts_url_with_percent_encoded_password),
        cmocka_unit_test(accepts_url_with_socket_directory_in_host_parameter),
        cmocka_unit_test(accepts_ipv6_and_multi_host_urls),
        cmocka_unit_test(accepts_key_value_string),
        cmocka_unit_test(accepts_url_of_exactly_4096_chars),
        cmocka_unit_test(rejects_null_and_empty_url),
        cmocka_unit_test(rejects_string_without_scheme_or_equals_sign),
        cmocka_unit_test(rejects_url_with_non_numeric_port),
        cmocka_unit_test(rejects_bad_percent_encoding),
        cmocka_unit_test(rejects_malformed_query_parameters),
        cmocka_unit_test(rejects_malformed_ipv6_host),
        cmocka_unit_test(rejects_malformed_key_value_strings),
        cmocka_unit_test(rejects_url_longer_than_4096_chars),
        cmocka_unit_test(error_omits_password_quoted_back_by_libpq),
        cmocka_unit_test(error_omits_percent_encoded_password_in_both_forms),
        cmocka_unit_test(error_omits_password_with_a_bad_percent_escape),
        cmocka_unit_test(error_omits_password_when_another_part_is_malformed),
        cmocka_unit_test(error_omits_password_given_as_query_parameter),
        cmocka_unit_test(error_omits_password_in_key_value_form),
        cmocka_unit_test(error_omits_a_password_of_several_hundred_chars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
