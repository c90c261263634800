/* dist/etf_check.h - a bounds-checked walk over one term in Erlang's external term format.
 *
 * ei's decoders trust the buffer: a length field claiming 2^31 elements makes them read or copy past its end. Every
 * term that arrives from a peer is therefore walked here first, within the frame's length, with bounded depth; only a
 * term that passes is handed to ei. Compressed terms (tag 80) and the atom cache (we never negotiate it) are refused. */
#ifndef AC_DIST_ETF_CHECK_H
#define AC_DIST_ETF_CHECK_H

#include "policy/error.h"

#include <stddef.h>

#define AC_DIST_ETF_MAX_DEPTH 64

/* Checks the term starting at buf[*index] (no version byte) and sets *index past it. Returns 0, or -AC_EINVAL with
 * err saying which tag at which offset is malformed or truncated. */
int ac_dist_etf_check(const char *buf, size_t len, size_t *index, ac_errmsg_t *err);

#endif
