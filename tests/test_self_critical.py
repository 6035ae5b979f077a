#!/usr/bin/python3
"""Self-critical training (train.py --scst): decoding one position at a time with cached
keys and values equals the full forward; sampling draws tokens with the model's own
probabilities and nothing after the end token; the per-caption CIDEr-D scorer averages to
the corpus metric; and self-critical steps alone (no teacher forcing) on three toy
images, each with its own references, raise the sampled captions' reward and the CIDEr-D
of the greedy captions."""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
import data  # noqa: E402
import metrics  # noqa: E402
import search  # noqa: E402
import train  # noqa: E402
from checks import check, finish  # noqa: E402
from clip_bpe import ClipBPE  # noqa: E402
from model import CaptionDecoder, Config  # noqa: E402

caps = data.load_captions()
names = data.load_split("test")[:40]
hyps, refs = [caps[n][0] for n in names], [caps[n][1:] for n in names]
scorer = metrics.CiderD(refs)
mean = sum(scorer.score(h, i) for i, h in enumerate(hyps)) / len(hyps)
corpus = metrics.cider_d(hyps, refs)
check(abs(mean - corpus) < 1e-12, "per-caption CIDEr-D averages to the corpus CIDEr-D (%.6f, %.6f)" % (mean, corpus))

torch.manual_seed(0)
refs = [["a dog runs on the grass", "a brown dog runs on grass"], ["a red car on a road", "a car drives on a road"],
        ["two children play in the snow", "kids play in the snow"]]
tok = ClipBPE(data.MERGES)
vocab = data.build_vocab({str(i): r for i, r in enumerate(refs)}, [str(i) for i in range(3)], tok)
model = CaptionDecoder(Config(len(vocab), 32, 4, 2, 64, 24, grid_h=2, grid_w=2, d_visual=8, dropout=0.0))
model.eval()
grid = torch.randn(3, 4, 8)                                                  # one toy image per reference set

with torch.no_grad():
    tokens = torch.randint(2, len(vocab), (3, 7))
    tokens[:, 0] = data.START
    mem = model.memory(grid)
    full = model(None, tokens, mem=mem)                                      # [3, 7, V]
    cache = model.start_cache(mem)
    stepped = torch.stack([model.step(tokens[:, t], t, cache) for t in range(7)], 1)
check(torch.allclose(full, stepped, atol=1e-5), "one position at a time (cached keys and values) gives the full "
                                               "forward's logits (max diff %.1e)" % (full - stepped).abs().max())
mem = model.memory(grid[:1]).expand(4000, -1, -1)
seqs = search.sample(model, mem, max_tokens=6)
first = torch.bincount(seqs[:, 1], minlength=len(vocab)).float() / len(seqs)
with torch.no_grad():
    p = model.project(model.hidden(None, torch.full((1, 1), data.START), mem=mem[:1])[0][0, -1]).softmax(-1)
tv = 0.5 * (first - p).abs().sum().item()
check(seqs.shape[1] <= 7 and bool((seqs[:, 0] == data.START).all()), "samples start with the start token, at most "
                                                                      "6 tokens follow")
after_end = [row[row.index(data.END):] for row in seqs[:, 1:].tolist() if data.END in row]
check(all(all(t == data.END for t in tail) for tail in after_end), "only end tokens follow the end token")
check(tv < 0.05, "first sampled tokens follow the model's probabilities (total variation %.3f)" % tv)

scorer = metrics.CiderD(refs)
before = metrics.cider_d([vocab.decode(ids) for ids in search.greedy(model, grid, 12)], refs)
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
rewards = []
for step in range(600):
    loss, reward = train.self_critical_loss(model, grid, None, [0, 1, 2], [False] * 3, scorer, vocab, 8)
    opt.zero_grad()
    loss.backward()
    opt.step()
    rewards.append(reward)
greedy = [vocab.decode(ids) for ids in search.greedy(model, grid, 12)]
early, late = sum(rewards[:10]) / 10, sum(rewards[-10:]) / 10
check(late > early + 1.0, "the mean reward rises (%.3f in the first 10 steps, %.3f in the last 10)" % (early, late))
after = metrics.cider_d(greedy, refs)
check(after > before + 1.0, "greedy captions' CIDEr-D rises from %.3f to %.3f: %s" % (before, after, greedy))
finish()
