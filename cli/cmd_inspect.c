/* cmd_inspect.c — `capt inspect FILE`: a .capt file's header, metadata and tensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capt.h"
#include "commands.h"
#include "util.h"

#define MAX_SHOWN_CHARS 72
#define MAX_SHOWN_ELEMENTS 6

static void print_text(capt_str s) {
    size_t n = s.len < MAX_SHOWN_CHARS ? s.len : MAX_SHOWN_CHARS;
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    printf(n < s.len ? "\"... (%zu bytes)" : "\"", s.len);
}

static void print_meta(const capt_meta *m) {
    printf("  %-36.*s ", (int)m->key.len, m->key.ptr);
    switch (m->type) {
    case CAPT_META_INT: printf("int    %lld\n", (long long)m->int_value); return;
    case CAPT_META_FLOAT: printf("float  %.9g\n", m->float_value); return;
    case CAPT_META_STRING:
        printf("string ");
        print_text(m->string_value);
        putchar('\n');
        return;
    case CAPT_META_ARRAY: break;
    }
    static const char *const elem_names[] = {"?", "int", "float", "string"};
    printf("%s[%zu] [", elem_names[m->elem_type <= 3 ? m->elem_type : 0], m->count);
    for (size_t i = 0; i < m->count && i < MAX_SHOWN_ELEMENTS; i++) {
        if (i) printf(", ");
        if (m->elem_type == CAPT_META_INT) printf("%lld", (long long)capt_meta_int_at(m, i));
        else if (m->elem_type == CAPT_META_FLOAT) printf("%.6g", capt_meta_float_at(m, i));
        else print_text(capt_meta_string_at(m, i));
    }
    printf(m->count > MAX_SHOWN_ELEMENTS ? ", ...]\n" : "]\n");
}

int cmd_inspect(const char *program, int argc, char **argv) {
    (void)program;
    if (argc != 2) {
        fprintf(stderr, "usage: capt inspect FILE\n");
        return 2;
    }
    size_t len;
    unsigned char *buf = read_file(argv[1], &len);
    if (!buf) return 1;
    capt_file *f;
    capt_error err;
    if (capt_file_open(buf, len, &f, &err) != CAPT_OK) {
        fprintf(stderr, "capt: %s: %s\n", argv[1], err.message);
        free(buf);
        return 1;
    }
    printf("%s: capt v%u, alignment %u, %zu bytes, %zu metadata entries, %zu tensors\n", argv[1],
           capt_file_version(f), capt_file_alignment(f), len, capt_file_meta_count(f), capt_file_tensor_count(f));
    printf("metadata:\n");
    for (size_t i = 0; i < capt_file_meta_count(f); i++) print_meta(capt_file_meta_at(f, i));
    printf("tensors:\n  %-44s %-5s %-22s %12s %12s\n", "name", "dtype", "shape", "offset", "bytes");
    size_t total = 0;
    for (size_t i = 0; i < capt_file_tensor_count(f); i++) {
        const capt_tensor *t = capt_file_tensor_at(f, i);
        char shape[96];
        int w = snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < t->n_dims; d++)
            w += snprintf(shape + w, sizeof shape - (size_t)w, d ? ", %lld" : "%lld", (long long)t->dims[d]);
        snprintf(shape + w, sizeof shape - (size_t)w, "]");
        printf("  %-44.*s %-5s %-22s %12zu %12zu\n", (int)t->name.len, t->name.ptr, capt_dtype_name(t->dtype), shape,
               (size_t)((const unsigned char *)t->data - buf), t->n_bytes);
        total += t->n_bytes;
    }
    printf("total tensor bytes: %zu\n", total);
    capt_file_free(f);
    free(buf);
    return 0;
}
