#!/usr/bin/python3
"""train/clip_bpe.py (the training side's tokenizer) reproduces OpenAI's golden file, so
training and the C engine see the same ids."""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
from clip_bpe import ClipBPE  # noqa: E402

assets = os.environ.get("CAPT_ASSETS", os.path.join(HERE, "..", "..", "shared"))
tok = ClipBPE(os.path.join(assets, "vocab", "bpe_simple_vocab_16e6.txt.gz"))
golden = [json.loads(line) for line in open(os.path.join(assets, "reference", "clip_tokenizer_golden.jsonl"),
                                            encoding="utf-8")]
matched = sum(tok.encode(g["text"]) == g["ids"] and tok.decode(g["ids"]) == g["decoded"] for g in golden)
print("clip_bpe.py golden: %d / %d lines match" % (matched, len(golden)))
sys.exit(0 if matched == len(golden) else 1)
