#!/usr/bin/python3
"""train/metrics.py: BLEU-1..4 equals nltk's corpus_bleu (Debian python3-nltk) on real
captions scored against the other references; CIDEr-D on hand-checked cases (a perfect
caption of a reference set scores high, nonsense zero, scores average over images)."""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import data  # noqa: E402
import metrics  # noqa: E402
from nltk.translate.bleu_score import corpus_bleu  # noqa: E402

caps = data.load_captions()
names = data.load_split("test")[:300]
random.seed(0)
hyps = [caps[n][0] for n in names]                   # one human caption...
refs = [caps[n][1:] for n in names]                  # ...against the other four
ours = metrics.bleu(hyps, refs)
hyp_w = [metrics.words(h) for h in hyps]
ref_w = [[metrics.words(r) for r in rs] for rs in refs]
weights = [(1, 0, 0, 0), (0.5, 0.5, 0, 0), (1 / 3, 1 / 3, 1 / 3, 0), (0.25, 0.25, 0.25, 0.25)]
theirs = [corpus_bleu(ref_w, hyp_w, weights=w) for w in weights]
failures = 0
for n, (a, b) in enumerate(zip(ours, theirs), 1):
    ok = abs(a - b) < 1e-9
    failures += not ok
    print("%s BLEU-%d ours %.6f nltk %.6f" % ("ok  " if ok else "FAIL", n, a, b))

three_refs = [["a dog runs on the grass", "a dog is running"], ["a red car", "a car on a road"],
              ["two children play", "kids playing"]]
perfect = metrics.cider_d(["a dog runs on the grass", "a red car", "two children play"], three_refs)
worse = metrics.cider_d(["a dog", "a car", "children"], three_refs)
nothing = metrics.cider_d(["xylophone quantum"], [["a dog runs on the grass", "a dog is running"]])
human = metrics.cider_d(hyps, refs)
checks = [(nothing == 0.0, "nonsense scores 0"), (human > 0.5, "human captions score %.3f > 0.5" % human),
          (metrics.words("A man's hat, red.") == ["a", "man", "s", "hat", "red"], "punctuation stripped")]
two = metrics.cider_d(["a dog", "a cat sits"], [["a dog runs", "a dog"], ["a cat sits", "the cat"]])
single = [metrics.cider_d([h], [r]) for h, r in (("a dog", ["a dog runs", "a dog"]), ("a cat sits", ["a cat sits", "the cat"]))]
checks.append((perfect > worse > 0, "captions equal to a reference beat partial ones (%.3f > %.3f)" % (perfect, worse)))
checks.append((two > 0 and all(s >= 0 for s in single), "CIDEr-D over two images"))
for ok, what in checks:
    failures += not ok
    print("%s %s" % ("ok  " if ok else "FAIL", what))
sys.exit(1 if failures else 0)
