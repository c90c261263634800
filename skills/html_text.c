/* skills/html_text.c - HTML to plain text for web_fetch (html_text.h).
 *
 * web_fetch hands pages to LLM steps, which want the words, not the markup. This is a small tokenizer in the spirit of
 * the HTML5 one, reduced to what text extraction needs: tags (with attribute quoting, so a '>' inside a quoted value
 * does not end the tag), comments, raw-text elements whose contents are dropped, character references, and a lazy
 * separator that turns whitespace and block boundaries into single spaces, line breaks and blank lines.
 *
 * Every construct is consumed by a forward scan that never revisits a byte (apart from bounded look-aheads of a tag
 * name), so the cost is linear in the input for any markup; nesting is a counter, never recursion. */
#include "skills/html_text.h"

#include "policy/alloc.h"
#include "policy/error.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* What separates the text before a point from the text after it. Ordered: the strongest pending separator wins. */
typedef enum { SEP_NONE = 0, SEP_SPACE, SEP_LINE, SEP_PARA } sep_t;

/* Elements that separate text. Both the start and the end tag produce the separator. */
static const struct {
    const char *name;
    sep_t sep;
} tag_seps[] = {
    {"address", SEP_PARA},  {"article", SEP_PARA},    {"aside", SEP_PARA},   {"blockquote", SEP_PARA},
    {"body", SEP_PARA},     {"br", SEP_LINE},         {"caption", SEP_LINE}, {"dd", SEP_LINE},
    {"details", SEP_PARA},  {"div", SEP_LINE},        {"dl", SEP_PARA},      {"dt", SEP_LINE},
    {"fieldset", SEP_PARA}, {"figcaption", SEP_LINE}, {"figure", SEP_PARA},  {"footer", SEP_PARA},
    {"form", SEP_PARA},     {"h1", SEP_PARA},         {"h2", SEP_PARA},      {"h3", SEP_PARA},
    {"h4", SEP_PARA},       {"h5", SEP_PARA},         {"h6", SEP_PARA},      {"head", SEP_PARA},
    {"header", SEP_PARA},   {"hr", SEP_PARA},         {"html", SEP_PARA},    {"li", SEP_LINE},
    {"main", SEP_PARA},     {"nav", SEP_PARA},        {"ol", SEP_PARA},      {"option", SEP_LINE},
    {"p", SEP_PARA},        {"pre", SEP_PARA},        {"section", SEP_PARA}, {"summary", SEP_LINE},
    {"table", SEP_PARA},    {"td", SEP_SPACE},        {"th", SEP_SPACE},     {"title", SEP_PARA},
    {"tr", SEP_LINE},       {"ul", SEP_PARA},
};

/* Raw-text elements: their contents are not markup and are dropped up to the matching end tag. */
static const char *const raw_drop[] = {"script", "style", "xmp", "iframe", "noembed", "noframes"};

/* Elements whose contents (markup) are hidden: counted, so nested ones close properly. */
static const char *const hidden[] = {"noscript", "template"};

/* Named character references we decode (HTML5 has ~2200; these cover what pages commonly use for text). */
static const struct {
    const char *name;
    uint32_t cp;
} entities[] = {
    {"amp", 0x26},     {"AMP", 0x26},      {"lt", 0x3C},      {"LT", 0x3C},      {"gt", 0x3E},      {"GT", 0x3E},
    {"quot", 0x22},    {"QUOT", 0x22},     {"apos", 0x27},    {"nbsp", 0xA0},    {"copy", 0xA9},    {"reg", 0xAE},
    {"trade", 0x2122}, {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019},
    {"ldquo", 0x201C}, {"rdquo", 0x201D},  {"laquo", 0xAB},   {"raquo", 0xBB},   {"middot", 0xB7},  {"bull", 0x2022},
    {"euro", 0x20AC},  {"pound", 0xA3},    {"yen", 0xA5},     {"cent", 0xA2},    {"sect", 0xA7},    {"deg", 0xB0},
    {"plusmn", 0xB1},  {"times", 0xD7},    {"divide", 0xF7},  {"shy", 0xAD},     {"para", 0xB6},
};
#define ENTITY_NAME_MAX 8

/* HTML5 "numeric character reference end state": C1 controls are read as windows-1252 (0 = keep the control). */
static const uint16_t cp1252_c1[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

#define TAG_NAME_MAX 16 /* longer names match nothing in the tables */
#define REPLACEMENT  0xFFFD

typedef struct {
    char *buf;
    size_t len, cap, max;
    sep_t pending;
    bool full;
} out_t;

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(unsigned char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

static void out_sep(out_t *o, sep_t sep)
{
    if (sep > o->pending)
        o->pending = sep;
}

/* Appends one code point, preceded by the pending separator (dropped at the start). Sets o->full, writing nothing,
 * when both do not fit in o->max. */
static void out_cp(out_t *o, uint32_t cp)
{
    if (cp == 0xFEFF || cp == 0xAD) /* byte-order mark, soft hyphen: invisible */
        return;
    if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || cp == 0xA0 || cp == ' ') {
        out_sep(o, SEP_SPACE);
        return;
    }
    char enc[4];
    size_t n;
    if (cp < 0x80) {
        enc[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        enc[0] = (char)(0xC0 | (cp >> 6));
        enc[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        enc[0] = (char)(0xE0 | (cp >> 12));
        enc[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        enc[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        enc[0] = (char)(0xF0 | (cp >> 18));
        enc[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        enc[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        enc[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    static const char *const sep_text[] = {"", " ", "\n", "\n\n"};
    const char *sep = o->len > 0 ? sep_text[o->pending] : "";
    size_t sn = strlen(sep);
    if (o->len + sn + n > o->max) {
        o->full = true;
        return;
    }
    if (o->len + sn + n + 1 > o->cap) {
        size_t cap = o->cap * 2;
        if (cap < o->len + sn + n + 1)
            cap = o->len + sn + n + 1;
        if (cap > o->max + 1)
            cap = o->max + 1;
        o->buf = ac_realloc(o->buf, cap);
        o->cap = cap;
    }
    memcpy(o->buf + o->len, sep, sn);
    memcpy(o->buf + o->len + sn, enc, n);
    o->len += sn + n;
    o->pending = SEP_NONE;
}

/* Decodes one UTF-8 sequence at s[0..n) (n >= 1) into *cp; returns its length. Anything invalid (stray continuation,
 * overlong form, surrogate, > U+10FFFF, truncated) is U+FFFD consuming one byte. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = REPLACEMENT;
        return 1;
    }
    if (len > n) {
        *cp = REPLACEMENT;
        return 1;
    }
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) {
            *cp = REPLACEMENT;
            return 1;
        }
        v = (v << 6) | (s[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = REPLACEMENT;
        return 1;
    }
    *cp = v;
    return len;
}

/* Decodes the character reference at s[i] == '&'. Returns the bytes consumed and sets *cp, or returns 0 when it is
 * not a reference we know (the '&' is then literal text). */
static size_t entity_decode(const char *s, size_t i, size_t n, uint32_t *cp)
{
    size_t j = i + 1;
    if (j < n && s[j] == '#') {
        j++;
        bool hex = j < n && (s[j] == 'x' || s[j] == 'X');
        if (hex)
            j++;
        uint32_t v = 0;
        size_t digits = 0;
        for (; j < n; j++, digits++) {
            unsigned char c = (unsigned char)s[j];
            uint32_t d;
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if (hex && c >= 'a' && c <= 'f')
                d = c - 'a' + 10;
            else if (hex && c >= 'A' && c <= 'F')
                d = c - 'A' + 10;
            else
                break;
            v = v * (hex ? 16 : 10) + d;
            if (v > 0x10FFFF)
                v = 0x110000; /* saturate: stays invalid however many digits follow */
        }
        if (digits == 0)
            return 0;
        if (j < n && s[j] == ';')
            j++;
        if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            v = REPLACEMENT;
        else if (v >= 0x80 && v < 0xA0 && cp1252_c1[v - 0x80] != 0)
            v = cp1252_c1[v - 0x80];
        *cp = v;
        return j - i;
    }
    size_t k = 0;
    while (j + k < n && k <= ENTITY_NAME_MAX && is_alnum((unsigned char)s[j + k]))
        k++;
    if (k == 0 || k > ENTITY_NAME_MAX || j + k >= n || s[j + k] != ';')
        return 0;
    for (size_t e = 0; e < sizeof(entities) / sizeof(entities[0]); e++) {
        if (strlen(entities[e].name) == k && memcmp(entities[e].name, s + j, k) == 0) {
            *cp = entities[e].cp;
            return k + 2;
        }
    }
    return 0;
}

/* Skips the attributes of a tag whose name ended at s[i]; returns the index after its '>' or n when unterminated.
 * Quotes count only where an attribute value starts, as in the HTML5 tokenizer (`<p class=it's>` is one tag). */
static size_t skip_tag_rest(const char *s, size_t i, size_t n)
{
    enum { BEFORE_NAME, NAME, AFTER_NAME, BEFORE_VALUE, UNQUOTED } st = BEFORE_NAME;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '>')
            return i + 1;
        switch (st) {
        case BEFORE_NAME:
            if (!is_ws(c) && c != '/')
                st = NAME;
            break;
        case NAME:
        case AFTER_NAME:
            if (c == '=')
                st = BEFORE_VALUE;
            else if (c == '/')
                st = BEFORE_NAME;
            else if (is_ws(c))
                st = AFTER_NAME;
            else
                st = NAME;
            break;
        case BEFORE_VALUE:
            if (c == '"' || c == '\'') {
                const char *q = memchr(s + i + 1, c, n - i - 1);
                if (q == NULL)
                    return n;
                i = (size_t)(q - s);
                st = BEFORE_NAME;
            } else if (!is_ws(c)) {
                st = UNQUOTED;
            }
            break;
        case UNQUOTED:
            if (is_ws(c))
                st = BEFORE_NAME;
            break;
        }
    }
    return n;
}

/* Reads a tag name at s[i] (a letter) into name (lower-cased, "" when too long to match anything); returns the index
 * after it. */
static size_t read_tag_name(const char *s, size_t i, size_t n, char name[TAG_NAME_MAX])
{
    size_t k = 0;
    bool too_long = false;
    for (; i < n && !is_ws((unsigned char)s[i]) && s[i] != '/' && s[i] != '>'; i++) {
        if (k + 1 < TAG_NAME_MAX) {
            char c = s[i];
            name[k++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        } else {
            too_long = true;
        }
    }
    name[too_long ? 0 : k] = '\0';
    return i;
}

/* Skips the contents of a raw-text element from s[i] up to and including its end tag `</name`; n when there is none. */
static size_t skip_raw(const char *s, size_t i, size_t n, const char *name)
{
    size_t nl = strlen(name);
    while (i < n) {
        const char *lt = memchr(s + i, '<', n - i);
        if (lt == NULL)
            return n;
        size_t p = (size_t)(lt - s);
        if (p + 2 + nl <= n && s[p + 1] == '/' && strncasecmp(s + p + 2, name, nl) == 0 &&
            (p + 2 + nl == n || is_ws((unsigned char)s[p + 2 + nl]) || s[p + 2 + nl] == '/' || s[p + 2 + nl] == '>'))
            return skip_tag_rest(s, p + 2 + nl, n);
        i = p + 1;
    }
    return n;
}

/* Skips a comment starting at s[i] == "<!--"; returns the index after its end ("-->", "--!>", or the degenerate
 * "<!-->" and "<!--->"), n when unterminated. */
static size_t skip_comment(const char *s, size_t i, size_t n)
{
    size_t j = i + 4;
    if (j < n && s[j] == '>')
        return j + 1;
    if (j + 1 < n && s[j] == '-' && s[j + 1] == '>')
        return j + 2;
    for (; j + 2 < n; j++) {
        if (s[j] == '-' && s[j + 1] == '-') {
            if (s[j + 2] == '>')
                return j + 3;
            if (j + 3 < n && s[j + 2] == '!' && s[j + 3] == '>')
                return j + 4;
        }
    }
    return n;
}

static size_t skip_to_gt(const char *s, size_t i, size_t n)
{
    const char *gt = memchr(s + i, '>', n - i);
    return gt != NULL ? (size_t)(gt - s) + 1 : n;
}

static bool in_list(const char *name, const char *const *list, size_t count)
{
    for (size_t k = 0; k < count; k++)
        if (strcmp(name, list[k]) == 0)
            return true;
    return false;
}

static sep_t tag_sep(const char *name)
{
    for (size_t k = 0; k < sizeof(tag_seps) / sizeof(tag_seps[0]); k++)
        if (strcmp(name, tag_seps[k].name) == 0)
            return tag_seps[k].sep;
    return SEP_NONE;
}

int ac_skills_html_text(const char *html, size_t len, char **out, size_t max_out)
{
    if (out == NULL || (html == NULL && len > 0))
        return -AC_EINVAL;
    out_t o = {0};
    o.max = max_out > INT_MAX ? INT_MAX : max_out;
    o.cap = (len < o.max ? len : o.max) + 1;
    if (o.cap < 64 && o.max >= 64)
        o.cap = 64;
    o.buf = ac_malloc(o.cap);

    const char *s = html;
    size_t n = len, i = 0, hidden_depth = 0;
    char name[TAG_NAME_MAX];
    while (i < n && !o.full) {
        unsigned char c = (unsigned char)s[i];
        if (c == '<' && i + 1 < n) {
            unsigned char d = (unsigned char)s[i + 1];
            if (d == '!') {
                i = (i + 3 < n && s[i + 2] == '-' && s[i + 3] == '-') ? skip_comment(s, i, n) : skip_to_gt(s, i, n);
                continue;
            }
            if (d == '?') {
                i = skip_to_gt(s, i, n);
                continue;
            }
            if (d == '/') {
                if (i + 2 < n && is_alpha((unsigned char)s[i + 2])) {
                    i = skip_tag_rest(s, read_tag_name(s, i + 2, n, name), n);
                    if (in_list(name, hidden, sizeof(hidden) / sizeof(hidden[0]))) {
                        if (hidden_depth > 0)
                            hidden_depth--;
                    } else if (hidden_depth == 0) {
                        out_sep(&o, tag_sep(name));
                    }
                } else {
                    i = skip_to_gt(s, i, n); /* "</>" and bogus comments like "</ x>" */
                }
                continue;
            }
            if (is_alpha(d)) {
                i = skip_tag_rest(s, read_tag_name(s, i + 1, n, name), n);
                if (in_list(name, raw_drop, sizeof(raw_drop) / sizeof(raw_drop[0])))
                    i = skip_raw(s, i, n, name);
                else if (in_list(name, hidden, sizeof(hidden) / sizeof(hidden[0])))
                    hidden_depth++;
                else if (hidden_depth == 0)
                    out_sep(&o, tag_sep(name));
                continue;
            }
            /* any other '<' is text */
        }
        uint32_t cp;
        size_t used = 0;
        if (c == '&')
            used = entity_decode(s, i, n, &cp);
        if (used == 0)
            used = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        i += used;
        if (hidden_depth == 0)
            out_cp(&o, cp);
    }
    o.buf[o.len] = '\0';
    *out = o.buf;
    return (int)o.len;
}

char *ac_skills_html_text_utf8(const char *s, size_t n, size_t *out_len)
{
    /* Each input byte becomes at most 3 output bytes (U+FFFD); n is bounded by the caller's response cap. */
    char *buf = ac_malloc(n * 3 + 1);
    size_t len = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t used = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (cp == 0 || (cp == REPLACEMENT && used == 1)) { /* used == 3: a genuine U+FFFD, copied */
            memcpy(buf + len, "\xEF\xBF\xBD", 3);
            len += 3;
        } else {
            memcpy(buf + len, s + i, used);
            len += used;
        }
        i += used;
    }
    buf[len] = '\0';
    *out_len = len;
    return buf;
}
