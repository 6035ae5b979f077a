/* json.c — a small strict JSON reader (only what `capt tokenize --jsonl` needs: find one
 * string member of an object). Nesting is limited so hostile input
 * cannot exhaust the stack. */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct reader {
    const char *s;
    size_t n, pos;
} reader;

static void skip_ws(reader *r) {
    while (r->pos < r->n && strchr(" \t\r\n", r->s[r->pos]) && r->s[r->pos]) r->pos++;
}

static int hex4(reader *r, unsigned *out) {
    if (r->n - r->pos < 4) return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = r->s[r->pos++];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(unsigned cp, char *o) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a string at r->pos (the opening quote). With out != NULL, decodes into it
 * (room for the raw length + 1 is enough: escapes never grow). */
static int parse_string(reader *r, char *out, size_t *out_len) {
    if (r->pos >= r->n || r->s[r->pos] != '"') return 0;
    r->pos++;
    size_t w = 0;
    while (r->pos < r->n) {
        unsigned char c = (unsigned char)r->s[r->pos++];
        if (c == '"') {
            if (out) out[w] = 0;
            if (out_len) *out_len = w;
            return 1;
        }
        if (c < 0x20) return 0;
        if (c != '\\') {
            if (out) out[w] = (char)c;
            w++;
            continue;
        }
        if (r->pos >= r->n) return 0;
        char e = r->s[r->pos++];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (simple && e) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            if (out) out[w] = decoded[simple - "\"\\/bfnrt"];
            w++;
            continue;
        }
        if (e != 'u') return 0;
        unsigned cp;
        if (!hex4(r, &cp)) return 0;
        if (cp >= 0xD800 && cp <= 0xDBFF && r->n - r->pos >= 6 && r->s[r->pos] == '\\' && r->s[r->pos + 1] == 'u') {
            size_t save = r->pos;
            unsigned lo;
            r->pos += 2;
            if (hex4(r, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            else r->pos = save;
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; /* lone surrogate */
        char buf[4];
        size_t k = put_utf8(cp, buf);
        if (out) memcpy(out + w, buf, k);
        w += k;
    }
    return 0;
}

static int skip_value(reader *r, int depth);

static int skip_container(reader *r, int depth, char close, int is_object) {
    r->pos++;
    skip_ws(r);
    if (r->pos < r->n && r->s[r->pos] == close) {
        r->pos++;
        return 1;
    }
    for (;;) {
        if (is_object) {
            skip_ws(r);
            if (!parse_string(r, NULL, NULL)) return 0;
            skip_ws(r);
            if (r->pos >= r->n || r->s[r->pos++] != ':') return 0;
        }
        if (!skip_value(r, depth + 1)) return 0;
        skip_ws(r);
        if (r->pos >= r->n) return 0;
        char c = r->s[r->pos++];
        if (c == close) return 1;
        if (c != ',') return 0;
    }
}

static int skip_value(reader *r, int depth) {
    if (depth > MAX_DEPTH) return 0;
    skip_ws(r);
    if (r->pos >= r->n) return 0;
    char c = r->s[r->pos];
    if (c == '"') return parse_string(r, NULL, NULL);
    if (c == '{') return skip_container(r, depth, '}', 1);
    if (c == '[') return skip_container(r, depth, ']', 0);
    size_t start = r->pos;
    while (r->pos < r->n && strchr("+-0123456789.eEtruefalsn", r->s[r->pos]) && r->s[r->pos]) r->pos++;
    return r->pos > start;
}

int json_object_string(const char *text, size_t n, const char *key, char **out, size_t *out_len) {
    reader r = {text, n, 0};
    skip_ws(&r);
    if (r.pos >= n || text[r.pos] != '{') return 0;
    r.pos++;
    skip_ws(&r);
    if (r.pos < n && text[r.pos] == '}') return 0;
    for (;;) {
        skip_ws(&r);
        size_t key_len;
        char *name = malloc(n - r.pos + 1);
        if (!name) return 0;
        int ok = parse_string(&r, name, &key_len);
        int match = ok && key_len == strlen(key) && memcmp(name, key, key_len) == 0;
        free(name);
        if (!ok) return 0;
        skip_ws(&r);
        if (r.pos >= n || text[r.pos++] != ':') return 0;
        skip_ws(&r);
        if (match) {
            if (r.pos >= n || text[r.pos] != '"') return 0;
            *out = malloc(n - r.pos + 1);
            if (!*out) return 0;
            if (parse_string(&r, *out, out_len)) return 1;
            free(*out);
            *out = NULL;
            return 0;
        }
        if (!skip_value(&r, 1)) return 0;
        skip_ws(&r);
        if (r.pos >= n || text[r.pos++] != ',') return 0;
    }
}
