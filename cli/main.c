/* main.c — `capt`: the command-line face of the engine. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const char usage[] =
    "usage: capt COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  caption [--model F] [--beam N] [--max-tokens N] [--threads N] [--json] [--raw]\n"
    "          [--alpha A] [--no-repeat-ngram N] [--temperature T --top-p P --seed S] [--no-concepts]\n"
    "          IMAGE|DIR|-...\n"
    "                                     caption images: IMAGE<TAB>caption, or JSON lines\n"
    "  attention IMAGE --out F.png [--layer L] [--head H]  one heatmap per generated word\n"
    "  inspect FILE                       print a .capt file's metadata and tensor table\n"
    "  tokenize [--vocab F] TEXT...       print CLIP BPE token ids, one line per TEXT\n"
    "  tokenize [--vocab F] --jsonl       read {\"text\": ...} lines on stdin, print\n"
    "                                     {\"ids\": [...], \"decoded\": \"...\"} lines\n"
    "  tokenize [--vocab F] --decode ID...  print the text of token ids\n"
    "  classify [--model F] [--top N] IMAGE...  top ImageNet classes of images\n"
    "  detect [--model F] [--min-score S] [--json] IMAGE...\n"
    "                                     objects found by the model's detector (COCO classes)\n"
    "  detect [--model F] [--min-score S] --list LIST [--root DIR] --out F.jsonl [--threads N]\n"
    "                                     the same for many images, as JSON lines\n"
    "  features [--model F] --list LIST [--root DIR] --out FILE.npy|DIR [--threads N] [--flip]\n"
    "                                     the encoder's visual tokens (f16) of every image\n"
    "  embed [--model F] (--image IMAGE | --text TEXT | --pixels F.f32)\n"
    "                                     a CLIP model's projected embedding, as a JSON array\n"
    "  similarity [--model F] [--json] IMAGE TEXT...\n"
    "                                     CLIP zero-shot: each text's cosine and probability\n"
    "  decode IMAGE OUT.ppm [--size WxH [--filter bilinear|bicubic] | --model F]\n"
    "                                     the pixels the engine sees, as PPM\n"
    "  bench encoder [--model F] [--threads N] [IMAGE...]\n"
    "                                     ms per image: decode, resize, encode\n"
    "  bench caption [--model F] [--threads N] [--repeat N] [IMAGE...]\n"
    "                                     ms per caption (greedy, beam 3) and memory\n"
    "                                     (the kernels' GFLOP/s: capt-bench-kernels)\n"
    "\n"
    "The CLIP vocabulary defaults to $CAPT_ASSETS/vocab/bpe_simple_vocab_16e6.txt.gz\n"
    "(CAPT_ASSETS defaults to the shared/ folder beside the project).\n";

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "inspect") == 0) return cmd_inspect(argv[0], argc - 1, argv + 1);
    if (strcmp(cmd, "tokenize") == 0) return cmd_tokenize(argv[0], argc - 1, argv + 1);
    if (strcmp(cmd, "classify") == 0) return cmd_classify(argv[0], argc - 1, argv + 1);
    if (strcmp(cmd, "caption") == 0) return cmd_caption(argv[0], argc - 1, argv + 1);
    if (strcmp(cmd, "attention") == 0) return cmd_attention(argv[0], argc - 1, argv + 1);
    if (strcmp(cmd, "decode") == 0) return cmd_decode(argv[0], argc - 1, argv + 1);
    if (strcmp(cmd, "detect") == 0) return cmd_detect(argv[0], argc - 1, argv + 1);
    if (strcmp(cmd, "features") == 0) return cmd_features(argv[0], argc - 1, argv + 1);
    if (strcmp(cmd, "embed") == 0) return cmd_embed(argv[0], argc - 1, argv + 1);
    if (strcmp(cmd, "similarity") == 0) return cmd_similarity(argv[0], argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argv[0], argc - 1, argv + 1);
    fprintf(stderr, "capt: unknown command \"%s\" (try capt --help)\n", cmd);
    return 2;
}
