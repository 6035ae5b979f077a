/* json.h — the little JSON the command-line tool reads (strbuf.h writes it). */
#ifndef CAPT_CLI_JSON_H
#define CAPT_CLI_JSON_H

#include <stddef.h>
#include <stdio.h>

/* Finds the string member `key` of the JSON object in text[0..n) and decodes it (escapes,
 * \u surrogate pairs) into a new NUL-terminated buffer. Returns 0 when the text is not an
 * object, the member is missing or not a string, or the JSON is malformed. */
int json_object_string(const char *text, size_t n, const char *key, char **out, size_t *out_len);

#endif
