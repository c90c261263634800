/* tests/unit/policy/test_qrpng.c - QR code PNGs: every PNG is decoded again with libpng's read API from memory and
 * checked pixel by pixel against libqrencode's own matrix for the same text and parameters (level M, 8-bit hint,
 * case-sensitive), at scales 1, 8 (the default) and 16; the quiet zone; the three finder patterns and the format
 * information (level M, a valid BCH code) read from the pixels alone; refusals of bad text, scale and outputs. */
#include "policy/error.h"
#include "policy/qrpng.h"

#include <png.h>
#include <qrencode.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define URI "otpauth://totp/AlexClaw:admin?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=AlexClaw"
#define Q   AC_POLICY_QRPNG_QUIET

/* A decoded PNG. The reader state lives here, outside decode(), the function that calls setjmp. */
typedef struct image {
    const uint8_t *data;
    size_t len, off;
    uint32_t w, h;
    int depth, color, interlace;
    uint8_t *px; /* w * h gray bytes, from malloc */
} image_t;

static void read_mem(png_structp png, png_bytep out, size_t n)
{
    image_t *im = png_get_io_ptr(png);
    if (n > im->len - im->off)
        png_error(png, "read past the end of the PNG");
    memcpy(out, im->data + im->off, n);
    im->off += n;
}

/* Decodes im->data with libpng's sequential reader. Returns 0, or -1 when libpng fails or the image is not 8-bit
 * grayscale without interlacing (im->w, im->h, im->depth, ... are still filled then). */
static int decode(image_t *im)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (png == NULL || info == NULL) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png)) != 0) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_set_read_fn(png, im, read_mem);
    png_read_info(png, info);
    im->w = png_get_image_width(png, info);
    im->h = png_get_image_height(png, info);
    im->depth = png_get_bit_depth(png, info);
    im->color = png_get_color_type(png, info);
    im->interlace = png_get_interlace_type(png, info);
    if (im->depth != 8 || im->color != PNG_COLOR_TYPE_GRAY || im->interlace != PNG_INTERLACE_NONE || im->w == 0 ||
        im->w > 4096 || im->h == 0 || im->h > 4096)
        png_error(png, "unexpected image format");
    im->px = malloc((size_t)im->w * im->h);
    if (im->px == NULL)
        png_error(png, "out of memory");
    for (uint32_t y = 0; y < im->h; y++)
        png_read_row(png, im->px + (size_t)y * im->w, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

/* Renders text at scale, decodes it and checks the signature and IHDR. OUT: *im (free im->px). Returns modules. */
static int render_and_decode(const char *text, int scale, image_t *im)
{
    uint8_t *png = NULL;
    size_t len = 0;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_policy_qrpng_render(text, scale, &png, &len, &err), 0);
    assert_string_equal(err.msg, "");
    assert_non_null(png);
    assert_true(len > 8);
    assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
    assert_int_equal(png_sig_cmp(png, 0, 8), 0);
    memset(im, 0, sizeof(*im));
    im->data = png;
    im->len = len;
    int rc = decode(im);
    free(png);
    im->data = NULL;
    assert_int_equal(rc, 0);
    assert_int_equal(im->depth, 8);
    assert_int_equal(im->color, PNG_COLOR_TYPE_GRAY);
    int modules = ac_policy_qrpng_modules(text, NULL);
    assert_true(modules >= 21 && modules <= 177 && (modules - 17) % 4 == 0);
    int s = scale == 0 ? AC_POLICY_QRPNG_SCALE_DEFAULT : scale;
    assert_int_equal(im->w, (uint32_t)((modules + 2 * Q) * s));
    assert_int_equal(im->h, im->w);
    return modules;
}

/* The gray value of module (mx, my) of the symbol (quiet zone excluded; may be negative to reach into it), read at
 * every pixel of its block: all of them must agree and be 0 or 255. Returns true for dark. */
static bool module_dark(const image_t *im, int scale, int mx, int my)
{
    size_t x0 = (size_t)(mx + Q) * (size_t)scale, y0 = (size_t)(my + Q) * (size_t)scale;
    uint8_t v = im->px[y0 * im->w + x0];
    assert_true(v == 0 || v == 255);
    for (size_t y = y0; y < y0 + (size_t)scale; y++)
        for (size_t x = x0; x < x0 + (size_t)scale; x++)
            if (im->px[y * im->w + x] != v)
                fail_msg("module (%d, %d): pixel (%zu, %zu) is %u, not %u", mx, my, x, y, im->px[y * im->w + x], v);
    return v == 0;
}

/* Every pixel against libqrencode's own matrix for the same text: the quiet zone white, each module a block. */
static void assert_pixels_match_libqrencode(const char *text, int scale)
{
    image_t im;
    int modules = render_and_decode(text, scale, &im);
    int s = scale == 0 ? AC_POLICY_QRPNG_SCALE_DEFAULT : scale;
    QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(qr);
    assert_int_equal(qr->width, modules);
    int n = modules + 2 * Q;
    for (size_t y = 0; y < (size_t)n * (size_t)s; y++) {
        for (size_t x = 0; x < (size_t)n * (size_t)s; x++) {
            int mx = (int)(x / (size_t)s) - Q, my = (int)(y / (size_t)s) - Q;
            bool dark = mx >= 0 && mx < modules && my >= 0 && my < modules && (qr->data[my * modules + mx] & 1);
            uint8_t got = im.px[y * im.w + x];
            if (got != (dark ? 0 : 255))
                fail_msg("scale %d: pixel (%zu, %zu) of module (%d, %d) is %u", s, x, y, mx, my, got);
        }
    }
    QRcode_free(qr);
    free(im.px);
}

/* The 7x7 finder pattern with its top-left module at (x, y), and its white separator where it lies inside. */
static void assert_finder_at(const image_t *im, int scale, int modules, int x, int y)
{
    for (int dy = -1; dy <= 7; dy++) {
        for (int dx = -1; dx <= 7; dx++) {
            int mx = x + dx, my = y + dy;
            if (mx < 0 || my < 0 || mx >= modules || my >= modules)
                continue; /* the separator of a corner pattern is the quiet zone there, checked elsewhere */
            bool ring = dx == 0 || dx == 6 || dy == 0 || dy == 6, core = dx >= 2 && dx <= 4 && dy >= 2 && dy <= 4;
            bool inside = dx >= 0 && dx <= 6 && dy >= 0 && dy <= 6;
            bool want = inside && (ring || core);
            if (module_dark(im, scale, mx, my) != want)
                fail_msg("finder at (%d, %d): module (%d, %d) should be %s", x, y, mx, my, want ? "dark" : "light");
        }
    }
}

static void renders_libqrencodes_matrix_at_the_default_scale(void **state)
{
    (void)state;
    assert_pixels_match_libqrencode(URI, 0);
    assert_pixels_match_libqrencode(URI, AC_POLICY_QRPNG_SCALE_DEFAULT);
}

static void renders_at_scale_1_and_16(void **state)
{
    (void)state;
    char big[AC_POLICY_QRPNG_TEXT_MAX + 1];
    for (size_t i = 0; i < AC_POLICY_QRPNG_TEXT_MAX; i++)
        big[i] = (char)('!' + i % 90); /* printable, mixed case: 8-bit mode, a large version */
    big[AC_POLICY_QRPNG_TEXT_MAX] = '\0';
    const char *texts[] = {"A", URI, big};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        assert_pixels_match_libqrencode(texts[i], 1);
        assert_pixels_match_libqrencode(texts[i], AC_POLICY_QRPNG_SCALE_MAX);
    }
    assert_int_equal(ac_policy_qrpng_modules("A", NULL), 21); /* version 1 */
    assert_true(ac_policy_qrpng_modules(big, NULL) > 100);
}

static void the_quiet_zone_is_four_white_modules(void **state)
{
    (void)state;
    image_t im;
    int scale = 3, modules = render_and_decode(URI, scale, &im);
    for (int i = -Q; i < modules + Q; i++) {
        for (int d = 1; d <= Q; d++) {
            assert_false(module_dark(&im, scale, i, -d));              /* above */
            assert_false(module_dark(&im, scale, i, modules - 1 + d)); /* below */
            assert_false(module_dark(&im, scale, -d, i));              /* left */
            assert_false(module_dark(&im, scale, modules - 1 + d, i)); /* right */
        }
    }
    /* and the symbol starts right after it: the top-left finder's corner is dark */
    assert_true(module_dark(&im, scale, 0, 0));
    free(im.px);
}

static void finder_patterns_sit_at_three_corners(void **state)
{
    (void)state;
    const int scales[] = {1, 5, 16};
    for (size_t i = 0; i < sizeof(scales) / sizeof(scales[0]); i++) {
        image_t im;
        int modules = render_and_decode(URI, scales[i], &im);
        assert_finder_at(&im, scales[i], modules, 0, 0);
        assert_finder_at(&im, scales[i], modules, modules - 7, 0);
        assert_finder_at(&im, scales[i], modules, 0, modules - 7);
        /* the bottom-right corner holds data and an alignment pattern, never a fourth finder: its 7x7 ring is
         * not all dark */
        bool ring = true;
        for (int d = 0; d < 7; d++)
            ring = ring && module_dark(&im, scales[i], modules - 7 + d, modules - 7) &&
                   module_dark(&im, scales[i], modules - 7, modules - 7 + d);
        assert_false(ring);
        free(im.px);
    }
}

/* The 15-bit BCH code of 5 format bits (ISO/IEC 18004 annex C), before the mask. */
static unsigned format_bch(unsigned data5)
{
    unsigned v = data5 << 10;
    for (int i = 14; i >= 10; i--)
        if (v & (1u << i))
            v ^= 0x537u << (i - 10);
    return (data5 << 10) | v;
}

static void the_format_information_says_level_m(void **state)
{
    (void)state;
    const char *texts[] = {"A", URI, "https://example.com/a/much/longer/path?with=query&and=more"};
    for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
        image_t im;
        int scale = 2;
        render_and_decode(texts[t], scale, &im);
        /* the copy beside the top-left finder, as (x, y): bits 0-5 down column 8 (row 6 is the timing pattern),
         * bits 6-8 at (8, 7), (8, 8), (7, 8), bits 9-14 leftwards along row 8 from column 5 */
        static const int pos[15][2] = {{8, 0}, {8, 1}, {8, 2}, {8, 3}, {8, 4}, {8, 5}, {8, 7}, {8, 8},
                                       {7, 8}, {5, 8}, {4, 8}, {3, 8}, {2, 8}, {1, 8}, {0, 8}};
        unsigned format = 0;
        for (int b = 0; b < 15; b++)
            if (module_dark(&im, scale, pos[b][0], pos[b][1]))
                format |= 1u << b;
        format ^= 0x5412u;                                  /* the fixed mask of the format information */
        assert_int_equal(format, format_bch(format >> 10)); /* a valid code word, so we read the right modules */
        assert_int_equal(format >> 13, 0);                  /* error correction level M is 00 */
        free(im.px);
    }
}

static void output_is_deterministic_and_case_sensitive(void **state)
{
    (void)state;
    uint8_t *a = NULL, *b = NULL, *c = NULL;
    size_t alen = 0, blen = 0, clen = 0;
    assert_int_equal(ac_policy_qrpng_render("otpauth://totp/x", 4, &a, &alen, NULL), 0);
    assert_int_equal(ac_policy_qrpng_render("otpauth://totp/x", 4, &b, &blen, NULL), 0);
    assert_int_equal(ac_policy_qrpng_render("OTPAUTH://TOTP/X", 4, &c, &clen, NULL), 0);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    assert_true(alen != clen || memcmp(a, c, alen) != 0);
    free(a);
    free(b);
    free(c);
}

static void expect_refusal(const char *text, int scale, int code)
{
    uint8_t *png = (uint8_t *)"sentinel";
    size_t len = 12345;
    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_policy_qrpng_render(text, scale, &png, &len, &err), code);
    assert_null(png);
    assert_int_equal(len, 0);
    assert_true(strlen(err.msg) > 0);
}

static void refuses_bad_text_scale_and_outputs(void **state)
{
    (void)state;
    char too_long[AC_POLICY_QRPNG_TEXT_MAX + 2];
    memset(too_long, 'a', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    expect_refusal(NULL, 0, -AC_EINVAL);
    expect_refusal("", 0, -AC_EINVAL);
    expect_refusal(too_long, 0, -AC_EINVAL);
    expect_refusal(URI, -1, -AC_EINVAL);
    expect_refusal(URI, AC_POLICY_QRPNG_SCALE_MAX + 1, -AC_EINVAL);
    expect_refusal(URI, 1000000, -AC_EINVAL);
    expect_refusal(URI, -2147483647 - 1, -AC_EINVAL);

    ac_errmsg_t err = {{0}};
    assert_int_equal(ac_policy_qrpng_modules(NULL, &err), -AC_EINVAL);
    assert_int_equal(ac_policy_qrpng_modules("", NULL), -AC_EINVAL);
    assert_int_equal(ac_policy_qrpng_modules(too_long, NULL), -AC_EINVAL);

    uint8_t *png = NULL;
    size_t len = 0;
    assert_int_equal(ac_policy_qrpng_render(URI, 0, NULL, &len, NULL), -AC_EINVAL);
    assert_int_equal(ac_policy_qrpng_render(URI, 0, &png, NULL, NULL), -AC_EINVAL);

    /* the limit itself is accepted */
    too_long[AC_POLICY_QRPNG_TEXT_MAX] = '\0';
    assert_int_equal(ac_policy_qrpng_render(too_long, 1, &png, &len, NULL), 0);
    assert_non_null(png);
    free(png);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(renders_libqrencodes_matrix_at_the_default_scale),
        cmocka_unit_test(renders_at_scale_1_and_16),
        cmocka_unit_test(the_quiet_zone_is_four_white_modules),
        cmocka_unit_test(finder_patterns_sit_at_three_corners),
        cmocka_unit_test(the_format_information_says_level_m),
        cmocka_unit_test(output_is_deterministic_and_case_sensitive),
        cmocka_unit_test(refuses_bad_text_scale_and_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
