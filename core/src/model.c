/* model.c — loading a .capt model (encoder, preprocessing, labels) and the contexts that
 * run it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "context.h"
#include "internal.h"

static capt_status read_preprocess(const capt_file *f, preprocess *p, capt_error *err) {
    const capt_meta *w = capt_file_find_meta(f, "preprocess.width"), *h = capt_file_find_meta(f, "preprocess.height");
    const capt_meta *mean = capt_file_find_meta(f, "preprocess.mean"), *std = capt_file_find_meta(f, "preprocess.std");
    const capt_meta *resize = capt_file_find_meta(f, "preprocess.resize");
    if (!w || !h || w->type != CAPT_META_INT || h->type != CAPT_META_INT || w->int_value < 1 || w->int_value > 8192 ||
        h->int_value < 1 || h->int_value > 8192)
        return capt_fail(err, CAPT_E_FORMAT, "model: preprocess.width/height missing or out of range");
    if (!mean || !std || mean->type != CAPT_META_ARRAY || std->type != CAPT_META_ARRAY ||
        mean->elem_type != CAPT_META_FLOAT || std->elem_type != CAPT_META_FLOAT || mean->count != 3 || std->count != 3)
        return capt_fail(err, CAPT_E_FORMAT, "model: preprocess.mean/std must be 3 floats");
    if (!resize || resize->type != CAPT_META_STRING || resize->string_value.len != 7 ||
        memcmp(resize->string_value.ptr, "stretch", 7) != 0)
        return capt_fail(err, CAPT_E_UNSUPPORTED, "model: preprocess.resize must be \"stretch\"");
    p->width = (int)w->int_value;
    p->height = (int)h->int_value;
    for (int c = 0; c < 3; c++) {
        p->mean[c] = (float)capt_meta_float_at(mean, (size_t)c);
        p->std[c] = (float)capt_meta_float_at(std, (size_t)c);
        if (!(p->std[c] > 0.0f)) return capt_fail(err, CAPT_E_FORMAT, "model: preprocess.std must be positive");
    }
    return CAPT_OK;
}

capt_status capt_model_load(const void *buf, size_t len, capt_model **out, capt_error *err) {
    if (!out) return capt_fail(err, CAPT_E_ARG, "capt_model_load: NULL argument");
    *out = NULL;
    capt_model *m = calloc(1, sizeof *m);
    if (!m) return capt_fail(err, CAPT_E_NOMEM, "out of memory");
    capt_status st = capt_file_open(buf, len, &m->file, err);
    if (!st) st = read_preprocess(m->file, &m->pre, err);
    if (!st) {
        const capt_meta *type = capt_file_find_meta(m->file, "encoder.type");
        if (!type || type->type != CAPT_META_STRING || type->string_value.len != 7 ||
            memcmp(type->string_value.ptr, "convnet", 7) != 0)
            st = capt_fail(err, CAPT_E_UNSUPPORTED, "model: encoder.type must be \"convnet\"");
    }
    if (!st) st = capt_convnet_load(m->file, "encoder", &m->encoder, err);
    if (!st && capt_file_find_meta(m->file, "decoder.type")) {
        const capt_meta *type = capt_file_find_meta(m->file, "decoder.type");
        if (type->type != CAPT_META_STRING || type->string_value.len != 11 ||
            memcmp(type->string_value.ptr, "transformer", 11) != 0)
            st = capt_fail(err, CAPT_E_UNSUPPORTED, "model: decoder.type must be \"transformer\"");
        if (!st) st = capt_decoder_load(m->file, &m->decoder, err);
        if (!st) {
            convnet_shape g = m->encoder->shapes[m->encoder->grid];
            if (g.h != m->decoder->grid_h || g.w != m->decoder->grid_w || g.c != m->decoder->d_visual)
                st = capt_fail(err, CAPT_E_FORMAT, "model: the decoder expects a %dx%dx%d grid, the encoder gives %dx%dx%d",
                               m->decoder->grid_h, m->decoder->grid_w, m->decoder->d_visual, g.h, g.w, g.c);
        }
    }
    if (!st) {
        convnet_shape in = m->encoder->shapes[0];
        if (in.h != m->pre.height || in.w != m->pre.width)
            st = capt_fail(err, CAPT_E_FORMAT, "model: preprocess size %dx%d differs from the encoder input %dx%d",
                           m->pre.width, m->pre.height, in.w, in.h);
        m->labels = capt_file_find_meta(m->file, "encoder.labels");
        if (m->labels && (m->labels->type != CAPT_META_ARRAY || m->labels->elem_type != CAPT_META_STRING ||
                          m->labels->count != (size_t)m->encoder->shapes[m->encoder->logits].c))
            st = capt_fail(err, CAPT_E_FORMAT, "model: encoder.labels must be one string per class");
    }
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
    capt_convnet_free(m->encoder);
    capt_file_free(m->file);
    free(m);
}

const capt_file *capt_model_file(const capt_model *m) { return m->file; }

int capt_model_has_decoder(const capt_model *m) { return m && m->decoder != NULL; }

size_t capt_model_label_count(const capt_model *m) { return m->labels ? m->labels->count : 0; }

capt_str capt_model_label(const capt_model *m, size_t i) {
    capt_str none = {"", 0};
    return m->labels && i < m->labels->count ? capt_meta_string_at(m->labels, i) : none;
}

capt_context_params capt_context_default_params(void) {
    capt_context_params p = {1};
    return p;
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
    if (!st) st = capt_convnet_work_alloc(model->encoder, &ctx->work, err);
    if (!st) {
        ctx->input = malloc(sizeof(float) * 3 * (size_t)model->pre.width * (size_t)model->pre.height);
        if (!ctx->input) st = capt_fail(err, CAPT_E_NOMEM, "out of memory");
    }
    if (!st && model->decoder) st = capt_decoder_state_alloc(model->decoder, CAPT_MAX_BEAM, &ctx->dec, err);
    if (st) {
        capt_context_free(ctx);
        return st;
    }
    *out = ctx;
    return CAPT_OK;
}

void capt_context_free(capt_context *ctx) {
    if (!ctx) return;
    capt_convnet_work_free(ctx->model->encoder, &ctx->work);
    capt_decoder_state_free(&ctx->dec);
    capt_pool_free(ctx->pool);
    free(ctx->input);
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

capt_status capt_encode(capt_context *ctx, const capt_image *image, capt_features *out) {
    if (!ctx || !image || !image->rgb || !out) return CAPT_E_ARG;
    const capt_model *m = ctx->model;
    capt_error e;
    double t0 = capt_now_ms();
    capt_image *resized = NULL;
    const capt_image *src = image;
    if (image->width != m->pre.width || image->height != m->pre.height) {
        if (capt_image_resize(image, m->pre.width, m->pre.height, &resized, &e)) return capt_context_fail(ctx, &e);
        src = resized;
    }
    size_t pixels = (size_t)m->pre.width * m->pre.height;
    float scale[3], offset[3]; /* x = p * scale + offset */
    for (int c = 0; c < 3; c++) {
        scale[c] = 1.0f / (255.0f * m->pre.std[c]);
        offset[c] = -m->pre.mean[c] / m->pre.std[c];
    }
    for (size_t i = 0; i < pixels; i++)
        for (int c = 0; c < 3; c++) ctx->input[3 * i + c] = (float)src->rgb[3 * i + c] * scale[c] + offset[c];
    capt_image_free(resized);
    double t1 = capt_now_ms();
    if (capt_convnet_forward(m->encoder, &ctx->work, ctx->pool, ctx->isa, ctx->input, &e)) return capt_context_fail(ctx, &e);
    const capt_convnet *net = m->encoder;
    convnet_shape g = net->shapes[net->grid];
    *out = (capt_features){g.h,
                           g.w,
                           g.c,
                           capt_convnet_value(net, &ctx->work, net->grid),
                           capt_convnet_value(net, &ctx->work, net->pooled),
                           net->shapes[net->logits].c,
                           capt_convnet_value(net, &ctx->work, net->logits),
                           t1 - t0,
                           capt_now_ms() - t1};
    ctx->error[0] = 0;
    return CAPT_OK;
}
