/* preprocess.h — how an image becomes a network's input (docs/mobilenet_v2.md, image
 * input): fitted to the input size, then normalised per channel. */
#ifndef CAPT_PREPROCESS_H
#define CAPT_PREPROCESS_H

#include "internal.h"

typedef struct preprocess {
    int width, height;     /* the network's input */
    int shortest_side;     /* > 0: resize so the shorter side is this long, then crop the centre;
                            * 0: stretch to width x height */
    capt_resample filter;
    float mean[3], std[3]; /* in 0..1 units: x = (p/255 - mean) / std */
} preprocess;

/* Reads `<prefix>.width`, `.height`, `.resize`, `.filter`, `.mean`, `.std` (and
 * `.shortest_side`) into p. */
capt_status capt_preprocess_read(const capt_file *f, const char *prefix, preprocess *p, capt_error *err);

/* The image as the network sees it before normalisation: stretched, or resized by its
 * shorter side and cropped at the centre; *out is NULL when the image already fits. */
capt_status capt_preprocess_fit(const preprocess *p, const capt_image *image, capt_image **out, capt_error *err);

/* Memory to fit any image to p's input, made once (with the context): no allocation
 * per image. */
typedef struct preprocess_work {
    capt_resample_work resample;
    uint8_t *rgb; /* [height][width][3]: the fitted image */
} preprocess_work;
capt_status capt_preprocess_work_alloc(const preprocess *p, preprocess_work *w, capt_error *err);
void capt_preprocess_work_free(preprocess_work *w);

/* The image fitted and normalised: input [height, width, 3]; allocates nothing. */
capt_status capt_preprocess_image(const preprocess *p, const preprocess_work *w, const capt_image *image, float *input,
                                  capt_error *err);

#endif
