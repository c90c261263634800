/* policy/qrpng.c - QR code PNGs of qrpng.h: libqrencode builds the module matrix, libpng writes it to memory.
 *
 * It exists so the 2FA setup page can show the otpauth:// URI as an image without a JavaScript QR library and
 * without sending the secret anywhere: the image is made here, in the node, from the URI that totp.c builds.
 *
 * libpng reports errors by longjmp. Everything that changes while libpng runs (the output buffer, the out-of-memory
 * flag, the error message) lives in a job_t in the caller's frame, not in locals of write_png(), the function that
 * calls setjmp; its own locals are set before setjmp and never after, so none is indeterminate after a longjmp
 * (C17 7.13.2.1). libpng's own allocations go through plain malloc, so running out of memory there is an error
 * value, -AC_ENOMEM; the output buffer (at most a few MiB, the text being bounded) grows with ac_realloc. */
#include "policy/qrpng.h"

#include "policy/alloc.h"

#include <errno.h>
#include <png.h>
#include <qrencode.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What libpng's callbacks touch while it writes (see the top of the file). */
typedef struct job {
    const QRcode *qr;
    int scale;
    uint32_t side; /* pixels on a side, quiet zone included */
    uint8_t *row;  /* one row of pixels, from ac_malloc */
    uint8_t *out;  /* the PNG so far, from ac_realloc */
    size_t len, cap;
    bool nomem;    /* a libpng allocation failed */
    char why[160]; /* libpng's last error message */
} job_t;

/* Encodes text into *qr (caller frees with QRcode_free). Checks the text first. */
static int encode(const char *text, QRcode **qr, ac_errmsg_t *err)
{
    *qr = NULL;
    if (text == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "no text to encode as a QR code");
    size_t len = strnlen(text, AC_POLICY_QRPNG_TEXT_MAX + 1);
    if (len == 0)
        return ac_errmsg_set(err, -AC_EINVAL, "the text to encode as a QR code is empty");
    if (len > AC_POLICY_QRPNG_TEXT_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "the text to encode as a QR code is longer than %d bytes",
                             AC_POLICY_QRPNG_TEXT_MAX);
    errno = 0;
    /* version 0: the smallest that holds the text; QR_MODE_8: no Kanji, other bytes as they are; 1: case-sensitive */
    *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (*qr != NULL)
        return 0;
    if (errno == ENOMEM)
        return ac_errmsg_set(err, -AC_ENOMEM, "the QR encoder ran out of memory");
    if (errno == ERANGE) /* more than a version 40 symbol holds; cannot happen below AC_POLICY_QRPNG_TEXT_MAX */
        return ac_errmsg_set(err, -AC_ETOOLONG, "the text does not fit in a QR code");
    return ac_errmsg_set(err, -AC_EINVAL, "the QR encoder refused the text (errno %d)", errno);
}

static void on_error(png_structp png, png_const_charp msg)
{
    job_t *j = png_get_error_ptr(png);
    snprintf(j->why, sizeof(j->why), "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png; /* policy/ writes nothing to stderr; a warning does not stop the image */
    (void)msg;
}

static png_voidp on_malloc(png_structp png, png_alloc_size_t n)
{
    void *p = malloc(n);
    if (p == NULL)
        ((job_t *)png_get_mem_ptr(png))->nomem = true;
    return p;
}

static void on_free(png_structp png, png_voidp p)
{
    (void)png;
    free(p);
}

static void on_write(png_structp png, png_bytep data, size_t n)
{
    job_t *j = png_get_io_ptr(png);
    if (n > j->cap - j->len) {
        size_t cap = j->cap != 0 ? j->cap : 4096;
        while (cap - j->len < n)
            cap *= 2;
        j->out = ac_realloc(j->out, cap);
        j->cap = cap;
    }
    memcpy(j->out + j->len, data, n);
    j->len += n;
}

static void on_flush(png_structp png)
{
    (void)png; /* memory: nothing to flush */
}

/* Writes the rows: quiet zone, then each module as scale x scale pixels. May longjmp out through on_error. */
static void write_rows(png_structp png, png_infop info, job_t *j)
{
    const int w = j->qr->width, n = w + 2 * AC_POLICY_QRPNG_QUIET;
    png_set_IHDR(png, info, j->side, j->side, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_set_write_fn(png, j, on_write, on_flush);
    png_write_info(png, info);
    for (int my = 0; my < n; my++) {
        int y = my - AC_POLICY_QRPNG_QUIET;
        for (int mx = 0; mx < n; mx++) {
            int x = mx - AC_POLICY_QRPNG_QUIET;
            /* libqrencode: bit 0 of each byte is the module's colour (1 dark); the other bits say what it is part of */
            bool dark = y >= 0 && y < w && x >= 0 && x < w && (j->qr->data[(size_t)y * (size_t)w + (size_t)x] & 1);
            memset(j->row + (size_t)mx * (size_t)j->scale, dark ? 0 : 255, (size_t)j->scale);
        }
        for (int k = 0; k < j->scale; k++)
            png_write_row(png, j->row);
    }
    png_write_end(png, info);
}

/* Writes j's symbol as a PNG into j->out. The only function here that calls setjmp; see the top of the file. */
static int write_png(job_t *j, ac_errmsg_t *err)
{
    png_structp png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, j, on_error, on_warning, j, on_malloc, on_free);
    png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        return ac_errmsg_set(err, -AC_ENOMEM, "libpng could not allocate its state");
    }
    if (setjmp(png_jmpbuf(png)) != 0) {
        png_destroy_write_struct(&png, &info);
        if (j->nomem)
            return ac_errmsg_set(err, -AC_ENOMEM, "libpng ran out of memory: %s", j->why);
        return ac_errmsg_set(err, -AC_EIO, "libpng could not write the QR code: %s", j->why);
    }
    write_rows(png, info, j);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int ac_policy_qrpng_render(const char *text, int scale, uint8_t **png, size_t *png_len, ac_errmsg_t *err)
{
    QRcode *qr = NULL;
    job_t job = {0};
    int rc;
    if (png == NULL || png_len == NULL)
        return ac_errmsg_set(err, -AC_EINVAL, "no place to put the QR code's PNG");
    *png = NULL;
    *png_len = 0;
    if (scale == 0)
        scale = AC_POLICY_QRPNG_SCALE_DEFAULT;
    if (scale < 1 || scale > AC_POLICY_QRPNG_SCALE_MAX)
        return ac_errmsg_set(err, -AC_EINVAL, "QR code scale %d is outside 1..%d pixels per module", scale,
                             AC_POLICY_QRPNG_SCALE_MAX);
    if ((rc = encode(text, &qr, err)) != 0)
        goto Exit;
    job.qr = qr;
    job.scale = scale;
    /* at most (177 + 8) * 16 = 2960 pixels */
    job.side = (uint32_t)(qr->width + 2 * AC_POLICY_QRPNG_QUIET) * (uint32_t)scale;
    job.row = ac_malloc(job.side);
    if ((rc = write_png(&job, err)) != 0)
        goto Exit;
    *png = job.out;
    *png_len = job.len;
    job.out = NULL;
Exit:
    free(job.out);
    free(job.row);
    if (qr != NULL)
        QRcode_free(qr);
    return rc;
}

int ac_policy_qrpng_modules(const char *text, ac_errmsg_t *err)
{
    QRcode *qr;
    int rc = encode(text, &qr, err);
    if (rc != 0)
        return rc;
    rc = qr->width;
    QRcode_free(qr);
    return rc;
}
