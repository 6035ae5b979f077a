/* decoder.h — the caption decoder of docs/model.md: weights (in the file), per-context
 * state (visual memory, cross-attention K/V, per-beam self-attention caches) and one
 * decoding step for a batch of beams. */
#ifndef CAPT_DECODER_H
#define CAPT_DECODER_H

#include "capt.h"
#include "kernels.h"
#include "nn.h"

typedef struct decoder_layer {
    const float *ln1_w, *ln1_b, *ln2_w, *ln2_b, *ln3_w, *ln3_b; /* [d] */
    linear self_q, self_k, self_v, self_o, cross_q, cross_k, cross_v, cross_o; /* [d, d] */
    linear fc1; /* [mlp, d] */
    linear fc2; /* [d, mlp] */
} decoder_layer;

typedef struct capt_decoder {
    int d, heads, layers, mlp, max_len, grid_h, grid_w, d_visual, vocab;
    int n_global; /* visual tokens before the grid (CLIP's class token: 1), each with a learned position */
    int n_visual; /* n_global + grid_h * grid_w: the encoder's tokens */
    int n_memory; /* n_visual + det_max: the tokens cross-attention reads */
    float ln_eps;
    linear visual;                        /* [d, d_visual] */
    const float *row, *col;               /* [grid_h, d], [grid_w, d] */
    const float *global_pos;              /* [n_global, d] */
    const float *lnv_w, *lnv_b;           /* [d] */
    linear tok_emb;                       /* w [vocab, d]: the input embedding, and with its
                                           * bias b [vocab] (out_bias) the output layer */
    const float *pos;                     /* [max_len, d] */
    const float *lnf_w, *lnf_b;           /* [d] */
    decoder_layer *layer;                 /* [layers] */
    const capt_meta *token_text;          /* string[vocab] */
    /* Concept guidance (docs/model.md): the decoder word of each classifier class (-1:
     * none), and the bonus beta * p(class) for classes with p >= tau. n_concepts is 0
     * when the file has none. */
    int n_concepts;
    const capt_meta *concept_token;       /* int[n_concepts] */
    float concept_beta, concept_tau;
    /* Detection tokens (docs/model.md): det_max slots (0: the decoder reads none) after
     * the encoder's tokens hold the detector's most confident peaks with score >=
     * det_min_score; empty slots hold a learned padding token. */
    int det_max, det_classes, det_counts;
    float det_min_score;
    const capt_tensor *det_class;         /* [det_classes, d], any dtype */
    linear det_box;                       /* [d, CAPT_DET_FEATURES] */
    const float *det_count;               /* [det_counts, d]: by the number of detections of the class */
    const float *det_pad;                 /* [d] */
    const float *lnd_w, *lnd_b;           /* [d] */
    /* Concept guidance from the detections (docs/model.md): the decoder word of each
     * detector class (-1: none), and the bonus det_concept_beta * (the class's best
     * score) for classes detected with score >= det_concept_tau. NULL when absent. */
    const capt_meta *det_concept_token;   /* int[det_classes] */
    float det_concept_beta, det_concept_tau;
} capt_decoder;

/* A detection token's box features: x0, y0, x1, y1, centre x, centre y, width, height,
 * area (all in 0..1 image units) and score. */
#define CAPT_DET_FEATURES 10

#define CAPT_DECODER_START 0
#define CAPT_DECODER_END 1

capt_status capt_decoder_load(const capt_file *file, capt_decoder **out, capt_error *err);
void capt_decoder_free(capt_decoder *dec);

/* Work memory for one image and up to `max_beams` hypotheses. */
typedef struct decoder_state {
    int max_beams;
    int ready;                  /* 1 once capt_decoder_begin has computed an image's memory */
    float *mem;                 /* [N, d], N = n_memory */
    float *keys;                /* [N, d]: a layer's cross-attention keys, before cross_kt */
    float *cross_kt;            /* [layers][d][N]: the keys transposed, as nn_attend reads them */
    float *cross_v;             /* [layers][N, d] */
    float *self_kt;             /* [max_beams slots][layers][d][max_len]: keys transposed */
    float *self_v;              /* [max_beams slots][layers][max_len][d] */
    int slot[CAPT_MAX_BEAM];    /* each beam's slot of the caches: reordering moves beams, not caches */
    float *x, *h, *q, *att;     /* [max_beams, d] */
    float *mlp;                 /* [max_beams, mlp] */
    float *scores;              /* [max_beams, heads, max(max_len, N)] */
    float *logits;              /* [max_beams, vocab] */
    float *cross_weights;       /* [max_beams][layers][heads][N]: of the last step */
    float *grid16;              /* [n_visual, d_visual]: the grid rounded to f16 */
} decoder_state;

capt_status capt_decoder_state_alloc(const capt_decoder *dec, int max_beams, decoder_state *s, capt_error *err);
void capt_decoder_state_free(decoder_state *s);

/* Computes the visual memory and every layer's cross-attention K/V for one image from its
 * visual tokens [n_visual, d_visual] (the global ones first) and, for a decoder that reads
 * them, its most confident detections (n_dets <= det_max, the caller keeps those with
 * score >= det_min_score). */
capt_status capt_decoder_begin(const capt_decoder *dec, decoder_state *s, capt_pool *pool, capt_isa isa,
                               const float *grid, const capt_detection *dets, int n_dets, capt_error *err);

/* One step for n_beams hypotheses at position t: tokens[b] is each one's input token;
 * their caches hold positions 0..t-1. Writes s->logits [n_beams, vocab] and
 * s->cross_weights, and stores position t in the caches. */
capt_status capt_decoder_step(const capt_decoder *dec, decoder_state *s, capt_pool *pool, capt_isa isa,
                              const int32_t *tokens, int n_beams, int t, capt_error *err);

/* Gives beam b the cache (positions 0..t) of beam parent[b], for all b: a parent's first
 * child takes over its slot, a second one gets a copy. */
void capt_decoder_reorder(const capt_decoder *dec, decoder_state *s, const int *parent, int n_beams, int t);

#endif
