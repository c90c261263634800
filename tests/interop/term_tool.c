/* tests/interop/term_tool.c - ac_term_tool: dist/term_json.c from the command line, so that
 * tests/interop/term_json.sh can check it against real erl and elixir nodes.
 *
 *   ac_term_tool           reads term_to_binary output (with the version byte 131) on stdin; prints the JSON
 *                          (compact, keys sorted) and exits 0, or prints `error: <message>` and exits 1
 *   ac_term_tool encode    reads one JSON value on stdin; writes the term (with the version byte) to stdout, or
 *                          prints `error: <message>` and exits 1
 *
 * A test helper only (never installed). Trailing bytes after the term are an error: the whole input is one term. */
#include "dist/term_json.h"
#include "policy/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole of stdin, up to 64 MiB (more than the converter's limits admit). */
static int read_stdin(char **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap), *p;

    if (buf == NULL)
        return -1;
    while ((got = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n == cap) {
            if (cap >= 64u << 20 || (p = realloc(buf, cap * 2)) == NULL) {
                free(buf);
                return -1;
            }
            buf = p;
            cap *= 2;
        }
    }
    if (ferror(stdin)) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int decode(const char *buf, size_t len)
{
    ac_errmsg_t err = {{0}};
    json_t *j = NULL;
    char *text = NULL;
    int index = 1, ret = 1;

    if (len < 1 || (unsigned char)buf[0] != 131) {
        printf("error: input does not start with the version byte 131\n");
        goto Exit;
    }
    if (ac_dist_term_to_json(buf, (int)len, &index, NULL, &j, &err) < 0) {
        printf("error: %s\n", err.msg);
        goto Exit;
    }
    if ((size_t)index != len) {
        printf("error: %zu bytes after the term\n", len - (size_t)index);
        goto Exit;
    }
    if ((text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)) == NULL) {
        printf("error: json_dumps failed\n");
        goto Exit;
    }
    printf("%s\n", text);
    ret = 0;

Exit:
    free(text);
    json_decref(j);
    return ret;
}

static int encode(const char *buf, size_t len)
{
    ac_errmsg_t err = {{0}};
    json_error_t jerr;
    json_t *j = NULL;
    ei_x_buff x = {0};
    int ret = 1;

    if ((j = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr)) == NULL) {
        printf("error: bad JSON: %s\n", jerr.text);
        goto Exit;
    }
    if (ei_x_new_with_version(&x) < 0) {
        printf("error: out of memory\n");
        goto Exit;
    }
    if (ac_dist_json_to_term(j, &x, &err) < 0) {
        printf("error: %s\n", err.msg);
        goto Exit;
    }
    if (fwrite(x.buff, 1, (size_t)x.index, stdout) != (size_t)x.index)
        goto Exit;
    ret = 0;

Exit:
    if (x.buff != NULL)
        ei_x_free(&x);
    json_decref(j);
    return ret;
}

int main(int argc, char **argv)
{
    char *buf = NULL;
    size_t len = 0;
    int ret;

    if (argc > 2 || (argc == 2 && strcmp(argv[1], "encode") != 0)) {
        fputs("usage: ac_term_tool [encode] < input\n", stderr);
        return 2;
    }
    if (read_stdin(&buf, &len) != 0) {
        printf("error: cannot read stdin\n");
        return 1;
    }
    ret = argc == 2 ? encode(buf, len) : decode(buf, len);
    free(buf);
    return fflush(stdout) == 0 ? ret : 1;
}
