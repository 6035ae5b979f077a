/* decoder.c — the caption decoder of docs/model.md in C: loading and checking its
 * tensors, the visual memory, and one step of the pre-LN transformer for a batch of
 * beams with cached self-attention keys and values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder.h"
#include "internal.h"

#define MAX_WIDTH 8192
#define MAX_VOCAB 1000000

/* ---- loading ------------------------------------------------------------------------------ */

/* A concept map: an int array of count entries (any count in 1..1e6 when count < 0), each a
 * word of the vocabulary (not start or end) or -1. */
static int concept_map_ok(const capt_meta *m, int count, int vocab) {
    int ok = m->type == CAPT_META_ARRAY && m->elem_type == CAPT_META_INT && m->count >= 1 && m->count <= 1000000 &&
             (count < 0 || m->count == (size_t)count);
    for (size_t i = 0; ok && i < m->count; i++) {
        int64_t t = capt_meta_int_at(m, i);
        ok = t == -1 || (t >= 2 && t < vocab);
    }
    return ok;
}

capt_status capt_decoder_load(const capt_file *f, capt_decoder **out, capt_error *err) {
    *out = NULL;
    capt_decoder *dec = calloc(1, sizeof *dec);
    if (!dec) return capt_fail(err, CAPT_E_NOMEM, "out of memory");
    nn_loader l = {f, err, 1};
    dec->d = nn_meta_int(&l, "decoder.d_model", 1, MAX_WIDTH);
    dec->heads = nn_meta_int(&l, "decoder.n_heads", 1, 256);
    dec->layers = nn_meta_int(&l, "decoder.n_layers", 1, 256);
    dec->mlp = nn_meta_int(&l, "decoder.d_mlp", 1, 4 * MAX_WIDTH);
    dec->max_len = nn_meta_int(&l, "decoder.max_len", 2, 4096);
    dec->grid_h = nn_meta_int(&l, "decoder.grid_h", 1, 1024);
    dec->grid_w = nn_meta_int(&l, "decoder.grid_w", 1, 1024);
    dec->d_visual = nn_meta_int(&l, "decoder.d_visual", 1, 65536);
    dec->n_global = capt_file_find_meta(f, "decoder.n_global") ? nn_meta_int(&l, "decoder.n_global", 0, 1) : 0;
    dec->n_visual = dec->n_global + dec->grid_h * dec->grid_w;
    dec->ln_eps = nn_meta_float(&l, "decoder.ln_eps", 1e-5f);
    if (l.ok && dec->d % dec->heads)
        l.ok = 0, capt_fail(err, CAPT_E_FORMAT, "model: decoder.d_model is not a multiple of n_heads");
    dec->token_text = capt_file_find_meta(f, "decoder.token_text");
    if (l.ok && (!dec->token_text || dec->token_text->type != CAPT_META_ARRAY ||
                 dec->token_text->elem_type != CAPT_META_STRING || dec->token_text->count < 2 ||
                 dec->token_text->count > MAX_VOCAB))
        l.ok = 0, capt_fail(err, CAPT_E_FORMAT, "model: decoder.token_text must hold the vocabulary's texts");
    if (l.ok) dec->vocab = (int)dec->token_text->count;
    const int64_t d = dec->d;
    dec->visual = nn_linear(&l, "decoder.visual", d, dec->d_visual, 1);
    dec->row = nn_mat_f32(&l, "decoder.visual.row", dec->grid_h, d);
    dec->col = nn_mat_f32(&l, "decoder.visual.col", dec->grid_w, d);
    if (dec->n_global) dec->global_pos = nn_mat_f32(&l, "decoder.visual.global_pos", dec->n_global, d);
    dec->lnv_w = nn_vec(&l, "decoder.visual.ln.weight", d);
    dec->lnv_b = nn_vec(&l, "decoder.visual.ln.bias", d);
    if (l.ok) {
        dec->tok_emb.w = capt_file_tensor_checked(f, "decoder.tok_emb", 2, dec->vocab, d, 0, err);
        if (!dec->tok_emb.w) l.ok = 0;
    }
    dec->pos = nn_mat_f32(&l, "decoder.pos_emb", dec->max_len, d);
    dec->lnf_w = nn_vec(&l, "decoder.ln_f.weight", d);
    dec->lnf_b = nn_vec(&l, "decoder.ln_f.bias", d);
    dec->tok_emb.b = nn_vec(&l, "decoder.out_bias", dec->vocab);
    dec->concept_token = capt_file_find_meta(f, "decoder.concept_token");
    if (l.ok && dec->concept_token) {
        const capt_meta *m = dec->concept_token;
        int ok = concept_map_ok(m, -1, dec->vocab);
        if (!ok) l.ok = 0, capt_fail(err, CAPT_E_FORMAT, "model: decoder.concept_token must be decoder ids (or -1)");
        dec->n_concepts = ok ? (int)m->count : 0;
        dec->concept_beta = nn_meta_float(&l, "decoder.concept_beta", 0.0f);
        dec->concept_tau = nn_meta_float(&l, "decoder.concept_tau", 1.0f);
    }
    if (l.ok && capt_file_find_meta(f, "decoder.det_max")) {
        dec->det_max = nn_meta_int(&l, "decoder.det_max", 0, 256);
        dec->det_classes = nn_meta_int(&l, "decoder.det_classes", 1, 65536);
        dec->det_counts = nn_meta_int(&l, "decoder.det_counts", 1, 256);
        dec->det_min_score = nn_meta_float(&l, "decoder.det_min_score", 0.0f);
        if (l.ok && !(dec->det_min_score >= 0.0f && dec->det_min_score <= 1.0f))
            l.ok = 0, capt_fail(err, CAPT_E_FORMAT, "model: decoder.det_min_score must be in 0..1");
        if (l.ok && !(dec->det_class = capt_file_tensor_checked(f, "decoder.det.class", 2, dec->det_classes, d, 0, err)))
            l.ok = 0;
        if (l.ok && !capt_dtype_row_bytes(dec->det_class->dtype, d))
            l.ok = 0, capt_fail(err, CAPT_E_FORMAT, "model: decoder.det.class is quantized but its rows are not whole blocks");
        dec->det_box = nn_linear(&l, "decoder.det.box", d, CAPT_DET_FEATURES, 1);
        dec->det_count = nn_mat_f32(&l, "decoder.det.count", dec->det_counts, d);
        dec->det_pad = nn_vec(&l, "decoder.det.pad", d);
        dec->lnd_w = nn_vec(&l, "decoder.det.ln.weight", d);
        dec->lnd_b = nn_vec(&l, "decoder.det.ln.bias", d);
        dec->det_concept_token = capt_file_find_meta(f, "decoder.det_concept_token");
        if (l.ok && dec->det_concept_token && !concept_map_ok(dec->det_concept_token, dec->det_classes, dec->vocab))
            l.ok = 0, capt_fail(err, CAPT_E_FORMAT, "model: decoder.det_concept_token must be a decoder id (or -1) per "
                                                    "detector class");
        dec->det_concept_beta = nn_meta_float(&l, "decoder.det_concept_beta", 0.0f);
        dec->det_concept_tau = nn_meta_float(&l, "decoder.det_concept_tau", 1.0f);
    }
    dec->n_memory = dec->n_visual + dec->det_max;
    dec->layer = l.ok ? calloc((size_t)dec->layers, sizeof *dec->layer) : NULL;
    if (l.ok && !dec->layer) l.ok = 0, capt_fail(err, CAPT_E_NOMEM, "out of memory");
    for (int i = 0; l.ok && i < dec->layers; i++) {
        decoder_layer *y = &dec->layer[i];
        char p[128], name[160];
#define LAYER_VEC(field, suffix) (snprintf(name, sizeof name, "%s.%s", p, suffix), y->field = nn_vec(&l, name, d))
#define LAYER_LIN(field, suffix, o, in) (snprintf(name, sizeof name, "%s.%s", p, suffix), y->field = nn_linear(&l, name, o, in, 1))
        snprintf(p, sizeof p, "decoder.layer.%d", i);
        LAYER_VEC(ln1_w, "ln1.weight"), LAYER_VEC(ln1_b, "ln1.bias"), LAYER_VEC(ln2_w, "ln2.weight");
        LAYER_VEC(ln2_b, "ln2.bias"), LAYER_VEC(ln3_w, "ln3.weight"), LAYER_VEC(ln3_b, "ln3.bias");
        LAYER_LIN(self_q, "self.q", d, d), LAYER_LIN(self_k, "self.k", d, d), LAYER_LIN(self_v, "self.v", d, d);
        LAYER_LIN(self_o, "self.o", d, d), LAYER_LIN(cross_q, "cross.q", d, d), LAYER_LIN(cross_k, "cross.k", d, d);
        LAYER_LIN(cross_v, "cross.v", d, d), LAYER_LIN(cross_o, "cross.o", d, d);
        LAYER_LIN(fc1, "fc1", dec->mlp, d), LAYER_LIN(fc2, "fc2", d, dec->mlp);
#undef LAYER_VEC
#undef LAYER_LIN
    }
    if (!l.ok) {
        capt_decoder_free(dec);
        return err ? err->status : CAPT_E_FORMAT;
    }
    *out = dec;
    return CAPT_OK;
}

void capt_decoder_free(capt_decoder *dec) {
    if (!dec) return;
    free(dec->layer);
    free(dec);
}

/* ---- state ---------------------------------------------------------------------------------- */

capt_status capt_decoder_state_alloc(const capt_decoder *dec, int max_beams, decoder_state *s, capt_error *err) {
    memset(s, 0, sizeof *s);
    if (max_beams < 1 || max_beams > CAPT_MAX_BEAM)
        return capt_fail(err, CAPT_E_ARG, "decoder: %d beams, at most %d", max_beams, CAPT_MAX_BEAM);
    s->max_beams = max_beams;
    const int64_t d = dec->d, N = dec->n_memory, B = max_beams, L = dec->layers, T = dec->max_len;
    const int64_t span = T > N ? T : N;
    nn_buffer parts[] = {{&s->mem, {N, d}},
                 {&s->keys, {N, d}},
                 {&s->cross_kt, {L, d, N}},
                 {&s->cross_v, {L, N, d}},
                 {&s->self_kt, {B, L, d, T}},
                 {&s->self_v, {B, L, T, d}},
                 {&s->x, {B, d}},
                 {&s->h, {B, d}},
                 {&s->q, {B, d}},
                 {&s->att, {B, d}},
                 {&s->mlp, {B, dec->mlp}},
                 {&s->scores, {B, dec->heads, span}},
                 {&s->logits, {B, dec->vocab}},
                 {&s->cross_weights, {B, L, dec->heads, N}},
                 {&s->grid16, {dec->n_visual, dec->d_visual}}};
    capt_status st = nn_alloc_buffers(parts, sizeof parts / sizeof parts[0], "decoder", err);
    if (st) capt_decoder_state_free(s);
    return st;
}

void capt_decoder_state_free(decoder_state *s) {
    float *all[] = {s->mem, s->keys, s->cross_kt, s->cross_v, s->self_kt, s->self_v, s->x, s->h,
                    s->q, s->att, s->mlp, s->scores, s->logits, s->cross_weights, s->grid16};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    memset(s, 0, sizeof *s);
}

/* ---- the network ------------------------------------------------------------------------------ */

/* The detection token's box features (CAPT_DET_FEATURES). */
static void det_features(const capt_detection *t, float *f) {
    float w = t->x1 - t->x0, h = t->y1 - t->y0;
    float values[CAPT_DET_FEATURES] = {t->x0, t->y0, t->x1, t->y1, (t->x0 + t->x1) / 2, (t->y0 + t->y1) / 2, w, h, w * h,
                                       t->score};
    memcpy(f, values, sizeof values);
}

/* Memory rows of the detection slots: LN_d(class[c] + box(features) + count[min(n_c,
 * counts) - 1]) for the n detections (n_c: how many of them are of class c), LN_d(pad)
 * for the empty slots after them. scratch: [d]. */
static capt_status detection_tokens(const capt_decoder *dec, capt_pool *pool, capt_isa isa, const capt_detection *dets,
                                    int n, float *mem, float *scratch, capt_error *err) {
    const int d = dec->d;
    float features[CAPT_DET_FEATURES * 256] = {0};
    for (int k = 0; k < n; k++) {
        if (dets[k].class_index < 0 || dets[k].class_index >= dec->det_classes)
            return capt_fail(err, CAPT_E_ARG, "decoder: detection class %d is outside 0..%d", dets[k].class_index,
                             dec->det_classes - 1);
        det_features(&dets[k], features + (size_t)k * CAPT_DET_FEATURES);
    }
    capt_status st = n ? nn_linear_apply(&dec->det_box, pool, isa, features, n, mem, err) : CAPT_OK; /* [n, d] */
    if (st) return st;
    size_t class_row = capt_dtype_row_bytes(dec->det_class->dtype, d);
    for (int k = 0; k < n; k++) {
        int same = 0;
        for (int j = 0; j < n; j++) same += dets[j].class_index == dets[k].class_index;
        float *m = mem + (size_t)k * d;
        capt_dequantize_row(dec->det_class->dtype,
                            (const unsigned char *)dec->det_class->data + (size_t)dets[k].class_index * class_row,
                            scratch, d);
        nn_add_into(m, scratch, (size_t)d);
        nn_add_into(m, dec->det_count + (size_t)((same < dec->det_counts ? same : dec->det_counts) - 1) * d, (size_t)d);
    }
    for (int k = n; k < dec->det_max; k++) memcpy(mem + (size_t)k * d, dec->det_pad, sizeof(float) * (size_t)d);
    nn_layer_norm(mem, mem, dec->det_max, d, dec->lnd_w, dec->lnd_b, dec->ln_eps);
    return CAPT_OK;
}

capt_status capt_decoder_begin(const capt_decoder *dec, decoder_state *s, capt_pool *pool, capt_isa isa,
                               const float *grid, const capt_detection *dets, int n_dets, capt_error *err) {
    const int d = dec->d, V = dec->n_visual, G = dec->n_global, N = dec->n_memory;
    s->ready = 0;
    for (int b = 0; b < s->max_beams; b++) s->slot[b] = b;
    if (n_dets < 0 || n_dets > dec->det_max)
        return capt_fail(err, CAPT_E_ARG, "decoder: %d detections given, it reads at most %d", n_dets, dec->det_max);
    /* The grid as training saw it: f16. */
    for (size_t i = 0; i < (size_t)V * dec->d_visual; i++) s->grid16[i] = capt_f32_round_f16(grid[i]);
    capt_status st = nn_linear_apply(&dec->visual, pool, isa, s->grid16, V, s->mem, err); /* [V, d] */
    if (st) return st;
    for (int n = 0; n < G; n++) nn_add_into(s->mem + (size_t)n * d, dec->global_pos + (size_t)n * d, (size_t)d);
    for (int n = G; n < V; n++) {
        const float *r = dec->row + (size_t)((n - G) / dec->grid_w) * d, *c = dec->col + (size_t)((n - G) % dec->grid_w) * d;
        float *m = s->mem + (size_t)n * d;
        for (int i = 0; i < d; i++) m[i] += r[i] + c[i];
    }
    nn_layer_norm(s->mem, s->mem, V, d, dec->lnv_w, dec->lnv_b, dec->ln_eps);
    if (dec->det_max) { /* s->h is free until the first step */
        st = detection_tokens(dec, pool, isa, dets, n_dets, s->mem + (size_t)V * d, s->h, err);
        if (st) return st;
    }
    for (int l = 0; l < dec->layers && !st; l++) {
        st = nn_linear_apply(&dec->layer[l].cross_k, pool, isa, s->mem, N, s->keys, err);
        if (!st) nn_transpose(s->keys, N, d, s->cross_kt + (size_t)l * d * N, (size_t)N);
        if (!st) st = nn_linear_apply(&dec->layer[l].cross_v, pool, isa, s->mem, N, s->cross_v + (size_t)l * N * d, err);
    }
    s->ready = !st;
    return st;
}

/* Where layer l's self-attention cache of a slot starts in self_kt and self_v
 * ([slots][layers][T * d] each: the keys transposed [d][T], the values [T][d]). */
static size_t cache_offset(const capt_decoder *dec, int slot, int l) {
    return ((size_t)slot * (size_t)dec->layers + (size_t)l) * (size_t)dec->max_len * (size_t)dec->d;
}

capt_status capt_decoder_step(const capt_decoder *dec, decoder_state *s, capt_pool *pool, capt_isa isa,
                              const int32_t *tokens, int n_beams, int t, capt_error *err) {
    const int d = dec->d, N = dec->n_memory, L = dec->layers, H = dec->heads;
    if (!s->ready) return capt_fail(err, CAPT_E_ARG, "decoder: a step before capt_decoder_begin");
    if (n_beams < 1 || n_beams > s->max_beams || t < 0 || t >= dec->max_len)
        return capt_fail(err, CAPT_E_ARG, "decoder: step %d with %d beams is out of range", t, n_beams);
    const capt_tensor *emb = dec->tok_emb.w;
    size_t row_bytes = capt_dtype_row_bytes(emb->dtype, d);
    for (int b = 0; b < n_beams; b++) {
        if (tokens[b] < 0 || tokens[b] >= dec->vocab) return capt_fail(err, CAPT_E_ARG, "decoder: bad token id");
        float *x = s->x + (size_t)b * d;
        capt_dequantize_row(emb->dtype, (const unsigned char *)emb->data + (size_t)tokens[b] * row_bytes, x, d);
        nn_add_into(x, dec->pos + (size_t)t * d, (size_t)d);
    }
    const size_t T = (size_t)dec->max_len;
    capt_status st = CAPT_OK;
    for (int l = 0; l < L && !st; l++) {
        const decoder_layer *y = &dec->layer[l];
        /* causal self-attention over positions 0..t of each beam */
        nn_layer_norm(s->x, s->h, n_beams, d, y->ln1_w, y->ln1_b, dec->ln_eps);
        st = nn_linear_apply(&y->self_q, pool, isa, s->h, n_beams, s->q, err);
        if (!st) st = nn_linear_apply(&y->self_k, pool, isa, s->h, n_beams, s->att, err);
        for (int b = 0; !st && b < n_beams; b++) /* column t of the beam's transposed keys */
            nn_transpose(s->att + (size_t)b * d, 1, d, s->self_kt + cache_offset(dec, s->slot[b], l) + t, T);
        if (!st) st = nn_linear_apply(&y->self_v, pool, isa, s->h, n_beams, s->att, err);
        for (int b = 0; !st && b < n_beams; b++)
            memcpy(s->self_v + cache_offset(dec, s->slot[b], l) + (size_t)t * d, s->att + (size_t)b * d, sizeof(float) * d);
        for (int b = 0; !st && b < n_beams; b++) {
            const size_t cache = cache_offset(dec, s->slot[b], l);
            const float *kt = s->self_kt + cache, *v = s->self_v + cache;
            nn_attend(isa, s->q + (size_t)b * d, kt, T, v, (size_t)d, t + 1, d, H, s->scores + (size_t)b * H * dec->max_len,
                      s->att + (size_t)b * d);
        }
        if (!st) st = nn_linear_apply(&y->self_o, pool, isa, s->att, n_beams, s->h, err);
        if (st) break;
        nn_add_into(s->x, s->h, (size_t)n_beams * d);
        /* cross-attention over the N visual tokens */
        nn_layer_norm(s->x, s->h, n_beams, d, y->ln2_w, y->ln2_b, dec->ln_eps);
        st = nn_linear_apply(&y->cross_q, pool, isa, s->h, n_beams, s->q, err);
        for (int b = 0; !st && b < n_beams; b++)
            nn_attend(isa, s->q + (size_t)b * d, s->cross_kt + (size_t)l * d * N, (size_t)N, s->cross_v + (size_t)l * N * d,
                      (size_t)d, N, d, H, s->cross_weights + ((size_t)b * L + l) * H * N, s->att + (size_t)b * d);
        if (!st) st = nn_linear_apply(&y->cross_o, pool, isa, s->att, n_beams, s->h, err);
        if (st) break;
        nn_add_into(s->x, s->h, (size_t)n_beams * d);
        /* MLP */
        nn_layer_norm(s->x, s->h, n_beams, d, y->ln3_w, y->ln3_b, dec->ln_eps);
        st = nn_linear_apply(&y->fc1, pool, isa, s->h, n_beams, s->mlp, err);
        if (!st) nn_activate(isa, NN_GELU, s->mlp, (size_t)n_beams * dec->mlp);
        if (!st) st = nn_linear_apply(&y->fc2, pool, isa, s->mlp, n_beams, s->h, err);
        if (!st) nn_add_into(s->x, s->h, (size_t)n_beams * d);
    }
    if (st) return st;
    nn_layer_norm(s->x, s->h, n_beams, d, dec->lnf_w, dec->lnf_b, dec->ln_eps);
    return nn_linear_apply(&dec->tok_emb, pool, isa, s->h, n_beams, s->logits, err);
}

void capt_decoder_reorder(const capt_decoder *dec, decoder_state *s, const int *parent, int n_beams, int t) {
    const size_t d = (size_t)dec->d, T = (size_t)dec->max_len;
    /* A parent's first child takes over its slot. Another child gets a copy in a slot that
     * no first child took: those held parents that left no child, so no copy reads them. */
    int slot[CAPT_MAX_BEAM], held[CAPT_MAX_BEAM] = {0}, has_child[CAPT_MAX_BEAM] = {0};
    for (int b = 0; b < n_beams; b++) {
        slot[b] = has_child[parent[b]] ? -1 : s->slot[parent[b]];
        if (slot[b] >= 0) held[slot[b]] = has_child[parent[b]] = 1;
    }
    for (int b = 0, free_slot = 0; b < n_beams; b++) {
        if (slot[b] >= 0) continue;
        while (held[free_slot]) free_slot++;
        held[free_slot] = 1, slot[b] = free_slot;
        for (int l = 0; l < dec->layers; l++) {
            const size_t from = cache_offset(dec, s->slot[parent[b]], l), to = cache_offset(dec, free_slot, l);
            /* the keys' d rows of T columns, t + 1 of them used; the values' first t + 1 rows */
            for (size_t i = 0; i < d; i++)
                memcpy(s->self_kt + to + i * T, s->self_kt + from + i * T, (size_t)(t + 1) * sizeof(float));
            memcpy(s->self_v + to, s->self_v + from, (size_t)(t + 1) * d * sizeof(float));
        }
    }
    memcpy(s->slot, slot, sizeof(int) * (size_t)n_beams);
}
