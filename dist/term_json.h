/* dist/term_json.h - the one conversion table between Erlang terms (external term format, as ei reads and writes it)
 * and JSON values (jansson). Remote triggers carry their data as terms; workflows see JSON.
 *
 *   term                                    JSON                  back to a term
 *   binary (valid UTF-8)                    string                binary
 *   map (binary, atom or integer keys)      object                map with binary keys
 *   proper list, [] (nil), charlist         array                 proper list ([] when empty)
 *   tuple                                   array                 (one way: a list)
 *   integer, bignum fitting int64           integer               integer
 *   float (finite)                          real                  float
 *   true / false                            true / false          true / false
 *   nil (Elixir's nil)                      null                  nil
 *   any other atom                          string                (one way: a binary)
 *
 * Refused with -AC_EINVAL and a message naming the type and its byte offset: pids, references, ports, funs (local and
 * external), improper lists, binaries that are not UTF-8, bitstrings, NaN and infinite floats, integers outside int64,
 * compressed terms, map keys of other types or containing NUL (jansson's parser refuses those keys, and code walking
 * an object sees keys as C strings), and maps whose keys collide once converted (#{a => 1, <<"a">> => 2}). NUL in a
 * string value is kept (jansson stores the length; use json_string_length, not strlen, on values from peers).
 *
 * Bignums: a JSON integer here is a signed 64-bit jansson json_int_t, so an integer beyond int64 is refused rather than
 * rounded to a real or turned into a decimal string: both would hand the workflow a value of another type or another
 * value than the peer sent, silently. Every integer a BEAM node sends within int64 (including the bignum encodings
 * SMALL_BIG_EXT / LARGE_BIG_EXT it uses above 2^27) converts exactly.
 *
 * Terms come from the network: the reader checks every length and count against the bytes that remain before it uses
 * it, and never calls an ei decoder on bytes it has not bounded first. jansson allocates with malloc and has no
 * bounded arena, so instead of an arena the limits below cap what a hostile term can make us allocate (about
 * max_elements * 100 bytes of jansson nodes plus max_string_bytes of strings); a failed allocation returns -AC_ENOMEM,
 * never aborts. */
#ifndef AC_DIST_TERM_JSON_H
#define AC_DIST_TERM_JSON_H

#include "policy/error.h"

#include <stddef.h>

#include <ei.h>
#include <jansson.h>

/* Defaults, and the hard cap on max_depth (the converter recurses once per level). */
#define AC_DIST_TERM_MAX_DEPTH        32
#define AC_DIST_TERM_MAX_ELEMENTS     100000
#define AC_DIST_TERM_MAX_STRING_BYTES (8u * 1024 * 1024)
#define AC_DIST_TERM_DEPTH_CAP        512

/* Bounds on one conversion. A zero field takes its default; max_depth above AC_DIST_TERM_DEPTH_CAP is capped. */
typedef struct ac_dist_term_limits {
    unsigned max_depth;      /* containers (lists, tuples, maps) nested in one another, the outermost included */
    size_t max_elements;     /* terms in total: every term counts one, map keys and charlist characters included */
    size_t max_string_bytes; /* bytes of all JSON strings made: binaries, atoms, converted map keys */
} ac_dist_term_limits_t;

/* Converts the one term at buf[*index] (no version byte: callers skip it) to JSON.
 *   buf, len  the encoded bytes; nothing at or after buf[len] is read, whatever the term claims
 *   index     IN: offset of the term; OUT: on success, the offset just after it; unchanged on failure
 *   lim       NULL for the defaults
 *   out       OUT: on success a new reference the caller owns (json_decref); NULL on failure
 *   err       may be NULL; on failure one sentence naming what was refused and its byte offset in buf
 * Returns 0; -AC_EINVAL for a malformed or truncated term or a refused type (see the table above); -AC_ETOOLONG when
 * a limit is exceeded; -AC_ENOMEM when jansson cannot allocate. */
int ac_dist_term_to_json(const char *buf, int len, int *index, const ac_dist_term_limits_t *lim, json_t **out,
                         ac_errmsg_t *err);

/* Appends the term for JSON value j to x (no version byte: callers who want one start x with ei_x_new_with_version).
 * Strings become binaries, objects maps with binary keys, arrays proper lists, null the atom nil (Elixir's nil).
 *   x    an initialised ei_x_buff; on failure its index is restored to what it was on entry
 *   err  may be NULL; on failure one sentence saying why
 * Returns 0; -AC_EINVAL for a value jansson should not hold (non-finite real, unknown type); -AC_ETOOLONG when
 * containers nest deeper than AC_DIST_TERM_MAX_DEPTH or a string or container exceeds the format's 32-bit sizes;
 * -AC_ENOMEM when ei cannot grow x. j itself is not modified. */
int ac_dist_json_to_term(const json_t *j, ei_x_buff *x, ac_errmsg_t *err);

#endif
