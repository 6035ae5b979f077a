/* test_header.c — capt.h is plain C11 (this file is compiled as C with the project's
 * warnings, twice included to prove the include guard) and its API reports errors
 * through values, not global state: two failures in a row keep their own messages. */
#include "capt.h"
#include "capt.h"

#include <string.h>

#include "check.h"

int main(void) {
    capt_error a, b;
    capt_file *f;
    CHECK(capt_file_open("XXXX", 4, &f, &a) == CAPT_E_FORMAT, "short file");
    CHECK(capt_file_open("NOPE0000000000000000000000000000000", 32, &f, &b) == CAPT_E_FORMAT, "bad magic");
    CHECK(strcmp(a.message, b.message) != 0 && a.status == CAPT_E_FORMAT, "each error has its own message");
    CHECK(strcmp(capt_status_str(CAPT_E_NOMEM), "out of memory") == 0, "status names");
    CHECK(capt_dtype_name((capt_dtype)9) == NULL && strcmp(capt_dtype_name(CAPT_DTYPE_Q4_0), "q4_0") == 0, "dtypes");
    CHECK(capt_dtype_row_bytes(CAPT_DTYPE_Q8_0, 33) == 0 && capt_dtype_row_bytes(CAPT_DTYPE_Q4_0, 64) == 36,
          "row bytes");
    CHECK(capt_file_open("CAPT", 4, NULL, NULL) == CAPT_E_ARG, "NULL out, NULL err");
    return check_exit("test_header");
}
