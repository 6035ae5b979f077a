#!/usr/bin/python3
"""train/clip_bpe.py (the training side's tokenizer) reproduces OpenAI's golden file, so
training and the C engine see the same ids; its regular-expression fast path for
lowercase ASCII text splits exactly as the general character scan does, on the golden
strings and on every COCO and Flickr30k caption."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
from clip_bpe import ClipBPE, pre_tokenize, scan  # noqa: E402

assets = os.environ.get("CAPT_ASSETS", os.path.join(HERE, "..", "..", "shared"))
tok = ClipBPE(os.path.join(assets, "vocab", "bpe_simple_vocab_16e6.txt.gz"))
golden = [json.loads(line) for line in open(os.path.join(assets, "reference", "clip_tokenizer_golden.jsonl"),
                                            encoding="utf-8")]
matched = sum(tok.encode(g["text"]) == g["ids"] and tok.decode(g["ids"]) == g["decoded"] for g in golden)
print("clip_bpe.py golden: %d / %d lines match" % (matched, len(golden)))
texts = [g["text"] for g in golden]
for corpus in ("coco-captions/coco_val2017_captions.tsv", "flickr30k-captions/flickr30k_captions.tsv"):
    texts += [line.split("\t", 1)[1] for line in open(os.path.join(assets, "data", corpus), encoding="utf-8")
              if "\t" in line]
cleaned = [tok.clean(t) for t in texts]
differ = [t for t in cleaned if pre_tokenize(t) != scan(t)]
fast = sum(t.isascii() and t.lower() == t for t in cleaned)
print("fast path: %d of %d texts, all split as the character scan does: %s" % (fast, len(cleaned),
                                                                                 "yes" if not differ else differ[:3]))
sys.exit(0 if matched == len(golden) and not differ else 1)
