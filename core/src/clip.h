/* clip.h — CLIP's two towers (docs/clip.md): the vision transformer (ViT) that turns an
 * image into visual tokens and an embedding, and the text transformer that embeds a
 * caption in the same space. Both are stacks of the same pre-LN block. */
#ifndef CAPT_CLIP_H
#define CAPT_CLIP_H

#include "capt.h"
#include "kernels.h"
#include "nn.h"

typedef struct clip_block {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b; /* [width] */
    linear q, k, v, o;                          /* [width, width] */
    linear fc1;                                 /* [mlp, width] */
    linear fc2;                                 /* [width, mlp] */
} clip_block;

/* The transformer both towers share: `layers` blocks of (LN, multi-head attention,
 * residual, LN, MLP, residual). */
typedef struct clip_stack {
    int width, heads, layers, mlp;
    float ln_eps;
    nn_activation act;
    clip_block *block; /* [layers] */
} clip_stack;

typedef struct clip_vision {
    clip_stack stack;
    int image_size, patch, grid; /* grid = image_size / patch patches a side */
    int n_tokens;                /* 1 + grid * grid: the class token, then the patches row by row */
    int embed_dim;
    const float *patch_w;        /* [width, 3 * patch * patch]: (channel, y, x) order, f32 */
    const float *class_emb;      /* [width] */
    const float *pos;            /* [n_tokens, width] */
    const float *ln_pre_w, *ln_pre_b, *ln_post_w, *ln_post_b; /* [width] */
    linear proj;                 /* [embed_dim, width], no bias */
} clip_vision;

typedef struct clip_text {
    clip_stack stack;
    int context, vocab, embed_dim;
    int32_t sot, eot;            /* start- and end-of-text ids; the end's position is pooled */
    const capt_tensor *tok_emb;  /* [vocab, width], any dtype */
    const float *pos;            /* [context, width] */
    const float *ln_final_w, *ln_final_b; /* [width] */
    linear proj;                 /* [embed_dim, width], no bias */
} clip_text;

capt_status capt_clip_vision_load(const capt_file *file, clip_vision **out, capt_error *err); /* "encoder.*" */
capt_status capt_clip_text_load(const capt_file *file, clip_text **out, capt_error *err);     /* "text.*" */
void capt_clip_vision_free(clip_vision *v);
void capt_clip_text_free(clip_text *t);

/* Work memory of one forward pass over up to n_max tokens of one tower. */
typedef struct clip_work {
    float *x;                    /* [n_max, width]: the residual stream; after a pass, the last hidden state */
    float *h, *q, *k, *v, *att;  /* [n_max, width] */
    float *kt;                   /* [width][n_max]: k transposed, as nn_attend reads it */
    float *mlp;                  /* [n_max, mlp] */
    float *scores;               /* [heads, n_max]: one query row's attention weights */
    float *patches;              /* vision: [grid * grid, 3 * patch * patch] */
    float *pooled;               /* [width]: the final LN of the pooled token */
    float *embedding;            /* [embed_dim]: the projected (not normalised) embedding */
} clip_work;

capt_status capt_clip_work_alloc(const clip_stack *s, int n_max, size_t patch_floats, int embed_dim, clip_work *w,
                                 capt_error *err);
void capt_clip_work_free(clip_work *w);

/* Runs the image tower on `pixels` [image_size, image_size, 3], already normalised.
 * Afterwards w->x holds the last hidden state [n_tokens, width] (before the final LN),
 * w->pooled and w->embedding the class token's. */
capt_status capt_clip_vision_forward(const clip_vision *v, clip_work *w, capt_pool *pool, capt_isa isa,
                                     const float *pixels, capt_error *err);

/* Runs the text tower on n token ids (start, text, end; n <= context) and pools at the
 * first end-of-text token. */
capt_status capt_clip_text_forward(const clip_text *t, clip_work *w, capt_pool *pool, capt_isa isa,
                                   const int32_t *ids, int n, capt_error *err);

#endif
