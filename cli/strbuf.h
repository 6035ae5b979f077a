/* strbuf.h — a growable text buffer for building output lines. */
#ifndef CAPT_CLI_STRBUF_H
#define CAPT_CLI_STRBUF_H

#include <stddef.h>

typedef struct strbuf {
    char *s;
    size_t len, cap;
    int failed; /* an allocation failed: the text is incomplete */
} strbuf;

void sb_printf(strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void sb_json_string(strbuf *b, const char *s, size_t n); /* a JSON string literal */
char *sb_take(strbuf *b);                                /* the text (caller frees); NULL if failed */

#endif
