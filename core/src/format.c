/* format.c — reader for .capt model files (docs/format.md), and the typed metadata reads.
 *
 * The file is parsed from a caller-owned buffer with a bounds-checked cursor: every count,
 * length and offset is checked against the bytes that remain before it is used, and every
 * allocation is bounded by the file size (a count can never exceed the bytes it needs). */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "capt reads tensor data in place and needs a little-endian target"
#endif

#define HEADER_BYTES 32
#define CHECKSUM_AT 12 /* the header's CRC-32 field */
#define MAX_NAME_BYTES 4096         /* keys and tensor names */
#define MIN_META_ENTRY_BYTES 16     /* u32 key length + 1 key byte + u32 type + ... >= 8 */
#define MIN_TENSOR_ENTRY_BYTES 29   /* name(4+1) dtype(4) n_dims(4) dims(8) offset(8) */

struct capt_file {
    uint32_t version;
    uint32_t alignment;
    size_t n_meta;
    capt_meta *meta;
    size_t n_tensors;
    capt_tensor *tensors;
};

typedef struct cursor {
    const unsigned char *base;
    size_t len;
    size_t pos;
    capt_error *err;
} cursor;

static size_t remaining(const cursor *c) { return c->len - c->pos; }

static capt_status truncated(cursor *c, const char *what) {
    return capt_fail(c->err, CAPT_E_FORMAT, "truncated file: %s at byte %zu runs past the end (%zu bytes)",
                     what, c->pos, c->len);
}

static capt_status read_u32(cursor *c, const char *what, uint32_t *out) {
    if (remaining(c) < 4) return truncated(c, what);
    *out = capt_read_u32le(c->base + c->pos);
    c->pos += 4;
    return CAPT_OK;
}

static capt_status read_u64(cursor *c, const char *what, uint64_t *out) {
    if (remaining(c) < 8) return truncated(c, what);
    *out = capt_read_u64le(c->base + c->pos);
    c->pos += 8;
    return CAPT_OK;
}

static capt_status read_str(cursor *c, const char *what, size_t max_len, capt_str *out) {
    uint32_t n = 0;
    capt_status st = read_u32(c, what, &n);
    if (st) return st;
    if (n > max_len)
        return capt_fail(c->err, CAPT_E_FORMAT, "%s at byte %zu is %u bytes long (limit %zu)", what,
                         c->pos - 4, n, max_len);
    if (remaining(c) < n) return truncated(c, what);
    out->ptr = (const char *)c->base + c->pos;
    out->len = n;
    c->pos += n;
    return CAPT_OK;
}

/* A key or name: 1..MAX_NAME_BYTES bytes with no NUL (so it can be compared as text). */
static capt_status read_name(cursor *c, const char *what, capt_str *out) {
    capt_status st = read_str(c, what, MAX_NAME_BYTES, out);
    if (st) return st;
    if (out->len == 0 || memchr(out->ptr, 0, out->len))
        return capt_fail(c->err, CAPT_E_FORMAT, "%s at byte %zu is empty or contains a NUL byte", what,
                         c->pos - out->len);
    return CAPT_OK;
}

static capt_status read_array(cursor *c, capt_meta *m) {
    uint32_t elem_type = 0;
    uint64_t count = 0;
    capt_status st = read_u32(c, "array element type", &elem_type);
    if (!st) st = read_u64(c, "array count", &count);
    if (st) return st;
    m->elem_type = (capt_meta_type)elem_type;
    size_t min_elem = elem_type == CAPT_META_STRING ? 4 : 8;
    if (elem_type != CAPT_META_INT && elem_type != CAPT_META_FLOAT && elem_type != CAPT_META_STRING)
        return capt_fail(c->err, CAPT_E_FORMAT, "metadata \"%.*s\": unknown array element type %u",
                         (int)m->key.len, m->key.ptr, elem_type);
    if (count > remaining(c) / min_elem)
        return capt_fail(c->err, CAPT_E_FORMAT,
                         "metadata \"%.*s\": array of %llu elements does not fit in the %zu bytes left",
                         (int)m->key.len, m->key.ptr, (unsigned long long)count, remaining(c));
    m->count = (size_t)count;
    m->raw = c->base + c->pos;
    if (elem_type != CAPT_META_STRING) {
        c->pos += m->count * 8;
        return CAPT_OK;
    }
    /* count <= remaining/4, so this allocation is bounded by the file size. */
    capt_str *strings = malloc((m->count ? m->count : 1) * sizeof *strings);
    if (!strings) return capt_fail(c->err, CAPT_E_NOMEM, "out of memory for %zu strings", m->count);
    m->strings = strings;
    for (size_t i = 0; i < m->count; i++) {
        st = read_str(c, "array string", remaining(c), &strings[i]);
        if (st) return st;
    }
    return CAPT_OK;
}

static capt_status read_meta(cursor *c, capt_meta *m) {
    uint32_t type = 0;
    uint64_t bits = 0;
    capt_status st = read_name(c, "metadata key", &m->key);
    if (!st) st = read_u32(c, "metadata type", &type);
    if (st) return st;
    m->type = (capt_meta_type)type;
    switch (type) {
    case CAPT_META_INT:
        st = read_u64(c, "int value", &bits);
        m->int_value = (int64_t)bits;
        return st;
    case CAPT_META_FLOAT:
        st = read_u64(c, "float value", &bits);
        memcpy(&m->float_value, &bits, sizeof bits);
        return st;
    case CAPT_META_STRING:
        return read_str(c, "string value", remaining(c), &m->string_value);
    case CAPT_META_ARRAY:
        return read_array(c, m);
    default:
        return capt_fail(c->err, CAPT_E_FORMAT, "metadata \"%.*s\": unknown type %u", (int)m->key.len,
                         m->key.ptr, type);
    }
}

static capt_status read_tensor(cursor *c, uint32_t alignment, capt_tensor *t, uint64_t *offset) {
    uint32_t dtype = 0, n_dims = 0;
    capt_status st = read_name(c, "tensor name", &t->name);
    if (!st) st = read_u32(c, "tensor dtype", &dtype);
    if (!st) st = read_u32(c, "tensor rank", &n_dims);
    if (st) return st;
    const char *dtype_name = capt_dtype_name((capt_dtype)dtype);
    if (!dtype_name)
        return capt_fail(c->err, CAPT_E_FORMAT, "tensor \"%.*s\": unknown dtype %u", (int)t->name.len,
                         t->name.ptr, dtype);
    if (n_dims < 1 || n_dims > CAPT_MAX_DIMS)
        return capt_fail(c->err, CAPT_E_FORMAT, "tensor \"%.*s\": rank %u is not in 1..%d",
                         (int)t->name.len, t->name.ptr, n_dims, CAPT_MAX_DIMS);
    t->dtype = (capt_dtype)dtype;
    t->n_dims = (int)n_dims;
    int64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t dim = 0;
        st = read_u64(c, "tensor dimension", &dim);
        if (st) return st;
        /* Each dimension and the product stay below 2^48: no overflow, and far beyond
         * any file that could hold the data. */
        if (dim == 0 || dim > ((uint64_t)1 << 48) || (uint64_t)n_elements > ((uint64_t)1 << 48) / dim)
            return capt_fail(c->err, CAPT_E_FORMAT, "tensor \"%.*s\": dimension %u = %llu is out of range",
                             (int)t->name.len, t->name.ptr, d, (unsigned long long)dim);
        t->dims[d] = (int64_t)dim;
        n_elements *= (int64_t)dim;
    }
    t->n_elements = n_elements;
    st = read_u64(c, "tensor offset", offset);
    if (st) return st;
    if (*offset % alignment)
        return capt_fail(c->err, CAPT_E_FORMAT, "tensor \"%.*s\": offset %llu is not a multiple of %u",
                         (int)t->name.len, t->name.ptr, (unsigned long long)*offset, alignment);
    int block_values = capt_dtype_traits_of(t->dtype)->block_values;
    if (t->dims[n_dims - 1] % block_values)
        return capt_fail(c->err, CAPT_E_FORMAT, "tensor \"%.*s\": %s rows must be a multiple of %d",
                         (int)t->name.len, t->name.ptr, dtype_name, block_values);
    t->n_bytes = capt_dtype_row_bytes(t->dtype, n_elements);
    if (t->n_bytes == 0)
        return capt_fail(c->err, CAPT_E_FORMAT, "tensor \"%.*s\": size overflows", (int)t->name.len,
                         t->name.ptr);
    return CAPT_OK;
}

static int compare_names(const void *a, const void *b) {
    const capt_tensor *const *x = a, *const *y = b;
    size_t n = (*x)->name.len < (*y)->name.len ? (*x)->name.len : (*y)->name.len;
    int r = memcmp((*x)->name.ptr, (*y)->name.ptr, n);
    if (r) return r;
    return ((*x)->name.len > (*y)->name.len) - ((*x)->name.len < (*y)->name.len);
}

static capt_status check_unique_names(capt_file *f, capt_error *err) {
    if (f->n_tensors < 2) return CAPT_OK;
    const capt_tensor **sorted = malloc(f->n_tensors * sizeof *sorted);
    if (!sorted) return capt_fail(err, CAPT_E_NOMEM, "out of memory sorting %zu tensor names", f->n_tensors);
    for (size_t i = 0; i < f->n_tensors; i++) sorted[i] = &f->tensors[i];
    qsort(sorted, f->n_tensors, sizeof *sorted, compare_names);
    capt_status st = CAPT_OK;
    for (size_t i = 1; i < f->n_tensors && !st; i++)
        if (compare_names(&sorted[i - 1], &sorted[i]) == 0)
            st = capt_fail(err, CAPT_E_FORMAT, "tensor name \"%.*s\" appears twice", (int)sorted[i]->name.len,
                           sorted[i]->name.ptr);
    free(sorted);
    return st;
}

static capt_status parse(capt_file *f, cursor *c, uint64_t **offsets) {
    capt_error *err = c->err;
    if (c->len < HEADER_BYTES)
        return capt_fail(err, CAPT_E_FORMAT, "not a .capt file: %zu bytes is shorter than the header", c->len);
    if (memcmp(c->base, "CAPT", 4) != 0) return capt_fail(err, CAPT_E_FORMAT, "not a .capt file: bad magic");
    c->pos = 4;
    uint32_t checksum;
    uint64_t n_meta, n_tensors;
    read_u32(c, "version", &f->version);
    read_u32(c, "alignment", &f->alignment);
    read_u32(c, "checksum", &checksum);
    read_u64(c, "metadata count", &n_meta);
    read_u64(c, "tensor count", &n_tensors);
    if (f->version != CAPT_FILE_VERSION)
        return capt_fail(err, CAPT_E_VERSION, "file version %u is not supported (this build reads %d)",
                         f->version, CAPT_FILE_VERSION);
    if (f->alignment < 8 || f->alignment > 65536 || (f->alignment & (f->alignment - 1)))
        return capt_fail(err, CAPT_E_FORMAT, "alignment %u is not a power of two in 8..65536", f->alignment);
    if (n_meta > remaining(c) / MIN_META_ENTRY_BYTES)
        return capt_fail(err, CAPT_E_FORMAT, "metadata count %llu cannot fit in a %zu-byte file",
                         (unsigned long long)n_meta, c->len);
    if (n_tensors > remaining(c) / MIN_TENSOR_ENTRY_BYTES)
        return capt_fail(err, CAPT_E_FORMAT, "tensor count %llu cannot fit in a %zu-byte file",
                         (unsigned long long)n_tensors, c->len);
    f->meta = calloc(n_meta ? n_meta : 1, sizeof *f->meta);
    f->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *f->tensors);
    *offsets = calloc(n_tensors ? n_tensors : 1, sizeof **offsets);
    if (!f->meta || !f->tensors || !*offsets) return capt_fail(err, CAPT_E_NOMEM, "out of memory for the file tables");

    for (f->n_meta = 0; f->n_meta < n_meta; f->n_meta++) {
        capt_status st = read_meta(c, &f->meta[f->n_meta]);
        if (st) {
            f->n_meta++; /* so capt_file_free releases a partly read string array */
            return st;
        }
    }
    for (f->n_tensors = 0; f->n_tensors < n_tensors; f->n_tensors++) {
        capt_status st = read_tensor(c, f->alignment, &f->tensors[f->n_tensors], &(*offsets)[f->n_tensors]);
        if (st) return st;
    }
    size_t data_start = (c->pos + f->alignment - 1) / f->alignment * f->alignment;
    if (data_start > c->len && f->n_tensors > 0) return truncated(c, "data section");
    for (size_t i = 0; i < f->n_tensors; i++) {
        capt_tensor *t = &f->tensors[i];
        uint64_t off = (*offsets)[i];
        size_t avail = c->len - data_start;
        if (off > avail || t->n_bytes > avail - off)
            return capt_fail(err, CAPT_E_FORMAT,
                             "tensor \"%.*s\": %zu bytes at data offset %llu run past the end of the file",
                             (int)t->name.len, t->name.ptr, t->n_bytes, (unsigned long long)off);
        t->data = c->base + data_start + off;
    }
    capt_status st = check_unique_names(f, err);
    if (st) return st;
    /* Last, once the layout is known to be sound (so a damaged count or offset is named
     * as such). */
    uint32_t crc = capt_file_checksum(c->base, c->len);
    if (crc != checksum)
        return capt_fail(err, CAPT_E_FORMAT, "the file is damaged: its CRC-32 is %08x, the header says %08x", crc,
                         checksum);
    return CAPT_OK;
}

uint32_t capt_file_checksum(const void *buf, size_t len) {
    static const unsigned char zeros[4] = {0};
    const unsigned char *p = buf;
    uint32_t crc = capt_crc32(0, p, CHECKSUM_AT);
    crc = capt_crc32(crc, zeros, 4);
    return capt_crc32(crc, p + CHECKSUM_AT + 4, len - CHECKSUM_AT - 4);
}

void capt_file_seal(void *buf, size_t len) {
    uint32_t crc = capt_file_checksum(buf, len);
    unsigned char *at = (unsigned char *)buf + CHECKSUM_AT;
    for (int i = 0; i < 4; i++) at[i] = (unsigned char)(crc >> (8 * i));
}

capt_status capt_file_open(const void *buf, size_t len, capt_file **out, capt_error *err) {
    if (!out || (!buf && len)) return capt_fail(err, CAPT_E_ARG, "capt_file_open: NULL argument");
    *out = NULL;
    capt_file *f = calloc(1, sizeof *f);
    if (!f) return capt_fail(err, CAPT_E_NOMEM, "out of memory");
    cursor c = {buf, len, 0, err};
    uint64_t *offsets = NULL;
    capt_status st = parse(f, &c, &offsets);
    free(offsets);
    if (st) {
        capt_file_free(f);
        return st;
    }
    *out = f;
    if (err) {
        err->status = CAPT_OK;
        err->message[0] = 0;
    }
    return CAPT_OK;
}

void capt_file_free(capt_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n_meta; i++) free((void *)f->meta[i].strings);
    free(f->meta);
    free(f->tensors);
    free(f);
}

uint32_t capt_file_version(const capt_file *f) { return f->version; }
uint32_t capt_file_alignment(const capt_file *f) { return f->alignment; }
size_t capt_file_meta_count(const capt_file *f) { return f->n_meta; }
size_t capt_file_tensor_count(const capt_file *f) { return f->n_tensors; }

const capt_meta *capt_file_meta_at(const capt_file *f, size_t i) { return i < f->n_meta ? &f->meta[i] : NULL; }

const capt_tensor *capt_file_tensor_at(const capt_file *f, size_t i) {
    return i < f->n_tensors ? &f->tensors[i] : NULL;
}

const capt_meta *capt_file_find_meta(const capt_file *f, const char *key) {
    for (size_t i = 0; i < f->n_meta; i++)
        if (capt_str_is(f->meta[i].key, key)) return &f->meta[i];
    return NULL;
}

const capt_tensor *capt_file_find_tensor(const capt_file *f, const char *name) {
    for (size_t i = 0; i < f->n_tensors; i++)
        if (capt_str_is(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

int64_t capt_meta_int_at(const capt_meta *m, size_t i) {
    return (int64_t)capt_read_u64le(m->raw + 8 * i);
}

double capt_meta_float_at(const capt_meta *m, size_t i) {
    uint64_t bits = capt_read_u64le(m->raw + 8 * i);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

capt_str capt_meta_string_at(const capt_meta *m, size_t i) { return m->strings[i]; }

const capt_tensor *capt_file_tensor_checked(const capt_file *f, const char *name, int n_dims, int64_t d0, int64_t d1,
                                            int need_f32, capt_error *err) {
    const capt_tensor *t = capt_file_find_tensor(f, name);
    if (!t || t->n_dims != n_dims || t->dims[0] != d0 || (n_dims > 1 && t->dims[1] != d1)) {
        if (n_dims > 1)
            capt_fail(err, CAPT_E_FORMAT, "model: tensor %s is missing or not [%lld, %lld]", name, (long long)d0,
                      (long long)d1);
        else
            capt_fail(err, CAPT_E_FORMAT, "model: tensor %s is missing or not [%lld]", name, (long long)d0);
        return NULL;
    }
    if (need_f32 && t->dtype != CAPT_DTYPE_F32) {
        capt_fail(err, CAPT_E_FORMAT, "model: tensor %s must be f32", name);
        return NULL;
    }
    if ((uintptr_t)t->data % 4) {
        capt_fail(err, CAPT_E_ARG, "model: the file buffer must be 4-byte aligned");
        return NULL;
    }
    return t;
}

int capt_meta_read_int(const capt_file *f, const char *key, int64_t lo, int64_t hi, int *out, capt_error *err) {
    const capt_meta *m = capt_file_find_meta(f, key);
    if (!m || m->type != CAPT_META_INT || m->int_value < lo || m->int_value > hi || lo < INT_MIN || hi > INT_MAX) {
        capt_fail(err, CAPT_E_FORMAT, "model: %s is missing or not an int in %lld..%lld", key, (long long)lo,
                  (long long)hi);
        return 0;
    }
    *out = (int)m->int_value;
    return 1;
}

int capt_meta_read_ints(const capt_file *f, const char *key, size_t n, int64_t lo, int64_t hi, int *out,
                        capt_error *err) {
    const capt_meta *m = capt_file_find_meta(f, key);
    int ok = m && m->type == CAPT_META_ARRAY && m->elem_type == CAPT_META_INT && m->count == n && lo >= INT_MIN &&
             hi <= INT_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        int64_t v = capt_meta_int_at(m, i);
        ok = v >= lo && v <= hi;
        out[i] = ok ? (int)v : 0;
    }
    if (!ok)
        capt_fail(err, CAPT_E_FORMAT, "model: %s is missing or not %zu ints in %lld..%lld", key, n, (long long)lo,
                  (long long)hi);
    return ok;
}

int capt_meta_read_float(const capt_file *f, const char *key, float fallback, float *out, capt_error *err) {
    const capt_meta *m = capt_file_find_meta(f, key);
    *out = fallback;
    if (!m) return 1;
    if (m->type != CAPT_META_FLOAT || !isfinite(m->float_value) || fabs(m->float_value) > FLT_MAX) {
        capt_fail(err, CAPT_E_FORMAT, "model: %s is not a finite float", key);
        return 0;
    }
    *out = (float)m->float_value;
    return 1;
}
