/* tests/unit/skills/test_html_text.c - skills/html_text.c: what text comes out of HTML (dropped elements, comments,
 * entities, whitespace and block separators), and that malformed, hostile or huge markup stays bounded and linear. */
#include "policy/error.h"
#include "skills/html_text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* Extracts with a generous cap and compares. */
static void check(const char *html, const char *want)
{
    char *out = NULL;
    int n = ac_skills_html_text(html, strlen(html), &out, 1 << 20);
    assert_true(n >= 0);
    assert_int_equal((size_t)n, strlen(out));
    if (strcmp(out, want) != 0)
        fail_msg("html: [%s]\n  got:  [%s]\n  want: [%s]", html, out, want);
    free(out);
}

static void removes_tags_and_keeps_text(void **state)
{
    check("<b>bold</b> and <i>italic</i>", "bold and italic");
    check("<span>a</span><span>b</span>", "ab");
    check("plain text", "plain text");
    check("<a href=\"/x\" title='t'>link</a>", "link");
}

static void drops_script_and_style_contents(void **state)
{
    check("a<script>var s = '<p>no</p>'; if (x < y) {}</script>b", "ab");
    check("a<SCRIPT type=text/javascript>evil()</ScRiPt >b", "ab");
    check("a<style>p { content: '</p>'; }</style>b", "ab");
    check("a<script>x = '</scripty>'; y</script>b", "ab");
    check("a<script>never closed <p>text</p>", "a");
    check("a<iframe><p>fallback</p></iframe>b", "ab");
}

static void drops_noscript_and_template_with_nesting(void **state)
{
    check("a<noscript><p>enable js</p></noscript>b", "ab");
    check("a<template><div>t1<template>t2</template>t3</div></template>b", "ab");
    check("a<template><script>x</template>y</script></template>b", "ab");
    check("a</template>b", "ab"); /* a stray end tag does not underflow */
}

static void drops_comments_doctype_and_processing_instructions(void **state)
{
    check("<!DOCTYPE html>a<!-- <p>hidden</p> -->b", "ab");
    check("a<!---->b<!-->c<!--->d", "abcd");
    check("a<!-- x --!>b", "ab");
    check("a<?xml version=\"1.0\"?>b<![CDATA[ c ]]>d", "abd");
    check("a<!-- never closed <p>b</p>", "a");
}

static void decodes_named_entities(void **state)
{
    check("&amp; &lt; &gt; &quot; &apos; &AMP;", "& < > \" ' &");
    check("caf&eacute; &unknown; &amp", "caf&eacute; &unknown; &amp");
    check("R&amp;D a & b a&b", "R&D a & b a&b");
    check("&copy; &mdash; &hellip; &euro;", "\xC2\xA9 \xE2\x80\x94 \xE2\x80\xA6 \xE2\x82\xAC");
}

static void decodes_numeric_entities_as_utf8(void **state)
{
    check("&#39;&#65;&#x41;&#X42;", "'AAB");
    check("&#233;&#xE9;", "\xC3\xA9\xC3\xA9");
    check("&#x263A; &#9786;", "\xE2\x98\xBA \xE2\x98\xBA");
    check("&#x1F600;&#128512;", "\xF0\x9F\x98\x80\xF0\x9F\x98\x80");
    check("&#65 &#66x", "A Bx");     /* ';' optional */
    check("&#150;", "\xE2\x80\x93"); /* C1 control read as windows-1252 (en dash) */
}

static void replaces_invalid_code_points(void **state)
{
    check("&#0;", "\xEF\xBF\xBD");
    check("&#xD800;", "\xEF\xBF\xBD");
    check("&#x110000;", "\xEF\xBF\xBD");
    check("&#99999999999999999999999;", "\xEF\xBF\xBD");
    check("&#; &#x; &#xZ;", "&#; &#x; &#xZ;");
}

static void nbsp_and_whitespace_collapse(void **state)
{
    check("  a \t\n b  ", "a b");
    check("a&nbsp;&nbsp;b&#160;c", "a b c");
    check("a \xC2\xA0 b", "a b");
    check("\n\n<p>  x  </p>\n\n", "x");
}

static void block_elements_produce_newlines(void **state)
{
    check("<p>one</p><p>two</p>", "one\n\ntwo");
    check("a<br>b<br/>c<br />d", "a\nb\nc\nd");
    check("<ul><li>x</li><li>y</li></ul>after", "x\ny\n\nafter");
    check("<div>a</div><div>b</div>", "a\nb");
    check("<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table>", "1 2\n3");
    check("<h1>Title</h1>text", "Title\n\ntext");
    check("<p></p><p></p><p>only</p><p></p>", "only");
}

static void attribute_quoting_decides_where_tags_end(void **state)
{
    check("<a title=\"x > y\">t</a>", "t");
    check("<a title='x > y'>t</a>", "t");
    check("<p class=it's>t</p>", "t");
    check("<img alt=\"unterminated>tail", "");
    check("<a b = \"c\" d>e</a>", "e");
}

static void malformed_markup_is_text_or_dropped(void **state)
{
    check("a < b", "a < b");
    check("<<<", "<<<");
    check("x<", "x<");
    check("a</>b", "ab");
    check("a</ x>b", "ab");
    check("a<3 b", "a<3 b");
    check("a<div", "a");
    check("a<!", "a");
}

static void replaces_invalid_utf8(void **state)
{
    check("caf\xE9!", "caf\xEF\xBF\xBD!");
    check("\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD");                 /* overlong */
    check("\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* surrogate */
    check("\xF0\x9F\x98", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* truncated */
    check("\xEF\xBB\xBFtext", "text");                             /* byte-order mark */
}

static void nul_bytes_never_reach_the_output(void **state)
{
    const char html[] = "a\0b<p\0>c";
    char *out = NULL;
    int n = ac_skills_html_text(html, sizeof(html) - 1, &out, 100);
    assert_true(n >= 0);
    assert_int_equal((size_t)n, strlen(out));
    assert_string_equal(out, "a b\n\nc");
    free(out);
}

static void output_is_cut_at_max_out_on_a_character_boundary(void **state)
{
    char *out = NULL;
    assert_int_equal(ac_skills_html_text("abcdef", 6, &out, 4), 4);
    assert_string_equal(out, "abcd");
    free(out);
    /* "é" is two bytes: a cap of 4 after "abc" cannot hold it. */
    assert_int_equal(ac_skills_html_text("abc\xC3\xA9z", 6, &out, 4), 3);
    assert_string_equal(out, "abc");
    free(out);
    /* the separator counts too */
    assert_int_equal(ac_skills_html_text("<p>ab</p><p>cd</p>", 18, &out, 4), 2);
    assert_string_equal(out, "ab");
    free(out);
    assert_int_equal(ac_skills_html_text("abc", 3, &out, 0), 0);
    assert_string_equal(out, "");
    free(out);
}

static void expansion_beyond_the_input_stays_bounded(void **state)
{
    /* Every invalid byte becomes three: the output may be larger than the input, never larger than max_out. */
    size_t n = 100000;
    char *html = malloc(n);
    memset(html, 0xFF, n);
    char *out = NULL;
    int got = ac_skills_html_text(html, n, &out, 150000);
    assert_int_equal(got, 150000);
    assert_int_equal(strlen(out), 150000);
    free(out);
    got = ac_skills_html_text(html, n, &out, 1 << 20);
    assert_int_equal(got, 300000);
    free(out);
    free(html);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void deep_nesting_and_pathological_input_are_linear(void **state)
{
    /* 200k nested divs, 200k open comments-to-be, 200k "<script" look-alikes: each must take well under a second. */
    const char *units[] = {"<div>", "<!-", "</scrip", "<a title='", "&#x", "<template>"};
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        size_t ul = strlen(units[u]), reps = 200000, n = ul * reps;
        char *html = malloc(n + 10);
        for (size_t k = 0; k < reps; k++)
            memcpy(html + k * ul, units[u], ul);
        memcpy(html + n, "<script>x", 9);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        char *out = NULL;
        int got = ac_skills_html_text(html, n + 9, &out, 1 << 22);
        assert_true(got >= 0);
        assert_true(seconds_since(&t0) < 2.0);
        free(out);
        free(html);
    }
}

static void accepts_empty_input(void **state)
{
    char *out = NULL;
    assert_int_equal(ac_skills_html_text(NULL, 0, &out, 10), 0);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(ac_skills_html_text("<p> </p>", 8, &out, 10), 0);
    assert_string_equal(out, "");
    free(out);
}

static void rejects_null_arguments(void **state)
{
    char *out = NULL;
    assert_int_equal(ac_skills_html_text(NULL, 3, &out, 10), -AC_EINVAL);
    assert_null(out);
    assert_int_equal(ac_skills_html_text("abc", 3, NULL, 10), -AC_EINVAL);
}

static void extracts_a_whole_page(void **state)
{
    check("<!DOCTYPE html>\n<html><head><title>T</title><style>x{}</style></head>\n"
          "<body><h1>Hello &amp; welcome</h1>\n<p>Tom &lt;3 Jerry</p>\n<ul><li>one</li><li>two</li></ul></body></html>",
          "T\n\nHello & welcome\n\nTom <3 Jerry\n\none\ntwo");
}

static void utf8_copy_replaces_invalid_bytes_and_nul(void **state)
{
    size_t n;
    char *s = ac_skills_html_text_utf8("a\0b\xFF\xEF\xBF\xBD\xC3\xA9", 9, &n);
    assert_int_equal(n, 1 + 3 + 1 + 3 + 3 + 2);
    assert_memory_equal(s,
                        "a\xEF\xBF\xBD"
                        "b\xEF\xBF\xBD\xEF\xBF\xBD\xC3\xA9",
                        n);
    assert_int_equal(s[n], '\0');
    free(s);
    s = ac_skills_html_text_utf8("", 0, &n);
    assert_int_equal(n, 0);
    assert_string_equal(s, "");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(removes_tags_and_keeps_text),
        cmocka_unit_test(drops_script_and_style_contents),
        cmocka_unit_test(drops_noscript_and_template_with_nesting),
        cmocka_unit_test(drops_comments_doctype_and_processing_instructions),
        cmocka_unit_test(decodes_named_entities),
        cmocka_unit_test(decodes_numeric_entities_as_utf8),
        cmocka_unit_test(replaces_invalid_code_points),
        cmocka_unit_test(nbsp_and_whitespace_collapse),
        cmocka_unit_test(block_elements_produce_newlines),
        cmocka_unit_test(attribute_quoting_decides_where_tags_end),
        cmocka_unit_test(malformed_markup_is_text_or_dropped),
        cmocka_unit_test(replaces_invalid_utf8),
        cmocka_unit_test(nul_bytes_never_reach_the_output),
        cmocka_unit_test(output_is_cut_at_max_out_on_a_character_boundary),
        cmocka_unit_test(expansion_beyond_the_input_stays_bounded),
        cmocka_unit_test(deep_nesting_and_pathological_input_are_linear),
        cmocka_unit_test(accepts_empty_input),
        cmocka_unit_test(rejects_null_arguments),
        cmocka_unit_test(extracts_a_whole_page),
        cmocka_unit_test(utf8_copy_replaces_invalid_bytes_and_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
