/* capt.h — the public C API of capt, a small image-captioning engine.
 *
 * The main path: load a model file from memory, caption an image, read the result.
 *
 *     capt_error err;
 *     capt_model *model;
 *     if (capt_model_load(model_bytes, n_model_bytes, &model, &err) != CAPT_OK) {
 *         fprintf(stderr, "%s\n", err.message);      // errors are returned, never printed
 *         return 1;
 *     }                                              // `model_bytes` must outlive `model`
 *     capt_context_params cp = capt_context_default_params();
 *     capt_context *ctx;
 *     if (capt_context_create(model, &cp, &ctx, &err) != CAPT_OK) { ... }
 *
 *     capt_caption_params p = capt_caption_default_params();  // beam 3, 20 tokens
 *     capt_result *r;
 *     if (capt_caption_image(ctx, jpeg_bytes, n_jpeg_bytes, &p, &r) != CAPT_OK)
 *         fprintf(stderr, "%s\n", capt_context_last_error(ctx));
 *     else {
 *         printf("%s\n", r->caption);                  // "A dog runs through the grass."
 *         for (int i = 0; i < r->n_tokens; i++) ...    // r->tokens[i]: text, probability;
 *         capt_result_free(r);                         // r->attention, r->detections, ...
 *     }
 *     capt_context_free(ctx);
 *     capt_model_free(model);
 *
 * Below that path: images (capt_image_decode, capt_image_from_rgba), the encoder alone
 * (capt_encode), the detector (capt_detect), CLIP embeddings (capt_embed_*), the model
 * file itself (capt_file_open) and the CLIP tokenizer (capt_tokenizer_*).
 *
 * Conventions
 * - Every function that can fail returns a capt_status. Constructors take an optional
 *   capt_error* that receives a human-readable message; operations on an object keep
 *   their message in the object (capt_tokenizer_last_error). There is no global state.
 * - Objects are opaque. Files are parsed from caller-owned memory and never copy tensor
 *   data, so the same code works in the browser (no files there).
 * - Sizes and counts read from files are checked against the buffer before use.
 */
#ifndef CAPT_H
#define CAPT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum capt_status {
    CAPT_OK = 0,
    CAPT_E_ARG,          /* a bad argument from the caller */
    CAPT_E_FORMAT,       /* malformed or truncated model file / tokenizer data */
    CAPT_E_VERSION,      /* a model file version this build does not read */
    CAPT_E_NOMEM,        /* an allocation failed */
    CAPT_E_IMAGE,        /* an image that cannot be decoded */
    CAPT_E_UNSUPPORTED   /* valid input that this build cannot handle */
} capt_status;

/* A short fixed name for a status, e.g. "format error". */
const char *capt_status_str(capt_status status);

/* Where constructors put the reason for a failure (status + message). */
typedef struct capt_error {
    capt_status status;
    char message[256];
} capt_error;

/* ------------------------------------------------------------------------------------
 * Model files (.capt v2, see docs/format.md)
 * ---------------------------------------------------------------------------------- */

#define CAPT_FILE_VERSION 2
#define CAPT_MAX_DIMS 4
#define CAPT_QK 32 /* values per quantization block (q8_0, q4_0) */

typedef enum capt_dtype {
    CAPT_DTYPE_F32 = 0,
    CAPT_DTYPE_F16 = 1,
    CAPT_DTYPE_Q8_0 = 2, /* blocks of 32: f16 scale + 32 x int8            (34 bytes) */
    CAPT_DTYPE_Q4_0 = 3  /* blocks of 32: f16 scale + 16 bytes of nibbles   (18 bytes) */
} capt_dtype;

/* Name of a dtype ("f32", "f16", "q8_0", "q4_0") or NULL. */
const char *capt_dtype_name(capt_dtype dtype);

typedef enum capt_meta_type {
    CAPT_META_INT = 1,    /* int64 */
    CAPT_META_FLOAT = 2,  /* float64 */
    CAPT_META_STRING = 3, /* UTF-8 bytes, not NUL-terminated */
    CAPT_META_ARRAY = 4   /* count x (INT | FLOAT | STRING) */
} capt_meta_type;

/* A string that points into the file buffer; not NUL-terminated. */
typedef struct capt_str {
    const char *ptr;
    size_t len;
} capt_str;

typedef struct capt_meta {
    capt_str key;
    capt_meta_type type;
    capt_meta_type elem_type; /* arrays only */
    size_t count;             /* arrays only */
    int64_t int_value;        /* CAPT_META_INT */
    double float_value;       /* CAPT_META_FLOAT */
    capt_str string_value;    /* CAPT_META_STRING */
    const unsigned char *raw; /* arrays: the elements as stored; use the accessors below */
    const capt_str *strings;  /* arrays of strings: the parsed element views */
} capt_meta;

typedef struct capt_tensor {
    capt_str name;
    capt_dtype dtype;
    int n_dims;
    int64_t dims[CAPT_MAX_DIMS]; /* row-major: dims[n_dims-1] is contiguous */
    int64_t n_elements;
    const void *data;            /* into the file buffer, aligned to the file alignment */
    size_t n_bytes;
} capt_tensor;

typedef struct capt_file capt_file;

/* Parses a .capt file held in `buf` (which must stay alive and unmodified while the
 * capt_file is used). Tensor data is not copied. */
capt_status capt_file_open(const void *buf, size_t len, capt_file **out, capt_error *err);
void capt_file_free(capt_file *file);

uint32_t capt_file_version(const capt_file *file);
uint32_t capt_file_alignment(const capt_file *file);
size_t capt_file_meta_count(const capt_file *file);
const capt_meta *capt_file_meta_at(const capt_file *file, size_t index);
const capt_meta *capt_file_find_meta(const capt_file *file, const char *key);
size_t capt_file_tensor_count(const capt_file *file);
const capt_tensor *capt_file_tensor_at(const capt_file *file, size_t index);
const capt_tensor *capt_file_find_tensor(const capt_file *file, const char *name);

/* Elements of CAPT_META_ARRAY values (index < count, matching elem_type). */
int64_t capt_meta_int_at(const capt_meta *meta, size_t index);
double capt_meta_float_at(const capt_meta *meta, size_t index);
capt_str capt_meta_string_at(const capt_meta *meta, size_t index);

/* Bytes of a tensor of this dtype and element count; 0 when n_elements is negative,
 * not a multiple of the block size for quantized types, or the size overflows. */
size_t capt_dtype_row_bytes(capt_dtype dtype, int64_t n_elements);

/* Converts n f32 values to a dtype, rounding as tools/captfile.py does (n a multiple of
 * the dtype's block, 32 for q8_0 and q4_0; dst holds capt_dtype_row_bytes(dtype, n)).
 * CAPT_E_ARG for another n or an unknown dtype. */
capt_status capt_dtype_from_float(capt_dtype dtype, const float *src, void *dst, int64_t n);

/* ------------------------------------------------------------------------------------
 * Images (docs/mobilenet_v2.md: image input)
 * ---------------------------------------------------------------------------------- */

#define CAPT_IMAGE_MAX_SIDE 32768              /* pixels, either side */
#define CAPT_IMAGE_MAX_PIXELS (64u * 1024 * 1024) /* 64 Mpixel */

/* An 8-bit RGB image, rows top to bottom, no padding. */
typedef struct capt_image {
    int width, height;
    uint8_t *rgb; /* [height][width][3] */
} capt_image;

/* Decodes JPEG, PNG (8 or 16 bit), BMP or GIF (first frame) from memory. JPEG EXIF
 * orientation is applied (photos come out upright); gray is expanded to RGB and alpha is
 * composited over white. Sizes above the limits, empty, truncated or unknown data are
 * refused before any large allocation (CAPT_E_IMAGE with a message). */
capt_status capt_image_decode(const void *bytes, size_t len, capt_image **out, capt_error *err);

/* Copies RGBA8 pixels (e.g. a canvas or video frame): `stride` bytes per row (>= 4 *
 * width), alpha composited over white. */
capt_status capt_image_from_rgba(const uint8_t *rgba, int width, int height, int stride, capt_image **out,
                                 capt_error *err);

/* Resizes with an antialiased triangle (bilinear) filter whose support grows with the
 * reduction, in two 8-bit passes (horizontal, then vertical): pixel for pixel what
 * Pillow's Image.resize(size, Image.BILINEAR) gives. */
capt_status capt_image_resize(const capt_image *in, int width, int height, capt_image **out, capt_error *err);

typedef enum capt_resample {
    CAPT_RESAMPLE_BILINEAR = 0, /* Pillow's BILINEAR (MobileNetV2's preprocessing) */
    CAPT_RESAMPLE_BICUBIC = 1   /* Pillow's BICUBIC, Keys a = -0.5 (CLIP's preprocessing) */
} capt_resample;

/* capt_image_resize with a choice of filter; both are pixel for pixel Pillow's. */
capt_status capt_image_resample(const capt_image *in, int width, int height, capt_resample filter, capt_image **out,
                                capt_error *err);

/* Copies the width x height rectangle whose top-left pixel is (left, top); it must lie
 * inside the image. */
capt_status capt_image_crop(const capt_image *in, int left, int top, int width, int height, capt_image **out,
                            capt_error *err);

void capt_image_free(capt_image *image);

/* ------------------------------------------------------------------------------------
 * Models and contexts
 *
 * A capt_model is the parsed, immutable model (it reads the file buffer in place: keep
 * the buffer alive, 4-byte aligned, until capt_model_free). Any number of contexts share
 * one model; a context owns the work memory, the threads and the last error of one
 * caller at a time.
 * ---------------------------------------------------------------------------------- */

typedef struct capt_model capt_model;
typedef struct capt_context capt_context;

capt_status capt_model_load(const void *buf, size_t len, capt_model **out, capt_error *err);
void capt_model_free(capt_model *model);
const capt_file *capt_model_file(const capt_model *model);
/* The image as the model's encoder sees it before normalisation: stretched to the input
 * size, or resized by its shorter side and cropped at the centre (docs/clip.md). */
capt_status capt_model_fit_image(const capt_model *model, const capt_image *image, capt_image **out, capt_error *err);
/* Class names of the encoder's classifier head (ImageNet: 1001, index 0 background). */
size_t capt_model_label_count(const capt_model *model);
capt_str capt_model_label(const capt_model *model, size_t index);

typedef struct capt_context_params {
    int n_threads; /* threads for one image (>= 1; default 1) */
} capt_context_params;

capt_context_params capt_context_default_params(void);
capt_status capt_context_create(const capt_model *model, const capt_context_params *params, capt_context **out,
                                capt_error *err);
void capt_context_free(capt_context *ctx);
/* Message of the last failed call on this context ("" if none). */
const char *capt_context_last_error(const capt_context *ctx);
/* The kernel set contexts run on this machine: "avx512", "avx2", "wasm128" or "ref" (plain C). */
const char *capt_kernel_set(void);

/* What the vision encoder sees in an image. Pointers stay valid until the next call on
 * the same context. */
typedef struct capt_features {
    int grid_h, grid_w, channels;
    const float *grid;   /* [grid_h * grid_w, channels]: the visual tokens, row-major */
    const float *pooled; /* [channels]: their average */
    int n_classes;
    const float *logits; /* [n_classes]: the classifier head */
    double preprocess_ms, encode_ms;
    int embed_dim;
    const float *embedding; /* CLIP: [embed_dim], the projected (not normalised) image embedding; else NULL */
    /* Every visual token a caption decoder can read: [n_tokens, channels], global tokens
     * first, then the grid (a convnet: the grid alone; CLIP: the class token, then the
     * patches). */
    int n_tokens;
    const float *tokens;
} capt_features;

/* Resizes and normalizes the image as the model file says, then runs the encoder. */
capt_status capt_encode(capt_context *ctx, const capt_image *image, capt_features *out);

/* Runs the encoder on pixels already resized and normalised: [3, height, width], channels
 * first (PyTorch's layout); the size must be the encoder's input size. */
capt_status capt_encode_pixels(capt_context *ctx, const float *pixels, int width, int height, capt_features *out);

/* ------------------------------------------------------------------------------------
 * Objects (docs/detector.md): a model file with a detector ("detector.*": CenterNet
 * MobileNetV3, COCO's 80 categories) finds objects; a caption decoder trained with it
 * reads the most confident ones as visual tokens beside the encoder's grid.
 * ---------------------------------------------------------------------------------- */

typedef struct capt_detection {
    float x0, y0, x1, y1; /* the box: left, top, right, bottom in 0..1 of the image's width and height */
    float score;          /* the detector's confidence, 0..1 */
    int class_index;      /* 0 .. classes - 1 */
    capt_str label;       /* the class name ("person", "dog", ...), pointing into the model file */
} capt_detection;

/* 1 when the model file holds a detector. */
int capt_model_has_detector(const capt_model *model);

typedef struct capt_detections {
    int n;
    const capt_detection *items; /* [n], most confident first */
    double detect_ms;            /* resizing and running the detector */
} capt_detections;

/* The objects the detector finds with score >= min_score (at most its
 * detector.max_detections), most confident first. Valid until the next call on ctx;
 * CAPT_E_UNSUPPORTED without a detector. */
capt_status capt_detect(capt_context *ctx, const capt_image *image, float min_score, capt_detections *out);

/* ------------------------------------------------------------------------------------
 * CLIP (docs/clip.md): a file with encoder.type "vit" and a text tower ("text.*")
 * embeds images and texts in one space. For a ViT, capt_features' tokens are the 50
 * pre-projection tokens (class token first), grid the patches' among them, pooled the
 * class token after the final layer norm, and embedding the projected image embedding.
 * ---------------------------------------------------------------------------------- */

int capt_model_has_text(const capt_model *model);
/* Size of the shared embedding space (0 when the encoder is not CLIP's). */
int capt_model_embed_dim(const capt_model *model);
/* exp(logit_scale): logits = scale * cosine (0 without a text tower). */
float capt_model_logit_scale(const capt_model *model);

typedef struct capt_text_embedding {
    int n_tokens;
    const int32_t *ids;     /* [n_tokens]: start, the text's BPE ids, end */
    int dim;
    const float *embedding; /* [dim]: projected, not normalised */
} capt_text_embedding;

/* Tokenizes UTF-8 text with the model's BPE merges (as clip.tokenize; too long a text is
 * refused) and runs the text tower. Pointers stay valid until the next call on ctx. */
capt_status capt_embed_text(capt_context *ctx, const char *text, size_t len, capt_text_embedding *out);

/* ------------------------------------------------------------------------------------
 * Captions (docs/model.md: the decoder and its search)
 * ---------------------------------------------------------------------------------- */

#define CAPT_MAX_BEAM 16

typedef struct capt_caption_params {
    int beam;               /* 1 = greedy; default 3, at most CAPT_MAX_BEAM */
    int max_tokens;         /* generated tokens at most (default 20) */
    float length_alpha;     /* beam score = sum log p / length^alpha (default 1.0) */
    int no_repeat_ngram;    /* > 0: never repeat an n-gram of this size (default 0: off) */
    float temperature;      /* > 0: sample instead of searching (beam must be 1) */
    float top_p;            /* sampling: smallest set of tokens with this much probability */
    uint64_t seed;          /* sampling: random seed */
    int raw;                /* 1: the model's text as is; 0: capitalized, with a period */
    int no_concepts;        /* 1: no concept guidance (docs/model.md), even where the model has it */
    /* Called after every step with the best hypothesis so far: its text, its newest
     * token's text and its token count; with beam search earlier words can still
     * change. May be NULL. */
    void (*on_token)(void *user, const char *partial_caption, const char *token, int n_tokens);
    void *user;
} capt_caption_params;

capt_caption_params capt_caption_default_params(void);

typedef struct capt_token {
    int32_t id;       /* decoder vocabulary id */
    const char *text; /* the token's text (a word end is a trailing space) */
    float prob;       /* its probability when it was chosen */
} capt_token;

#define CAPT_MAX_CONCEPTS 5

/* One of the encoder's classifier classes (ImageNet for MobileNetV2). */
typedef struct capt_concept {
    int index;       /* class index */
    capt_str label;  /* its name (points into the model file) */
    float prob;      /* softmax probability */
} capt_concept;

typedef struct capt_result {
    char *caption;    /* UTF-8 */
    int n_tokens;
    capt_token *tokens;
    /* Cross-attention of each generated token over the grid_h x grid_w visual tokens:
     * attention[((layer * heads + head) * n_tokens + token) * grid_h * grid_w + cell],
     * and its head average attention_mean[(layer * n_tokens + token) * grid_h * grid_w + cell]. */
    int layers, heads, grid_h, grid_w;
    float *attention;
    float *attention_mean;
    double decode_ms, encode_ms, caption_ms; /* image decoding (capt_caption_image), encoder, decoder */
    double preprocess_ms;                     /* the part of encode_ms spent resizing and normalizing */
    /* The encoder's most probable classes, most probable first (0 when the encoder has
     * no labelled classifier; a "background" class is skipped): why a caption says what
     * it says. */
    int n_concepts;
    capt_concept concepts[CAPT_MAX_CONCEPTS];
    int vocab;
    float *first_logits; /* [vocab]: the decoder's logits at the first step (for checks) */
    /* The detected objects the decoder read (with a decoder trained on them; else 0),
     * most confident first, and each generated token's cross-attention to them, head
     * average: detection_attention[(layer * n_tokens + token) * n_detections + k]. */
    int n_detections;
    capt_detection *detections;
    float *detection_attention;
    double detect_ms;
} capt_result;

void capt_result_free(capt_result *result);

/* Captions an image (the model needs a decoder: CAPT_E_UNSUPPORTED otherwise). */
capt_status capt_caption(capt_context *ctx, const capt_image *image, const capt_caption_params *params,
                         capt_result **out);
/* Decodes encoded image bytes (JPEG, PNG, ...) and captions them. */
capt_status capt_caption_image(capt_context *ctx, const void *bytes, size_t len, const capt_caption_params *params,
                               capt_result **out);
/* 1 when the model can caption (has a decoder). */
int capt_model_has_decoder(const capt_model *model);

/* ------------------------------------------------------------------------------------
 * CLIP byte-level BPE tokenizer (OpenAI simple_tokenizer semantics, docs/tokenizer.md)
 * ---------------------------------------------------------------------------------- */

#define CAPT_TOKEN_SOT 49406 /* <|startoftext|> */
#define CAPT_TOKEN_EOT 49407 /* <|endoftext|> */

typedef struct capt_tokenizer capt_tokenizer;

/* Builds a tokenizer from the merges file (bpe_simple_vocab_16e6.txt, plain or gzip).
 * Like CLIP it uses the first 48,894 merges: 49,408 tokens in all. */
capt_status capt_tokenizer_create(const void *merges, size_t len, capt_tokenizer **out,
                                  capt_error *err);
/* Same, from merges already split into "left right" strings (as stored in .capt files). */
capt_status capt_tokenizer_create_from_list(const capt_str *merges, size_t n_merges,
                                            capt_tokenizer **out, capt_error *err);
void capt_tokenizer_free(capt_tokenizer *tok);

size_t capt_tokenizer_vocab_size(const capt_tokenizer *tok);

/* Encodes UTF-8 text (no start/end tokens added). Writes at most `capacity` ids and
 * sets *n_ids to the full count, so a too-small buffer can be detected and retried.
 * Invalid UTF-8 bytes are read as U+FFFD (docs/tokenizer.md). */
capt_status capt_tokenizer_encode(capt_tokenizer *tok, const char *text, size_t len,
                                  int32_t *ids, size_t capacity, size_t *n_ids);

/* Decodes ids to text into `out` (NUL-terminated, truncated to out_size-1 bytes);
 * *n_written gets the full length. Each word ends with a space, as in CLIP. */
capt_status capt_tokenizer_decode(capt_tokenizer *tok, const int32_t *ids, size_t n_ids,
                                  char *out, size_t out_size, size_t *n_written);

/* The text of one token as raw bytes with "</w>" turned into a trailing space. */
capt_status capt_tokenizer_token_bytes(const capt_tokenizer *tok, int32_t id, capt_str *out);

/* Message of the last failed call on this tokenizer ("" if none). */
const char *capt_tokenizer_last_error(const capt_tokenizer *tok);

#ifdef __cplusplus
}
#endif

#endif /* CAPT_H */
