/* skills/html_text.h - HTML to readable plain text (web_fetch).
 *
 * A single forward pass over the bytes, no recursion and no DOM: the cost is linear in the input whatever the markup,
 * and malformed markup (unterminated tags, comments or scripts, stray '<' and '&', invalid UTF-8) never fails, it
 * only loses the unterminated part, as a browser would. */
#ifndef AC_SKILLS_HTML_TEXT_H
#define AC_SKILLS_HTML_TEXT_H

#include <stddef.h>

/* Extracts the text of the HTML document html[0..len) (need not be NUL-terminated, may contain NULs).
 *
 * - Dropped with their contents: script, style, xmp, iframe, noembed, noframes (raw text, skipped up to the matching
 *   end tag), noscript and template (nesting counted), comments, doctype and processing instructions.
 * - Tags are removed; attribute values are skipped with their quoting, so `<a title="x>y">` is one tag.
 * - Entities: amp lt gt quot apos nbsp and a few typographic ones by name (see the table in html_text.c), `&#NN;` and
 *   `&#xHH;` (the ';' optional) as UTF-8; invalid code points become U+FFFD, C1 controls map as in windows-1252, as
 *   browsers do. Unknown or malformed entities stay literal text.
 * - Whitespace (including U+00A0 and control characters) collapses to one space; block elements end a line (br, li,
 *   div, tr, ...) or a paragraph (p, h1-h6, table, ul, ...: a blank line); table cells are separated by a space.
 *   Leading and trailing whitespace is dropped. pre is not special.
 * - Invalid UTF-8 bytes become U+FFFD, so the result is always valid UTF-8 without NUL bytes.
 *
 * At most max_out bytes are produced (clamped to INT_MAX); longer text is cut at a character boundary.
 * Returns the length of *out (>= 0), or -AC_EINVAL when out is NULL or html is NULL with len > 0.
 * OUT: *out from ac_malloc(), NUL-terminated; the caller frees it. Not set on failure. */
int ac_skills_html_text(const char *html, size_t len, char **out, size_t max_out);

/* Copies s[0..n) as valid UTF-8 text: each byte of an invalid sequence and each NUL becomes U+FFFD, so the copy is
 * safe as a JSON string and as a C string. Used for bodies that are text but not HTML.
 * Returns the copy (from ac_malloc(), NUL-terminated; the caller frees it) and its length in *out_len. */
char *ac_skills_html_text_utf8(const char *s, size_t n, size_t *out_len);

#endif
