/* cmd_tokenize.c — `capt tokenize`: CLIP BPE ids of text, JSON lines in and out, and
 * decoding of ids. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capt.h"
#include "commands.h"
#include "json.h"
#include "strbuf.h"
#include "util.h"

#define VOCAB_ASSET "vocab/bpe_simple_vocab_16e6.txt.gz"

static capt_tokenizer *load_tokenizer(const char *argv0, const char *vocab) {
    char path[4096];
    if (vocab) snprintf(path, sizeof path, "%s", vocab);
    else asset_path(argv0, VOCAB_ASSET, path, sizeof path);
    size_t len;
    unsigned char *data = read_file(path, &len);
    if (!data) return NULL;
    capt_tokenizer *tok;
    capt_error err;
    capt_status st = capt_tokenizer_create(data, len, &tok, &err);
    free(data);
    if (st) {
        fprintf(stderr, "capt: %s: %s\n", path, err.message);
        return NULL;
    }
    return tok;
}

/* Encodes, growing the id buffer when the text needs more. */
static int encode(capt_tokenizer *tok, const char *text, size_t len, int32_t **ids, size_t *cap, size_t *n) {
    for (;;) {
        if (capt_tokenizer_encode(tok, text, len, *ids, *cap, n) != CAPT_OK) {
            fprintf(stderr, "capt: %s\n", capt_tokenizer_last_error(tok));
            return 0;
        }
        if (*n <= *cap) return 1;
        int32_t *bigger = realloc(*ids, *n * sizeof **ids);
        if (!bigger) {
            fprintf(stderr, "capt: out of memory\n");
            return 0;
        }
        *ids = bigger;
        *cap = *n;
    }
}

static int decode_to(capt_tokenizer *tok, const int32_t *ids, size_t n, char **text, size_t *len) {
    size_t need;
    if (capt_tokenizer_decode(tok, ids, n, NULL, 0, &need) != CAPT_OK) {
        fprintf(stderr, "capt: %s\n", capt_tokenizer_last_error(tok));
        return 0;
    }
    *text = malloc(need + 1);
    if (!*text) {
        fprintf(stderr, "capt: out of memory\n");
        return 0;
    }
    capt_tokenizer_decode(tok, ids, n, *text, need + 1, len);
    return 1;
}

static int run_jsonl(capt_tokenizer *tok) {
    size_t len;
    unsigned char *input = read_file("-", &len);
    if (!input) return 1;
    int failures = 0;
    size_t line_no = 0, cap = 0, n;
    int32_t *ids = NULL;
    for (size_t pos = 0; pos < len;) {
        const char *line = (const char *)input + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - line) : len - pos;
        pos += line_len + 1;
        line_no++;
        if (line_len == 0 || (line_len == 1 && line[0] == '\r')) continue;
        char *text, *decoded;
        size_t text_len, decoded_len;
        if (!json_object_string(line, line_len, "text", &text, &text_len)) {
            fprintf(stderr, "capt: stdin line %zu: not a JSON object with a string \"text\"\n", line_no);
            printf("{\"error\":\"line %zu: not a JSON object with a string \\\"text\\\"\"}\n", line_no);
            failures++;
            continue;
        }
        int ok = encode(tok, text, text_len, &ids, &cap, &n) && decode_to(tok, ids, n, &decoded, &decoded_len);
        free(text);
        if (!ok) {
            failures++;
            continue;
        }
        strbuf b = {0};
        sb_printf(&b, "{\"ids\":[");
        for (size_t i = 0; i < n; i++) sb_printf(&b, i ? ",%d" : "%d", (int)ids[i]);
        sb_printf(&b, "],\"decoded\":");
        sb_json_string(&b, decoded, decoded_len);
        sb_printf(&b, "}\n");
        char *out = sb_take(&b);
        fputs(out ? out : "{\"error\":\"out of memory\"}\n", stdout);
        free(out);
        free(decoded);
    }
    free(ids);
    free(input);
    return failures ? 1 : 0;
}

static int run_decode(capt_tokenizer *tok, int argc, char **argv) {
    int32_t *ids = malloc((size_t)(argc ? argc : 1) * sizeof *ids);
    if (!ids) return 1;
    for (int i = 0; i < argc; i++) {
        char *end;
        errno = 0;
        long v = strtol(argv[i], &end, 10);
        if (errno || end == argv[i] || *end || v < 0 || (size_t)v >= capt_tokenizer_vocab_size(tok)) {
            fprintf(stderr, "capt: \"%s\" is not a token id (0..%zu)\n", argv[i], capt_tokenizer_vocab_size(tok) - 1);
            free(ids);
            return 2;
        }
        ids[i] = (int32_t)v;
    }
    char *text;
    size_t len;
    int ok = decode_to(tok, ids, (size_t)argc, &text, &len);
    if (ok) {
        printf("%s\n", text);
        free(text);
    }
    free(ids);
    return ok ? 0 : 1;
}

int cmd_tokenize(const char *program, int argc, char **argv) {
    const char *vocab = NULL;
    int jsonl = 0, decode = 0, i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (strcmp(argv[i], "--vocab") == 0 && i + 1 < argc) vocab = argv[++i];
        else if (strcmp(argv[i], "--jsonl") == 0) jsonl = 1;
        else if (strcmp(argv[i], "--decode") == 0) decode = 1;
        else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else {
            fprintf(stderr, "capt tokenize: unknown or incomplete option \"%s\"\n", argv[i]);
            return 2;
        }
    }
    if ((jsonl && (decode || i < argc)) || (!jsonl && i >= argc)) {
        fprintf(stderr, "usage: capt tokenize [--vocab FILE] TEXT... | --jsonl | --decode ID...\n");
        return 2;
    }
    capt_tokenizer *tok = load_tokenizer(program, vocab);
    if (!tok) return 1;
    int status = 0;
    if (jsonl) {
        status = run_jsonl(tok);
    } else if (decode) {
        status = run_decode(tok, argc - i, argv + i);
    } else {
        int32_t *ids = NULL;
        size_t cap = 0, n;
        for (; i < argc && !status; i++) {
            if (!encode(tok, argv[i], strlen(argv[i]), &ids, &cap, &n)) {
                status = 1;
                break;
            }
            for (size_t k = 0; k < n; k++) printf(k ? " %d" : "%d", (int)ids[k]);
            printf("\n");
        }
        free(ids);
    }
    capt_tokenizer_free(tok);
    return status;
}
