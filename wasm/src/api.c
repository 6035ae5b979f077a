/* api.c — the C side of the JavaScript API (wasm/src/captioner.js): a session owns the
 * model bytes, the model, one context and the last error; results are read field by
 * field. Every function is safe to call with a failed session: it reports the error. */
#include <stdlib.h>
#include <string.h>

#include <emscripten.h>

#include "capt.h"

typedef struct session {
    unsigned char *bytes; /* the model file, owned: the model reads it in place */
    capt_model *model;
    capt_context *ctx;
    char error[256];
    int status;
} session;

/* Streams the best hypothesis to the JavaScript side (Module.onCaptToken). */
EM_JS(void, js_on_token, (const char *text, const char *token, int n_tokens), {
    if (Module["onCaptToken"]) Module["onCaptToken"](UTF8ToString(text), UTF8ToString(token), n_tokens);
});

static void on_token(void *user, const char *text, const char *token, int n_tokens) {
    (void)user;
    js_on_token(text, token, n_tokens);
}

static void set_error(session *s, capt_status st, const char *msg) {
    s->status = st;
    strncpy(s->error, msg, sizeof s->error - 1);
    s->error[sizeof s->error - 1] = 0;
}

/* The defaults and limits, defined once in C (capt_caption_default_params, CAPT_MAX_BEAM,
 * the build's thread pool) and read by the JavaScript API and the page. */
#ifndef CAPT_WASM_MAX_THREADS
#define CAPT_WASM_MAX_THREADS 1 /* the simd and plain builds run on the calling thread */
#endif
EMSCRIPTEN_KEEPALIVE int capt_js_default_beam(void) { return capt_caption_default_params().beam; }
EMSCRIPTEN_KEEPALIVE int capt_js_default_max_tokens(void) { return capt_caption_default_params().max_tokens; }
EMSCRIPTEN_KEEPALIVE double capt_js_default_alpha(void) { return capt_caption_default_params().length_alpha; }
EMSCRIPTEN_KEEPALIVE int capt_js_max_beam(void) { return CAPT_MAX_BEAM; }
EMSCRIPTEN_KEEPALIVE int capt_js_max_threads(void) { return CAPT_WASM_MAX_THREADS; }

/* Takes ownership of `bytes` (allocated with malloc by the caller). */
EMSCRIPTEN_KEEPALIVE session *capt_js_load(unsigned char *bytes, size_t len, int n_threads) {
    session *s = calloc(1, sizeof *s);
    if (!s) {
        free(bytes);
        return NULL;
    }
    s->bytes = bytes;
    capt_error err;
    capt_context_params p = capt_context_default_params();
    p.n_threads = n_threads > 0 ? n_threads : 1;
    if (capt_model_load(bytes, len, &s->model, &err) || capt_context_create(s->model, &p, &s->ctx, &err))
        set_error(s, err.status, err.message);
    else if (!capt_model_has_decoder(s->model) && !capt_model_has_text(s->model))
        set_error(s, CAPT_E_UNSUPPORTED, "this model neither captions (no decoder) nor embeds (not CLIP)");
    return s;
}

EMSCRIPTEN_KEEPALIVE const char *capt_js_error(const session *s) { return s ? s->error : "out of memory"; }
EMSCRIPTEN_KEEPALIVE int capt_js_status(const session *s) { return s ? (int)s->status : (int)CAPT_E_NOMEM; }

EMSCRIPTEN_KEEPALIVE void capt_js_free(session *s) {
    if (!s) return;
    capt_context_free(s->ctx);
    capt_model_free(s->model);
    free(s->bytes);
    free(s);
}

/* flags: bit 0 the model's raw text (no capital, no period), bit 1 no concept guidance. */
static capt_caption_params params(int beam, int max_tokens, float alpha, int flags, int stream) {
    capt_caption_params p = capt_caption_default_params();
    p.no_concepts = (flags & 2) != 0;
    p.beam = beam;
    p.max_tokens = max_tokens;
    p.length_alpha = alpha;
    p.raw = flags & 1;
    if (stream) p.on_token = on_token;
    return p;
}

static capt_result *finish(session *s, capt_status st, capt_result *r) {
    if (st) {
        set_error(s, st, capt_context_last_error(s->ctx));
        return NULL;
    }
    s->status = CAPT_OK;
    s->error[0] = 0;
    return r;
}

/* Encoded image bytes (JPEG, PNG, BMP, GIF) -> a result, or NULL (see capt_js_error). */
EMSCRIPTEN_KEEPALIVE capt_result *capt_js_caption_bytes(session *s, const unsigned char *bytes, size_t len, int beam,
                                                        int max_tokens, float alpha, int flags, int stream) {
    if (!s || !s->ctx) return NULL;
    capt_caption_params p = params(beam, max_tokens, alpha, flags, stream);
    capt_result *r = NULL;
    return finish(s, capt_caption_image(s->ctx, bytes, len, &p, &r), r);
}

/* RGBA pixels (canvas ImageData, video frames) -> a result, or NULL. */
EMSCRIPTEN_KEEPALIVE capt_result *capt_js_caption_rgba(session *s, const unsigned char *rgba, int width, int height,
                                                       int stride, int beam, int max_tokens, float alpha, int flags,
                                                       int stream) {
    if (!s || !s->ctx) return NULL;
    capt_image *img;
    capt_error err;
    if (capt_image_from_rgba(rgba, width, height, stride, &img, &err)) {
        set_error(s, err.status, err.message);
        return NULL;
    }
    capt_caption_params p = params(beam, max_tokens, alpha, flags, stream);
    capt_result *r = NULL;
    capt_status st = capt_caption(s->ctx, img, &p, &r);
    capt_image_free(img);
    return finish(s, st, r);
}

EMSCRIPTEN_KEEPALIVE void capt_js_result_free(capt_result *r) { capt_result_free(r); }
EMSCRIPTEN_KEEPALIVE const char *capt_js_result_caption(const capt_result *r) { return r->caption; }
EMSCRIPTEN_KEEPALIVE int capt_js_result_n_tokens(const capt_result *r) { return r->n_tokens; }
EMSCRIPTEN_KEEPALIVE const char *capt_js_result_token_text(const capt_result *r, int i) { return r->tokens[i].text; }
EMSCRIPTEN_KEEPALIVE float capt_js_result_token_prob(const capt_result *r, int i) { return r->tokens[i].prob; }
EMSCRIPTEN_KEEPALIVE int capt_js_result_token_id(const capt_result *r, int i) { return r->tokens[i].id; }
/* [layers, heads, grid_h, grid_w] */
EMSCRIPTEN_KEEPALIVE int capt_js_result_shape(const capt_result *r, int which) {
    int shape[4] = {r->layers, r->heads, r->grid_h, r->grid_w};
    return which >= 0 && which < 4 ? shape[which] : 0;
}
EMSCRIPTEN_KEEPALIVE const float *capt_js_result_attention(const capt_result *r) { return r->attention; }
EMSCRIPTEN_KEEPALIVE const float *capt_js_result_attention_mean(const capt_result *r) { return r->attention_mean; }
EMSCRIPTEN_KEEPALIVE int capt_js_result_n_concepts(const capt_result *r) { return r->n_concepts; }
EMSCRIPTEN_KEEPALIVE float capt_js_result_concept_prob(const capt_result *r, int i) { return r->concepts[i].prob; }
/* The label's bytes (not NUL-terminated) and their length. */
EMSCRIPTEN_KEEPALIVE const char *capt_js_result_concept_label(const capt_result *r, int i) {
    return r->concepts[i].label.ptr;
}
EMSCRIPTEN_KEEPALIVE int capt_js_result_concept_label_len(const capt_result *r, int i) {
    return (int)r->concepts[i].label.len;
}
EMSCRIPTEN_KEEPALIVE int capt_js_result_vocab(const capt_result *r) { return r->vocab; }
EMSCRIPTEN_KEEPALIVE const float *capt_js_result_first_logits(const capt_result *r) { return r->first_logits; }
/* 0 decode, 1 encode, 2 caption, 3 the encoder's preprocessing, 4 the detector (ms) */
EMSCRIPTEN_KEEPALIVE double capt_js_result_timing(const capt_result *r, int which) {
    return which == 0 ? r->decode_ms : which == 1 ? r->encode_ms : which == 2 ? r->caption_ms
         : which == 3 ? r->preprocess_ms : r->detect_ms;
}
/* The detections the decoder read: count, then per detection its box (which 0..3: x0, y0,
 * x1, y1 in 0..1 of the image), score (4) and class (5), its label, and the tokens'
 * attention to them ([layer][token][detection], head average). */
EMSCRIPTEN_KEEPALIVE int capt_js_result_n_detections(const capt_result *r) { return r->n_detections; }
EMSCRIPTEN_KEEPALIVE float capt_js_result_detection(const capt_result *r, int i, int which) {
    const capt_detection *d = &r->detections[i];
    float v[6] = {d->x0, d->y0, d->x1, d->y1, d->score, (float)d->class_index};
    return which >= 0 && which < 6 ? v[which] : 0.0f;
}
EMSCRIPTEN_KEEPALIVE const char *capt_js_result_detection_label(const capt_result *r, int i) {
    return r->detections[i].label.ptr;
}
EMSCRIPTEN_KEEPALIVE int capt_js_result_detection_label_len(const capt_result *r, int i) {
    return (int)r->detections[i].label.len;
}
EMSCRIPTEN_KEEPALIVE const float *capt_js_result_detection_attention(const capt_result *r) {
    return r->detection_attention;
}

/* ---- CLIP embeddings (docs/clip.md) ---------------------------------------------------------- */

EMSCRIPTEN_KEEPALIVE int capt_js_has_decoder(const session *s) { return s && s->model && capt_model_has_decoder(s->model); }
EMSCRIPTEN_KEEPALIVE int capt_js_embed_dim(const session *s) {
    return s && s->model && capt_model_has_text(s->model) ? capt_model_embed_dim(s->model) : 0;
}
EMSCRIPTEN_KEEPALIVE float capt_js_logit_scale(const session *s) { return s && s->model ? capt_model_logit_scale(s->model) : 0; }

static const float *embedding_of(session *s, capt_status st, const float *embedding) {
    if (st) {
        set_error(s, st, capt_context_last_error(s->ctx));
        return NULL;
    }
    if (!embedding) {
        set_error(s, CAPT_E_UNSUPPORTED, "this model does not embed images (its encoder is not CLIP's)");
        return NULL;
    }
    s->status = CAPT_OK;
    s->error[0] = 0;
    return embedding;
}

/* UTF-8 text -> its embedding [capt_js_embed_dim] (valid until the next call), or NULL. */
EMSCRIPTEN_KEEPALIVE const float *capt_js_embed_text(session *s, const char *text) {
    if (!s || !s->ctx) return NULL;
    capt_text_embedding e = {0};
    capt_status st = capt_embed_text(s->ctx, text, strlen(text), &e);
    return embedding_of(s, st, e.embedding);
}

/* Encoded image bytes or RGBA pixels (bytes == NULL) -> the image embedding, or NULL. */
EMSCRIPTEN_KEEPALIVE const float *capt_js_embed_image(session *s, const unsigned char *bytes, size_t len,
                                                      const unsigned char *rgba, int width, int height, int stride) {
    if (!s || !s->ctx) return NULL;
    capt_image *img;
    capt_error err;
    capt_status st = bytes ? capt_image_decode(bytes, len, &img, &err)
                           : capt_image_from_rgba(rgba, width, height, stride, &img, &err);
    if (st) {
        set_error(s, st, err.message);
        return NULL;
    }
    capt_features f = {0};
    st = capt_encode(s->ctx, img, &f);
    capt_image_free(img);
    return embedding_of(s, st, f.embedding);
}
