/* detector.c — the object detector of docs/detector.md: loading it, running it on an
 * image, and decoding the heatmap's peaks into boxes as CenterNet's graph does (a 3x3
 * max-pool keeps the local maxima, the most confident are kept, each box read from the
 * offsets at its cell). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "internal.h"

#define MAX_DETECTIONS 1000

capt_status capt_detector_load(const capt_file *f, capt_detector **out, capt_error *err) {
    *out = NULL;
    if (!capt_meta_is(capt_file_find_meta(f, "detector.type"), "centernet"))
        return capt_fail(err, CAPT_E_UNSUPPORTED, "model: detector.type must be \"centernet\"");
    capt_detector *det = calloc(1, sizeof *det);
    if (!det) return capt_fail(err, CAPT_E_NOMEM, "out of memory");
    static const char *const outputs[] = {"heatmap", "boxes"};
    capt_status st = capt_preprocess_read(f, "detector.preprocess", &det->pre, err);
    if (!st) st = capt_convnet_load(f, "detector", outputs, 2, &det->net, err);
    if (!st) {
        nn_loader l = {f, err, 1};
        det->stride = nn_meta_int(&l, "detector.stride", 1, 64);
        det->max_detections = nn_meta_int(&l, "detector.max_detections", 1, MAX_DETECTIONS);
        det->heatmap_logits =
            capt_file_find_meta(f, "detector.heatmap_logits") ? nn_meta_int(&l, "detector.heatmap_logits", 0, 1) : 0;
        st = l.ok ? CAPT_OK : CAPT_E_FORMAT;
    }
    if (!st) {
        convnet_shape in = det->net->shapes[0], hm = det->net->shapes[det->net->outputs[DETECTOR_HEATMAP]],
                      bx = det->net->shapes[det->net->outputs[DETECTOR_BOXES]];
        det->classes = hm.c;
        det->labels = capt_file_find_meta(f, "detector.labels");
        if (in.h != det->pre.height || in.w != det->pre.width)
            st = capt_fail(err, CAPT_E_FORMAT, "model: detector.preprocess size %dx%d differs from its input %dx%d",
                           det->pre.width, det->pre.height, in.w, in.h);
        else if (bx.h != hm.h || bx.w != hm.w || bx.c != 4 || (int64_t)hm.h * det->stride < in.h ||
                 (int64_t)hm.w * det->stride < in.w)
            st = capt_fail(err, CAPT_E_FORMAT, "model: the detector's heatmap %dx%d and boxes %dx%dx%d do not cover "
                           "its %dx%d input at stride %d", hm.h, hm.w, bx.h, bx.w, bx.c, in.h, in.w, det->stride);
        else if (!det->labels || det->labels->type != CAPT_META_ARRAY || det->labels->elem_type != CAPT_META_STRING ||
                 det->labels->count != (size_t)det->classes)
            st = capt_fail(err, CAPT_E_FORMAT, "model: detector.labels must be one string per class (%d)", det->classes);
    }
    if (st) {
        capt_detector_free(det);
        return st;
    }
    *out = det;
    return CAPT_OK;
}

void capt_detector_free(capt_detector *det) {
    if (!det) return;
    capt_convnet_free(det->net);
    free(det);
}

/* 1 when a comes before b: higher score, then lower (cell, class). */
static int ranks_before(float score_a, size_t index_a, float score_b, size_t index_b) {
    return score_a > score_b || (score_a == score_b && index_a < index_b);
}

static float clip01(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

static float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

int capt_detector_decode(const capt_detector *det, const float *heatmap, const float *boxes, float min_score,
                         capt_detection *out) {
    const capt_convnet *net = det->net;
    const convnet_shape hm = net->shapes[net->outputs[DETECTOR_HEATMAP]], in = net->shapes[0];
    const int C = hm.c, K = det->max_detections;
    /* With logits, the search runs on them (the sigmoid is monotonic): a value whose logit
     * is clearly below the threshold's is skipped, the others are checked by their score. */
    float least = min_score;
    if (det->heatmap_logits)
        least = min_score <= 0.0f ? -INFINITY : min_score >= 1.0f ? INFINITY : logf(min_score / (1 - min_score)) - 1e-3f;
    size_t index[MAX_DETECTIONS]; /* flat heatmap index of each kept peak, in rank order */
    int n = 0;
    for (int y = 0; y < hm.h; y++)
        for (int x = 0; x < hm.w; x++)
            for (int c = 0; c < C; c++) {
                size_t at = ((size_t)y * hm.w + x) * C + c;
                float v = heatmap[at];
                if (!(v >= least) || (n == K && !ranks_before(v, at, heatmap[index[K - 1]], index[K - 1])))
                    continue;
                if (det->heatmap_logits && !(sigmoidf(v) >= min_score)) continue;
                /* a peak equals the maximum of its 3x3 neighbourhood (cells outside do not count) */
                int peak = 1;
                for (int dy = -1; dy <= 1 && peak; dy++)
                    for (int dx = -1; dx <= 1 && peak; dx++) {
                        int yy = y + dy, xx = x + dx;
                        if (yy >= 0 && yy < hm.h && xx >= 0 && xx < hm.w)
                            peak = heatmap[((size_t)yy * hm.w + xx) * C + c] <= v;
                    }
                if (!peak) continue;
                int i = n < K ? n++ : K - 1;
                while (i > 0 && ranks_before(v, at, heatmap[index[i - 1]], index[i - 1])) {
                    index[i] = index[i - 1];
                    i--;
                }
                index[i] = at;
            }
    for (int i = 0; i < n; i++) {
        size_t cell = index[i] / (size_t)C;
        int c = (int)(index[i] % (size_t)C), x = (int)(cell % (size_t)hm.w), y = (int)(cell / (size_t)hm.w);
        const float *o = boxes + cell * 4;
        float cx = (float)(x * det->stride), cy = (float)(y * det->stride);
        float score = det->heatmap_logits ? sigmoidf(heatmap[index[i]]) : heatmap[index[i]];
        out[i] = (capt_detection){clip01((cx - o[0]) / (float)in.w), clip01((cy - o[1]) / (float)in.h),
                                  clip01((cx + o[2]) / (float)in.w), clip01((cy + o[3]) / (float)in.h),
                                  score, c, capt_meta_string_at(det->labels, (size_t)c)};
    }
    return n;
}

int capt_model_has_detector(const capt_model *model) { return model && model->detector != NULL; }

capt_status capt_detect(capt_context *ctx, const capt_image *image, float min_score, capt_detections *out) {
    if (!ctx || !image || !image->rgb || !out) return CAPT_E_ARG;
    const capt_detector *det = ctx->model->detector;
    if (!det) {
        snprintf(ctx->error, sizeof ctx->error, "this model has no object detector");
        return CAPT_E_UNSUPPORTED;
    }
    if (!(min_score >= 0.0f && min_score <= 1.0f)) {
        snprintf(ctx->error, sizeof ctx->error, "detect: min_score must be in 0..1");
        return CAPT_E_ARG;
    }
    capt_error e;
    double t0 = capt_now_ms();
    if (capt_preprocess_image(&det->pre, &ctx->det_pre_work, image, ctx->det_input, &e) ||
        capt_convnet_forward(det->net, &ctx->det_work, ctx->pool, ctx->isa, ctx->det_input, &e))
        return capt_context_fail(ctx, &e);
    const float *heatmap = capt_convnet_value(det->net, &ctx->det_work, det->net->outputs[DETECTOR_HEATMAP]);
    const float *boxes = capt_convnet_value(det->net, &ctx->det_work, det->net->outputs[DETECTOR_BOXES]);
    *out = (capt_detections){capt_detector_decode(det, heatmap, boxes, min_score, ctx->detections), ctx->detections,
                             capt_now_ms() - t0};
    ctx->error[0] = 0;
    return CAPT_OK;
}
