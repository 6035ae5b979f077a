#!/usr/bin/python3
"""The text-only training helpers (train.py --text, painted.py): the vocabulary keeps the
most frequent tokens; a run may start from a decoder with another vocabulary (shared
tokens keep their rows, the rest of the weights carry over); painting a class into a
grid changes only the chosen cells, keeps features in the encoder's range [0, 6], and
makes the encoder's own classifier give the class the target probability; with
--match-base a caption is painted onto an image that agrees with it on people and dogs;
the concept map names ImageNet classes by their COCO category's word (coco_words.tsv).
Usage: test_text_training.py ENCODER.capt"""
import os
import random
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import concepts  # noqa: E402
import data  # noqa: E402
import painted  # noqa: E402
import train  # noqa: E402
from captfile import read_capt  # noqa: E402
from checks import check, finish  # noqa: E402
from clip_bpe import ClipBPE  # noqa: E402
from model import CaptionDecoder, Config  # noqa: E402

tok = ClipBPE(data.MERGES)
caps = {"a.jpg": ["a dog runs", "a dog runs on grass"], "b.jpg": ["a cat sleeps"]}
texts = [tok.encode(t) for t in ["a pizza on a plate", "a pizza and a salad", "a dog eats pizza"]]
full = data.build_vocab(caps, ["a.jpg", "b.jpg"], tok, texts)
small = data.build_vocab(caps, ["a.jpg", "b.jpg"], tok, texts, size=3)
words = sorted(tok.decode([c]).strip() for c in small.clip_ids[2:])
check(words == ["a", "dog", "pizza"], "vocabulary of size 3 keeps the 3 most frequent tokens: %s" % words)
check(len(full) == 2 + len({i for s in [tok.encode(c) for v in caps.values() for c in v] + texts for i in s}),
      "the full vocabulary holds every token (%d)" % len(full))
kept = data.in_vocab(small, [tok.encode("a dog"), tok.encode("a plate")])
check(kept == [small.encode("a dog")], "in_vocab keeps only captions whose every token is known")
check(train.trainable(small, ["a dog", "a cat sleeps"]) == [small.encode("a dog")],
      "trainable() uses only the whole captions when there is one")

torch.manual_seed(0)
old = CaptionDecoder(Config(len(full), 32, 4, 1, 64, 16, d_visual=8))
new = CaptionDecoder(Config(len(small), 32, 4, 1, 64, 16, d_visual=8))
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "old.pt")
    torch.save({"model": old.state_dict(), "config": old.config.to_dict(), "vocab": full.clip_ids}, path)
    train.init_from(new, torch.load(path), small, new.config, path)
rows_ok = all(torch.equal(new.tok.weight[i], old.tok.weight[full.index[c]]) and
              new.out_bias[i] == old.out_bias[full.index[c]] for i, c in enumerate(small.clip_ids))
check(rows_ok, "init_from copies each shared token's embedding row and output bias")
check(torch.equal(new.layers[0].fc1.weight, old.layers[0].fc1.weight), "init_from copies the other weights")

encoder = read_capt(sys.argv[1])
head = concepts.classifier(encoder)
labels = [concepts._label_text(x) for x in head[3]]
pizza, cup = labels.index("pizza, pizza pie"), labels.index("cup")
tokens = np.full(len(labels), -1)
tokens[[pizza, cup]] = [5, 6]
painter = painted.Painter(head, tokens)
check(painter.named_classes([3, 5, 5, 6]) in ([pizza, cup], [cup, pizza]), "named_classes: one class per concept word")
random.seed(3)
grids = torch.zeros(2, 49, head[0].shape[1])
grids[:, :, :64] = (torch.rand(2, 49, 64) * 6).half().float()  # some activity, as real features have
old_chance, painted.DISTRACTOR_CHANCE = painted.DISTRACTOR_CHANCE, 0.0
targets = []
orig_uniform = random.uniform
random.uniform = lambda a, b: targets.append(orig_uniform(a, b)) or targets[-1]
out = painter.paint(grids, [[pizza], [cup]], 7, 7)
random.uniform, painted.DISTRACTOR_CHANCE = orig_uniform, old_chance
probs = concepts.class_probs(out.numpy(), head)
for i, c in enumerate([pizza, cup]):
    changed = int(((out[i] - grids[i]).abs().sum(1) > 0).sum())
    check(abs(probs[i, c] - targets[i]) < 0.02, "%s painted to p %.3f (target %.3f)" % (labels[c], probs[i, c], targets[i]))
    check(4 <= changed <= 49, "%s: %d cells painted (a rectangle of at least 2x2)" % (labels[c], changed))
check(float(out.min()) >= 0 and float(out.max()) <= 6, "painted features stay in [0, 6]")
check(torch.equal(out, out.half().float()), "painted features are f16 values, as the engine stores them")

table = concepts.coco_words()
firsts = {x.split(",")[0].strip() for x in labels}
check(set(table) <= firsts, "every class of coco_words.tsv is a label of the encoder (%d classes; unknown: %s)" % (
    len(table), sorted(set(table) - firsts)[:5]))
words_caps = {"w.jpg": ["a sink and a basin", "a bird on a plane", "a canoe on a lake", "a seat by a toilet"]}
words_vocab = data.build_vocab(words_caps, ["w.jpg"], tok)
named = concepts.concept_tokens(head[3], words_vocab, words_caps, np.zeros((0, len(labels))), [])
word_of = {x.split(",")[0].strip(): words_vocab.decode([t]) if t >= 0 else None for x, t in zip(labels, named)}
expect = {"washbasin": "sink", "goldfinch": "bird", "airliner": "plane", "toilet seat": "toilet", "canoe": "canoe",
          "pizza": None}
check(all(word_of[k] == v for k, v in expect.items()),
      "concept map: COCO category words first, else the label's head noun: %s" % {k: word_of[k] for k in expect})

flickr = {"p.jpg": ["a man runs"] * 3 + ["a field"] * 2, "d.jpg": ["a dog runs"] * 4 + ["a boy and a dog"],
          "e.jpg": ["a lake at dusk"] * 4 + ["a man fishes"], "pd.jpg": ["a girl walks her dog"] * 5}
bases = painted.BaseImages(flickr, sorted(flickr))
picked = {t: {bases.pick(t) for _ in range(20)} for t in
          ["a kitchen with a stove", "two women eat pizza", "a puppy on a sofa", "a man and his dog ski"]}
check(picked == {"a kitchen with a stove": {"e.jpg"}, "two women eat pizza": {"p.jpg"},
                 "a puppy on a sofa": {"d.jpg"}, "a man and his dog ski": {"pd.jpg"}},
      "base images agree with the caption on people and dogs (3 of 5 captions decide): %s" % picked)
finish()
