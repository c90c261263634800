/* tests/fuzz/fuzz_term_json.c - libFuzzer target for dist/term_json.c: arbitrary bytes as a term, read at index 0
 * (no version byte) and, when the input starts with 131 as term_to_binary output does, at index 1; once with the
 * default limits and once with tight ones, so the limit paths are reached by small inputs.
 *
 * Invariants (abort() on any violation):
 *   a refused input leaves *index unchanged, *out NULL and a non-empty message, with a code the header lists;
 *   a converted term ends within the input, after its start;
 *   JSON -> term -> JSON is the identity on whatever converted (the table is one-to-one from JSON's side), and the
 *   term it encodes to converts back within the same limits, consuming exactly what was written.
 * Built as `fuzz_term_json` (libFuzzer) and as `replay_term_json` (tests/fuzz/replay.c), which runs the seed corpus
 * under ctest. Seeds in corpus/term_json/: term_to_binary output of varied terms from erl (minor versions 0 and 1;
 * files named after the term), hand-made hostile buffers (hostile_*, and raw_* without the version byte), and past
 * crashes (crash_*: a NUL in a map key broke the round trip, now refused). */
#include "dist/term_json.h"
#include "policy/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_term_json: invariant violated: %s\n", what);
        abort();
    }
}

static int known_error(int ret)
{
    return ret == -AC_EINVAL || ret == -AC_ETOOLONG || ret == -AC_ENOMEM;
}

/* j converted from a term within lim: encode it and convert it back. */
static void round_trip(const json_t *j, const ac_dist_term_limits_t *lim)
{
    ac_errmsg_t err = {{0}};
    json_t *back = NULL;
    ei_x_buff x;
    int index = 1, ret;

    check(ei_x_new_with_version(&x) == 0, "ei_x_new_with_version");
    ret = ac_dist_json_to_term(j, &x, &err);
    check(ret == 0, "a converted term encodes back");
    ret = ac_dist_term_to_json(x.buff, x.index, &index, lim, &back, &err);
    if (ret != 0)
        fprintf(stderr, "fuzz_term_json: re-decoding failed: %s\n", err.msg);
    check(ret == 0, "the encoded term converts again");
    check(index == x.index, "the encoded term is consumed exactly");
    check(json_equal(j, back), "JSON -> term -> JSON is the identity");
    json_decref(back);
    ei_x_free(&x);
}

static void run(const uint8_t *data, size_t size, int start, const ac_dist_term_limits_t *lim)
{
    ac_errmsg_t err = {{0}};
    json_t *j = NULL;
    int index = start, ret;

    ret = ac_dist_term_to_json((const char *)data, (int)size, &index, lim, &j, &err);
    if (ret != 0) {
        check(known_error(ret), "a documented error code");
        check(index == start, "index unchanged on failure");
        check(j == NULL, "no output on failure");
        check(err.msg[0] != '\0', "a message on failure");
        return;
    }
    check(j != NULL, "output on success");
    check(index > start && (size_t)index <= size, "the term ends within the input");
    round_trip(j, lim);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ac_dist_term_limits_t tight = {.max_depth = 4, .max_elements = 64, .max_string_bytes = 128};
    /* An exact-size copy, so a read one byte past the input is seen by AddressSanitizer under replay too. */
    uint8_t *copy;

    if (size > (1u << 20))
        return 0;
    if ((copy = calloc(size > 0 ? size : 1, 1)) == NULL)
        return 0;
    if (size > 0)
        memcpy(copy, data, size);
    run(copy, size, 0, NULL);
    run(copy, size, 0, &tight);
    if (size > 0 && copy[0] == 131) {
        run(copy, size, 1, NULL);
        run(copy, size, 1, &tight);
    }
    free(copy);
    return 0;
}
