/* model.c — loading a .capt model (encoder, preprocessing, labels) and the contexts that
 * run it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

#include "context.h"
#include "internal.h"

/* The convolutional encoder's outputs (docs/mobilenet_v2.md): the visual tokens
 * [grid_h, grid_w, C], their average [1, 1, C] and the classifier's logits [1, 1, classes]. */
enum { ENCODER_GRID, ENCODER_POOLED, ENCODER_LOGITS };

static convnet_shape encoder_output(const capt_convnet *net, int output) { return net->shapes[net->outputs[output]]; }

/* The encoder's visual tokens: grid_h x grid_w x channels. */
static convnet_shape grid_shape(const capt_model *m) {
    if (m->vit) return (convnet_shape){m->vit->grid, m->vit->grid, m->vit->stack.width};
    return encoder_output(m->encoder, ENCODER_GRID);
}

static capt_status load_encoder(capt_model *m, capt_error *err) {
    const capt_meta *type = capt_file_find_meta(m->file, "encoder.type");
    capt_status st;
    int in_w, in_h;
    if (capt_meta_is(type, "convnet")) {
        static const char *const outputs[] = {"grid", "pooled", "logits"};
        st = capt_convnet_load(m->file, "encoder", outputs, 3, &m->encoder, err);
        if (st) return st;
        convnet_shape grid = encoder_output(m->encoder, ENCODER_GRID), pooled = encoder_output(m->encoder, ENCODER_POOLED),
                      logits = encoder_output(m->encoder, ENCODER_LOGITS);
        if (pooled.h != 1 || pooled.w != 1 || logits.h != 1 || logits.w != 1 || pooled.c != grid.c)
            return capt_fail(err, CAPT_E_FORMAT, "model: the pooled and logits outputs must be 1x1 vectors");
        in_w = m->encoder->shapes[0].w, in_h = m->encoder->shapes[0].h;
        m->labels = capt_file_find_meta(m->file, "encoder.labels");
        if (m->labels && (m->labels->type != CAPT_META_ARRAY || m->labels->elem_type != CAPT_META_STRING ||
                          m->labels->count != (size_t)logits.c))
            return capt_fail(err, CAPT_E_FORMAT, "model: encoder.labels must be one string per class");
    } else if (capt_meta_is(type, "vit")) {
        st = capt_clip_vision_load(m->file, &m->vit, err);
        if (st) return st;
        in_w = in_h = m->vit->image_size;
    } else {
        return capt_fail(err, CAPT_E_UNSUPPORTED, "model: encoder.type must be \"convnet\" or \"vit\"");
    }
    if (in_h != m->pre.height || in_w != m->pre.width)
        return capt_fail(err, CAPT_E_FORMAT, "model: preprocess size %dx%d differs from the encoder input %dx%d",
                         m->pre.width, m->pre.height, in_w, in_h);
    return CAPT_OK;
}

static capt_status load_text(capt_model *m, capt_error *err) {
    capt_status st = capt_clip_text_load(m->file, &m->text, err);
    if (st) return st;
    nn_loader l = {m->file, err, 1};
    float scale = nn_meta_float(&l, "clip.logit_scale", 0.0f);
    if (!l.ok) return err ? err->status : CAPT_E_FORMAT;
    m->logit_scale = expf(scale);
    m->merges = capt_file_find_meta(m->file, "tokenizer.merges");
    if (!m->merges || m->merges->type != CAPT_META_ARRAY || m->merges->elem_type != CAPT_META_STRING ||
        512 + m->merges->count + 2 != (size_t)m->text->vocab)
        return capt_fail(err, CAPT_E_FORMAT, "model: tokenizer.merges must hold text.vocab_size - 514 BPE merges");
    if (m->vit && m->vit->embed_dim != m->text->embed_dim)
        return capt_fail(err, CAPT_E_FORMAT, "model: the image and text embeddings differ in size");
    return CAPT_OK;
}

capt_status capt_model_load(const void *buf, size_t len, capt_model **out, capt_error *err) {
    if (!out) return capt_fail(err, CAPT_E_ARG, "capt_model_load: NULL argument");
    *out = NULL;
    capt_model *m = calloc(1, sizeof *m);
    if (!m) return capt_fail(err, CAPT_E_NOMEM, "out of memory");
    capt_status st = capt_file_open(buf, len, &m->file, err);
    if (!st) st = capt_preprocess_read(m->file, "preprocess", &m->pre, err);
    if (!st) st = load_encoder(m, err);
    if (!st && capt_file_find_meta(m->file, "detector.type")) st = capt_detector_load(m->file, &m->detector, err);
    if (!st && capt_file_find_meta(m->file, "decoder.type")) {
        if (!capt_meta_is(capt_file_find_meta(m->file, "decoder.type"), "transformer"))
            st = capt_fail(err, CAPT_E_UNSUPPORTED, "model: decoder.type must be \"transformer\"");
        if (!st) st = capt_decoder_load(m->file, &m->decoder, err);
        if (!st) {
            convnet_shape g = grid_shape(m);
            if (g.h != m->decoder->grid_h || g.w != m->decoder->grid_w || g.c != m->decoder->d_visual)
                st = capt_fail(err, CAPT_E_FORMAT, "model: the decoder expects a %dx%dx%d grid, the encoder gives %dx%dx%d",
                               m->decoder->grid_h, m->decoder->grid_w, m->decoder->d_visual, g.h, g.w, g.c);
            int global_tokens = m->vit ? 1 : 0; /* the class token */
            if (!st && m->decoder->n_global > global_tokens)
                st = capt_fail(err, CAPT_E_FORMAT, "model: the decoder reads %d global visual tokens, the encoder gives %d",
                               m->decoder->n_global, global_tokens);
            int classes = m->encoder ? encoder_output(m->encoder, ENCODER_LOGITS).c : 0;
            if (!st && m->decoder->n_concepts && m->decoder->n_concepts != classes)
                st = capt_fail(err, CAPT_E_FORMAT, "model: decoder.concept_token has %d classes, the encoder %d",
                               m->decoder->n_concepts, classes);
            if (!st && m->decoder->det_max && (!m->detector || m->detector->classes != m->decoder->det_classes))
                st = capt_fail(err, CAPT_E_FORMAT, "model: the decoder reads detections of %d classes, the file's "
                               "detector gives %d", m->decoder->det_classes, m->detector ? m->detector->classes : 0);
        }
    }
    if (!st && capt_file_find_meta(m->file, "text.width")) st = load_text(m, err);
    if (st) {
        capt_model_free(m);
        return st;
    }
    *out = m;
    return CAPT_OK;
}

void capt_model_free(capt_model *m) {
    if (!m) return;
    capt_decoder_free(m->decoder);
    capt_detector_free(m->detector);
    capt_clip_text_free(m->text);
    capt_clip_vision_free(m->vit);
    capt_convnet_free(m->encoder);
    capt_file_free(m->file);
    free(m);
}

const capt_file *capt_model_file(const capt_model *m) { return m->file; }

int capt_model_has_decoder(const capt_model *m) { return m && m->decoder != NULL; }

int capt_model_has_text(const capt_model *m) { return m && m->text != NULL; }

int capt_model_embed_dim(const capt_model *m) { return m && m->vit ? m->vit->embed_dim : 0; }

float capt_model_logit_scale(const capt_model *m) { return m && m->text ? m->logit_scale : 0.0f; }

size_t capt_model_label_count(const capt_model *m) { return m->labels ? m->labels->count : 0; }

capt_str capt_model_label(const capt_model *m, size_t i) {
    capt_str none = {"", 0};
    return m->labels && i < m->labels->count ? capt_meta_string_at(m->labels, i) : none;
}

capt_context_params capt_context_default_params(void) {
    capt_context_params p = {1};
    return p;
}

/* The deepest product y[M, N] = x[M, K]·W[N, K]ᵀ the model runs: every weight the kernels
 * multiply is a 2-D [N, K] tensor, and CLIP's attention multiplies over the head width
 * or the token count, both at most its width, itself such a K. */
static int largest_gemm_k(const capt_model *m) {
    int64_t k = 1;
    for (size_t i = 0; i < capt_file_tensor_count(m->file); i++) {
        const capt_tensor *t = capt_file_tensor_at(m->file, i);
        if (t->n_dims == 2 && t->dims[1] > k) k = t->dims[1];
    }
    if (m->vit && m->vit->n_tokens > k) k = m->vit->n_tokens;
    if (m->text && m->text->context > k) k = m->text->context;
    return k < INT32_MAX ? (int)k : INT32_MAX;
}

capt_status capt_context_create(const capt_model *model, const capt_context_params *params, capt_context **out,
                                capt_error *err) {
    if (!model || !out) return capt_fail(err, CAPT_E_ARG, "capt_context_create: NULL argument");
    *out = NULL;
    capt_context_params p = params ? *params : capt_context_default_params();
    capt_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return capt_fail(err, CAPT_E_NOMEM, "out of memory");
    ctx->model = model;
    ctx->isa = capt_isa_best();
    capt_status st = capt_pool_create(p.n_threads, &ctx->pool, err);
    if (!st) {
        int k = largest_gemm_k(model);
        st = capt_pool_reserve(ctx->pool, capt_gemm_scratch_bytes(k), capt_gemm_shared_bytes(k), err);
    }
    if (!st && model->encoder) st = capt_convnet_work_alloc(model->encoder, &ctx->work, err);
    if (!st && model->vit) {
        const clip_vision *v = model->vit;
        /* patches: 3 x image_size² floats, image_size = grid x patch <= 8192 (preprocess): no overflow */
        st = capt_clip_work_alloc(&v->stack, v->n_tokens, (size_t)v->grid * v->grid * 3 * v->patch * v->patch,
                                  v->embed_dim, &ctx->vit_work, err);
    }
    if (!st && model->text) {
        st = capt_clip_work_alloc(&model->text->stack, model->text->context, 0, model->text->embed_dim, &ctx->text_work,
                                  err);
        if (!st) st = capt_tokenizer_create_from_list(model->merges->strings, model->merges->count, &ctx->tok, err);
        if (!st && !(ctx->ids = malloc(sizeof(int32_t) * (size_t)model->text->context)))
            st = capt_fail(err, CAPT_E_NOMEM, "out of memory");
    }
    if (!st) {
        ctx->input = capt_malloc3(sizeof(float) * 3, (size_t)model->pre.width, (size_t)model->pre.height);
        if (!ctx->input) st = capt_fail(err, CAPT_E_NOMEM, "out of memory");
    }
    if (!st) st = capt_preprocess_work_alloc(&model->pre, &ctx->pre_work, err);
    if (!st && model->encoder) {
        ctx->class_probs = malloc(sizeof(float) * (size_t)encoder_output(model->encoder, ENCODER_LOGITS).c);
        if (!ctx->class_probs) st = capt_fail(err, CAPT_E_NOMEM, "out of memory");
    }
    if (!st && model->detector) {
        const capt_detector *det = model->detector;
        st = capt_convnet_work_alloc(det->net, &ctx->det_work, err);
        if (!st) st = capt_preprocess_work_alloc(&det->pre, &ctx->det_pre_work, err);
        ctx->det_input = capt_malloc3(sizeof(float) * 3, (size_t)det->pre.width, (size_t)det->pre.height);
        ctx->detections = malloc(sizeof(capt_detection) * (size_t)det->max_detections);
        if (!st && (!ctx->det_input || !ctx->detections)) st = capt_fail(err, CAPT_E_NOMEM, "out of memory");
    }
    if (!st && model->decoder) st = capt_decoder_state_alloc(model->decoder, CAPT_MAX_BEAM, &ctx->dec, err);
    if (!st && model->decoder) st = capt_caption_work_alloc(model->decoder, &ctx->search, err);
    if (st) {
        capt_context_free(ctx);
        return st;
    }
    *out = ctx;
    return CAPT_OK;
}

void capt_context_free(capt_context *ctx) {
    if (!ctx) return;
    if (ctx->model->encoder) capt_convnet_work_free(ctx->model->encoder, &ctx->work);
    if (ctx->model->detector) capt_convnet_work_free(ctx->model->detector->net, &ctx->det_work);
    free(ctx->det_input);
    free(ctx->detections);
    capt_clip_work_free(&ctx->vit_work);
    capt_clip_work_free(&ctx->text_work);
    capt_tokenizer_free(ctx->tok);
    free(ctx->ids);
    capt_decoder_state_free(&ctx->dec);
    capt_caption_work_free(ctx->search);
    capt_pool_free(ctx->pool);
    free(ctx->input);
    capt_preprocess_work_free(&ctx->pre_work);
    capt_preprocess_work_free(&ctx->det_pre_work);
    free(ctx->class_probs);
    free(ctx);
}

const char *capt_context_last_error(const capt_context *ctx) { return ctx->error; }

double capt_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

capt_status capt_context_fail(capt_context *ctx, const capt_error *e) {
    snprintf(ctx->error, sizeof ctx->error, "%s", e->message);
    return e->status;
}

capt_status capt_model_fit_image(const capt_model *m, const capt_image *image, capt_image **out, capt_error *err) {
    if (!m || !image || !image->rgb || !out) return capt_fail(err, CAPT_E_ARG, "capt_model_fit_image: NULL argument");
    capt_status st = capt_preprocess_fit(&m->pre, image, out, err);
    if (!st && !*out) st = capt_image_crop(image, 0, 0, image->width, image->height, out, err); /* a copy */
    return st;
}

/* Runs the encoder on ctx->input and describes its outputs. */
static capt_status run_encoder(capt_context *ctx, capt_features *out, double preprocess_ms) {
    const capt_model *m = ctx->model;
    capt_error e;
    double t1 = capt_now_ms();
    if (m->vit) {
        clip_work *w = &ctx->vit_work;
        if (capt_clip_vision_forward(m->vit, w, ctx->pool, ctx->isa, ctx->input, &e)) return capt_context_fail(ctx, &e);
        const int d = m->vit->stack.width;
        /* tokens: the class token, then the patches (the grid); pooled: the class token after the final LN. */
        *out = (capt_features){m->vit->grid,   m->vit->grid, d, w->x + d, w->pooled,
                               0,              NULL,         preprocess_ms, capt_now_ms() - t1,
                               m->vit->embed_dim, w->embedding, m->vit->n_tokens, w->x};
    } else {
        if (capt_convnet_forward(m->encoder, &ctx->work, ctx->pool, ctx->isa, ctx->input, &e))
            return capt_context_fail(ctx, &e);
        const capt_convnet *net = m->encoder;
        convnet_shape g = encoder_output(net, ENCODER_GRID);
        const float *grid = capt_convnet_value(net, &ctx->work, net->outputs[ENCODER_GRID]);
        *out = (capt_features){g.h,
                               g.w,
                               g.c,
                               grid,
                               capt_convnet_value(net, &ctx->work, net->outputs[ENCODER_POOLED]),
                               encoder_output(net, ENCODER_LOGITS).c,
                               capt_convnet_value(net, &ctx->work, net->outputs[ENCODER_LOGITS]),
                               preprocess_ms,
                               capt_now_ms() - t1,
                               0,
                               NULL,
                               g.h * g.w,
                               grid};
    }
    ctx->error[0] = 0;
    return CAPT_OK;
}

capt_status capt_encode(capt_context *ctx, const capt_image *image, capt_features *out) {
    if (!ctx || !image || !image->rgb || !out) return CAPT_E_ARG;
    capt_error e;
    double t0 = capt_now_ms();
    if (capt_preprocess_image(&ctx->model->pre, &ctx->pre_work, image, ctx->input, &e)) return capt_context_fail(ctx, &e);
    return run_encoder(ctx, out, capt_now_ms() - t0);
}

capt_status capt_encode_pixels(capt_context *ctx, const float *pixels, int width, int height, capt_features *out) {
    if (!ctx || !pixels || !out) return CAPT_E_ARG;
    const capt_model *m = ctx->model;
    if (width != m->pre.width || height != m->pre.height) {
        snprintf(ctx->error, sizeof ctx->error, "pixels: %dx%d given, the encoder takes %dx%d", width, height,
                 m->pre.width, m->pre.height);
        return CAPT_E_ARG;
    }
    size_t plane = (size_t)width * height;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++) ctx->input[3 * i + c] = pixels[(size_t)c * plane + i];
    return run_encoder(ctx, out, 0.0);
}

capt_status capt_embed_text(capt_context *ctx, const char *text, size_t len, capt_text_embedding *out) {
    if (!ctx || (!text && len) || !out) return CAPT_E_ARG;
    const clip_text *t = ctx->model->text;
    if (!t) {
        snprintf(ctx->error, sizeof ctx->error, "this model has no text tower");
        return CAPT_E_UNSUPPORTED;
    }
    size_t n = 0;
    capt_status st = capt_tokenizer_encode(ctx->tok, text ? text : "", len, ctx->ids + 1, (size_t)t->context - 2, &n);
    if (st) {
        snprintf(ctx->error, sizeof ctx->error, "%s", capt_tokenizer_last_error(ctx->tok));
        return st;
    }
    if (n > (size_t)t->context - 2) {
        snprintf(ctx->error, sizeof ctx->error, "text: %zu tokens, the model reads at most %d", n, t->context - 2);
        return CAPT_E_ARG;
    }
    ctx->ids[0] = t->sot;
    ctx->ids[n + 1] = t->eot;
    capt_error e;
    if (capt_clip_text_forward(t, &ctx->text_work, ctx->pool, ctx->isa, ctx->ids, (int)n + 2, &e))
        return capt_context_fail(ctx, &e);
    *out = (capt_text_embedding){(int)n + 2, ctx->ids, t->embed_dim, ctx->text_work.embedding};
    ctx->error[0] = 0;
    return CAPT_OK;
}
