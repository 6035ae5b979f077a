#!/usr/bin/python3
"""Pretrains the caption decoder's language side on text-only captions (Flickr30k by
default: 146k captions, images overlapping Flickr8k dev/test removed by the data's
provider) before train.py fits it to images with --init.

The visual memory is the decoder's own, computed from an all-zero grid: every caption
sees the same uninformative memory, so only the language side (embeddings, self-
attention, MLPs, output layer) learns. The vocabulary is train.py's (CLIP ids of the
Flickr8k training captions) so the weights carry over; captions with other tokens are
skipped. Logs the LM loss on Flickr8k dev captions per epoch.

    pretrain_text.py --out out/train/pretrain [--epochs 3] [--captions FILE.tsv]
"""
import argparse
import json
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
from model import CaptionDecoder, Config  # noqa: E402
from train import add_common_args, make_optimizer, start_run, token_batch  # noqa: E402

F30K = os.path.join(data.ASSETS, "data", "flickr30k-captions", "flickr30k_captions.tsv")


def lm_loss(model, seqs, zero_grid, max_len, label_smoothing=0.0, batch=256):
    """Mean per-token loss of the sequences with the zero-grid memory (no gradient)."""
    model.eval()
    total = tokens = 0
    with torch.no_grad():
        for i in range(0, len(seqs), batch):
            inp, tgt = token_batch(seqs[i:i + batch], max_len)
            mem = model.memory(zero_grid).expand(inp.shape[0], -1, -1)
            hidden, _ = model.hidden(None, inp, mem=mem)
            mask = tgt != -100
            total += F.cross_entropy(model.project(hidden[mask]), tgt[mask], reduction="sum",
                                     label_smoothing=label_smoothing).item()
            tokens += mask.sum().item()
    return total / tokens


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(ap, epochs=3)
    ap.add_argument("--captions", default=F30K, help="IMAGE<TAB>caption lines")
    ap.add_argument("--d-visual", type=int, default=1280)
    args = ap.parse_args()
    tok, caps = start_run(args)
    vocab = data.build_vocab(caps, data.load_split("train"), tok)
    seqs, skipped = [], 0
    for line in open(args.captions, encoding="utf-8"):
        if "\t" not in line:
            continue
        ids = tok.encode(data.clean_caption(line.split("\t", 1)[1]))
        if ids and all(i in vocab.index for i in ids):
            seqs.append([vocab.index[i] for i in ids])
        else:
            skipped += 1
    dev = [vocab.encode(c) for n in data.load_split("dev") for c in caps[n]]
    cfg = Config(len(vocab), args.d_model, args.heads, args.layers, args.mlp, args.max_len, d_visual=args.d_visual,
                 dropout=args.dropout)
    model = CaptionDecoder(cfg)
    zero_grid = torch.zeros(1, cfg.grid_h * cfg.grid_w, cfg.d_visual)
    steps = args.epochs * ((len(seqs) + args.batch - 1) // args.batch)
    opt, sched = make_optimizer(model, args, steps, min(1000, steps // 10))
    print("%d captions (%d skipped: tokens outside the Flickr8k vocabulary), vocab %d, %d steps" % (
        len(seqs), skipped, len(vocab), steps), flush=True)
    log = []
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        model.train()
        random.shuffle(seqs)
        loss_sum = n_sum = 0
        for i in range(0, len(seqs), args.batch):
            inp, tgt = token_batch(seqs[i:i + args.batch], args.max_len)
            mem = model.memory(zero_grid).expand(inp.shape[0], -1, -1)
            hidden, _ = model.hidden(None, inp, mem=mem)
            mask = tgt != -100
            loss = F.cross_entropy(model.project(hidden[mask]), tgt[mask], label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            loss_sum += loss.item() * mask.sum().item()
            n_sum += mask.sum().item()
        dev_loss = lm_loss(model, dev, zero_grid, args.max_len)
        log.append({"epoch": epoch, "train_loss": loss_sum / n_sum, "dev_lm_loss": dev_loss, "seconds": time.time() - t0})
        print("epoch %d  train %.3f  Flickr8k dev LM loss %.3f  %.0fs" % (epoch, loss_sum / n_sum, dev_loss,
                                                                           time.time() - t0), flush=True)
        torch.save({"model": model.state_dict(), "config": cfg.to_dict(), "vocab": vocab.clip_ids, "log": log},
                   os.path.join(args.out, "pretrained.pt"))
    json.dump(log, open(os.path.join(args.out, "log.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
