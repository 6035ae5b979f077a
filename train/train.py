#!/usr/bin/python3
"""Trains the caption decoder on Flickr8k features extracted by the C engine.

    train.py --features out/features/flickr8k.npy --out out/train/run [options]

Each epoch draws one random caption of the five per training image; teacher forcing,
label smoothing, dropout, AdamW with linear warmup and cosine decay. After every epoch:
dev loss and per-token accuracy (all five captions), dev greedy BLEU-4 and CIDEr-D; the
checkpoint with the best dev CIDEr-D is kept (early stopping after --patience epochs
without improvement); with --save-epochs every epoch's weights are kept too, for
averaging the last ones (average.py), which is how the shipped decoder was made. Logs:
OUT/log.csv and OUT/curves.png; checkpoints OUT/last.pt and OUT/best.pt (resumable with
--resume).

With --text coco flickr30k, every step also trains on a batch of text-only captions
(docs/experiments/decoder.md, "Text-only captions and painted concepts"), drawn from the named corpora
in equal shares. Their visual memory is computed from an all-zero grid, or, with --paint,
from a random training image's grid with the classes the caption names painted in
(painted.py; then only captions that name a class are used), so the words learned from
text are tied to what the encoder sees. --vocab-size then
keeps the output layer small (the most frequent tokens of all the training text), and
--init may start from a decoder with another vocabulary (shared tokens keep their rows).

With --scst K (docs/experiments/decoder.md, "Self-critical stage"), the image captions are not taught
but sampled: K captions per image from the decoder itself, each rewarded by its CIDEr-D
against the image's captions minus the mean reward of the image's other samples
(self_critical_loss); text-only captions, if any, keep their cross-entropy, weighted by
--text-weight.
"""
import argparse
import csv
import re
import json
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import concepts  # noqa: E402
import data  # noqa: E402
import detections  # noqa: E402
import metrics  # noqa: E402
import painted  # noqa: E402
import search  # noqa: E402
from clip_bpe import ClipBPE  # noqa: E402
from model import CaptionDecoder, Config  # noqa: E402


def swap_left_right(text):
    """The caption of the mirrored image."""
    return re.sub(r"\b(left|right)\b", lambda m: "right" if m.group(1) == "left" else "left", text)


def trainable(vocab, captions):
    """Decoder ids of the captions whose every token is in the vocabulary (all of them,
    tokens outside dropped, when none is)."""
    whole = data.in_vocab(vocab, [vocab.tokenizer.encode(data.clean_caption(c)) for c in captions])
    return whole or [vocab.encode(c) for c in captions]


def init_from(model, init, vocab, cfg, path):
    """Starts from another run's weights: same sizes; the vocabulary may differ (rows of
    the tokens both know are copied, new tokens keep their fresh initialization)."""
    other = dict(Config(**init["config"]).to_dict(), vocab_size=cfg.vocab_size)
    if other != cfg.to_dict():
        sys.exit("train: %s has other sizes" % path)
    state = model.state_dict()
    old_index = {c: i for i, c in enumerate(init["vocab"])}
    shared = [(i, old_index[c]) for i, c in enumerate(vocab.clip_ids) if c in old_index]
    new_rows, old_rows = torch.tensor([i for i, _ in shared]), torch.tensor([j for _, j in shared])
    for key, value in init["model"].items():
        if key in ("tok.weight", "out_bias"):
            state[key][new_rows] = value[old_rows]
        else:
            state[key] = value
    model.load_state_dict(state)
    print("init from %s: %d of %d tokens shared" % (path, len(shared), len(vocab)), flush=True)


def make_painter(encoder_path, vocab, caps, text_captions, images, train_names):
    """painted.Painter with the concept map of this vocabulary and training text (concepts.py)."""
    sys.path.insert(0, os.path.join(HERE, "..", "tools"))
    from captfile import read_capt
    head = concepts.classifier(read_capt(encoder_path))
    probs = concepts.class_probs(np.stack([images.feats[images.rows[n]] for n in train_names]), head)
    return painted.Painter(head, concepts.concept_tokens(head[3], vocab, caps, probs, train_names, text_captions))


def token_batch(seqs, max_len):
    """Teacher-forcing inputs [B, T] and targets [B, T] (-100 = ignored)."""
    T = min(max(len(s) for s in seqs) + 1, max_len)
    inp = torch.full((len(seqs), T), data.END, dtype=torch.long)
    tgt = torch.full((len(seqs), T), -100, dtype=torch.long)
    for i, s in enumerate(seqs):
        s = s[:T - 1]
        inp[i, 0] = data.START
        inp[i, 1:len(s) + 1] = torch.tensor(s, dtype=torch.long)
        tgt[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        tgt[i, len(s)] = data.END
    return inp, tgt


def self_critical_loss(model, grid, dets, ref_index, flipped, scorer, vocab, samples):
    """Self-critical sequence training (Rennie et al. 2017), with the mean reward of the
    image's other samples as each sample's baseline (Luo 2020): `samples` captions are
    sampled per image (grid [B, N, C], dets its detection slots or None), each rewarded by its CIDEr-D against the image's
    training captions (scorer.score(text, ref_index[i]); mirrored images score the caption
    with left and right swapped), and the loss is -(reward - baseline) * log p(caption),
    averaged over the sampled tokens (end token included). Returns (loss, mean reward)."""
    mem = model.memory(grid, dets).repeat_interleave(samples, 0)                         # [B*K, N, d]
    seqs = search.sample(model, mem)                       # [B*K, 1 + T]; no gradient (search.sample)
    ids = search.until_end(seqs[:, 1:].tolist())
    texts = [vocab.decode(t) for t in ids]
    reward = torch.tensor([scorer.score(swap_left_right(t) if flipped[i // samples] else t, ref_index[i // samples])
                           for i, t in enumerate(texts)]).view(-1, samples)               # [B, K]
    baseline = (reward.sum(1, keepdim=True) - reward) / (samples - 1)
    advantage = (reward - baseline).view(-1, 1)                                          # [B*K, 1]
    inp, tgt = seqs[:, :-1], seqs[:, 1:]                                                 # [B*K, T]
    mask = torch.tensor([[t <= len(q) for t in range(tgt.shape[1])] for q in ids], dtype=torch.float32)
    hidden, _ = model.hidden(None, inp, mem=mem)
    logp = model.project(hidden).log_softmax(-1).gather(-1, tgt[..., None])[..., 0]    # [B*K, T]
    return -(advantage * logp * mask).sum() / mask.sum(), reward.mean().item()


@torch.no_grad()
def evaluate_loss(model, images, names, caps, vocab, max_len, per_chunk=40):
    """Teacher-forced loss and per-token accuracy over all captions of these images; the
    visual memory is computed once per image and shared by its captions."""
    model.eval()
    loss_sum = tokens = correct = 0
    for i in range(0, len(names), per_chunk):
        chunk = names[i:i + per_chunk]
        seqs = [vocab.encode(c) for n in chunk for c in caps[n]]
        per_image = torch.tensor([len(caps[n]) for n in chunk])
        mem = model.memory(images.grids(chunk), images.dets(chunk)).repeat_interleave(per_image, 0)  # [captions, N, d]
        inp, tgt = token_batch(seqs, max_len)
        hidden, _ = model.hidden(None, inp, mem=mem)
        mask = tgt != -100
        logits = model.project(hidden[mask])
        loss_sum += F.cross_entropy(logits, tgt[mask], reduction="sum").item()
        correct += (logits.argmax(-1) == tgt[mask]).sum().item()
        tokens += mask.sum().item()
    return loss_sum / tokens, correct / tokens


def decode_split(model, images, names, vocab, max_tokens=20, batch=250):
    hyps = []
    for i in range(0, len(names), batch):
        chunk = names[i:i + batch]
        for ids in search.greedy(model, images.grids(chunk), max_tokens, dets=images.dets(chunk)):
            hyps.append(vocab.decode(ids))
    return hyps


def plot(log_rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ep = [r["epoch"] for r in log_rows]
    scored = [r for r in log_rows if r["dev_loss"] == r["dev_loss"]]  # the epochs dev was scored after (not NaN)
    dev_ep = [r["epoch"] for r in scored]
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    ax[0].plot(ep, [r["train_loss"] for r in log_rows], label="train")
    ax[0].plot(dev_ep, [r["dev_loss"] for r in scored], ".-", label="dev")
    ax[0].set_title("loss")
    ax[0].legend()
    ax[1].plot(ep, [r["train_acc"] for r in log_rows], label="train")
    ax[1].plot(dev_ep, [r["dev_acc"] for r in scored], ".-", label="dev")
    ax[1].set_title("per-token accuracy")
    ax[1].legend()
    ax[2].plot(dev_ep, [r["dev_bleu4"] for r in scored], ".-", label="BLEU-4")
    ax[2].plot(dev_ep, [r["dev_cider_d"] for r in scored], ".-", label="CIDEr-D")
    ax[2].set_title("dev, greedy")
    ax[2].legend()
    for a in ax:
        a.set_xlabel("epoch")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def add_common_args(ap, epochs):
    """The model sizes and optimizer settings train.py and pretrain_text.py share."""
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--mlp", type=int, default=1024)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--max-len", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)


def start_run(args):
    """Threads, seeds and the output folder; the tokenizer and the Flickr8k captions."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    return ClipBPE(data.MERGES), data.load_captions()


def make_optimizer(model, args, total_steps, warmup_steps):
    """AdamW (no decay on vectors and the token embedding) with linear warmup, then cosine."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "tok" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "tok" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    warmup = max(1, warmup_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (
        1 + np.cos(np.pi * min(1.0, (s - warmup) / max(1, total_steps - warmup)))))
    return opt, sched


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--features", required=True)
    add_common_args(ap, epochs=40)
    ap.add_argument("--warmup-epochs", type=float, default=1.0)
    ap.add_argument("--schedule-epochs", type=int, help="the epochs the cosine decay spans (default --epochs): "
                                                        "more than --epochs stops before the learning rate reaches 0")
    ap.add_argument("--patience", type=int, default=12, help="evaluations without a dev CIDEr-D gain before stopping")
    ap.add_argument("--eval-every", type=int, default=1, help="score dev (and coco-ood-dev) after every N epochs "
                                                               "and after the last (the rest log no dev figures)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", help="start from these weights (pretrain_text.py's pretrained.pt: same sizes and "
                                   "vocabulary)")
    ap.add_argument("--limit", type=int, help="use only the first N training and dev images (a smoke run)")
    ap.add_argument("--save-epochs", action="store_true", help="also keep each epoch's weights (OUT/epochNN.pt), "
                                                              "for checkpoint averaging (average.py)")
    ap.add_argument("--flip-features", help="features of the mirrored images (capt features --flip): used for "
                                            "half of the training samples, with left/right swapped in the caption")
    ap.add_argument("--text", nargs="*", default=[], help="text-only caption corpora trained alongside: coco, "
                                                              "flickr30k or IMAGE<TAB>caption files")
    ap.add_argument("--text-ratio", type=float, default=1.0, help="text-only captions per image caption in a step")
    ap.add_argument("--vocab-size", type=int, help="keep only the most frequent tokens of all the training text")
    ap.add_argument("--paint", metavar="ENCODER.capt", help="train the text-only captions on painted grids "
                                                              "(painted.py) with this encoder's classifier, not on "
                                                              "an empty grid")
    ap.add_argument("--match-base", action="store_true", help="paint each text-only caption onto a training "
                                                                "image that agrees with it on people and dogs "
                                                                "(painted.BaseImages), not a random one")
    ap.add_argument("--scst", type=int, metavar="SAMPLES", help="self-critical training of the image captions: "
                                                                   "SAMPLES sampled captions per image, rewarded by "
                                                                   "their CIDEr-D (self_critical_loss)")
    ap.add_argument("--text-weight", type=float, default=1.0, help="with --scst: the weight of the text-only "
                                                                      "captions' cross-entropy beside it")
    ap.add_argument("--ood-features", help="features of the coco-ood-dev photos: their greedy CIDEr-D is logged too")
    ap.add_argument("--detections", help="the detector's peaks of the images (capt detect --list): with --det-max, "
                                         "the decoder reads them as detection tokens (docs/model.md)")
    ap.add_argument("--ood-detections", help="the same of the coco-ood-dev photos")
    ap.add_argument("--det-max", type=int, default=0, help="detection slots of the decoder (0: none)")
    ap.add_argument("--det-min-score", type=float, default=0.2, help="the least score of a detection token")
    args = ap.parse_args()

    tok, caps = start_run(args)
    train_names, dev_names = data.load_split("train"), data.load_split("dev")
    text_captions = [data.text_corpus_captions(c) for c in args.text]
    corpora = [data.tokenize_captions(c, tok) for c in text_captions]
    vocab = data.build_vocab(caps, train_names, tok, [s for c in corpora for s in c], args.vocab_size)
    text_seqs = [data.in_vocab(vocab, c) for c in corpora]
    for name, c, kept in zip(args.text, corpora, text_seqs):
        print("text %s: %d of %d captions in the vocabulary" % (name, len(kept), len(c)), flush=True)
    images = data.Images(args.features, args.flip_features, args.detections, args.det_max, args.det_min_score)
    feats, rows = images.feats, images.rows
    missing = [n for n in train_names + dev_names if n not in rows]
    if missing and not args.limit:
        sys.exit("train: %d training/dev images have no features (e.g. %s)" % (len(missing), missing[0]))
    if args.limit:
        train_names = [n for n in train_names if n in rows][:args.limit]
        dev_names = [n for n in dev_names if n in rows][:args.limit]
    # The visual tokens form a square grid (7x7 for MobileNetV2 and CLIP ViT-B/32 at 224,
    # 14x14 for ViT-B/16), after CLIP's class token where there is one (50 = 1 + 7x7).
    n_global = 0 if int(round(np.sqrt(feats.shape[1]))) ** 2 == feats.shape[1] else 1
    side = int(round(np.sqrt(feats.shape[1] - n_global)))
    if side * side + n_global != feats.shape[1]:
        sys.exit("train: %d visual tokens are neither a square grid nor one token and a grid" % feats.shape[1])
    train_seqs = {n: trainable(vocab, caps[n]) for n in train_names}
    flip_seqs = None
    if images.flip_feats is not None:
        flip_seqs = {n: trainable(vocab, [swap_left_right(c.lower()) for c in caps[n]]) for n in train_names}
    cfg = Config(len(vocab), args.d_model, args.heads, args.layers, args.mlp, args.max_len, grid_h=side, grid_w=side,
                 d_visual=feats.shape[2], dropout=args.dropout, n_global=n_global, det_max=args.det_max,
                 det_min_score=args.det_min_score)
    model = CaptionDecoder(cfg)
    if args.init and not (args.resume and os.path.exists(os.path.join(args.out, "last.pt"))):
        init_from(model, torch.load(args.init), vocab, cfg, args.init)
    steps_per_epoch = (len(train_names) + args.batch - 1) // args.batch
    opt, sched = make_optimizer(model, args, (args.schedule_epochs or args.epochs) * steps_per_epoch,
                                int(args.warmup_epochs * steps_per_epoch))
    log_rows, start_epoch, best, since_best = [], 1, -1.0, 0
    meta = {"config": cfg.to_dict(), "vocab": vocab.clip_ids, "args": vars(args)}
    if args.resume and os.path.exists(os.path.join(args.out, "last.pt")):
        ck = torch.load(os.path.join(args.out, "last.pt"))
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        log_rows, start_epoch, best, since_best = ck["log"], ck["epoch"] + 1, ck["best"], ck["since_best"]
        random.setstate(ck["py_rng"])
        torch.set_rng_state(ck["torch_rng"])
    painter = None
    if args.paint:
        painter = make_painter(args.paint, vocab, caps, [c for cs in text_captions for c in cs], images, train_names)
        text_seqs = [[s for s in c if painter.named_classes(s)] for c in text_seqs]
        print("painting: %d classes name a word; captions naming one: %s" % (
            len(painter.mapped), ", ".join("%s %d" % (n, len(c)) for n, c in zip(args.text, text_seqs))), flush=True)
    base_images = None
    if painter and args.match_base:
        base_images = painted.BaseImages(caps, train_names)
        print("base images by (person, dog): %s" % {k: len(v) for k, v in sorted(base_images.by_subjects.items())},
              flush=True)
    pseudo = None
    if text_seqs and args.det_max:
        pseudo = detections.PseudoDetections(images, caps, train_names, args.det_min_score)
    text_batch = max(1, int(round(args.text_ratio * args.batch)))
    scorer = metrics.CiderD([caps[n] for n in train_names]) if args.scst else None
    train_index = {n: i for i, n in enumerate(train_names)}
    zero_grid = torch.zeros(1, feats.shape[1], feats.shape[2])
    ood = ood_refs = None
    if args.ood_features:
        ood = data.Images(args.ood_features, None, args.ood_detections, args.det_max, args.det_min_score)
        ood_refs = json.load(open(os.path.join(data.ASSETS, "data", "coco-ood-dev", "refs.json")))
    n_params = sum(p.numel() for p in model.parameters())
    print("vocab %d, params %.2fM, %d steps/epoch" % (len(vocab), n_params / 1e6, steps_per_epoch), flush=True)

    for epoch in range(start_epoch, args.epochs + 1):
        t0 = time.time()
        model.train(not scorer)  # self-critical: the captions are sampled from the model being trained, no dropout
        order = train_names[:]
        random.shuffle(order)
        loss_sum = acc_sum = tok_sum = reward_sum = 0
        for i in range(0, len(order), args.batch):
            names = order[i:i + args.batch]
            flipped = [images.flip_feats is not None and random.random() < 0.5 for _ in names]
            grid, dets = images.grids(names, flipped), images.dets(names, flipped)
            if scorer:
                image_loss, reward = self_critical_loss(model, grid, dets, [train_index[n] for n in names], flipped,
                                                        scorer, vocab, args.scst)
                reward_sum += reward * len(names)
                hidden = torch.zeros(0, cfg.d_model)
                targets = torch.zeros(0, dtype=torch.long)
            else:
                inp, tgt = token_batch([random.choice((flip_seqs if f else train_seqs)[n])
                                        for n, f in zip(names, flipped)], args.max_len)
                hidden, _ = model.hidden(grid, inp, dets=dets)
                mask = tgt != -100
                hidden, targets = hidden[mask], tgt[mask]  # only where there is a target
            if text_seqs:
                t_inp, t_tgt = token_batch([random.choice(random.choice(text_seqs)) for _ in range(text_batch)],
                                           args.max_len)
                if painter:
                    seqs = t_inp[:, 1:].tolist()
                    bases = ([base_images.pick(vocab.decode(q)) for q in seqs] if base_images
                             else random.sample(train_names, text_batch))
                    grids = images.grids(bases)
                    t_dets = None
                    if pseudo:
                        t_dets = torch.from_numpy(np.stack([detections.slots(
                            pseudo.make(vocab.decode(q), images.image_detections(b)), args.det_max, args.det_min_score)
                            for q, b in zip(seqs, bases)]))
                    mem = model.memory(painter.paint(grids, [painter.named_classes(q) for q in seqs], side, side), t_dets)
                else:
                    mem = model.memory(zero_grid).expand(text_batch, -1, -1)
                t_hidden, _ = model.hidden(None, t_inp, mem=mem)
                hidden = torch.cat([hidden, t_hidden[t_tgt != -100]])
                targets = torch.cat([targets, t_tgt[t_tgt != -100]])
            logits = model.project(hidden)
            loss = F.cross_entropy(logits, targets, label_smoothing=args.label_smoothing) if len(targets) else 0.0
            if scorer:
                loss = args.text_weight * loss + image_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            n = max(len(targets), 1)
            loss_sum += loss.item() * n
            acc_sum += (logits.argmax(-1) == targets).sum().item()
            tok_sum += n
        train_seconds = time.time() - t0
        evaluated = epoch % args.eval_every == 0 or epoch == args.epochs
        if evaluated:
            dev_loss, dev_acc = evaluate_loss(model, images, dev_names, caps, vocab, args.max_len)
            hyps = decode_split(model, images, dev_names, vocab)
            scores = metrics.score_all(hyps, [caps[n] for n in dev_names])
        else:
            dev_loss = dev_acc = float("nan")
            hyps, scores = [""], {"bleu4": float("nan"), "cider_d": float("nan")}
        row = {"epoch": epoch, "train_loss": loss_sum / tok_sum, "train_acc": acc_sum / tok_sum, "dev_loss": dev_loss,
               "dev_acc": dev_acc, "dev_bleu4": scores["bleu4"], "dev_cider_d": scores["cider_d"],
               "lr": sched.get_last_lr()[0], "seconds": time.time() - t0, "train_seconds": train_seconds}
        if scorer:
            row["train_reward"] = reward_sum / len(order)
        if ood and evaluated:
            ood_names = sorted(ood_refs)
            ood_hyps = decode_split(model, ood, ood_names, vocab)
            row["ood_cider_d"] = metrics.score_all(ood_hyps, [ood_refs[n] for n in ood_names])["cider_d"]
        log_rows.append(row)
        improved = evaluated and scores["cider_d"] > best
        if improved:
            best, since_best = scores["cider_d"], 0
            torch.save({"model": model.state_dict(), **meta, "epoch": epoch, "dev": scores},
                       os.path.join(args.out, "best.pt"))
        elif evaluated:
            since_best += 1
        if args.save_epochs:
            torch.save({"model": model.state_dict(), **meta, "epoch": epoch}, os.path.join(args.out, "epoch%02d.pt" % epoch))
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "log": log_rows,
                    "epoch": epoch, "best": best, "since_best": since_best, "py_rng": random.getstate(),
                    "torch_rng": torch.get_rng_state(), **meta}, os.path.join(args.out, "last.pt"))
        with open(os.path.join(args.out, "log.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in log_rows for k in r)))
            w.writeheader()
            w.writerows(log_rows)
        plot(log_rows, os.path.join(args.out, "curves.png"))
        print("epoch %2d  train %.3f acc %.3f  dev %.3f acc %.3f  BLEU-4 %.4f CIDEr-D %.4f  %s %.0fs%s  e.g. %s" % (
            epoch, row["train_loss"], row["train_acc"], dev_loss, dev_acc, scores["bleu4"], scores["cider_d"],
            "*" if improved else " ", row["seconds"],
            "  coco-ood-dev CIDEr-D %.4f" % row["ood_cider_d"] if "ood_cider_d" in row else "", hyps[0]), flush=True)
        if since_best >= args.patience:
            print("early stop: no dev CIDEr-D gain for %d evaluations" % args.patience)
            break
    json.dump({"best_dev_cider_d": best, "epochs": len(log_rows)}, open(os.path.join(args.out, "summary.json"), "w"))


if __name__ == "__main__":
    main()
