/* dist/frame.h - framing of the Erlang distribution stream on memory buffers, and the bounded reader and writer every
 * dist/ codec uses. No I/O here, so all of it is unit-tested and fuzzed on plain byte arrays.
 *
 * Spec: erts user's guide, "Distribution Protocol": sections "Distribution Handshake" (every handshake message starts
 * with a 16-bit big-endian length, not counting itself) and "Protocol between Connected Nodes" (after the handshake, a
 * 32-bit big-endian length; a length of 0 is a tick, the keep-alive).
 *
 *   handshake message                    connected message                        tick
 *   +--------+------------------+        +----------------+------------------+    +----------------+
 *   | len:16 | payload[len]     |        | len:32         | payload[len]     |    | 0:32           |
 *   +--------+------------------+        +----------------+------------------+    +----------------+
 *
 * Bounds: the frame size limit is the caller's. AC_DIST_FRAME_MAX_DEFAULT is 64 MiB: four times the largest message
 * seen in the reference runs (a 16 MiB binary argument arrived as one 16 777 359-byte message, since we advertise no
 * FRAGMENTS), small enough that one peer cannot make a connection buffer grow without limit. */
#ifndef AC_DIST_FRAME_H
#define AC_DIST_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define AC_DIST_FRAME_MAX_DEFAULT ((size_t)64 * 1024 * 1024)
#define AC_DIST_HS_HDR_LEN        2 /* handshake length prefix */
#define AC_DIST_FRAME_HDR_LEN     4 /* connected length prefix */

/* ---- bounded reader ---------------------------------------------------------------------------------------------- */

/* A cursor over `len` bytes the caller owns (they must outlive the cursor). */
typedef struct ac_dist_rd {
    const uint8_t *p;
    size_t len;
    size_t pos;
} ac_dist_rd_t;

/* Starts a cursor at the first of the `len` bytes at buf (buf may be NULL when len is 0). */
void ac_dist_rd_init(ac_dist_rd_t *rd, const void *buf, size_t len);
/* Bytes not yet read. */
size_t ac_dist_rd_left(const ac_dist_rd_t *rd);

/* Big-endian reads. Each returns 0 and advances, or -AC_EINVAL when fewer bytes remain than it needs; the cursor and
 * *v are then unchanged. */
int ac_dist_rd_u8(ac_dist_rd_t *rd, uint8_t *v);
int ac_dist_rd_u16(ac_dist_rd_t *rd, uint16_t *v);
int ac_dist_rd_u32(ac_dist_rd_t *rd, uint32_t *v);
int ac_dist_rd_u64(ac_dist_rd_t *rd, uint64_t *v);
/* Takes n bytes without copying. OUT: *out points into the cursor's buffer (valid as long as it is).
 * Returns 0, or -AC_EINVAL when fewer than n remain (cursor unchanged, *out untouched). */
int ac_dist_rd_bytes(ac_dist_rd_t *rd, size_t n, const uint8_t **out);
/* Copies n bytes into dst (capacity cap) and NUL-terminates it, for names. Both bounds are checked before copying:
 * -AC_EINVAL when fewer than n remain, -AC_ETOOLONG when n + 1 > cap; nothing is copied or consumed then. */
int ac_dist_rd_cstr(ac_dist_rd_t *rd, size_t n, char *dst, size_t cap);

/* ---- bounded writer ---------------------------------------------------------------------------------------------- */

/* Writes into `cap` bytes the caller owns. Errors are sticky: after the first failure every later write fails too
 * and `err` keeps the first code, so a message can be written in one run and checked once. */
typedef struct ac_dist_wr {
    uint8_t *p;
    size_t cap;
    size_t len; /* bytes written so far */
    int err;    /* 0, or the first failure (-AC_ETOOLONG) */
} ac_dist_wr_t;

void ac_dist_wr_init(ac_dist_wr_t *wr, void *buf, size_t cap);
/* Big-endian writes. Each returns 0, or -AC_ETOOLONG when the bytes do not fit (nothing is written then). */
int ac_dist_wr_u8(ac_dist_wr_t *wr, uint8_t v);
int ac_dist_wr_u16(ac_dist_wr_t *wr, uint16_t v);
int ac_dist_wr_u32(ac_dist_wr_t *wr, uint32_t v);
int ac_dist_wr_u64(ac_dist_wr_t *wr, uint64_t v);
int ac_dist_wr_bytes(ac_dist_wr_t *wr, const void *src, size_t n);

/* ---- frames ------------------------------------------------------------------------------------------------------ */

/* Extracts the first connected-mode frame (4-byte length) from the `len` bytes at buf.
 * max_frame: the largest payload accepted; 0 means AC_DIST_FRAME_MAX_DEFAULT.
 * Returns 1 with *consumed = header + payload bytes, *payload pointing into buf and *plen its length (a tick is a
 *   frame with *plen 0; *payload then points just past the header);
 * 0 when buf holds only part of a frame (read more; *consumed 0);
 * -AC_ETOOLONG as soon as the header announces more than max_frame (without waiting for the payload);
 * -AC_EINVAL for NULL out-pointers, or buf NULL with len > 0. Out-values are set only when it returns 1 (and
 * *consumed to 0 when it returns 0). */
int ac_dist_frame_next(const uint8_t *buf, size_t len, size_t max_frame, size_t *consumed, const uint8_t **payload,
                       size_t *plen);

/* The same for handshake messages (2-byte length). max_frame: 0 means 65535. A 0-length handshake message has no tag
 * and is refused with -AC_EINVAL (ticks exist only after the handshake). */
int ac_dist_hs_frame_next(const uint8_t *buf, size_t len, size_t max_frame, size_t *consumed, const uint8_t **payload,
                          size_t *plen);

/* Writes the 4-byte header for a payload of plen bytes (0: a tick). Returns 0, or -AC_ETOOLONG when plen does not fit
 * in 32 bits. */
int ac_dist_frame_header(uint8_t hdr[AC_DIST_FRAME_HDR_LEN], size_t plen);

#endif
