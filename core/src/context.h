/* context.h — the insides of capt_model and capt_context, shared by model.c and
 * caption.c. */
#ifndef CAPT_CONTEXT_H
#define CAPT_CONTEXT_H

#include "capt.h"
#include "clip.h"
#include "convnet.h"
#include "decoder.h"

typedef struct preprocess {
    int width, height;     /* the encoder's input */
    int shortest_side;     /* > 0: resize so the shorter side is this long, then crop the centre;
                            * 0: stretch to width x height */
    capt_resample filter;
    float mean[3], std[3]; /* in 0..1 units: x = (p/255 - mean) / std */
} preprocess;

struct capt_model {
    capt_file *file;
    preprocess pre;
    capt_convnet *encoder;   /* one of encoder (a convnet) ... */
    clip_vision *vit;        /* ... and vit (CLIP's image tower) */
    const capt_meta *labels; /* string array or NULL */
    capt_decoder *decoder;   /* NULL for an encoder-only file */
    clip_text *text;         /* CLIP's text tower, or NULL */
    const capt_meta *merges; /* the text tower's BPE merges */
    float logit_scale;       /* CLIP: exp(logit_scale), cosine -> logit */
};

struct capt_context {
    const capt_model *model;
    capt_pool *pool;
    capt_isa isa;
    convnet_work work;
    clip_work vit_work, text_work;
    capt_tokenizer *tok; /* with a text tower */
    int32_t *ids;        /* [text context] */
    float *input;        /* [height, width, 3] */
    float *class_probs;  /* [classes]: the softmax of the encoder's classifier, when it has one */
    decoder_state dec; /* when the model has a decoder */
    char error[256];
};

/* Sets the context's message from a failure and returns its status. */
capt_status capt_context_fail(capt_context *ctx, const capt_error *e);

/* Milliseconds on a monotonic clock. */
double capt_now_ms(void);

#endif
