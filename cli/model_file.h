/* model_file.h — loading a model file for the command-line tool. */
#ifndef CAPT_CLI_MODEL_FILE_H
#define CAPT_CLI_MODEL_FILE_H

#include "capt.h"

typedef struct cli_model {
    unsigned char *bytes; /* the file; the model reads it in place */
    capt_model *model;
} cli_model;

/* Loads `path`, or when NULL the default model beside the program (weights/NAME).
 * Prints the reason and returns 0 on failure. */
int cli_model_load(const char *program, const char *path, const char *default_name, cli_model *out);
void cli_model_free(cli_model *m);

#endif
