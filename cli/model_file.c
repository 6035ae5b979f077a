/* model_file.c — loading a model file for the command-line tool. */
#include "model_file.h"

#include <stdio.h>
#include <stdlib.h>

#include "util.h"

int cli_model_load(const char *program, const char *path, const char *default_name, cli_model *out) {
    char found[4096];
    out->bytes = NULL;
    out->model = NULL;
    if (!path) {
        char relative[512];
        snprintf(relative, sizeof relative, "weights/%s", default_name);
        if (!project_path(program, relative, found, sizeof found)) {
            fprintf(stderr, "capt: no model given and %s is missing (run scripts/setup.sh, or pass --model)\n",
                    relative);
            return 0;
        }
        path = found;
    }
    size_t len;
    out->bytes = read_file(path, &len);
    if (!out->bytes) return 0;
    capt_error err;
    if (capt_model_load(out->bytes, len, &out->model, &err) != CAPT_OK) {
        fprintf(stderr, "capt: %s: %s\n", path, err.message);
        free(out->bytes);
        out->bytes = NULL;
        return 0;
    }
    return 1;
}

void cli_model_free(cli_model *m) {
    capt_model_free(m->model);
    free(m->bytes);
    m->model = NULL;
    m->bytes = NULL;
}
