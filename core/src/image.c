/* image.c — decoding (stb_image), EXIF orientation, alpha, and Pillow-exact resizing.
 * Every size is checked before memory is allocated for it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image.h>

#include "internal.h"

/* CAPT_OK when a width x height image is within the limits, else an error that names the
 * limit it breaks (a side, or the pixel count: a 20000x20000 image has sides within the
 * limit but 400 Mpixel). */
static capt_status check_size(uint64_t width, uint64_t height, capt_error *err) {
    if (width < 1 || height < 1)
        return capt_fail(err, CAPT_E_IMAGE, "image size %llux%llu is empty", (unsigned long long)width,
                         (unsigned long long)height);
    if (width > CAPT_IMAGE_MAX_SIDE || height > CAPT_IMAGE_MAX_SIDE)
        return capt_fail(err, CAPT_E_IMAGE, "image size %llux%llu: a side of %llu pixels is above the limit of %d",
                         (unsigned long long)width, (unsigned long long)height,
                         (unsigned long long)(width > height ? width : height), CAPT_IMAGE_MAX_SIDE);
    if (width * height > CAPT_IMAGE_MAX_PIXELS)
        return capt_fail(err, CAPT_E_IMAGE, "image size %llux%llu: %.1f Mpixel is above the limit of %u Mpixel",
                         (unsigned long long)width, (unsigned long long)height, (double)(width * height) / (1 << 20),
                         CAPT_IMAGE_MAX_PIXELS >> 20);
    return CAPT_OK;
}

static capt_status new_image(int width, int height, capt_image **out, capt_error *err) {
    *out = NULL;
    capt_status st = check_size(width < 0 ? 0 : (uint64_t)width, height < 0 ? 0 : (uint64_t)height, err);
    if (st) return st;
    capt_image *img = malloc(sizeof *img);
    uint8_t *rgb = malloc((size_t)width * (size_t)height * 3);
    if (!img || !rgb) {
        free(img);
        free(rgb);
        return capt_fail(err, CAPT_E_NOMEM, "out of memory for a %dx%d image", width, height);
    }
    *img = (capt_image){width, height, rgb};
    *out = img;
    return CAPT_OK;
}

void capt_image_free(capt_image *image) {
    if (!image) return;
    free(image->rgb);
    free(image);
}

/* c over white with coverage a, rounded: (c*a + 255*(255-a)) / 255. */
static uint8_t over_white(uint8_t c, uint8_t a) { return (uint8_t)((c * a + 255 * (255 - a) + 127) / 255); }

/* ---- EXIF orientation ---------------------------------------------------------------- */

/* The Orientation tag (1..8) of a JPEG's Exif APP1 segment; 1 when absent or malformed. */
static int jpeg_orientation(const unsigned char *p, size_t n) {
    if (n < 4 || p[0] != 0xFF || p[1] != 0xD8) return 1;
    size_t pos = 2;
    while (pos + 4 <= n && p[pos] == 0xFF) {
        unsigned marker = p[pos + 1];
        if (marker == 0xDA || marker == 0xD9) break; /* start of scan / end: no Exif before it */
        size_t seg = (size_t)p[pos + 2] << 8 | p[pos + 3];
        if (seg < 2 || seg > n - pos - 2) break;
        const unsigned char *s = p + pos + 4;
        size_t len = seg - 2;
        if (marker == 0xE1 && len >= 14 && memcmp(s, "Exif\0\0", 6) == 0) {
            const unsigned char *t = s + 6; /* TIFF header */
            size_t tlen = len - 6;
            int le = t[0] == 'I' && t[1] == 'I';
            if (!le && !(t[0] == 'M' && t[1] == 'M')) return 1;
#define U16(q) (le ? (unsigned)((q)[0] | (q)[1] << 8) : (unsigned)((q)[0] << 8 | (q)[1]))
#define U32(q) (le ? ((uint32_t)(q)[0] | (uint32_t)(q)[1] << 8 | (uint32_t)(q)[2] << 16 | (uint32_t)(q)[3] << 24) \
                   : ((uint32_t)(q)[0] << 24 | (uint32_t)(q)[1] << 16 | (uint32_t)(q)[2] << 8 | (uint32_t)(q)[3]))
            uint32_t ifd = U32(t + 4);
            if (U16(t + 2) != 42 || ifd > tlen - 2) return 1;
            unsigned count = U16(t + ifd);
            for (unsigned i = 0; i < count; i++) {
                size_t e = ifd + 2 + 12 * (size_t)i;
                if (e + 12 > tlen) return 1;
                if (U16(t + e) == 0x0112 && U16(t + e + 2) == 3) { /* Orientation, SHORT */
                    unsigned v = U16(t + e + 8);
                    return v >= 1 && v <= 8 ? (int)v : 1;
                }
            }
#undef U16
#undef U32
            return 1;
        }
        pos += 2 + seg;
    }
    return 1;
}

/* Rotates/flips so that EXIF orientation `o` becomes 1 (as PIL's exif_transpose). */
static capt_status apply_orientation(capt_image **img, int o, capt_error *err) {
    if (o == 1) return CAPT_OK;
    const capt_image *in = *img;
    int W = in->width, H = in->height, swap = o >= 5;
    capt_image *out;
    capt_status st = new_image(swap ? H : W, swap ? W : H, &out, err);
    if (st) return st;
    for (int y = 0; y < out->height; y++) {
        for (int x = 0; x < out->width; x++) {
            int sx = x, sy = y;
            switch (o) {
            case 2: sx = W - 1 - x; break;
            case 3: sx = W - 1 - x; sy = H - 1 - y; break;
            case 4: sy = H - 1 - y; break;
            case 5: sx = y; sy = x; break;                 /* transpose */
            case 6: sx = y; sy = H - 1 - x; break;         /* rotate 90 clockwise */
            case 7: sx = W - 1 - y; sy = H - 1 - x; break; /* transverse */
            case 8: sx = W - 1 - y; sy = x; break;         /* rotate 90 counter-clockwise */
            }
            memcpy(out->rgb + ((size_t)y * out->width + x) * 3, in->rgb + ((size_t)sy * W + sx) * 3, 3);
        }
    }
    capt_image_free(*img);
    *img = out;
    return CAPT_OK;
}

/* ---- decoding ---------------------------------------------------------------------- */

/* Width and height from a PNG, GIF, BMP or JPEG header (0 when not found), to say why
 * stb_image refused an image whose size it would not even report. */
static void header_size(const unsigned char *p, size_t n, uint32_t *w, uint32_t *h) {
    *w = *h = 0;
    if (n >= 24 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) {
        *w = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19];
        *h = (uint32_t)p[20] << 24 | (uint32_t)p[21] << 16 | (uint32_t)p[22] << 8 | p[23];
    } else if (n >= 10 && memcmp(p, "GIF8", 4) == 0) {
        *w = capt_read_u16le(p + 6);
        *h = capt_read_u16le(p + 8);
    } else if (n >= 26 && p[0] == 'B' && p[1] == 'M') {
        int32_t bw = (int32_t)capt_read_u32le(p + 18), bh = (int32_t)capt_read_u32le(p + 22);
        *w = bw < 0 ? 0u - (uint32_t)bw : (uint32_t)bw;
        *h = bh < 0 ? 0u - (uint32_t)bh : (uint32_t)bh;
    } else if (n >= 4 && p[0] == 0xFF && p[1] == 0xD8) {
        for (size_t pos = 2; pos + 9 <= n && p[pos] == 0xFF;) {
            unsigned m = p[pos + 1];
            if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
                *h = (uint32_t)p[pos + 5] << 8 | p[pos + 6];
                *w = (uint32_t)p[pos + 7] << 8 | p[pos + 8];
                return;
            }
            pos += 2 + ((size_t)p[pos + 2] << 8 | p[pos + 3]);
        }
    }
}

/* stb_image decodes a truncated JPEG without complaint (the missing part comes out
 * gray), so a JPEG must end its last scan with an EOI marker. */
static int jpeg_has_end(const unsigned char *p, size_t n) {
    size_t last_sos = 0;
    for (size_t i = 2; i + 1 < n; i++)
        if (p[i] == 0xFF && p[i + 1] == 0xDA) last_sos = i;
    for (size_t i = n - 1; i > last_sos && i >= 1; i--)
        if (p[i - 1] == 0xFF && p[i] == 0xD9) return last_sos != 0;
    return 0;
}

/* Why stb_image cannot read a file that starts like a JPEG: the frame header (SOF) says
 * a sample precision or a coding it does not decode. NULL when nothing such is found. */
static const char *jpeg_unsupported(const unsigned char *p, size_t len, char *why, size_t why_size) {
    size_t at = 2;
    while (at + 4 <= len && p[at] == 0xFF) {
        unsigned marker = p[at + 1], seg = (unsigned)p[at + 2] << 8 | p[at + 3];
        int sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (sof && at + 5 <= len) {
            if (marker == 0xC3 || marker == 0xC7 || marker == 0xCB || marker == 0xCF)
                snprintf(why, why_size, "a lossless JPEG, which is not supported");
            else if (marker >= 0xC9)
                snprintf(why, why_size, "an arithmetic-coded JPEG, which is not supported");
            else if (p[at + 4] != 8)
                snprintf(why, why_size, "a %u-bit JPEG; only 8-bit JPEGs are supported", p[at + 4]);
            else
                return NULL;
            return why;
        }
        if (marker == 0xDA || seg < 2) return NULL; /* the scan starts: no frame header seen */
        at += 2 + seg;
    }
    return NULL;
}

capt_status capt_image_decode(const void *bytes, size_t len, capt_image **out, capt_error *err) {
    if (!out || (!bytes && len)) return capt_fail(err, CAPT_E_ARG, "image: NULL argument");
    *out = NULL;
    if (len == 0) return capt_fail(err, CAPT_E_IMAGE, "image: no data (0 bytes)");
    if (len > INT32_MAX) return capt_fail(err, CAPT_E_IMAGE, "image: %zu bytes is more than 2 GB", len);
    const unsigned char *p = bytes;
    int w, h, channels;
    if (!stbi_info_from_memory(p, (int)len, &w, &h, &channels)) {
        uint32_t hw, hh;
        header_size(p, len, &hw, &hh);
        if (hw && hh && check_size(hw, hh, err)) return CAPT_E_IMAGE;
        char why[96];
        if (len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF && jpeg_unsupported(p, len, why, sizeof why))
            return capt_fail(err, CAPT_E_IMAGE, "image: %s", why);
        return capt_fail(err, CAPT_E_IMAGE, "not a JPEG, PNG, BMP or GIF image (%s)", stbi_failure_reason());
    }
    capt_image *img;
    capt_status st = new_image(w, h, &img, err); /* checks the size before decoding */
    if (st) return st;
    int is_jpeg = len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF;
    if (is_jpeg && !jpeg_has_end(p, len)) {
        capt_image_free(img);
        return capt_fail(err, CAPT_E_IMAGE, "truncated JPEG: no end-of-image marker after the last scan");
    }
    unsigned char *rgba = stbi_load_from_memory(p, (int)len, &w, &h, &channels, 4);
    if (!rgba || w != img->width || h != img->height) {
        stbi_image_free(rgba);
        capt_image_free(img);
        return capt_fail(err, CAPT_E_IMAGE, "cannot decode image: %s", stbi_failure_reason());
    }
    for (size_t i = 0, n = (size_t)w * h; i < n; i++) {
        const unsigned char *s = rgba + 4 * i;
        for (int c = 0; c < 3; c++) img->rgb[3 * i + c] = over_white(s[c], s[3]);
    }
    stbi_image_free(rgba);
    if (is_jpeg) st = apply_orientation(&img, jpeg_orientation(p, len), err);
    if (st) {
        capt_image_free(img);
        return st;
    }
    *out = img;
    return CAPT_OK;
}

capt_status capt_image_from_rgba(const uint8_t *rgba, int width, int height, int stride, capt_image **out,
                                 capt_error *err) {
    if (!out || !rgba) return capt_fail(err, CAPT_E_ARG, "image: NULL argument");
    *out = NULL;
    if (width < 1 || stride / 4 < width)
        return capt_fail(err, CAPT_E_ARG, "image: stride %d is less than 4 x width %d", stride, width);
    capt_image *img;
    capt_status st = new_image(width, height, &img, err);
    if (st) return st;
    for (int y = 0; y < height; y++) {
        const uint8_t *row = rgba + (size_t)y * (size_t)stride;
        uint8_t *dst = img->rgb + (size_t)y * width * 3;
        for (int x = 0; x < width; x++)
            for (int c = 0; c < 3; c++) dst[3 * x + c] = over_white(row[4 * x + c], row[4 * x + 3]);
    }
    *out = img;
    return CAPT_OK;
}

/* ---- resizing (Pillow's ImagingResample, 8 bits per channel) ------------------------------ */

#define PRECISION_BITS (32 - 8 - 2)

typedef struct taps {
    int ksize;
    int *bounds; /* [out][2]: first input index, count */
    int *k;      /* [out][ksize] fixed-point weights */
} taps;

static double triangle(double x) {
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Keys' cubic with a = -0.5, as Pillow's BICUBIC. */
static double cubic(double x) {
    const double a = -0.5;
    x = fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

/* Taps of a resize of in_size samples to out_size (Pillow's filter support, widened when
 * downscaling), for the outputs [first, first + n) only. */
int capt_resample_ksize(int in_size, int out_size, capt_resample filter) {
    double scale = (double)in_size / out_size, filter_scale = scale < 1.0 ? 1.0 : scale;
    double support = (filter == CAPT_RESAMPLE_BICUBIC ? 2.0 : 1.0) * filter_scale;
    return (int)ceil(support) * 2 + 1;
}

/* Fills t (bounds [n][2], k [n][t->ksize], w scratch [t->ksize]) for outputs first..first+n-1. */
static void make_taps(int in_size, int out_size, int first, int n_out, capt_resample filter, taps *t, double *w) {
    double (*kernel)(double) = filter == CAPT_RESAMPLE_BICUBIC ? cubic : triangle;
    double scale = (double)in_size / out_size, filter_scale = scale < 1.0 ? 1.0 : scale, inv_scale = 1.0 / filter_scale;
    double support = (filter == CAPT_RESAMPLE_BICUBIC ? 2.0 : 1.0) * filter_scale;
    memset(t->k, 0, sizeof(int) * (size_t)n_out * (size_t)t->ksize);
    for (int j = 0; j < n_out; j++) {
        int o = first + j;
        double center = (o + 0.5) * scale, sum = 0.0;
        int lo = (int)(center - support + 0.5), hi = (int)(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_size) hi = in_size;
        int n = hi - lo;
        for (int i = 0; i < n; i++) {
            w[i] = kernel((i + lo - center + 0.5) * inv_scale);
            sum += w[i];
        }
        for (int i = 0; i < n; i++) {
            double v = sum != 0.0 ? w[i] / sum : w[i];
            t->k[(size_t)j * t->ksize + i] = (int)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
        }
        t->bounds[2 * j] = lo;
        t->bounds[2 * j + 1] = n;
    }
}

static uint8_t clip8(int64_t v) {
    if (v >= ((int64_t)1 << PRECISION_BITS << 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

/* One source row resampled along x: out [n_out][3]. The three channels' sums go side by
 * side over each tap (integer sums: any order gives the same result). */
static void resample_row(const uint8_t *row, const taps *t, int n_out, uint8_t *out) {
    for (int x = 0; x < n_out; x++) {
        int n = t->bounds[2 * x + 1];
        const uint8_t *p = row + (size_t)t->bounds[2 * x] * 3;
        const int *k = t->k + (size_t)x * t->ksize;
        int64_t r = (int64_t)1 << (PRECISION_BITS - 1), g = r, b = r;
        for (int i = 0; i < n; i++, p += 3) r += (int64_t)p[0] * k[i], g += (int64_t)p[1] * k[i], b += (int64_t)p[2] * k[i];
        out[(size_t)x * 3] = clip8(r), out[(size_t)x * 3 + 1] = clip8(g), out[(size_t)x * 3 + 2] = clip8(b);
    }
}

/* Pillow's two passes (along x, then along y) streamed: each source row the y taps reach
 * is resampled along x once, into a ring of ksize_y rows, and every output row sums its
 * taps over that ring; the same arithmetic as whole passes, in ksize_y rows of memory. */
static void resample_streamed(const capt_image *in, const taps *tx, int out_w, const taps *ty, int out_h,
                              uint8_t *ring, size_t *ring_offset, uint8_t *out) {
    const size_t row_bytes = (size_t)out_w * 3;
    int next = 0; /* the next source row to resample into the ring */
    for (int y = 0; y < out_h; y++) {
        int lo = ty->bounds[2 * y], n = ty->bounds[2 * y + 1];
        if (next < lo) next = lo;
        for (; next < lo + n; next++)
            resample_row(in->rgb + (size_t)next * in->width * 3, tx, out_w, ring + (size_t)(next % ty->ksize) * row_bytes);
        const int *k = ty->k + (size_t)y * ty->ksize;
        for (int i = 0; i < n; i++) ring_offset[i] = (size_t)((lo + i) % ty->ksize) * row_bytes;
        for (size_t b = 0; b < row_bytes; b++) {
            int64_t acc = (int64_t)1 << (PRECISION_BITS - 1);
            for (int i = 0; i < n; i++) acc += (int64_t)ring[ring_offset[i] + b] * k[i];
            out[(size_t)y * row_bytes + b] = clip8(acc);
        }
    }
}

capt_status capt_resample_work_alloc(int max_ksize, int max_w, int max_h, capt_resample_work *w, capt_error *err) {
    memset(w, 0, sizeof *w);
    size_t ring, kx, ky;
    if (max_ksize < 1 || max_w < 1 || max_h < 1 || !capt_size_mul3(max_ksize, max_w, 3, &ring) ||
        !capt_size_mul3(max_ksize, max_w, sizeof(int), &kx) || !capt_size_mul3(max_ksize, max_h, sizeof(int), &ky))
        return capt_fail(err, CAPT_E_FORMAT, "resize: %d taps for %dx%d outputs overflow", max_ksize, max_w, max_h);
    w->max_ksize = max_ksize, w->max_w = max_w, w->max_h = max_h;
    w->kx = malloc(kx);
    w->ky = malloc(ky);
    w->bounds_x = malloc(sizeof(int) * 2 * (size_t)max_w);
    w->bounds_y = malloc(sizeof(int) * 2 * (size_t)max_h);
    w->weights = malloc(sizeof(double) * (size_t)max_ksize);
    w->ring = malloc(ring);
    w->ring_offset = malloc(sizeof(size_t) * (size_t)max_ksize);
    if (!w->kx || !w->ky || !w->bounds_x || !w->bounds_y || !w->weights || !w->ring || !w->ring_offset) {
        capt_resample_work_free(w);
        return capt_fail(err, CAPT_E_NOMEM, "resize: out of memory");
    }
    return CAPT_OK;
}

void capt_resample_work_free(capt_resample_work *w) {
    free(w->kx);
    free(w->ky);
    free(w->bounds_x);
    free(w->bounds_y);
    free(w->weights);
    free(w->ring);
    free(w->ring_offset);
    memset(w, 0, sizeof *w);
}

capt_status capt_image_resample_crop(const capt_image *in, int out_w, int out_h, int left, int top, int crop_w,
                                     int crop_h, capt_resample filter, const capt_resample_work *w, uint8_t *rgb,
                                     capt_error *err) {
    int kx = capt_resample_ksize(in->width, out_w, filter), ky = capt_resample_ksize(in->height, out_h, filter);
    if (crop_w > w->max_w || crop_h > w->max_h || kx > w->max_ksize || ky > w->max_ksize || left < 0 || top < 0 ||
        left > out_w - crop_w || top > out_h - crop_h)
        return capt_fail(err, CAPT_E_ARG, "resize: %dx%d to %dx%d (crop %dx%d) is beyond the memory made for it",
                         in->width, in->height, out_w, out_h, crop_w, crop_h);
    taps tx = {kx, w->bounds_x, w->kx}, ty = {ky, w->bounds_y, w->ky};
    make_taps(in->width, out_w, left, crop_w, filter, &tx, w->weights);
    make_taps(in->height, out_h, top, crop_h, filter, &ty, w->weights);
    resample_streamed(in, &tx, crop_w, &ty, crop_h, w->ring, w->ring_offset, rgb);
    return CAPT_OK;
}

capt_status capt_image_resize(const capt_image *in, int width, int height, capt_image **out, capt_error *err) {
    return capt_image_resample(in, width, height, CAPT_RESAMPLE_BILINEAR, out, err);
}

capt_status capt_image_resample(const capt_image *in, int width, int height, capt_resample filter, capt_image **out,
                                capt_error *err) {
    if (!in || !out) return capt_fail(err, CAPT_E_ARG, "resize: NULL argument");
    *out = NULL;
    if (filter != CAPT_RESAMPLE_BILINEAR && filter != CAPT_RESAMPLE_BICUBIC)
        return capt_fail(err, CAPT_E_ARG, "resize: unknown filter %d", (int)filter);
    capt_image *img;
    capt_status st = new_image(width, height, &img, err);
    if (st) return st;
    int kx = capt_resample_ksize(in->width, width, filter), ky = capt_resample_ksize(in->height, height, filter);
    capt_resample_work w;
    st = capt_resample_work_alloc(kx > ky ? kx : ky, width, height, &w, err);
    if (!st) st = capt_image_resample_crop(in, width, height, 0, 0, width, height, filter, &w, img->rgb, err);
    capt_resample_work_free(&w);
    if (st) capt_image_free(img);
    else *out = img;
    return st;
}

capt_status capt_image_crop(const capt_image *in, int left, int top, int width, int height, capt_image **out,
                            capt_error *err) {
    if (!in || !out) return capt_fail(err, CAPT_E_ARG, "crop: NULL argument");
    if (left < 0 || top < 0 || width < 1 || height < 1 || left > in->width - width || top > in->height - height)
        return capt_fail(err, CAPT_E_ARG, "crop: %dx%d at (%d, %d) is not inside the %dx%d image", width, height, left,
                         top, in->width, in->height);
    capt_status st = new_image(width, height, out, err);
    for (int y = 0; !st && y < height; y++)
        memcpy((*out)->rgb + (size_t)y * width * 3, in->rgb + ((size_t)(top + y) * in->width + left) * 3, (size_t)width * 3);
    return st;
}
