/* clip.c — CLIP's vision and text transformers (docs/clip.md): loading and checking
 * their tensors from a .capt file, and their forward passes. Every matrix product,
 * attention included, goes through capt_gemm with f32 activations. */
#include "clip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_WIDTH 16384
#define MAX_LAYERS 256
#define MAX_TOKENS 4096

/* ---- loading ------------------------------------------------------------------------------ */

static int read_activation(nn_loader *l, const char *prefix, nn_activation *act) {
    char key[128];
    snprintf(key, sizeof key, "%s.activation", prefix);
    const capt_meta *m = capt_file_find_meta(l->file, key);
    if (capt_meta_is(m, "quick_gelu")) *act = NN_QUICK_GELU;
    else if (capt_meta_is(m, "gelu")) *act = NN_GELU;
    else {
        if (l->ok) capt_fail(l->err, CAPT_E_UNSUPPORTED, "model: %s must be \"quick_gelu\" or \"gelu\"", key);
        l->ok = 0;
    }
    return l->ok;
}

static void load_stack(nn_loader *l, const char *prefix, clip_stack *s) {
    char key[160];
#define INT_OF(field, suffix, lo, hi) (snprintf(key, sizeof key, "%s.%s", prefix, suffix), s->field = nn_meta_int(l, key, lo, hi))
    INT_OF(width, "width", 1, MAX_WIDTH);
    INT_OF(heads, "heads", 1, 1024);
    INT_OF(layers, "layers", 1, MAX_LAYERS);
    INT_OF(mlp, "mlp", 1, 4 * MAX_WIDTH);
#undef INT_OF
    snprintf(key, sizeof key, "%s.ln_eps", prefix);
    s->ln_eps = nn_meta_float(l, key, 1e-5f);
    read_activation(l, prefix, &s->act);
    if (l->ok && s->width % s->heads) {
        capt_fail(l->err, CAPT_E_FORMAT, "model: %s.width is not a multiple of %s.heads", prefix, prefix);
        l->ok = 0;
    }
    s->block = l->ok ? calloc((size_t)s->layers, sizeof *s->block) : NULL;
    if (l->ok && !s->block) l->ok = 0, capt_fail(l->err, CAPT_E_NOMEM, "out of memory");
    const int64_t d = s->width;
    for (int i = 0; l->ok && i < s->layers; i++) {
        clip_block *b = &s->block[i];
        char name[200];
#define BLOCK_VEC(field, suffix) (snprintf(name, sizeof name, "%s.layer.%d.%s", prefix, i, suffix), b->field = nn_vec(l, name, d))
#define BLOCK_LIN(field, suffix, o, in) \
    (snprintf(name, sizeof name, "%s.layer.%d.%s", prefix, i, suffix), b->field = nn_linear(l, name, o, in, 1))
        BLOCK_VEC(ln1_w, "ln1.weight"), BLOCK_VEC(ln1_b, "ln1.bias"), BLOCK_VEC(ln2_w, "ln2.weight");
        BLOCK_VEC(ln2_b, "ln2.bias");
        BLOCK_LIN(q, "attn.q", d, d), BLOCK_LIN(k, "attn.k", d, d), BLOCK_LIN(v, "attn.v", d, d);
        BLOCK_LIN(o, "attn.o", d, d), BLOCK_LIN(fc1, "fc1", s->mlp, d), BLOCK_LIN(fc2, "fc2", d, s->mlp);
#undef BLOCK_VEC
#undef BLOCK_LIN
    }
}

capt_status capt_clip_vision_load(const capt_file *f, clip_vision **out, capt_error *err) {
    *out = NULL;
    clip_vision *v = calloc(1, sizeof *v);
    if (!v) return capt_fail(err, CAPT_E_NOMEM, "out of memory");
    nn_loader l = {f, err, 1};
    load_stack(&l, "encoder", &v->stack);
    v->image_size = nn_meta_int(&l, "encoder.image_size", 1, 8192);
    v->patch = nn_meta_int(&l, "encoder.patch_size", 1, 1024);
    v->embed_dim = nn_meta_int(&l, "clip.embed_dim", 1, MAX_WIDTH);
    if (l.ok && (v->image_size % v->patch || (v->image_size / v->patch) * (v->image_size / v->patch) >= MAX_TOKENS)) {
        capt_fail(err, CAPT_E_FORMAT, "model: encoder.image_size %d is not a small multiple of encoder.patch_size %d",
                  v->image_size, v->patch);
        l.ok = 0;
    }
    v->grid = l.ok ? v->image_size / v->patch : 0;
    v->n_tokens = 1 + v->grid * v->grid;
    const int64_t d = v->stack.width;
    v->patch_w = nn_mat_f32(&l, "encoder.patch_embed", d, 3 * (int64_t)v->patch * v->patch);
    v->class_emb = nn_vec(&l, "encoder.class_embed", d);
    v->pos = nn_mat_f32(&l, "encoder.pos_embed", v->n_tokens, d);
    v->ln_pre_w = nn_vec(&l, "encoder.ln_pre.weight", d);
    v->ln_pre_b = nn_vec(&l, "encoder.ln_pre.bias", d);
    v->ln_post_w = nn_vec(&l, "encoder.ln_post.weight", d);
    v->ln_post_b = nn_vec(&l, "encoder.ln_post.bias", d);
    v->proj = nn_linear(&l, "encoder.proj", v->embed_dim, d, 0);
    if (!l.ok) {
        capt_clip_vision_free(v);
        return err ? err->status : CAPT_E_FORMAT;
    }
    *out = v;
    return CAPT_OK;
}

capt_status capt_clip_text_load(const capt_file *f, clip_text **out, capt_error *err) {
    *out = NULL;
    clip_text *t = calloc(1, sizeof *t);
    if (!t) return capt_fail(err, CAPT_E_NOMEM, "out of memory");
    nn_loader l = {f, err, 1};
    load_stack(&l, "text", &t->stack);
    t->context = nn_meta_int(&l, "text.context_length", 2, MAX_TOKENS);
    t->vocab = nn_meta_int(&l, "text.vocab_size", 2, 1 << 24);
    t->sot = nn_meta_int(&l, "text.sot_id", 0, (1 << 24) - 1);
    t->eot = nn_meta_int(&l, "text.eot_id", 0, (1 << 24) - 1);
    t->embed_dim = nn_meta_int(&l, "clip.embed_dim", 1, MAX_WIDTH);
    const int64_t d = t->stack.width;
    if (l.ok) {
        t->tok_emb = capt_file_tensor_checked(f, "text.tok_emb", 2, t->vocab, d, 0, err);
        if (!t->tok_emb) l.ok = 0;
    }
    t->pos = nn_mat_f32(&l, "text.pos_embed", t->context, d);
    t->ln_final_w = nn_vec(&l, "text.ln_final.weight", d);
    t->ln_final_b = nn_vec(&l, "text.ln_final.bias", d);
    t->proj = nn_linear(&l, "text.proj", t->embed_dim, d, 0);
    if (l.ok && (t->sot >= t->vocab || t->eot >= t->vocab))
        l.ok = 0, capt_fail(err, CAPT_E_FORMAT, "model: text.sot_id/eot_id are not in the vocabulary");
    if (!l.ok) {
        capt_clip_text_free(t);
        return err ? err->status : CAPT_E_FORMAT;
    }
    *out = t;
    return CAPT_OK;
}

void capt_clip_vision_free(clip_vision *v) {
    if (!v) return;
    free(v->stack.block);
    free(v);
}

void capt_clip_text_free(clip_text *t) {
    if (!t) return;
    free(t->stack.block);
    free(t);
}

/* ---- work memory ------------------------------------------------------------------------- */

capt_status capt_clip_work_alloc(const clip_stack *s, int n_max, size_t patch_floats, int embed_dim, clip_work *w,
                                 capt_error *err) {
    memset(w, 0, sizeof *w);
    const int64_t n = n_max, d = s->width;
    nn_buffer parts[] = {{&w->x, {n, d}},      {&w->h, {n, d}},       {&w->q, {n, d}},      {&w->k, {n, d}},
                 {&w->v, {n, d}},      {&w->att, {n, d}},     {&w->kt, {d, n}},     {&w->mlp, {n, s->mlp}},
                 {&w->scores, {s->heads, n}}, {&w->patches, {(int64_t)patch_floats}},
                 {&w->pooled, {d}},    {&w->embedding, {embed_dim}}};
    capt_status st = nn_alloc_buffers(parts, sizeof parts / sizeof parts[0], "CLIP tower", err);
    if (st) capt_clip_work_free(w);
    return st;
}

void capt_clip_work_free(clip_work *w) {
    float *all[] = {w->x, w->h, w->q, w->k, w->v, w->att, w->kt, w->mlp, w->scores, w->patches, w->pooled, w->embedding};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
    memset(w, 0, sizeof *w);
}

/* ---- the shared transformer ------------------------------------------------------------------ */

/* Multi-head self-attention of the n rows of w->h (causal: token i sees 0..i), one
 * query row at a time; the output projection is left in w->h. */
static capt_status attention(const clip_stack *s, const clip_block *b, clip_work *w, int n, int causal,
                             capt_pool *pool, capt_isa isa, capt_error *err) {
    const int d = s->width;
    capt_status st = nn_linear_apply(&b->q, pool, isa, w->h, n, w->q, err); /* [n, d] each */
    if (!st) st = nn_linear_apply(&b->k, pool, isa, w->h, n, w->k, err);
    if (!st) st = nn_linear_apply(&b->v, pool, isa, w->h, n, w->v, err);
    if (!st) nn_transpose(w->k, n, d, w->kt, (size_t)n);
    for (int i = 0; i < n && !st; i++)
        nn_attend(isa, w->q + (size_t)i * d, w->kt, (size_t)n, w->v, (size_t)d, causal ? i + 1 : n, d, s->heads, w->scores,
                  w->att + (size_t)i * d);
    if (!st) st = nn_linear_apply(&b->o, pool, isa, w->att, n, w->h, err);
    return st;
}

static capt_status run_stack(const clip_stack *s, clip_work *w, int n, int causal, capt_pool *pool, capt_isa isa,
                             capt_error *err) {
    const size_t nd = (size_t)n * s->width;
    capt_status st = CAPT_OK;
    for (int l = 0; l < s->layers && !st; l++) {
        const clip_block *b = &s->block[l];
        nn_layer_norm(w->x, w->h, n, s->width, b->ln1_w, b->ln1_b, s->ln_eps);
        st = attention(s, b, w, n, causal, pool, isa, err);
        if (st) break;
        nn_add_into(w->x, w->h, nd);
        nn_layer_norm(w->x, w->h, n, s->width, b->ln2_w, b->ln2_b, s->ln_eps);
        st = nn_linear_apply(&b->fc1, pool, isa, w->h, n, w->mlp, err); /* [n, mlp] */
        if (!st) nn_activate(isa, s->act, w->mlp, (size_t)n * s->mlp);
        if (!st) st = nn_linear_apply(&b->fc2, pool, isa, w->mlp, n, w->h, err);
        if (!st) nn_add_into(w->x, w->h, nd);
    }
    return st;
}

/* The final LN of one token and the projection into the shared space. */
static capt_status pool_and_project(const clip_stack *s, const float *token, const float *ln_w, const float *ln_b,
                                    const linear *proj, clip_work *w, capt_pool *pool, capt_isa isa, capt_error *err) {
    nn_layer_norm(token, w->pooled, 1, s->width, ln_w, ln_b, s->ln_eps);
    return nn_linear_apply(proj, pool, isa, w->pooled, 1, w->embedding, err);
}

/* ---- the towers ----------------------------------------------------------------------------- */

capt_status capt_clip_vision_forward(const clip_vision *v, clip_work *w, capt_pool *pool, capt_isa isa,
                                     const float *pixels, capt_error *err) {
    const int P = v->patch, S = v->image_size, d = v->stack.width, K = 3 * P * P;
    /* The patch embedding (a P x P convolution with stride P) as one matrix product:
     * patches [grid * grid, 3 * P * P] in the weight's (channel, y, x) order. */
    for (int gy = 0; gy < v->grid; gy++)
        for (int gx = 0; gx < v->grid; gx++) {
            float *row = w->patches + (size_t)(gy * v->grid + gx) * K;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < P; y++)
                    for (int x = 0; x < P; x++)
                        row[(c * P + y) * P + x] = pixels[((size_t)(gy * P + y) * S + (size_t)(gx * P + x)) * 3 + c];
        }
    capt_gemm_args g = {.x = w->patches, .w = v->patch_w, .wtype = CAPT_DTYPE_F32, .y = w->x + d,
                        .M = v->grid * v->grid, .N = d, .K = K, .float_activations = 1};
    capt_status st = capt_gemm(pool, isa, &g, err); /* [grid * grid, d] after the class token */
    if (st) return st;
    memcpy(w->x, v->class_emb, sizeof(float) * d);
    nn_add_into(w->x, v->pos, (size_t)v->n_tokens * d);
    nn_layer_norm(w->x, w->x, v->n_tokens, d, v->ln_pre_w, v->ln_pre_b, v->stack.ln_eps);
    st = run_stack(&v->stack, w, v->n_tokens, 0, pool, isa, err);
    if (!st) st = pool_and_project(&v->stack, w->x, v->ln_post_w, v->ln_post_b, &v->proj, w, pool, isa, err);
    return st;
}

capt_status capt_clip_text_forward(const clip_text *t, clip_work *w, capt_pool *pool, capt_isa isa,
                                   const int32_t *ids, int n, capt_error *err) {
    const int d = t->stack.width;
    if (n < 1 || n > t->context)
        return capt_fail(err, CAPT_E_ARG, "text: %d tokens, the model reads 1..%d", n, t->context);
    int pooled_at = -1;
    size_t row_bytes = capt_dtype_row_bytes(t->tok_emb->dtype, d);
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab) return capt_fail(err, CAPT_E_ARG, "text: token id %d is out of range", ids[i]);
        if (ids[i] == t->eot && pooled_at < 0) pooled_at = i;
        capt_dequantize_row(t->tok_emb->dtype, (const unsigned char *)t->tok_emb->data + (size_t)ids[i] * row_bytes,
                            w->x + (size_t)i * d, d);
    }
    if (pooled_at < 0) return capt_fail(err, CAPT_E_ARG, "text: the ids have no end-of-text token");
    nn_add_into(w->x, t->pos, (size_t)n * d);
    capt_status st = run_stack(&t->stack, w, n, 1, pool, isa, err);
    if (!st)
        st = pool_and_project(&t->stack, w->x + (size_t)pooled_at * d, t->ln_final_w, t->ln_final_b, &t->proj, w, pool,
                              isa, err);
    return st;
}
