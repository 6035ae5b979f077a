/* strbuf.c — a growable text buffer for building output lines. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(strbuf *b, size_t more) {
    if (b->failed) return 0;
    if (b->len + more + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->failed = 1;
        return 0;
    }
    b->s = s;
    b->cap = cap;
    return 1;
}

void sb_printf(strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sb_json_string(strbuf *b, const char *s, size_t n) {
    sb_printf(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') sb_printf(b, "\\%c", c);
        else if (c == '\n') sb_printf(b, "\\n");
        else if (c == '\t') sb_printf(b, "\\t");
        else if (c == '\r') sb_printf(b, "\\r");
        else if (c < 0x20) sb_printf(b, "\\u%04x", c);
        else if (reserve(b, 1)) b->s[b->len++] = (char)c, b->s[b->len] = 0;
    }
    sb_printf(b, "\"");
}

char *sb_take(strbuf *b) {
    char *s = b->failed ? NULL : b->s;
    if (b->failed) free(b->s);
    if (s == NULL && !b->failed) s = calloc(1, 1);
    b->s = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
    return s;
}
