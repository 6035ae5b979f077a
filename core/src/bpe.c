/* bpe.c — the CLIP byte-level BPE tokenizer (docs/tokenizer.md).
 *
 * Reproduces OpenAI's simple_tokenizer.py: html.unescape twice, strip, collapse
 * whitespace, str.lower(), split with CLIP's pattern
 *   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * then byte-level BPE on each piece's UTF-8 bytes with "</w>" on the last symbol.
 * Text is processed as code points; Unicode facts come from unicode_tables.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "unicode_tables.h"
#include "utf8.h"

#define CLIP_MERGES 48894 /* simple_tokenizer: merges[1:49152-256-2+1] */
#define END_OF_WORD "</w>"

/* One vocabulary entry: raw bytes plus whether the token ends a word ("</w>"). */
typedef struct token {
    uint32_t offset; /* into tokenizer.bytes */
    uint32_t len;
    uint8_t word_end;
} token;

/* Open-addressing map from a key to a value; capacity is a power of two. */
typedef struct slot {
    uint64_t key; /* 0 = empty; keys are stored + 1 */
    uint32_t value;
    uint32_t extra;
} slot;

struct capt_tokenizer {
    size_t n_tokens;
    token *tokens;
    unsigned char *bytes;
    int32_t byte_token[256];     /* id of the single-byte token, as encoder[byte_encoder[b]] */
    int32_t byte_end_token[256]; /* id of byte + "</w>" */
    int32_t sot, eot;
    slot *pairs; /* (left id, right id) -> value: rank, extra: merged id */
    size_t pair_mask;
    char error[256];
};

/* ---- hashing ---------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static slot *map_find(slot *map, size_t mask, uint64_t key) {
    for (size_t i = mix64(key) & mask;; i = (i + 1) & mask)
        if (map[i].key == key + 1 || map[i].key == 0) return &map[i];
}

/* ---- Unicode helpers ---------------------------------------------------------------- */

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid][0]) hi = mid;
        else if (cp > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}
#define IN_TABLE(table, cp) in_ranges(table, sizeof table / sizeof table[0], cp)

static int is_letter(uint32_t cp) { return IN_TABLE(unicode_letters, cp); }
static int is_number(uint32_t cp) { return IN_TABLE(unicode_numbers, cp); }
static int is_space(uint32_t cp) { return IN_TABLE(unicode_spaces, cp); }

/* A growable array of code points. */
typedef struct cps {
    uint32_t *v;
    size_t n, cap;
    int failed;
} cps;

static void cps_push(cps *a, uint32_t cp) {
    if (a->failed) return;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        uint32_t *v = cap > SIZE_MAX / sizeof *v ? NULL : realloc(a->v, cap * sizeof *v);
        if (!v) {
            a->failed = 1;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = cp;
}

static void cps_push_utf8(cps *a, const unsigned char *s, size_t n) {
    for (size_t i = 0, adv; i < n; i += adv) cps_push(a, capt_utf8_next(s + i, n - i, &adv));
}

/* ---- html.unescape ------------------------------------------------------------------ */

static int is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static int hex_value(uint32_t c) {
    if (is_digit(c)) return (int)(c - '0');
    if (c >= 'a' && c <= 'f') return (int)(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') return (int)(c - 'A' + 10);
    return -1;
}

/* Numeric reference "#123;" / "#x1F" at s[0..n), s[0] == '#'; 0 if none. Appends the
 * replacement and returns the code points consumed (after '&'). */
static size_t unescape_numeric(const uint32_t *s, size_t n, cps *out) {
    size_t i = 1;
    int hex = n > 1 && (s[1] == 'x' || s[1] == 'X');
    if (hex) i = 2;
    size_t start = i;
    uint32_t num = 0; /* saturates above 0x10FFFF: only "too big" matters then */
    while (i < n && (hex ? hex_value(s[i]) >= 0 : is_digit(s[i]))) {
        uint32_t digit = hex ? (uint32_t)hex_value(s[i]) : s[i] - '0';
        num = num > 0x10FFFF ? num : num * (hex ? 16 : 10) + digit;
        i++;
    }
    if (i == start) return 0;
    if (i < n && s[i] == ';') i++;
    for (size_t k = 0; k < sizeof html_invalid_charrefs / sizeof html_invalid_charrefs[0]; k++) {
        if (html_invalid_charrefs[k][0] == num) {
            cps_push(out, html_invalid_charrefs[k][1]);
            return i;
        }
    }
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) cps_push(out, CAPT_REPLACEMENT_CHAR);
    else if (!IN_TABLE(html_invalid_codepoints, num)) cps_push(out, num);
    return i;
}

static const html_entity *find_entity(const unsigned char *name, size_t len) {
    size_t lo = 0, hi = sizeof html_entities / sizeof html_entities[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *e = html_entities[mid].name;
        size_t elen = strlen(e);
        int c = memcmp(name, e, len < elen ? len : elen);
        if (c == 0) c = (len > elen) - (len < elen);
        if (c == 0) return &html_entities[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

/* Named reference: Python matches [^\t\n\f <&#;]{1,32};? then takes the whole name if
 * it is an entity, else its longest entity prefix (at least 2 code points). */
static size_t unescape_named(const uint32_t *s, size_t n, cps *out) {
    size_t len = 0;
    while (len < n && len < 32) {
        uint32_t c = s[len];
        if (c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' || c == ';') break;
        len++;
    }
    if (len == 0) return 0;
    if (len < n && s[len] == ';') len++;
    unsigned char name[33 * 4];
    size_t prefix_bytes[34], nbytes = 0; /* prefix_bytes[x]: UTF-8 length of s[0..x) */
    for (size_t i = 0; i < len; i++) {
        prefix_bytes[i] = nbytes;
        nbytes += capt_utf8_put(s[i], name + nbytes);
    }
    prefix_bytes[len] = nbytes;
    const html_entity *e = find_entity(name, prefix_bytes[len]);
    size_t x = len;
    for (size_t k = len - 1; !e && k >= 2; k--) { /* Python: range(len(s)-1, 1, -1) */
        e = find_entity(name, prefix_bytes[k]);
        x = k;
    }
    if (!e) return 0;
    /* The rest of the match (no '&' in it) is copied as text by the caller. */
    cps_push_utf8(out, (const unsigned char *)e->utf8, strlen(e->utf8));
    return x;
}

static void html_unescape(const cps *in, cps *out) {
    out->n = 0;
    for (size_t i = 0; i < in->n;) {
        size_t used = 0;
        if (in->v[i] == '&' && i + 1 < in->n) {
            const uint32_t *s = in->v + i + 1;
            size_t n = in->n - i - 1;
            used = s[0] == '#' ? unescape_numeric(s, n, out) : unescape_named(s, n, out);
        }
        if (used) i += 1 + used;
        else cps_push(out, in->v[i++]);
    }
}
/* ---- whitespace and case ------------------------------------------------------------ */

/* strip(), then re.sub(r'\s+', ' ', ...), then strip() again. */
static void clean_whitespace(const cps *in, cps *out) {
    out->n = 0;
    int pending_space = 0;
    for (size_t i = 0; i < in->n; i++) {
        if (is_space(in->v[i])) {
            pending_space = out->n > 0;
            continue;
        }
        if (pending_space) cps_push(out, ' ');
        pending_space = 0;
        cps_push(out, in->v[i]);
    }
}

/* str.lower(): the table, plus Final_Sigma for U+03A3 as CPython decides it. */
static uint32_t capital_sigma_lower(const cps *in, size_t i) {
    size_t j = i;
    while (j > 0 && IN_TABLE(unicode_case_ignorable, in->v[j - 1])) j--;
    int final_sigma = j > 0 && IN_TABLE(unicode_cased, in->v[j - 1]);
    if (final_sigma) {
        size_t k = i + 1;
        while (k < in->n && IN_TABLE(unicode_case_ignorable, in->v[k])) k++;
        final_sigma = k == in->n || !IN_TABLE(unicode_cased, in->v[k]);
    }
    return final_sigma ? 0x3C2 : 0x3C3;
}

static void lowercase(const cps *in, cps *out) {
    out->n = 0;
    const size_t n_lower = sizeof unicode_lower / sizeof unicode_lower[0];
    for (size_t i = 0; i < in->n; i++) {
        uint32_t cp = in->v[i];
        if (cp == 0x3A3) {
            cps_push(out, capital_sigma_lower(in, i));
            continue;
        }
        size_t lo = 0, hi = n_lower;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (unicode_lower[mid][0] < cp) lo = mid + 1;
            else hi = mid;
        }
        if (lo < n_lower && unicode_lower[lo][0] == cp) {
            cps_push(out, unicode_lower[lo][1]);
            if (unicode_lower[lo][2]) cps_push(out, unicode_lower[lo][2]);
        } else {
            cps_push(out, cp);
        }
    }
}

/* ---- byte-level BPE ----------------------------------------------------------------- */

/* GPT-2's bytes_to_unicode order: printable bytes keep their place in the vocabulary
 * ('!'..'~', '¡'..'¬', '®'..'ÿ'), the other 68 bytes follow in byte order. byte_rank[b]
 * is the vocabulary index of byte b; byte_char[b] the code point that stands for it. */
static void byte_alphabet(int32_t byte_rank[256], uint32_t byte_char[256]) {
    int printable[256] = {0};
    int32_t next = 0;
    for (int b = '!'; b <= '~'; b++) printable[b] = 1;
    for (int b = 0xA1; b <= 0xAC; b++) printable[b] = 1;
    for (int b = 0xAE; b <= 0xFF; b++) printable[b] = 1;
    for (int b = 0; b < 256; b++)
        if (printable[b]) {
            byte_rank[b] = next++;
            byte_char[b] = (uint32_t)b;
        }
    uint32_t extra = 0;
    for (int b = 0; b < 256; b++)
        if (!printable[b]) {
            byte_rank[b] = next++;
            byte_char[b] = 256 + extra++;
        }
}

typedef struct heap_item {
    uint32_t rank;
    uint32_t pos;
} heap_item;

static int heap_less(heap_item a, heap_item b) { return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos); }

static void heap_push(heap_item *h, size_t *n, heap_item it) {
    size_t i = (*n)++;
    while (i > 0 && heap_less(it, h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = it;
}

static heap_item heap_pop(heap_item *h, size_t *n) {
    heap_item top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && heap_less(h[c + 1], h[c])) c++;
        if (!heap_less(h[c], last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

static const slot *pair_lookup(const capt_tokenizer *t, int32_t left, int32_t right) {
    const slot *s = map_find(t->pairs, t->pair_mask, ((uint64_t)(uint32_t)left << 32) | (uint32_t)right);
    return s->key ? s : NULL;
}

/* The work arrays of one word's BPE: symbols as a linked list, candidate merges in a
 * heap ordered by (rank, position), which applies merges in the order simple_tokenizer's
 * "lowest-ranked pair first, all occurrences left to right" loop does, in O(n log n). */
typedef struct bpe_work {
    int32_t *id;
    int32_t *next, *prev; /* -1: none */
    heap_item *heap;
    size_t cap;
} bpe_work;

static int bpe_reserve(bpe_work *w, size_t n) {
    if (n <= w->cap) return 1;
    size_t cap = n < 64 ? 64 : n;
    if (cap > SIZE_MAX / (2 * sizeof(heap_item))) return 0;
    int32_t *id = realloc(w->id, cap * sizeof *id);
    if (id) w->id = id;
    int32_t *next = realloc(w->next, cap * sizeof *next);
    if (next) w->next = next;
    int32_t *prev = realloc(w->prev, cap * sizeof *prev);
    if (prev) w->prev = prev;
    heap_item *heap = realloc(w->heap, 2 * cap * sizeof *heap);
    if (heap) w->heap = heap;
    if (!id || !next || !prev || !heap) return 0;
    w->cap = cap;
    return 1;
}

static void push_pair(const capt_tokenizer *t, bpe_work *w, size_t *heap_n, int32_t pos) {
    int32_t nx = w->next[pos];
    if (nx < 0) return;
    const slot *s = pair_lookup(t, w->id[pos], w->id[nx]);
    if (s) heap_push(w->heap, heap_n, (heap_item){s->value, (uint32_t)pos});
}

/* BPE of one pre-token's bytes; appends ids through emit. */
static int bpe_word(const capt_tokenizer *t, bpe_work *w, const unsigned char *b, size_t n,
                    void (*emit)(void *, int32_t), void *emit_ctx) {
    if (n > INT32_MAX / 2 || !bpe_reserve(w, n)) return 0;
    for (size_t i = 0; i < n; i++) {
        w->id[i] = i + 1 == n ? t->byte_end_token[b[i]] : t->byte_token[b[i]];
        w->prev[i] = (int32_t)i - 1;
        w->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    size_t heap_n = 0;
    for (size_t i = 0; i + 1 < n; i++) push_pair(t, w, &heap_n, (int32_t)i);
    while (heap_n) {
        heap_item it = heap_pop(w->heap, &heap_n);
        int32_t pos = (int32_t)it.pos, nx = w->next[pos];
        if (w->id[pos] < 0 || nx < 0) continue; /* merged away since it was pushed */
        const slot *s = pair_lookup(t, w->id[pos], w->id[nx]);
        if (!s || s->value != it.rank) continue; /* the pair changed */
        w->id[pos] = (int32_t)s->extra;
        w->id[nx] = -1;
        w->next[pos] = w->next[nx];
        if (w->next[nx] >= 0) w->prev[w->next[nx]] = pos;
        if (w->prev[pos] >= 0) push_pair(t, w, &heap_n, w->prev[pos]);
        push_pair(t, w, &heap_n, pos);
    }
    for (int32_t i = 0; i >= 0; i = w->next[i]) emit(emit_ctx, w->id[i]);
    return 1;
}

/* ---- building the vocabulary ---------------------------------------------------------- */

static capt_status tok_fail(capt_error *err, capt_tokenizer *t, capt_status st, const char *msg) {
    capt_tokenizer_free(t);
    return capt_fail(err, st, "tokenizer: %s", msg);
}

/* Converts one side of a merge ("ab", "c</w>", in the byte alphabet) to raw bytes.
 * Returns the byte count or -1 if a code point is not in the alphabet. */
static long merge_part_bytes(capt_str part, const int16_t char_byte[256 + 68], unsigned char *out, int *word_end) {
    size_t len = part.len;
    *word_end = len >= 4 && memcmp(part.ptr + len - 4, END_OF_WORD, 4) == 0;
    if (*word_end) len -= 4;
    long n = 0;
    for (size_t i = 0, adv; i < len; i += adv) {
        uint32_t cp = capt_utf8_next((const unsigned char *)part.ptr + i, len - i, &adv);
        int b = cp < 256 + 68 ? char_byte[cp] : -1;
        if (b < 0) return -1;
        out[n++] = (unsigned char)b;
    }
    return n;
}

static uint64_t string_key(const unsigned char *b, size_t n, int word_end) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)word_end;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return mix64(h) & ~(1ull << 63); /* key + 1 must not wrap to 0 */
}

/* Index of the token with these bytes in `strings` (vocab dict semantics: the last
 * token with a given text wins), or -1. */
static int32_t string_lookup(const capt_tokenizer *t, const slot *strings, size_t mask, const unsigned char *b,
                             size_t n, int word_end) {
    for (size_t i = mix64(string_key(b, n, word_end)) & mask;; i = (i + 1) & mask) {
        if (strings[i].key == 0) return -1;
        const token *tk = &t->tokens[strings[i].value];
        if (strings[i].key == string_key(b, n, word_end) + 1 && tk->len == n && tk->word_end == word_end &&
            memcmp(t->bytes + tk->offset, b, n) == 0)
            return (int32_t)strings[i].value;
    }
}

static void string_insert(const capt_tokenizer *t, slot *strings, size_t mask, int32_t id) {
    const token *tk = &t->tokens[id];
    const unsigned char *b = t->bytes + tk->offset;
    uint64_t key = string_key(b, tk->len, tk->word_end);
    for (size_t i = mix64(key) & mask;; i = (i + 1) & mask) {
        if (strings[i].key == 0) {
            strings[i] = (slot){key + 1, (uint32_t)id, 0};
            return;
        }
        const token *o = &t->tokens[strings[i].value];
        if (strings[i].key == key + 1 && o->len == tk->len && o->word_end == tk->word_end &&
            memcmp(t->bytes + o->offset, b, tk->len) == 0) {
            strings[i].value = (uint32_t)id; /* later entries win, like dict(zip(vocab, ...)) */
            return;
        }
    }
}

static size_t pow2_at_least(size_t n) {
    size_t p = 64;
    while (p < n) p *= 2;
    return p;
}

static void add_token(capt_tokenizer *t, size_t *bytes_used, const unsigned char *b, size_t n, int word_end) {
    token *tk = &t->tokens[t->n_tokens++];
    tk->offset = (uint32_t)*bytes_used;
    tk->len = (uint32_t)n;
    tk->word_end = (uint8_t)word_end;
    memcpy(t->bytes + *bytes_used, b, n);
    *bytes_used += n;
}

capt_status capt_tokenizer_create_from_list(const capt_str *merges, size_t n_merges, capt_tokenizer **out,
                                            capt_error *err) {
    if (!out || (!merges && n_merges)) return capt_fail(err, CAPT_E_ARG, "tokenizer: NULL argument");
    *out = NULL;
    if (n_merges > 1000000) return capt_fail(err, CAPT_E_FORMAT, "tokenizer: %zu merges is too many", n_merges);
    capt_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return capt_fail(err, CAPT_E_NOMEM, "tokenizer: out of memory");
    size_t n_tokens = 512 + n_merges + 2;
    size_t total_bytes = 512 + 30; /* bytes, bytes + </w>, the two special tokens */
    for (size_t i = 0; i < n_merges; i++) total_bytes += merges[i].len;
    t->tokens = calloc(n_tokens, sizeof *t->tokens);
    t->bytes = malloc(total_bytes);
    size_t string_mask = pow2_at_least(2 * n_tokens) - 1;
    slot *strings = calloc(string_mask + 1, sizeof *strings);
    t->pair_mask = pow2_at_least(2 * n_merges) - 1;
    t->pairs = calloc(t->pair_mask + 1, sizeof *t->pairs);
    if (!t->tokens || !t->bytes || !strings || !t->pairs) {
        free(strings);
        return tok_fail(err, t, CAPT_E_NOMEM, "out of memory");
    }

    int32_t byte_rank[256];
    uint32_t byte_char[256];
    int16_t char_byte[256 + 68]; /* inverse of byte_char, -1 where no byte */
    byte_alphabet(byte_rank, byte_char);
    memset(char_byte, 0xff, sizeof char_byte);
    for (int b = 0; b < 256; b++) char_byte[byte_char[b]] = (int16_t)b;
    size_t used = 0;
    for (int end = 0; end < 2; end++) {
        for (int r = 0; r < 256; r++) {
            unsigned char b = 0;
            for (int k = 0; k < 256; k++)
                if (byte_rank[k] == r) b = (unsigned char)k;
            add_token(t, &used, &b, 1, end);
        }
    }
    for (int32_t id = 0; id < 512; id++) string_insert(t, strings, string_mask, id);

    capt_status st = CAPT_OK;
    for (size_t m = 0; m < n_merges && !st; m++) {
        /* tuple(merge.split()): exactly two whitespace-separated parts. */
        const char *s = merges[m].ptr, *e = s + merges[m].len;
        const char *sp = memchr(s, ' ', merges[m].len);
        if (!sp || sp == s || sp + 1 >= e || memchr(sp + 1, ' ', (size_t)(e - sp - 1))) {
            snprintf(t->error, sizeof t->error, "merge %zu is not two space-separated symbols", m + 1);
            st = CAPT_E_FORMAT;
            break;
        }
        capt_str parts[2] = {{s, (size_t)(sp - s)}, {sp + 1, (size_t)(e - sp - 1)}};
        unsigned char *dst = t->bytes + used;
        int end0, end1;
        long n0 = merge_part_bytes(parts[0], char_byte, dst, &end0);
        long n1 = n0 < 0 ? -1 : merge_part_bytes(parts[1], char_byte, dst + n0, &end1);
        int32_t left = n0 > 0 ? string_lookup(t, strings, string_mask, dst, (size_t)n0, end0) : -1;
        int32_t right = n1 > 0 ? string_lookup(t, strings, string_mask, dst + n0, (size_t)n1, end1) : -1;
        if (n0 <= 0 || n1 <= 0 || end0 || left < 0 || right < 0) {
            snprintf(t->error, sizeof t->error, "merge %zu (\"%.*s\") uses a symbol that is not in the vocabulary",
                     m + 1, (int)merges[m].len, merges[m].ptr);
            st = CAPT_E_FORMAT;
            break;
        }
        int32_t id = (int32_t)t->n_tokens;
        add_token(t, &used, dst, (size_t)(n0 + n1), end1);
        string_insert(t, strings, string_mask, id);
        /* Pairs are keyed by the canonical ids of their two texts; a repeated pair keeps
         * its last rank, as dict(zip(merges, range(len(merges)))) does. */
        slot *p = map_find(t->pairs, t->pair_mask, ((uint64_t)(uint32_t)left << 32) | (uint32_t)right);
        p->key = (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1;
        p->value = (uint32_t)m;
        p->extra = (uint32_t)id; /* fixed up below: the canonical id of the merged text */
    }
    if (st) {
        free(strings);
        char msg[256];
        memcpy(msg, t->error, sizeof msg);
        return tok_fail(err, t, st, msg);
    }
    t->sot = (int32_t)t->n_tokens;
    add_token(t, &used, (const unsigned char *)"<|startoftext|>", 15, 0);
    t->eot = (int32_t)t->n_tokens;
    add_token(t, &used, (const unsigned char *)"<|endoftext|>", 13, 0);
    string_insert(t, strings, string_mask, t->sot);
    string_insert(t, strings, string_mask, t->eot);
    for (size_t i = 0; i <= t->pair_mask; i++) {
        if (!t->pairs[i].key) continue;
        const token *tk = &t->tokens[t->pairs[i].extra];
        t->pairs[i].extra = (uint32_t)string_lookup(t, strings, string_mask, t->bytes + tk->offset, tk->len, tk->word_end);
    }
    for (int b = 0; b < 256; b++) {
        unsigned char byte = (unsigned char)b;
        t->byte_token[b] = string_lookup(t, strings, string_mask, &byte, 1, 0);
        t->byte_end_token[b] = string_lookup(t, strings, string_mask, &byte, 1, 1);
    }
    free(strings);
    *out = t;
    return CAPT_OK;
}

/* Accepts the merges file as shipped by OpenAI: gzip or plain text, first line a
 * "#version" header; like simple_tokenizer it keeps the first 48,894 merges. */
capt_status capt_tokenizer_create(const void *data, size_t len, capt_tokenizer **out, capt_error *err) {
    if (!out || (!data && len)) return capt_fail(err, CAPT_E_ARG, "tokenizer: NULL argument");
    *out = NULL;
    const unsigned char *bytes = data;
    unsigned char *inflated = NULL;
    if (len >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
        size_t n;
        capt_status st = capt_gunzip(bytes, len, &inflated, &n, err);
        if (st) return st;
        bytes = inflated;
        len = n;
    }
    capt_str *lines = malloc((CLIP_MERGES + 1) * sizeof *lines);
    if (!lines) {
        free(inflated);
        return capt_fail(err, CAPT_E_NOMEM, "tokenizer: out of memory");
    }
    size_t n_lines = 0, pos = 0;
    while (pos < len && n_lines < CLIP_MERGES + 1) {
        const unsigned char *nl = memchr(bytes + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - bytes) : len;
        lines[n_lines++] = (capt_str){(const char *)bytes + pos, end - pos};
        pos = end + 1;
    }
    capt_status st;
    if (n_lines < CLIP_MERGES + 1)
        st = capt_fail(err, CAPT_E_FORMAT, "tokenizer: merges file has %zu merge lines, CLIP needs %d",
                       n_lines ? n_lines - 1 : 0, CLIP_MERGES);
    else
        st = capt_tokenizer_create_from_list(lines + 1, CLIP_MERGES, out, err);
    free(lines);
    free(inflated);
    return st;
}

void capt_tokenizer_free(capt_tokenizer *t) {
    if (!t) return;
    free(t->tokens);
    free(t->bytes);
    free(t->pairs);
    free(t);
}

size_t capt_tokenizer_vocab_size(const capt_tokenizer *t) { return t->n_tokens; }

const char *capt_tokenizer_last_error(const capt_tokenizer *t) { return t->error; }

/* ---- encode / decode -------------------------------------------------------------- */

typedef struct id_sink {
    int32_t *ids;
    size_t capacity, count;
} id_sink;

static void sink_emit(void *ctx, int32_t id) {
    id_sink *s = ctx;
    if (s->count < s->capacity) s->ids[s->count] = id;
    s->count++;
}

static int matches_ascii(const cps *a, size_t i, const char *lit) {
    size_t n = strlen(lit);
    if (a->n - i < n) return 0;
    for (size_t k = 0; k < n; k++)
        if (a->v[i + k] != (unsigned char)lit[k]) return 0;
    return 1;
}

/* Length of a contraction ('s 't 're 've 'm 'll 'd) at i, or 0. */
static size_t contraction_at(const cps *a, size_t i) {
    static const char *const forms[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++)
        if (matches_ascii(a, i, forms[k])) return strlen(forms[k]);
    return 0;
}

capt_status capt_tokenizer_encode(capt_tokenizer *t, const char *text, size_t len, int32_t *ids, size_t capacity,
                                  size_t *n_ids) {
    if (!t || (!text && len) || (!ids && capacity) || !n_ids) return CAPT_E_ARG;
    cps a = {0}, b = {0};
    bpe_work work = {0};
    unsigned char *word = NULL;
    id_sink sink = {ids, capacity, 0};
    capt_status st = CAPT_OK;

    cps_push_utf8(&a, (const unsigned char *)text, len);
    html_unescape(&a, &b);
    html_unescape(&b, &a);
    clean_whitespace(&a, &b);
    lowercase(&b, &a);
    word = malloc(a.n * 4 + 1);
    if (a.failed || b.failed || !word) st = CAPT_E_NOMEM;

    for (size_t i = 0; i < a.n && !st;) {
        size_t piece;
        if (matches_ascii(&a, i, "<|startoftext|>")) {
            sink_emit(&sink, t->sot);
            i += 15;
            continue;
        }
        if (matches_ascii(&a, i, "<|endoftext|>")) {
            sink_emit(&sink, t->eot);
            i += 13;
            continue;
        }
        uint32_t c = a.v[i];
        if ((piece = contraction_at(&a, i)) != 0) {
        } else if (is_letter(c)) {
            for (piece = 1; i + piece < a.n && is_letter(a.v[i + piece]);) piece++;
        } else if (is_number(c)) {
            piece = 1;
        } else if (!is_space(c)) {
            for (piece = 1; i + piece < a.n;) {
                uint32_t d = a.v[i + piece];
                if (is_space(d) || is_letter(d) || is_number(d)) break;
                piece++;
            }
        } else {
            i++;
            continue;
        }
        size_t n = 0;
        for (size_t k = 0; k < piece; k++) n += capt_utf8_put(a.v[i + k], word + n);
        if (!bpe_word(t, &work, word, n, sink_emit, &sink)) st = CAPT_E_NOMEM;
        i += piece;
    }
    free(a.v);
    free(b.v);
    free(word);
    free(work.id);
    free(work.next);
    free(work.prev);
    free(work.heap);
    *n_ids = sink.count;
    if (st) snprintf(t->error, sizeof t->error, "encode: out of memory for %zu bytes of text", len);
    else t->error[0] = 0;
    return st;
}

capt_status capt_tokenizer_token_bytes(const capt_tokenizer *t, int32_t id, capt_str *out) {
    if (!t || !out || id < 0 || (size_t)id >= t->n_tokens) return CAPT_E_ARG;
    out->ptr = (const char *)t->bytes + t->tokens[id].offset;
    out->len = t->tokens[id].len;
    return CAPT_OK;
}

capt_status capt_tokenizer_decode(capt_tokenizer *t, const int32_t *ids, size_t n_ids, char *out, size_t out_size,
                                  size_t *n_written) {
    if (!t || (!ids && n_ids) || (!out && out_size) || !n_written) return CAPT_E_ARG;
    size_t raw_len = 0;
    for (size_t i = 0; i < n_ids; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= t->n_tokens) {
            snprintf(t->error, sizeof t->error, "decode: token id %ld is not in 0..%zu", (long)ids[i], t->n_tokens - 1);
            return CAPT_E_ARG;
        }
        raw_len += t->tokens[ids[i]].len + 4 * t->tokens[ids[i]].word_end;
    }
    /* As simple_tokenizer: join the token texts with their "</w>", turn every "</w>" of
     * the joined bytes into a space, then decode UTF-8 with replacement. */
    unsigned char *raw = malloc(raw_len + 1);
    if (!raw) {
        snprintf(t->error, sizeof t->error, "decode: out of memory");
        return CAPT_E_NOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_ids; i++) {
        const token *tk = &t->tokens[ids[i]];
        memcpy(raw + n, t->bytes + tk->offset, tk->len);
        n += tk->len;
        if (tk->word_end) {
            memcpy(raw + n, END_OF_WORD, 4);
            n += 4;
        }
    }
    size_t spaced = 0;
    for (size_t i = 0; i < n;) {
        if (n - i >= 4 && memcmp(raw + i, END_OF_WORD, 4) == 0) {
            raw[spaced++] = ' ';
            i += 4;
        } else {
            raw[spaced++] = raw[i++];
        }
    }
    size_t written = 0;
    for (size_t i = 0, adv; i < spaced; i += adv) {
        unsigned char enc[4];
        size_t k = capt_utf8_put(capt_utf8_next(raw + i, spaced - i, &adv), enc);
        for (size_t j = 0; j < k; j++, written++)
            if (written + 1 < out_size) out[written] = (char)enc[j];
    }
    if (out_size) out[written < out_size ? written : out_size - 1] = 0;
    *n_written = written;
    free(raw);
    t->error[0] = 0;
    return CAPT_OK;
}
