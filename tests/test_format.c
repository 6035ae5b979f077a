/* test_format.c — the .capt reader on tests/data/fixture.capt (written by
 * tests/make_fixture.py with tools/captfile.py): every value, then hostile versions of the
 * file: truncated at every byte, a flipped bit at every byte (each refused: the header's
 * CRC-32 covers the whole file), random bit flips, and absurd counts, sizes and offsets.
 * None may crash, hang or allocate more than the file justifies (run under ASan too). */
#include <math.h>
#include <string.h>

#include "capt.h"
#include "check.h"
#include "internal.h"
#include "kernels.h"

static float fixture_value(int64_t i) { return (float)(i % 17) * 0.25f - 2.0f; }

static int str_is(capt_str s, const char *text) { return s.len == strlen(text) && memcmp(s.ptr, text, s.len) == 0; }

static void check_fixture(const capt_file *f) {
    CHECK(capt_file_version(f) == 2 && capt_file_alignment(f) == 32, "header");
    CHECK(capt_file_meta_count(f) == 8 && capt_file_tensor_count(f) == 6, "counts %zu %zu", capt_file_meta_count(f),
          capt_file_tensor_count(f));
    const capt_meta *m = capt_file_find_meta(f, "general.name");
    CHECK(m && m->type == CAPT_META_STRING && str_is(m->string_value, "fixture \xc3\xa9\xe6\xbc\xa2"), "string");
    m = capt_file_find_meta(f, "general.count");
    CHECK(m && m->type == CAPT_META_INT && m->int_value == 42, "int");
    m = capt_file_find_meta(f, "general.negative");
    CHECK(m && m->type == CAPT_META_INT && m->int_value == -7, "negative int");
    m = capt_file_find_meta(f, "general.scale");
    CHECK(m && m->type == CAPT_META_FLOAT && m->float_value == 0.125, "float");
    m = capt_file_find_meta(f, "list.ints");
    CHECK(m && m->type == CAPT_META_ARRAY && m->elem_type == CAPT_META_INT && m->count == 3 &&
              capt_meta_int_at(m, 1) == -2,
          "int array");
    m = capt_file_find_meta(f, "list.floats");
    CHECK(m && m->elem_type == CAPT_META_FLOAT && m->count == 2 && capt_meta_float_at(m, 1) == -1.5, "float array");
    m = capt_file_find_meta(f, "list.strings");
    CHECK(m && m->elem_type == CAPT_META_STRING && m->count == 3 && str_is(capt_meta_string_at(m, 0), "a") &&
              capt_meta_string_at(m, 1).len == 0 && str_is(capt_meta_string_at(m, 2), "xyz"),
          "string array");
    m = capt_file_find_meta(f, "list.empty");
    CHECK(m && m->type == CAPT_META_ARRAY && m->count == 0, "empty array");
    CHECK(capt_file_find_meta(f, "missing") == NULL, "missing key");

    static const struct {
        const char *name;
        capt_dtype dtype;
        int n_dims;
        int64_t dims[4];
        float tolerance; /* of the stored values against the formula */
    } expected[] = {
        {"a.f32", CAPT_DTYPE_F32, 2, {3, 5}, 0},
        {"b.f16", CAPT_DTYPE_F16, 3, {2, 3, 4}, 0},
        {"c.q8_0", CAPT_DTYPE_Q8_0, 2, {4, 64}, 2.0f / 127 / 2 * 1.01f},
        {"d.q4_0", CAPT_DTYPE_Q4_0, 2, {3, 32}, 2.0f / 8 * 1.01f}, /* one step: +m clamps to 7d */
        {"e.vector", CAPT_DTYPE_F32, 1, {7}, 0},
        {"f.rank4", CAPT_DTYPE_F16, 4, {1, 2, 1, 3}, 0},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        const capt_tensor *t = capt_file_find_tensor(f, expected[i].name);
        CHECK(t != NULL, "tensor %s", expected[i].name);
        if (!t) continue;
        CHECK(t->dtype == expected[i].dtype && t->n_dims == expected[i].n_dims, "%s dtype/rank", expected[i].name);
        for (int d = 0; d < t->n_dims; d++) CHECK(t->dims[d] == expected[i].dims[d], "%s dim %d", expected[i].name, d);
        float *v = malloc(sizeof(float) * (size_t)t->n_elements);
        capt_dequantize_row(t->dtype, t->data, v, t->n_elements);
        float worst = 0;
        for (int64_t k = 0; k < t->n_elements; k++) worst = fmaxf(worst, fabsf(v[k] - fixture_value(k)));
        CHECK(worst <= expected[i].tolerance, "%s values off by %g", expected[i].name, worst);
        free(v);
    }
}

static capt_status open_status(const unsigned char *buf, size_t len, capt_error *err) {
    capt_file *f = NULL;
    capt_status st = capt_file_open(buf, len, &f, err);
    if (st == CAPT_OK) {
        /* Walk everything a user could touch, so ASan sees any bad view. */
        volatile unsigned sum = 0;
        for (size_t i = 0; i < capt_file_meta_count(f); i++) {
            const capt_meta *m = capt_file_meta_at(f, i);
            for (size_t k = 0; k < m->key.len; k++) sum += (unsigned char)m->key.ptr[k];
            if (m->type == CAPT_META_ARRAY)
                for (size_t k = 0; k < m->count; k++) {
                    if (m->elem_type == CAPT_META_STRING) sum += (unsigned)capt_meta_string_at(m, k).len;
                    else sum += (unsigned)capt_meta_int_at(m, k);
                }
        }
        for (size_t i = 0; i < capt_file_tensor_count(f); i++) {
            const capt_tensor *t = capt_file_tensor_at(f, i);
            const unsigned char *p = t->data;
            sum += p[0] + p[t->n_bytes - 1];
        }
        (void)sum;
        capt_file_free(f);
    } else {
        CHECK(f == NULL, "no file on failure");
        CHECK(err->message[0] != 0, "failure has a message");
    }
    return st;
}

/* Copies into an exact-size heap buffer so ASan catches any read past the end. */
static capt_status open_copy(const unsigned char *src, size_t len, capt_error *err) {
    unsigned char *copy = malloc(len ? len : 1);
    memcpy(copy, src, len);
    capt_status st = open_status(copy, len, err);
    free(copy);
    return st;
}

static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void check_hostile(const unsigned char *good, size_t len) {
    capt_error err;
    /* Truncation at every byte: the data section ends exactly at the last tensor, so each
     * shorter file is missing something the reader must notice. */
    for (size_t n = 0; n < len; n++) {
        capt_status st = open_copy(good, n, &err);
        CHECK(st != CAPT_OK, "truncated at %zu accepted", n);
        if (st == CAPT_OK) break;
    }
    unsigned char *bad = malloc(len);
    /* One flipped bit at every byte, in every section (header, metadata, tensor entries,
     * padding, tensor data): each is refused, most by the checksum. */
    int by_checksum = 0;
    for (size_t at = 0; at < len; at++) {
        memcpy(bad, good, len);
        bad[at] ^= (unsigned char)(1u << (at % 8));
        capt_status st = open_copy(bad, len, &err);
        CHECK(st != CAPT_OK, "a flipped bit at byte %zu was not noticed", at);
        by_checksum += st != CAPT_OK && strstr(err.message, "damaged") != NULL;
    }
    CHECK(by_checksum > (int)len / 2, "%d of %zu flips named as damage by the checksum", by_checksum, len);
    /* Random bit flips: any outcome but a crash is fine. */
    uint64_t rng = 12345;
    for (int trial = 0; trial < 20000; trial++) {
        memcpy(bad, good, len);
        int flips = 1 + trial % 4;
        for (int k = 0; k < flips; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(rng >> 33) % len;
            bad[pos] ^= (unsigned char)(1u << ((rng >> 20) & 7));
        }
        open_copy(bad, len, &err);
    }
    /* Absurd counts, lengths and offsets, each with a specific error. */
    struct {
        size_t at;
        int width;
        uint64_t value;
        const char *expect;
    } patches[] = {
        {4, 4, 1, "version"},
        {8, 4, 3, "alignment"},
        {8, 4, 1u << 30, "alignment"},
        {12, 4, 1, "damaged"},
        {16, 8, UINT64_MAX, "metadata count"},
        {16, 8, (uint64_t)1 << 40, "metadata count"},
        {24, 8, UINT64_MAX / 2, "tensor count"},
        {32, 4, 0xffffffffu, "limit"},       /* first key length */
        {32, 4, 0, "empty"},                 /* empty key */
    };
    for (size_t i = 0; i < sizeof patches / sizeof patches[0]; i++) {
        memcpy(bad, good, len);
        if (patches[i].width == 8) put_u64(bad + patches[i].at, patches[i].value);
        else put_u32(bad + patches[i].at, (uint32_t)patches[i].value);
        capt_status st = open_copy(bad, len, &err);
        CHECK(st != CAPT_OK && strstr(err.message, patches[i].expect), "patch %zu: \"%s\" lacks \"%s\"", i,
              err.message, patches[i].expect);
    }
    free(bad);
}

/* A handmade file: one tensor whose dims, dtype or offset are patched to absurd values. */
static void check_tensor_entries(void) {
    unsigned char f[256] = {0};
    memcpy(f, "CAPT", 4);
    put_u32(f + 4, CAPT_FILE_VERSION);
    put_u32(f + 8, 32);
    put_u64(f + 16, 0);
    put_u64(f + 24, 1);
    size_t p = 32;
    put_u32(f + p, 1);
    f[p + 4] = 'w';
    p += 5;
    size_t dtype_at = p, rank_at = p + 4, dim0_at = p + 8, dim1_at = p + 16, offset_at = p + 24;
    put_u32(f + dtype_at, CAPT_DTYPE_F32);
    put_u32(f + rank_at, 2);
    put_u64(f + dim0_at, 2);
    put_u64(f + dim1_at, 4);
    put_u64(f + offset_at, 0);
    size_t data_start = 96, len = data_start + 32;
    capt_error err;
    capt_file_seal(f, len);
    CHECK(open_copy(f, len, &err) == CAPT_OK, "handmade file: %s", err.message);
    struct {
        size_t at;
        int width;
        uint64_t value;
        const char *expect;
    } patches[] = {
        {dtype_at, 4, 9, "dtype"},
        {rank_at, 4, 0, "rank"},
        {rank_at, 4, 5, "rank"},
        {dim0_at, 8, 0, "dimension"},
        {dim0_at, 8, UINT64_MAX, "dimension"},
        {dim1_at, 8, ((uint64_t)1 << 47) + 1, "dimension"}, /* product above 2^48 */
        {dim0_at, 8, 3, "past the end"},
        {offset_at, 8, 32, "past the end"},
        {offset_at, 8, 8, "multiple"},
        {offset_at, 8, UINT64_MAX - 31, "past the end"},
        {dtype_at, 4, CAPT_DTYPE_Q8_0, "multiple of 32"},
    };
    for (size_t i = 0; i < sizeof patches / sizeof patches[0]; i++) {
        unsigned char g[256];
        memcpy(g, f, sizeof g);
        if (patches[i].width == 8) put_u64(g + patches[i].at, patches[i].value);
        else put_u32(g + patches[i].at, (uint32_t)patches[i].value);
        capt_file_seal(g, len); /* well-formed but for the patched field */
        capt_status st = open_copy(g, len, &err);
        CHECK(st == CAPT_E_FORMAT && strstr(err.message, patches[i].expect), "tensor patch %zu: \"%s\" lacks \"%s\"",
              i, err.message, patches[i].expect);
    }
    /* Two tensors with one name. */
    unsigned char g[256] = {0};
    memcpy(g, f, 32 + 5 + 32);
    put_u64(g + 24, 2);
    memcpy(g + 69, f + 32, 37);
    capt_file_seal(g, 160);
    CHECK(open_copy(g, 160, &err) == CAPT_E_FORMAT && strstr(err.message, "twice"), "duplicate: %s", err.message);
}

int main(int argc, char **argv) {
    char path[4096];
    snprintf(path, sizeof path, "%s/fixture.capt", argc > 1 ? argv[1] : "tests/data");
    size_t len;
    unsigned char *buf = check_read_file(path, &len);
    capt_file *f;
    capt_error err;
    CHECK(capt_file_open(buf, len, &f, &err) == CAPT_OK, "open fixture: %s", err.message);
    if (f) {
        check_fixture(f);
        capt_file_free(f);
    }
    check_hostile(buf, len);
    check_tensor_entries();
    CHECK(capt_file_open(NULL, 5, &f, &err) == CAPT_E_ARG, "NULL buffer");
    free(buf);
    return check_exit("test_format");
}
