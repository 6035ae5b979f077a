/* test_tokenizer.c — the C tokenizer API beyond the golden file (tests/
 * test_tokenizer_golden.py): special tokens, invalid UTF-8, buffer sizes, bad ids,
 * hostile merges lists and corrupt gzip data. */
#include <string.h>

#include "capt.h"
#include "check.h"

static capt_tokenizer *load(void) {
    const char *assets = getenv("CAPT_ASSETS");
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab/bpe_simple_vocab_16e6.txt.gz", assets ? assets : "../shared");
    size_t len;
    unsigned char *gz = check_read_file(path, &len);
    capt_tokenizer *tok = NULL;
    capt_error err;
    CHECK(capt_tokenizer_create(gz, len, &tok, &err) == CAPT_OK, "%s", err.message);
    /* Corrupt gzip: flipped byte in the deflate data, cut short, wrong length field. */
    unsigned char *bad = malloc(len);
    memcpy(bad, gz, len);
    bad[len / 2] ^= 0x55;
    capt_tokenizer *t2 = NULL;
    CHECK(capt_tokenizer_create(bad, len, &t2, &err) == CAPT_E_FORMAT && t2 == NULL, "corrupt gzip accepted");
    CHECK(capt_tokenizer_create(gz, len / 3, &t2, &err) == CAPT_E_FORMAT, "short gzip accepted");
    memcpy(bad, gz, len);
    bad[len - 1] = 0x7f; /* claims 2 GB */
    CHECK(capt_tokenizer_create(bad, len, &t2, &err) == CAPT_E_FORMAT && strstr(err.message, "allowed"), "%s",
          err.message);
    free(bad);
    free(gz);
    return tok;
}

static size_t encode(capt_tokenizer *tok, const char *text, size_t len, int32_t *ids, size_t cap) {
    size_t n = 0;
    CHECK(capt_tokenizer_encode(tok, text, len, ids, cap, &n) == CAPT_OK, "encode");
    return n;
}

static void check_decode(capt_tokenizer *tok, const int32_t *ids, size_t n, const char *expect) {
    char out[256];
    size_t len;
    CHECK(capt_tokenizer_decode(tok, ids, n, out, sizeof out, &len) == CAPT_OK, "decode");
    CHECK(strcmp(out, expect) == 0 && len == strlen(expect), "decoded \"%s\", expected \"%s\"", out, expect);
}

int main(void) {
    capt_tokenizer *tok = load();
    if (!tok) return check_exit("test_tokenizer");
    CHECK(capt_tokenizer_vocab_size(tok) == 49408, "vocab size %zu", capt_tokenizer_vocab_size(tok));
    int32_t ids[64];

    size_t n = encode(tok, "<|startoftext|>A dog<|endoftext|>", 33, ids, 64);
    CHECK(n == 4 && ids[0] == CAPT_TOKEN_SOT && ids[1] == 320 && ids[2] == 1929 && ids[3] == CAPT_TOKEN_EOT,
          "special tokens: %zu ids", n);
    check_decode(tok, ids, n, "<|startoftext|>a dog <|endoftext|>");

    /* A too-small buffer reports the full count without writing past it. */
    ids[1] = -5;
    n = encode(tok, "a dog runs", 10, ids, 1);
    CHECK(n == 3 && ids[0] == 320 && ids[1] == -5, "capacity: %zu", n);

    /* Invalid UTF-8: each maximal ill-formed subsequence reads as U+FFFD ("\xef\xbf\xbd"),
     * exactly as if the text had contained U+FFFD. */
    int32_t want[64];
    size_t n_bad = encode(tok, "a\xff\xc3(b\xe2\x82", 7, ids, 64);
    size_t n_want = encode(tok, "a\xef\xbf\xbd\xef\xbf\xbd(b\xef\xbf\xbd", 12, want, 64);
    CHECK(n_bad == n_want && memcmp(ids, want, n_bad * sizeof *ids) == 0, "invalid UTF-8: %zu vs %zu ids", n_bad,
          n_want);
    CHECK(encode(tok, "", 0, ids, 0) == 0, "empty text");
    CHECK(encode(tok, "a\0b", 3, ids, 64) == 3, "NUL is a separate symbol");

    /* Final sigma and the two-code-point lowercase of U+0130. */
    int32_t a[16], b[16];
    size_t na = encode(tok, "\xce\xa3\xce\x91\xce\xa3", 6, a, 16); /* ΣΑΣ -> σας */
    size_t nb = encode(tok, "\xcf\x83\xce\xb1\xcf\x82", 6, b, 16);
    CHECK(na == nb && memcmp(a, b, na * sizeof *a) == 0, "final sigma");
    na = encode(tok, "\xc4\xb0", 2, a, 16); /* İ -> i + U+0307 */
    nb = encode(tok, "i\xcc\x87", 3, b, 16);
    CHECK(na == nb && memcmp(a, b, na * sizeof *a) == 0, "U+0130");

    /* html entities, twice unescaped, incl. a prefix match without ';'. */
    na = encode(tok, "&amp;lt;&notit;&#x1F600;&#0;", 28, a, 16);
    nb = encode(tok, "<\xc2\xacit;\xf0\x9f\x98\x80\xef\xbf\xbd", 13, b, 16);
    CHECK(na == nb && memcmp(a, b, na * sizeof *a) == 0, "html entities: %zu vs %zu", na, nb);

    /* A long word (BPE is O(n log n)) encodes and decodes back. */
    size_t big = 200000;
    char *text = malloc(big + 1);
    for (size_t i = 0; i < big; i++) text[i] = (char)('a' + (i * 7 + i / 13) % 26);
    int32_t *many = malloc(big * sizeof *many);
    size_t nm = encode(tok, text, big, many, big);
    char *back = malloc(big + 2);
    size_t blen;
    CHECK(capt_tokenizer_decode(tok, many, nm, back, big + 2, &blen) == CAPT_OK && blen == big + 1 &&
              memcmp(back, text, big) == 0 && back[big] == ' ',
          "long word round trip");
    free(text);
    free(many);
    free(back);

    /* Bad ids are refused with a message; out is still terminated. */
    int32_t bad_ids[2] = {320, 49408};
    char out[8] = "xxxxxxx";
    size_t len;
    CHECK(capt_tokenizer_decode(tok, bad_ids, 2, out, sizeof out, &len) == CAPT_E_ARG &&
              strstr(capt_tokenizer_last_error(tok), "49408"),
          "bad id");
    /* Truncated output buffer. */
    int32_t dog[2] = {320, 1929};
    CHECK(capt_tokenizer_decode(tok, dog, 2, out, 4, &len) == CAPT_OK && len == 6 && strcmp(out, "a d") == 0,
          "truncated decode \"%s\"", out);
    capt_tokenizer_free(tok);

    /* Hostile merges lists. */
    capt_error err;
    capt_tokenizer *t = NULL;
    capt_str merges[3] = {{"a b", 3}, {"ab c</w>", 8}, {"ab", 2}};
    CHECK(capt_tokenizer_create_from_list(merges, 2, &t, &err) == CAPT_OK, "%s", err.message);
    if (t) {
        n = encode(t, "abc", 3, ids, 64);
        CHECK(n == 1 && ids[0] == 513, "tiny vocabulary: %zu ids, first %d", n, n ? ids[0] : -1);
        capt_tokenizer_free(t);
    }
    CHECK(capt_tokenizer_create_from_list(merges, 3, &t, &err) == CAPT_E_FORMAT && strstr(err.message, "merge 3"),
          "%s", err.message);
    capt_str unknown[1] = {{"zz q\xe2\x82\xac", 7}};
    CHECK(capt_tokenizer_create_from_list(unknown, 1, &t, &err) == CAPT_E_FORMAT, "unknown symbol accepted");
    CHECK(capt_tokenizer_create("#version\nab", 11, &t, &err) == CAPT_E_FORMAT && strstr(err.message, "48894"),
          "%s", err.message);
    return check_exit("test_tokenizer");
}
