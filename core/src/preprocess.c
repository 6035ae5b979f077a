/* preprocess.c — see preprocess.h. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "preprocess.h"

capt_status capt_preprocess_read(const capt_file *f, const char *prefix, preprocess *p, capt_error *err) {
    char key[6][96];
    const char *names[6] = {"width", "height", "mean", "std", "resize", "filter"};
    for (int i = 0; i < 6; i++) snprintf(key[i], sizeof key[i], "%s.%s", prefix, names[i]);
    const capt_meta *mean = capt_file_find_meta(f, key[2]), *std = capt_file_find_meta(f, key[3]);
    const capt_meta *resize = capt_file_find_meta(f, key[4]), *filter = capt_file_find_meta(f, key[5]);
    if (!capt_meta_read_int(f, key[0], 1, 8192, &p->width, err) || !capt_meta_read_int(f, key[1], 1, 8192, &p->height, err))
        return CAPT_E_FORMAT;
    if (!mean || !std || mean->type != CAPT_META_ARRAY || std->type != CAPT_META_ARRAY ||
        mean->elem_type != CAPT_META_FLOAT || std->elem_type != CAPT_META_FLOAT || mean->count != 3 || std->count != 3)
        return capt_fail(err, CAPT_E_FORMAT, "model: %s.mean/std must be 3 floats", prefix);
    p->shortest_side = 0;
    if (capt_meta_is(resize, "shortest_side")) {
        char side_key[96];
        snprintf(side_key, sizeof side_key, "%s.shortest_side", prefix);
        if (!capt_meta_read_int(f, side_key, p->width > p->height ? p->width : p->height, 8192, &p->shortest_side, err))
            return CAPT_E_FORMAT; /* at least the crop size */
    } else if (!capt_meta_is(resize, "stretch")) {
        return capt_fail(err, CAPT_E_UNSUPPORTED, "model: %s.resize must be \"stretch\" or \"shortest_side\"", prefix);
    }
    if (!filter || capt_meta_is(filter, "bilinear")) p->filter = CAPT_RESAMPLE_BILINEAR;
    else if (capt_meta_is(filter, "bicubic")) p->filter = CAPT_RESAMPLE_BICUBIC;
    else return capt_fail(err, CAPT_E_UNSUPPORTED, "model: %s.filter must be \"bilinear\" or \"bicubic\"", prefix);
    for (int c = 0; c < 3; c++) {
        p->mean[c] = (float)capt_meta_float_at(mean, (size_t)c);
        p->std[c] = (float)capt_meta_float_at(std, (size_t)c);
        if (!(p->std[c] > 0.0f)) return capt_fail(err, CAPT_E_FORMAT, "model: %s.std must be positive", prefix);
    }
    return CAPT_OK;
}

/* Where an image goes: resized to out_w x out_h, of which the input-sized crop at
 * (left, top) is taken. Resizing by the shorter side and cropping the centre is
 * torchvision's Resize + CenterCrop, as OpenAI's CLIP preprocesses; else a stretch. */
static capt_status fit_geometry(const preprocess *p, const capt_image *image, int *out_w, int *out_h, int *left, int *top,
                                capt_error *err) {
    *out_w = p->width, *out_h = p->height, *left = *top = 0;
    if (!p->shortest_side) return CAPT_OK;
    int w = image->width, h = image->height, side = p->shortest_side;
    /* The longer side: int(side * long / short), as torchvision computes it. */
    *out_w = w <= h ? side : (int)((double)side * w / h);
    *out_h = w <= h ? (int)((double)side * h / w) : side;
    if (*out_w > CAPT_IMAGE_MAX_SIDE || *out_h > CAPT_IMAGE_MAX_SIDE)
        return capt_fail(err, CAPT_E_IMAGE, "image: %dx%d is too elongated to resize by its shorter side", w, h);
    /* The crop's offset: round((size - crop) / 2) with Python's round-half-to-even. */
    int dx = *out_w - p->width, dy = *out_h - p->height;
    *left = dx / 2 + ((dx & 1) && ((dx / 2) & 1));
    *top = dy / 2 + ((dy & 1) && ((dy / 2) & 1));
    return CAPT_OK;
}

capt_status capt_preprocess_fit(const preprocess *p, const capt_image *image, capt_image **out, capt_error *err) {
    *out = NULL;
    int out_w, out_h, left, top;
    capt_status st = fit_geometry(p, image, &out_w, &out_h, &left, &top, err);
    if (st || (out_w == image->width && out_h == image->height && out_w == p->width && out_h == p->height)) return st;
    capt_image *resized = NULL;
    if (out_w != image->width || out_h != image->height)
        st = capt_image_resample(image, out_w, out_h, p->filter, &resized, err);
    if (!st) st = capt_image_crop(resized ? resized : image, left, top, p->width, p->height, out, err);
    capt_image_free(resized);
    return st;
}

capt_status capt_preprocess_work_alloc(const preprocess *p, preprocess_work *w, capt_error *err) {
    memset(w, 0, sizeof *w);
    /* The most taps an image up to CAPT_IMAGE_MAX_SIDE a side can need: downscaled to the
     * smaller output side (less one: the longer side's size is rounded down). */
    int smallest = p->width < p->height ? p->width : p->height;
    if (p->shortest_side && p->shortest_side < smallest) smallest = p->shortest_side;
    int ksize = capt_resample_ksize(CAPT_IMAGE_MAX_SIDE, smallest > 1 ? smallest - 1 : 1, CAPT_RESAMPLE_BICUBIC);
    capt_status st = capt_resample_work_alloc(ksize, p->width, p->height, &w->resample, err);
    if (!st && !(w->rgb = capt_malloc3((size_t)p->width, (size_t)p->height, 3))) {
        capt_preprocess_work_free(w);
        st = capt_fail(err, CAPT_E_NOMEM, "out of memory");
    }
    return st;
}

void capt_preprocess_work_free(preprocess_work *w) {
    capt_resample_work_free(&w->resample);
    free(w->rgb);
    w->rgb = NULL;
}

capt_status capt_preprocess_image(const preprocess *p, const preprocess_work *w, const capt_image *image, float *input,
                                  capt_error *err) {
    int out_w, out_h, left, top;
    capt_status st = fit_geometry(p, image, &out_w, &out_h, &left, &top, err);
    if (st) return st;
    const uint8_t *src = w->rgb;
    size_t row_bytes = (size_t)p->width * 3;
    if (out_w == image->width && out_h == image->height) { /* the right size already: only the crop */
        src = image->rgb + ((size_t)top * image->width + left) * 3;
        row_bytes = (size_t)image->width * 3;
    } else if ((st = capt_image_resample_crop(image, out_w, out_h, left, top, p->width, p->height, p->filter, &w->resample,
                                              w->rgb, err)) != CAPT_OK) {
        return st;
    }
    float scale[3], offset[3]; /* x = p * scale + offset */
    for (int c = 0; c < 3; c++) {
        scale[c] = 1.0f / (255.0f * p->std[c]);
        offset[c] = -p->mean[c] / p->std[c];
    }
    for (int y = 0; y < p->height; y++)
        for (int x = 0; x < p->width; x++)
            for (int c = 0; c < 3; c++) {
                size_t i = (size_t)y * p->width + x;
                input[3 * i + c] = (float)src[(size_t)y * row_bytes + (size_t)x * 3 + c] * scale[c] + offset[c];
            }
    return CAPT_OK;
}
