/* commands.h — the subcommands of the capt tool; each returns the process exit status. */
#ifndef CAPT_CLI_COMMANDS_H
#define CAPT_CLI_COMMANDS_H

int cmd_inspect(const char *program, int argc, char **argv);
int cmd_tokenize(const char *program, int argc, char **argv);
int cmd_bench(const char *program, int argc, char **argv);
int cmd_classify(const char *program, int argc, char **argv);
int cmd_features(const char *program, int argc, char **argv);
int cmd_detect(const char *program, int argc, char **argv);
int cmd_decode(const char *program, int argc, char **argv);
int cmd_caption(const char *program, int argc, char **argv);
int cmd_attention(const char *program, int argc, char **argv);
int cmd_embed(const char *program, int argc, char **argv);
int cmd_similarity(const char *program, int argc, char **argv);

#endif
