/* dist/frame.c - length-prefixed framing of the distribution stream and the bounded reader/writer (see frame.h).
 *
 * Everything here works on memory the caller owns and never allocates: the event loop feeds whatever bytes arrived
 * and learns whether a whole frame is there; codecs read fields through a cursor that refuses to run past its end
 * instead of doing offset arithmetic by hand. */
#include "dist/frame.h"

#include "policy/error.h"

#include <string.h>

#define HS_MAX_DEFAULT 65535u

/* ---- reader ------------------------------------------------------------------------------------------------------ */

void ac_dist_rd_init(ac_dist_rd_t *rd, const void *buf, size_t len)
{
    rd->p = buf;
    rd->len = buf != NULL ? len : 0;
    rd->pos = 0;
}

size_t ac_dist_rd_left(const ac_dist_rd_t *rd)
{
    return rd->len - rd->pos;
}

/* Reads an n-byte (n <= 8) big-endian unsigned number. */
static int rd_be(ac_dist_rd_t *rd, size_t n, uint64_t *v)
{
    uint64_t x = 0;

    if (ac_dist_rd_left(rd) < n)
        return -AC_EINVAL;
    for (size_t i = 0; i < n; i++)
        x = (x << 8) | rd->p[rd->pos + i];
    rd->pos += n;
    *v = x;
    return 0;
}

int ac_dist_rd_u8(ac_dist_rd_t *rd, uint8_t *v)
{
    uint64_t x;
    int rc = rd_be(rd, 1, &x);
    if (rc == 0)
        *v = (uint8_t)x;
    return rc;
}

int ac_dist_rd_u16(ac_dist_rd_t *rd, uint16_t *v)
{
    uint64_t x;
    int rc = rd_be(rd, 2, &x);
    if (rc == 0)
        *v = (uint16_t)x;
    return rc;
}

int ac_dist_rd_u32(ac_dist_rd_t *rd, uint32_t *v)
{
    uint64_t x;
    int rc = rd_be(rd, 4, &x);
    if (rc == 0)
        *v = (uint32_t)x;
    return rc;
}

int ac_dist_rd_u64(ac_dist_rd_t *rd, uint64_t *v)
{
    return rd_be(rd, 8, v);
}

int ac_dist_rd_bytes(ac_dist_rd_t *rd, size_t n, const uint8_t **out)
{
    if (ac_dist_rd_left(rd) < n)
        return -AC_EINVAL;
    *out = rd->p + rd->pos;
    rd->pos += n;
    return 0;
}

int ac_dist_rd_cstr(ac_dist_rd_t *rd, size_t n, char *dst, size_t cap)
{
    if (ac_dist_rd_left(rd) < n)
        return -AC_EINVAL;
    if (cap == 0 || n > cap - 1)
        return -AC_ETOOLONG;
    if (n > 0)
        memcpy(dst, rd->p + rd->pos, n);
    dst[n] = '\0';
    rd->pos += n;
    return 0;
}

/* ---- writer ------------------------------------------------------------------------------------------------------ */

void ac_dist_wr_init(ac_dist_wr_t *wr, void *buf, size_t cap)
{
    wr->p = buf;
    wr->cap = buf != NULL ? cap : 0;
    wr->len = 0;
    wr->err = 0;
}

/* Reserves n bytes; returns where they go, or NULL (and records the failure) when they do not fit. */
static uint8_t *wr_reserve(ac_dist_wr_t *wr, size_t n)
{
    uint8_t *at;

    if (wr->err != 0)
        return NULL;
    if (wr->cap - wr->len < n) {
        wr->err = -AC_ETOOLONG;
        return NULL;
    }
    at = wr->p + wr->len;
    wr->len += n;
    return at;
}

static int wr_be(ac_dist_wr_t *wr, size_t n, uint64_t v)
{
    uint8_t *at = wr_reserve(wr, n);

    if (at == NULL)
        return wr->err;
    for (size_t i = 0; i < n; i++)
        at[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return 0;
}

int ac_dist_wr_u8(ac_dist_wr_t *wr, uint8_t v)
{
    return wr_be(wr, 1, v);
}

int ac_dist_wr_u16(ac_dist_wr_t *wr, uint16_t v)
{
    return wr_be(wr, 2, v);
}

int ac_dist_wr_u32(ac_dist_wr_t *wr, uint32_t v)
{
    return wr_be(wr, 4, v);
}

int ac_dist_wr_u64(ac_dist_wr_t *wr, uint64_t v)
{
    return wr_be(wr, 8, v);
}

int ac_dist_wr_bytes(ac_dist_wr_t *wr, const void *src, size_t n)
{
    uint8_t *at = wr_reserve(wr, n);

    if (at == NULL)
        return wr->err;
    if (n > 0)
        memcpy(at, src, n);
    return 0;
}

/* ---- frames ------------------------------------------------------------------------------------------------------ */

/* The shared extractor: hdr is 2 or 4 bytes; empty_ok says whether a 0-length frame (a tick) is legal. */
static int frame_next(size_t hdr, int empty_ok, const uint8_t *buf, size_t len, size_t max_frame, size_t *consumed,
                      const uint8_t **payload, size_t *plen)
{
    ac_dist_rd_t rd;
    uint64_t n;

    if (consumed == NULL || payload == NULL || plen == NULL || (buf == NULL && len > 0))
        return -AC_EINVAL;
    *consumed = 0;
    ac_dist_rd_init(&rd, buf, len);
    if (rd_be(&rd, hdr, &n) != 0)
        return 0;
    if (n > max_frame)
        return -AC_ETOOLONG;
    if (n == 0 && !empty_ok)
        return -AC_EINVAL;
    if (ac_dist_rd_left(&rd) < n)
        return 0;
    *payload = buf + hdr;
    *plen = (size_t)n;
    *consumed = hdr + (size_t)n;
    return 1;
}

int ac_dist_frame_next(const uint8_t *buf, size_t len, size_t max_frame, size_t *consumed, const uint8_t **payload,
                       size_t *plen)
{
    return frame_next(AC_DIST_FRAME_HDR_LEN, 1, buf, len, max_frame != 0 ? max_frame : AC_DIST_FRAME_MAX_DEFAULT,
                      consumed, payload, plen);
}

int ac_dist_hs_frame_next(const uint8_t *buf, size_t len, size_t max_frame, size_t *consumed, const uint8_t **payload,
                          size_t *plen)
{
    return frame_next(AC_DIST_HS_HDR_LEN, 0, buf, len, max_frame != 0 ? max_frame : HS_MAX_DEFAULT, consumed, payload,
                      plen);
}

int ac_dist_frame_header(uint8_t hdr[AC_DIST_FRAME_HDR_LEN], size_t plen)
{
    ac_dist_wr_t wr;

    if ((uint64_t)plen > UINT32_MAX)
        return -AC_ETOOLONG;
    ac_dist_wr_init(&wr, hdr, AC_DIST_FRAME_HDR_LEN);
    return ac_dist_wr_u32(&wr, (uint32_t)plen);
}
