/* preprocess.c — see preprocess.h. */
#include <stdio.h>

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

/* Resizing by the shorter side and cropping the centre is torchvision's Resize +
 * CenterCrop, as OpenAI's CLIP preprocesses. */
capt_status capt_preprocess_fit(const preprocess *p, const capt_image *image, capt_image **out, capt_error *err) {
    *out = NULL;
    if (!p->shortest_side)
        return image->width == p->width && image->height == p->height
                   ? CAPT_OK
                   : capt_image_resample(image, p->width, p->height, p->filter, out, err);
    int w = image->width, h = image->height, side = p->shortest_side;
    /* The longer side: int(side * long / short), as torchvision computes it. */
    int new_w = w <= h ? side : (int)((double)side * w / h);
    int new_h = w <= h ? (int)((double)side * h / w) : side;
    if (new_w > CAPT_IMAGE_MAX_SIDE || new_h > CAPT_IMAGE_MAX_SIDE)
        return capt_fail(err, CAPT_E_IMAGE, "image: %dx%d is too elongated to resize by its shorter side", w, h);
    capt_image *resized = NULL;
    capt_status st = CAPT_OK;
    if (new_w != w || new_h != h) st = capt_image_resample(image, new_w, new_h, p->filter, &resized, err);
    const capt_image *src = resized ? resized : image;
    /* The crop's offset: round((size - crop) / 2) with Python's round-half-to-even. */
    int dx = new_w - p->width, dy = new_h - p->height;
    int left = dx / 2 + ((dx & 1) && ((dx / 2) & 1)), top = dy / 2 + ((dy & 1) && ((dy / 2) & 1));
    if (!st) st = capt_image_crop(src, left, top, p->width, p->height, out, err);
    capt_image_free(resized);
    return st;
}

capt_status capt_preprocess_image(const preprocess *p, const capt_image *image, float *input, capt_error *err) {
    capt_image *fitted;
    capt_status st = capt_preprocess_fit(p, image, &fitted, err);
    if (st) return st;
    const capt_image *src = fitted ? fitted : image;
    size_t pixels = (size_t)p->width * p->height;
    float scale[3], offset[3]; /* x = p * scale + offset */
    for (int c = 0; c < 3; c++) {
        scale[c] = 1.0f / (255.0f * p->std[c]);
        offset[c] = -p->mean[c] / p->std[c];
    }
    for (size_t i = 0; i < pixels; i++)
        for (int c = 0; c < 3; c++) input[3 * i + c] = (float)src->rgb[3 * i + c] * scale[c] + offset[c];
    capt_image_free(fitted);
    return CAPT_OK;
}
