/* context.h — the insides of capt_model and capt_context, shared by model.c and
 * caption.c. */
#ifndef CAPT_CONTEXT_H
#define CAPT_CONTEXT_H

#include "capt.h"
#include "clip.h"
#include "convnet.h"
#include "decoder.h"
#include "detector.h"
#include "preprocess.h"

typedef struct caption_work caption_work; /* the caption search's memory (caption.c) */

struct capt_model {
    capt_file *file;
    preprocess pre;
    capt_convnet *encoder;   /* one of encoder (a convnet) ... */
    clip_vision *vit;        /* ... and vit (CLIP's image tower) */
    const capt_meta *labels; /* string array or NULL */
    capt_detector *detector; /* the object detector, or NULL */
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
    preprocess_work pre_work;       /* the image fitted to the input, */
    preprocess_work det_pre_work;   /* and to the detector's */
    float *class_probs;  /* [classes]: the softmax of the encoder's classifier, when it has one */
    convnet_work det_work;         /* with a detector: its activations, */
    float *det_input;              /* its input [height, width, 3] */
    capt_detection *detections;    /* and the peaks of the last image [max_detections] */
    decoder_state dec;    /* when the model has a decoder: its state, */
    caption_work *search; /* and the search's memory */
    char error[256];
};

/* The caption search's memory (caption.c), made with the context. */
capt_status capt_caption_work_alloc(const capt_decoder *dec, caption_work **out, capt_error *err);
void capt_caption_work_free(caption_work *work);

/* Sets the context's message from a failure and returns its status. */
capt_status capt_context_fail(capt_context *ctx, const capt_error *e);

/* Milliseconds on a monotonic clock. */
double capt_now_ms(void);

#endif
