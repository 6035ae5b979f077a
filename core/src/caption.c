/* caption.c — captioning an image: encoder, then the decoder's search (docs/model.md:
 * greedy is beam search of width 1; optional sampling and no-repeat-ngram), then the
 * text, per-token probabilities and cross-attention maps of the result. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "internal.h"

capt_caption_params capt_caption_default_params(void) {
    capt_caption_params p;
    memset(&p, 0, sizeof p);
    p.beam = 3;
    p.max_tokens = 20;
    p.length_alpha = 1.0f;
    p.top_p = 1.0f;
    return p;
}

void capt_result_free(capt_result *r) {
    if (!r) return;
    free(r->caption);
    free(r->tokens);
    free(r->attention);
    free(r->attention_mean);
    free(r->first_logits);
    free(r->detections);
    free(r->detection_attention);
    free(r);
}

/* ---- hypotheses ---------------------------------------------------------------------- */

/* Words guided at once, at most (each needs a class with p >= tau: a few at most). */
#define CAPT_MAX_GUIDED 16

typedef struct hyp {
    int32_t *tokens; /* [max_tokens] */
    float *probs;    /* [max_tokens] */
    float *attn;     /* [max_tokens][layers * heads * n_memory] */
    int n;
    float score;     /* sum of log p, in float32 as the reference */
} hyp;

typedef struct beams {
    int width;
    size_t attn_step; /* floats of one step's attention */
    hyp hyps[2 * CAPT_MAX_BEAM]; /* live and next point into it */
    hyp *live, *next; /* [width] each */
    hyp best;         /* the best finished hypothesis */
    double best_score;
    int finished;
} beams;

/* Everything a caption's search needs, sized once for CAPT_MAX_BEAM and the decoder's
 * longest caption when the context is made: a caption allocates only its result. */
struct caption_work {
    beams bm;
    int max_tokens;        /* dec->max_len: every caption is shorter */
    float *hyp_floats;     /* [2 * CAPT_MAX_BEAM + 1][max_tokens * (1 + attn_step)]: probs, then attention */
    int32_t *hyp_tokens;   /* [2 * CAPT_MAX_BEAM + 1][max_tokens] */
    float *first_logits;   /* [vocab] */
    float *probs;          /* [vocab] sampling */
    int *order;            /* [vocab] sampling */
    char *text, *text_raw; /* [text_bytes] each: a partial caption as it streams */
    size_t text_bytes;
};

capt_status capt_caption_work_alloc(const capt_decoder *dec, caption_work **out, capt_error *err) {
    const size_t n_hyp = 2 * CAPT_MAX_BEAM + 1;
    size_t attn_step, per_hyp, floats, tokens, text = 0, vocab = (size_t)dec->vocab;
    /* sizes from the file's dimensions: checked (size_t is 32 bits on wasm32) */
    if (!capt_size_mul3(dec->layers, dec->heads, dec->n_memory, &attn_step) || !capt_size_add(attn_step, 1, &per_hyp) ||
        !capt_size_mul(per_hyp, (size_t)dec->max_len, &per_hyp) || !capt_size_mul(per_hyp, n_hyp, &floats) ||
        !capt_size_mul(floats, sizeof(float), &floats) || !capt_size_mul((size_t)dec->max_len, n_hyp, &tokens))
        return capt_fail(err, CAPT_E_FORMAT, "model: the decoder's search memory overflows");
    for (size_t v = 0; v < vocab; v++) {
        size_t len = capt_meta_string_at(dec->token_text, v).len;
        text = len > text ? len : text;
    }
    if (!capt_size_mul(text, (size_t)dec->max_len, &text) || !capt_size_add(text, 2, &text))
        return capt_fail(err, CAPT_E_FORMAT, "model: the decoder's caption text overflows");
    caption_work *w = calloc(1, sizeof *w);
    if (!w) return capt_fail(err, CAPT_E_NOMEM, "out of memory");
    w->max_tokens = dec->max_len;
    w->text_bytes = text;
    w->hyp_floats = malloc(floats);
    w->hyp_tokens = malloc(tokens * sizeof(int32_t));
    w->first_logits = malloc(vocab * sizeof(float));
    w->probs = malloc(vocab * sizeof(float));
    w->order = malloc(vocab * sizeof(int));
    w->text = malloc(text);
    w->text_raw = malloc(text);
    if (!w->hyp_floats || !w->hyp_tokens || !w->first_logits || !w->probs || !w->order || !w->text || !w->text_raw) {
        capt_caption_work_free(w);
        return capt_fail(err, CAPT_E_NOMEM, "out of memory for the caption search");
    }
    *out = w;
    return CAPT_OK;
}

void capt_caption_work_free(caption_work *w) {
    if (!w) return;
    free(w->hyp_floats);
    free(w->hyp_tokens);
    free(w->first_logits);
    free(w->probs);
    free(w->order);
    free(w->text);
    free(w->text_raw);
    free(w);
}

/* The search's beams of `width`, in the work's memory. */
static beams *beams_start(caption_work *w, int width, size_t attn_step) {
    beams *bm = &w->bm;
    memset(bm, 0, sizeof *bm);
    bm->width = width, bm->attn_step = attn_step;
    size_t per_hyp = (size_t)w->max_tokens * (1 + attn_step);
    bm->live = bm->hyps;
    bm->next = bm->hyps + width;
    hyp *all[2 * CAPT_MAX_BEAM + 1];
    for (int i = 0; i < width; i++) all[i] = &bm->live[i], all[width + i] = &bm->next[i];
    all[2 * width] = &bm->best;
    for (int i = 0; i <= 2 * width; i++) {
        all[i]->tokens = w->hyp_tokens + (size_t)i * (size_t)w->max_tokens;
        all[i]->probs = w->hyp_floats + (size_t)i * per_hyp;
        all[i]->attn = all[i]->probs + w->max_tokens;
    }
    bm->best_score = -INFINITY;
    return bm;
}

static void hyp_copy(hyp *dst, const hyp *src, size_t attn_step) {
    memcpy(dst->tokens, src->tokens, sizeof(int32_t) * (size_t)src->n);
    memcpy(dst->probs, src->probs, sizeof(float) * (size_t)src->n);
    memcpy(dst->attn, src->attn, sizeof(float) * (size_t)src->n * attn_step);
    dst->n = src->n;
    dst->score = src->score;
}

/* A finished hypothesis replaces the best only when strictly better: the earliest wins ties. */
static void finish(beams *bm, const hyp *h, double normalized) {
    bm->finished++;
    if (normalized > bm->best_score) {
        bm->best_score = normalized;
        hyp_copy(&bm->best, h, bm->attn_step);
    }
}

/* ---- one step of search ------------------------------------------------------------------- */

/* Bans every token that would repeat an n-gram already in h (n = no_repeat). */
static void ban_repeats(const hyp *h, int no_repeat, float *logp) {
    if (no_repeat < 1 || h->n + 1 < no_repeat) return;
    const int32_t *t = h->tokens;
    for (int i = 0; i + no_repeat <= h->n; i++) {
        int same = 1;
        for (int k = 0; k < no_repeat - 1 && same; k++) same = t[i + k] == t[h->n - no_repeat + 1 + k];
        if (same) logp[t[i + no_repeat - 1]] = -INFINITY;
    }
}

typedef struct candidate {
    float score;
    int index; /* hypothesis * V + token */
} candidate;

static int better(candidate a, candidate b) { return a.score > b.score || (a.score == b.score && a.index < b.index); }

/* The best k candidates in order (k is small). A block of TOP_BLOCK words whose best
 * cannot beat the k-th found so far is passed over whole: its best is found with vector
 * compares, and score + logp rises with logp, so score + the block's best logp is the
 * block's best candidate. The same candidates in the same order as one word at a time. */
#define TOP_BLOCK 64

static int top_candidates(capt_isa isa, const float *logp, const hyp *live, int n_live, int V, candidate *top, int k) {
    int n = 0;
    for (int b = 0; b < n_live; b++) {
        const float *lp = logp + (size_t)b * V;
        for (int v0 = 0; v0 < V; v0 += TOP_BLOCK) {
            int v1 = V - v0 < TOP_BLOCK ? V : v0 + TOP_BLOCK;
            if (n == k && live[b].score + nn_max(isa, lp + v0, v1 - v0) <= top[k - 1].score) continue; /* NaN: not passed */
            for (int v = v0; v < v1; v++) {
                candidate c = {live[b].score + lp[v], b * V + v};
                if (c.score == -INFINITY || (n == k && !better(c, top[n - 1]))) continue;
                int i = n < k ? n++ : k - 1;
                while (i > 0 && better(c, top[i - 1])) {
                    top[i] = top[i - 1];
                    i--;
                }
                top[i] = c;
            }
        }
    }
    return n;
}

static uint64_t next_random(uint64_t *state) { /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Samples a token from softmax(logp / temperature) within the top-p nucleus; logp is
 * overwritten with those probabilities. */
static int sample(capt_isa isa, float *logp, int V, float temperature, float top_p, uint64_t *rng, int *order) {
    for (int v = 0; v < V; v++) logp[v] /= temperature;
    nn_softmax(isa, logp, V); /* [V] probabilities */
    for (int v = 0; v < V; v++) order[v] = v;
    /* partial selection sort: only as far as the nucleus reaches */
    double mass = 0;
    int n = 0;
    while (n < V && mass < top_p) {
        int best = n;
        for (int v = n + 1; v < V; v++)
            if (logp[order[v]] > logp[order[best]]) best = v;
        int t = order[n];
        order[n] = order[best], order[best] = t;
        mass += logp[order[n++]];
    }
    double u = (double)(next_random(rng) >> 11) / 9007199254740992.0 * mass, acc = 0;
    for (int i = 0; i < n; i++)
        if ((acc += logp[order[i]]) >= u) return order[i];
    return order[n - 1];
}

/* ---- text ---------------------------------------------------------------------------------- */

static int is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (unsigned char)c >= 0x80;
}

/* The text of a hypothesis, CLIP-decoded ("a man 's t - shirt , red ") -> "A man's
 * t-shirt, red." (raw: trim only); a partial caption (not finished) streams without the
 * closing period. Written to out, with s as scratch: each holds the hypothesis's token
 * texts + 2 bytes (caption_work's text_bytes). Returns out. */
static char *caption_text(const capt_decoder *dec, const hyp *h, int raw, int finished, char *s, char *out) {
    size_t n = 0;
    for (int i = 0; i < h->n; i++) {
        capt_str t = capt_meta_string_at(dec->token_text, (size_t)h->tokens[i]);
        memcpy(s + n, t.ptr, t.len);
        n += t.len;
    }
    while (n && s[n - 1] == ' ') n--;
    size_t w = 0, start = 0;
    while (start < n && s[start] == ' ') start++;
    for (size_t i = start; i < n; i++) {
        char c = s[i];
        if (!raw && c == ' ' && i + 1 < n) {
            char next = s[i + 1];
            /* no space before punctuation or a contraction, none around a joining hyphen */
            if (strchr(",.!?;:", next) || (next == '\'' && i + 2 < n && is_word_char(s[i + 2]))) continue;
            if (next == '-' && i + 2 < n && s[i + 2] == ' ' && w && is_word_char(out[w - 1]) && i + 3 < n &&
                is_word_char(s[i + 3])) {
                out[w++] = '-';
                i += 2;
                continue;
            }
        }
        out[w++] = c;
    }
    if (!raw && w) {
        if (out[0] >= 'a' && out[0] <= 'z') out[0] = (char)(out[0] - 'a' + 'A');
        if (finished && !strchr(".!?", out[w - 1])) out[w++] = '.';
    }
    out[w] = 0;
    return out;
}

/* ---- the caption ------------------------------------------------------------------------------ */

static capt_status build_result(const capt_decoder *dec, caption_work *work, const hyp *h, int raw,
                                const capt_detection *dets, int n_dets, capt_result **out) {
    const float *first_logits = work->first_logits;
    /* The maps cover the grid cells; a global token's share of the attention is left out,
     * the detections' is reported apart. */
    /* (every product below is at most one of caption_work's, checked when it was made) */
    const int L = dec->layers, H = dec->heads, N = dec->grid_h * dec->grid_w, M = dec->n_memory, T = h->n, D = n_dets;
    capt_result *r = calloc(1, sizeof *r);
    size_t text_bytes = 0;
    for (int i = 0; i < T; i++) text_bytes += capt_meta_string_at(dec->token_text, (size_t)h->tokens[i]).len + 1;
    if (r) {
        const char *text = caption_text(dec, h, raw, 1, work->text_raw, work->text);
        size_t bytes = strlen(text) + 1;
        if ((r->caption = malloc(bytes)) != NULL) memcpy(r->caption, text, bytes);
        r->tokens = malloc(sizeof(capt_token) * (size_t)(T ? T : 1) + text_bytes);
        r->attention = malloc(sizeof(float) * ((size_t)L * H * T * N + 1));
        r->attention_mean = malloc(sizeof(float) * ((size_t)L * T * N + 1));
        r->first_logits = malloc(sizeof(float) * (size_t)dec->vocab);
        r->detections = malloc(sizeof(capt_detection) * (size_t)(D ? D : 1));
        r->detection_attention = malloc(sizeof(float) * ((size_t)L * T * D + 1));
    }
    if (!r || !r->caption || !r->tokens || !r->attention || !r->attention_mean || !r->first_logits || !r->detections ||
        !r->detection_attention) {
        capt_result_free(r);
        return CAPT_E_NOMEM;
    }
    r->n_tokens = T, r->layers = L, r->heads = H, r->grid_h = dec->grid_h, r->grid_w = dec->grid_w;
    r->vocab = dec->vocab;
    memcpy(r->first_logits, first_logits, sizeof(float) * (size_t)dec->vocab);
    r->n_detections = D;
    if (D) memcpy(r->detections, dets, sizeof(capt_detection) * (size_t)D);
    char *texts = (char *)(r->tokens + (T ? T : 1));
    for (int i = 0; i < T; i++) {
        capt_str t = capt_meta_string_at(dec->token_text, (size_t)h->tokens[i]);
        memcpy(texts, t.ptr, t.len);
        texts[t.len] = 0;
        r->tokens[i] = (capt_token){h->tokens[i], texts, h->probs[i]};
        texts += t.len + 1;
    }
    /* history [token][layer][head][cell] -> [layer][head][token][cell] and the head mean */
    for (int l = 0; l < L; l++)
        for (int t = 0; t < T; t++) {
            float *mean = r->attention_mean + ((size_t)l * T + t) * N;
            for (int c = 0; c < N; c++) mean[c] = 0;
            for (int hd = 0; hd < H; hd++) {
                const float *src = h->attn + (size_t)t * L * H * M + ((size_t)l * H + hd) * M + dec->n_global;
                memcpy(r->attention + (((size_t)l * H + hd) * T + t) * N, src, sizeof(float) * N);
                for (int c = 0; c < N; c++) mean[c] += src[c] / (float)H;
            }
            float *det_mean = r->detection_attention + ((size_t)l * T + t) * D;
            for (int k = 0; k < D; k++) det_mean[k] = 0;
            for (int hd = 0; hd < H; hd++) {
                const float *src = h->attn + (size_t)t * L * H * M + ((size_t)l * H + hd) * M + dec->n_visual;
                for (int k = 0; k < D; k++) det_mean[k] += src[k] / (float)H;
            }
        }
    *out = r;
    return CAPT_OK;
}

static void report_partial(const capt_decoder *dec, caption_work *work, const capt_caption_params *p, const hyp *h) {
    if (!p->on_token) return;
    char token[256];
    const char *text = caption_text(dec, h, p->raw, 0, work->text_raw, work->text);
    capt_str last = capt_meta_string_at(dec->token_text, (size_t)h->tokens[h->n - 1]);
    snprintf(token, sizeof token, "%.*s", (int)last.len, last.ptr);
    p->on_token(p->user, text, token, h->n);
}

/* Concept guidance: the decoder words the classifier's confident classes vote for, and
 * their logit bonus beta * sum of p(class) (docs/model.md). */
typedef struct guidance {
    int n;
    int32_t token[CAPT_MAX_GUIDED];
    float bonus[CAPT_MAX_GUIDED];
} guidance;

static void guidance_from(const capt_decoder *dec, const float *probs, int n_classes, guidance *g) {
    g->n = 0;
    if (!probs || !dec->n_concepts || dec->n_concepts != n_classes || !(dec->concept_beta > 0)) return;
    for (int c = 0; c < n_classes; c++) {
        int32_t t = (int32_t)capt_meta_int_at(dec->concept_token, (size_t)c);
        if (t < 0 || !(probs[c] >= dec->concept_tau)) continue;
        int k = 0;
        while (k < g->n && g->token[k] != t) k++;
        if (k == g->n) {
            if (g->n == CAPT_MAX_GUIDED) continue;
            g->token[g->n] = t, g->bonus[g->n++] = 0.0f;
        }
        g->bonus[k] += dec->concept_beta * probs[c];
    }
}

/* Adds the detections' votes: each detector class with a word and a slotted detection
 * scoring >= det_concept_tau, beta times its best score (the detections come best first). */
static void guidance_add_detections(const capt_decoder *dec, const capt_detection *dets, int n, guidance *g) {
    if (!dec->det_concept_token || !(dec->det_concept_beta > 0)) return;
    for (int k = 0; k < n; k++) {
        int c = dets[k].class_index, first = 1;
        for (int j = 0; j < k && first; j++) first = dets[j].class_index != c;
        int32_t t = (int32_t)capt_meta_int_at(dec->det_concept_token, (size_t)c);
        if (!first || t < 0 || !(dets[k].score >= dec->det_concept_tau)) continue;
        int i = 0;
        while (i < g->n && g->token[i] != t) i++;
        if (i == g->n) {
            if (g->n == CAPT_MAX_GUIDED) continue;
            g->token[g->n] = t, g->bonus[g->n++] = 0.0f;
        }
        g->bonus[i] += dec->det_concept_beta * dets[k].score;
    }
}

/* Adds the bonuses to one hypothesis's logits, except for words it already holds. */
static void apply_guidance(const guidance *g, const hyp *h, float *logits) {
    for (int k = 0; k < g->n; k++) {
        int used = 0;
        for (int i = 0; i < h->n && !used; i++) used = h->tokens[i] == g->token[k];
        if (!used) logits[g->token[k]] += g->bonus[k];
    }
}

static capt_status search(capt_context *ctx, const capt_caption_params *p, const guidance *g,
                          const capt_detection *dets, int n_dets, capt_result **out) {
    const capt_decoder *dec = ctx->model->decoder;
    decoder_state *s = &ctx->dec;
    const int V = dec->vocab, B = p->beam, L = dec->layers, H = dec->heads, N = dec->n_memory;
    const size_t attn_step = (size_t)L * H * N;
    caption_work *work = ctx->search;
    beams *bm = beams_start(work, B, attn_step);
    candidate top[2 * CAPT_MAX_BEAM];
    int32_t inputs[CAPT_MAX_BEAM];
    int parent[CAPT_MAX_BEAM];
    float *first_logits = work->first_logits, *probs = work->probs;
    int *order = work->order;
    uint64_t rng = p->seed;
    capt_error e;
    capt_status st = CAPT_OK;
    int n_live = 1, step;
    bm->live[0].n = 0;
    bm->live[0].score = 0.0f;
    inputs[0] = CAPT_DECODER_START;
    for (step = 0; step < p->max_tokens; step++) {
        if ((st = capt_decoder_step(dec, s, ctx->pool, ctx->isa, inputs, n_live, step, &e)) != CAPT_OK) break;
        if (step == 0) memcpy(first_logits, s->logits, sizeof(float) * (size_t)V);
        for (int b = 0; b < n_live; b++) {
            apply_guidance(g, &bm->live[b], s->logits + (size_t)b * V);
            nn_log_softmax(ctx->isa, s->logits + (size_t)b * V, V);
            ban_repeats(&bm->live[b], p->no_repeat_ngram, s->logits + (size_t)b * V);
        }
        int n_top;
        if (p->temperature > 0) {
            float *lp = s->logits, chosen_logp;
            int v = sample(ctx->isa, memcpy(probs, lp, sizeof(float) * (size_t)V), V, p->temperature, p->top_p, &rng, order);
            chosen_logp = lp[v];
            top[0] = (candidate){bm->live[0].score + chosen_logp, v};
            n_top = 1;
        } else {
            n_top = top_candidates(ctx->isa, s->logits, bm->live, n_live, V, top, n_live + B);
        }
        int n_next = 0;
        for (int i = 0; i < n_top && n_next < B; i++) {
            int b = top[i].index / V, v = top[i].index % V;
            hyp *h = &bm->live[b];
            float prob = expf(s->logits[(size_t)b * V + v]);
            if (v == CAPT_DECODER_END) {
                finish(bm, h, (double)top[i].score / pow(h->n + 1, p->length_alpha));
                continue;
            }
            hyp *nh = &bm->next[n_next];
            hyp_copy(nh, h, attn_step);
            nh->tokens[nh->n] = v;
            nh->probs[nh->n] = prob;
            memcpy(nh->attn + (size_t)nh->n * attn_step, s->cross_weights + (size_t)b * attn_step,
                   sizeof(float) * attn_step);
            nh->n++;
            nh->score = top[i].score;
            parent[n_next] = b;
            inputs[n_next] = v;
            n_next++;
        }
        if (bm->finished >= B || n_next == 0) break;
        capt_decoder_reorder(dec, s, parent, n_next, step);
        hyp *t = bm->live;
        bm->live = bm->next, bm->next = t;
        n_live = n_next;
        report_partial(dec, work, p, &bm->live[0]);
    }
    if (!st && step == p->max_tokens)
        for (int b = 0; b < n_live; b++)
            finish(bm, &bm->live[b], (double)bm->live[b].score / pow(bm->live[b].n > 1 ? bm->live[b].n : 1, p->length_alpha));
    if (st) return capt_context_fail(ctx, &e);
    if ((st = build_result(dec, work, &bm->best, p->raw, dets, n_dets, out)) != CAPT_OK)
        snprintf(ctx->error, sizeof ctx->error, "caption: out of memory for the result");
    return st;
}

/* The softmax of the encoder's classifier; computed once per image, read by the guidance
 * and by the concepts a result reports. */
static void class_softmax(capt_isa isa, const capt_features *f, float *probs) {
    memcpy(probs, f->logits, sizeof(float) * (size_t)f->n_classes);
    nn_softmax(isa, probs, f->n_classes);
}

/* The most probable labelled classes. */
static void top_concepts(const capt_model *m, const float *probs, int n_classes, capt_result *r) {
    r->n_concepts = 0;
    if (!probs || capt_model_label_count(m) != (size_t)n_classes) return;
    for (int k = 0; k < CAPT_MAX_CONCEPTS; k++) {
        int best = -1;
        for (int c = 0; c < n_classes; c++) {
            if (capt_str_is(capt_model_label(m, (size_t)c), "background")) continue;
            int taken = 0;
            for (int j = 0; j < r->n_concepts; j++) taken |= r->concepts[j].index == c;
            if (!taken && (best < 0 || probs[c] > probs[best])) best = c;
        }
        if (best < 0) break;
        r->concepts[r->n_concepts++] = (capt_concept){best, capt_model_label(m, (size_t)best), probs[best]};
    }
}

capt_status capt_caption(capt_context *ctx, const capt_image *image, const capt_caption_params *params,
                         capt_result **out) {
    if (!ctx || !image || !out) return CAPT_E_ARG;
    *out = NULL;
    capt_caption_params p = params ? *params : capt_caption_default_params();
    const capt_decoder *dec = ctx->model->decoder;
    if (!dec) {
        snprintf(ctx->error, sizeof ctx->error, "this model has no caption decoder (an encoder-only file)");
        return CAPT_E_UNSUPPORTED;
    }
    if (p.beam < 1 || p.beam > CAPT_MAX_BEAM || p.max_tokens < 1 || p.max_tokens >= dec->max_len ||
        !(p.length_alpha >= 0 && p.length_alpha <= 10) || p.no_repeat_ngram < 0 || !(p.temperature >= 0) ||
        (p.temperature > 0 && (p.beam != 1 || !(p.top_p > 0 && p.top_p <= 1)))) {
        snprintf(ctx->error, sizeof ctx->error,
                 "caption: beam must be 1..%d, max_tokens 1..%d, alpha 0..10; sampling needs beam 1 and top_p in (0, 1]",
                 CAPT_MAX_BEAM, dec->max_len - 1);
        return CAPT_E_ARG;
    }
    capt_features f;
    capt_status st = capt_encode(ctx, image, &f);
    if (st) return st;
    /* A decoder trained with detections reads the most confident (ctx->detections stays
     * valid: the encoder does not touch it). */
    capt_detections found = {0, NULL, 0.0};
    if (dec->det_max > 0) {
        if (!ctx->model->detector) {
            snprintf(ctx->error, sizeof ctx->error, "this model's decoder reads detections but it has no detector");
            return CAPT_E_UNSUPPORTED;
        }
        if ((st = capt_detect(ctx, image, dec->det_min_score, &found)) != CAPT_OK) return st;
        if (found.n > dec->det_max) found.n = dec->det_max;
    }
    double t0 = capt_now_ms();
    capt_error e;
    /* The decoder reads the last n_visual tokens: the grid, after the global ones it uses. */
    const float *tokens = f.tokens + (size_t)(f.n_tokens - dec->n_visual) * f.channels;
    if ((st = capt_decoder_begin(dec, &ctx->dec, ctx->pool, ctx->isa, tokens, found.items, found.n, &e)) != CAPT_OK)
        return capt_context_fail(ctx, &e);
    const float *probs = NULL;
    if (f.logits && f.n_classes > 0 && ctx->class_probs) {
        class_softmax(ctx->isa, &f, ctx->class_probs);
        probs = ctx->class_probs;
    }
    guidance g = {0};
    if (!p.no_concepts) {
        guidance_from(dec, probs, f.n_classes, &g);
        guidance_add_detections(dec, found.items, found.n, &g);
    }
    if ((st = search(ctx, &p, &g, found.items, found.n, out)) != CAPT_OK) return st;
    (*out)->encode_ms = f.preprocess_ms + f.encode_ms;
    (*out)->detect_ms = found.detect_ms;
    (*out)->preprocess_ms = f.preprocess_ms;
    top_concepts(ctx->model, probs, f.n_classes, *out);
    (*out)->caption_ms = capt_now_ms() - t0;
    ctx->error[0] = 0;
    return CAPT_OK;
}

capt_status capt_caption_image(capt_context *ctx, const void *bytes, size_t len, const capt_caption_params *params,
                               capt_result **out) {
    if (!ctx || !out) return CAPT_E_ARG;
    *out = NULL;
    double t0 = capt_now_ms();
    capt_image *img;
    capt_error e;
    if (capt_image_decode(bytes, len, &img, &e) != CAPT_OK) return capt_context_fail(ctx, &e);
    double decode_ms = capt_now_ms() - t0;
    capt_status st = capt_caption(ctx, img, params, out);
    capt_image_free(img);
    if (!st) (*out)->decode_ms = decode_ms;
    return st;
}
