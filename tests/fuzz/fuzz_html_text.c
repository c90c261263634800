/* tests/fuzz/fuzz_html_text.c - web pages as the web_read skill's text extractor reads them (skills/html_text.c),
 * from arbitrary bytes, at three output limits; and the same bytes as text that is not HTML
 * (ac_skills_html_text_utf8). Whatever arrives: nothing crashes, reads out of bounds or leaks; the result is valid
 * UTF-8 without NUL, its length is what was returned, it is never longer than the limit, and it neither starts nor ends
 * with whitespace (html_text.h promises all of it). */
#include "policy/utf8.h"
#include "skills/html_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *html = malloc(size ? size : 1); /* exact size, no NUL after it */
    memcpy(html, data, size);
    static const size_t limits[] = {16, 4096, 1 << 20};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        char *out = NULL;
        int n = ac_skills_html_text(html, size, &out, limits[i]);
        if (n < 0 || out == NULL || (size_t)n > limits[i] || strlen(out) != (size_t)n ||
            !ac_policy_utf8_valid(out, (size_t)n) || (n > 0 && (blank(out[0]) || blank(out[n - 1]))))
            abort();
        free(out);
    }
    size_t len = 0;
    char *text = ac_skills_html_text_utf8(html, size, &len);
    if (text == NULL || strlen(text) != len || !ac_policy_utf8_valid(text, len))
        abort();
    free(text);
    free(html);
    return 0;
}
