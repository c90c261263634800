/* policy/qrpng.h - a short text (the otpauth:// URI of totp.h) as a QR code PNG in memory, for the 2FA setup page.
 *
 * libqrencode builds the symbol (error correction level M, the smallest version that holds the text, 8-bit mode for
 * everything that is not digits or upper-case alphanumerics, case-sensitive); libpng writes it as an 8-bit grayscale
 * image with a quiet zone of 4 modules, black modules 0, white 255, each module `scale` x `scale` pixels. Pure: no
 * files, no global state. Thread-safe (Debian builds libqrencode with pthreads). */
#ifndef AC_POLICY_QRPNG_H
#define AC_POLICY_QRPNG_H

#include "policy/error.h"

#include <stddef.h>
#include <stdint.h>

#define AC_POLICY_QRPNG_TEXT_MAX      1024 /* bytes of text, without the NUL */
#define AC_POLICY_QRPNG_QUIET         4    /* modules of white border on each side (ISO/IEC 18004) */
#define AC_POLICY_QRPNG_SCALE_DEFAULT 8    /* pixels per module when scale is 0 */
#define AC_POLICY_QRPNG_SCALE_MAX     16

/* Renders `text` (NUL-terminated, 1..AC_POLICY_QRPNG_TEXT_MAX bytes) as a PNG of
 * (modules + 2 * AC_POLICY_QRPNG_QUIET) * scale pixels square. scale is 1..AC_POLICY_QRPNG_SCALE_MAX, or 0 for
 * AC_POLICY_QRPNG_SCALE_DEFAULT.
 * Returns 0 and OUT: *png (from ac_malloc(); caller frees) and *png_len. On failure *png is NULL, *png_len 0, and
 * err (may be NULL) says why: -AC_EINVAL for a NULL, empty or too long text, a bad scale or NULL outputs;
 * -AC_ENOMEM when libqrencode or libpng cannot allocate; -AC_EIO when libpng fails otherwise; -AC_ETOOLONG when the
 * text does not fit in a QR code (not possible within AC_POLICY_QRPNG_TEXT_MAX: version 40-M holds 2331 bytes). */
int ac_policy_qrpng_render(const char *text, int scale, uint8_t **png, size_t *png_len, ac_errmsg_t *err);

/* The number of modules on a side of the symbol render() draws for `text` (21 for version 1, up to 177), without the
 * quiet zone: what a caller needs to pick a scale for a given size. Returns the count (> 0), or the text's errors
 * as render() returns them. */
int ac_policy_qrpng_modules(const char *text, ac_errmsg_t *err);

#endif
