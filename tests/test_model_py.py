#!/usr/bin/python3
"""The training model's own pieces (train/model.py) that replace torch's: Dropout keeps
each value with probability 1 - p, scaled by 1 / (1 - p), passes the gradient through the
same mask and is the identity in evaluation, as nn.Dropout; the one-query attention of
search and sampling equals the batched matrix products of the general path."""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "train"))
from checks import check, finish  # noqa: E402
from model import Attention, Config, Dropout  # noqa: E402

torch.manual_seed(0)
for p in (0.1, 0.3, 0.5):
    drop = Dropout(p)
    x = torch.full((1000, 1000), 2.0, requires_grad=True)
    y = drop(x)
    kept = y != 0
    share = kept.float().mean().item()
    # 10^6 draws: the kept share's standard deviation is below 5e-4.
    check(abs(share - (1 - p)) < 3e-3, "p %.1f: %.4f of the values kept (expected %.4f)" % (p, share, 1 - p))
    check(torch.equal(y[kept], torch.full_like(y[kept], 2.0 / (1 - p))), "p %.1f: kept values scaled by 1 / (1 - p)" % p)
    y.sum().backward()
    check(torch.equal(x.grad, kept.float() / (1 - p)), "p %.1f: the gradient goes through the same mask, scaled" % p)
    check(abs(y.mean().item() - 2.0) < 0.02, "p %.1f: the mean is kept (%.4f)" % (p, y.mean().item()))
    drop.eval()
    check(drop(x) is x, "p %.1f: the identity in evaluation" % p)
check(Dropout(0.0)(torch.ones(3)).eq(1).all().item(), "p 0 keeps everything")

# One query (T = 1) at inference: the elementwise path against the general one (the same
# module, its general path taken by asking for the weights).
att = Attention(Config(100, d_model=256, n_heads=8)).eval()
for batch, keys in ((1, 1), (3, 7), (160, 59)):
    q, k, v = torch.randn(batch, 1, 256), torch.randn(batch, keys, 256), torch.randn(batch, keys, 256)
    with torch.no_grad():
        fast, _ = att.attend(q, k, v, causal=False)
        general, _ = att.attend(q, k, v, causal=False, return_weights=True)
    diff = (fast - general).abs().max().item()
    check(diff < 1e-5, "one query, batch %d, %d keys: the elementwise attention equals the batched products "
                       "(max diff %.1e)" % (batch, keys, diff))
finish()
