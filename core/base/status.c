/* status.c — status names, the error-reporting helper and the checked allocation. */
#include <stdio.h>

#include "base.h"

const char *capt_status_str(capt_status status) {
    switch (status) {
    case CAPT_OK: return "ok";
    case CAPT_E_ARG: return "invalid argument";
    case CAPT_E_FORMAT: return "format error";
    case CAPT_E_VERSION: return "unsupported version";
    case CAPT_E_NOMEM: return "out of memory";
    case CAPT_E_IMAGE: return "image error";
    case CAPT_E_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

capt_status capt_fail(capt_error *err, capt_status status, const char *fmt, ...) {
    if (err) {
        va_list args;
        va_start(args, fmt);
        err->status = status;
        vsnprintf(err->message, sizeof err->message, fmt, args);
        va_end(args);
    }
    return status;
}

void *capt_malloc3(size_t a, size_t b, size_t c) {
    size_t bytes;
    if (!capt_size_mul(a, b, &bytes) || !capt_size_mul(bytes, c, &bytes) || bytes == 0) return NULL;
    return malloc(bytes);
}
