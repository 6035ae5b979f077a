/* context.h — the insides of capt_model and capt_context, shared by model.c and
 * caption.c. */
#ifndef CAPT_CONTEXT_H
#define CAPT_CONTEXT_H

#include "capt.h"
#include "convnet.h"
#include "decoder.h"

typedef struct preprocess {
    int width, height;
    float mean[3], std[3]; /* in 0..1 units: x = (p/255 - mean) / std */
} preprocess;

struct capt_model {
    capt_file *file;
    preprocess pre;
    capt_convnet *encoder;
    const capt_meta *labels; /* string array or NULL */
    capt_decoder *decoder;   /* NULL for an encoder-only file */
};

struct capt_context {
    const capt_model *model;
    capt_pool *pool;
    capt_isa isa;
    convnet_work work;
    float *input; /* [height, width, 3] */
    decoder_state dec; /* when the model has a decoder */
    char error[256];
};

/* Sets the context's message from a failure and returns its status. */
capt_status capt_context_fail(capt_context *ctx, const capt_error *e);

/* Milliseconds on a monotonic clock. */
double capt_now_ms(void);

#endif
