#!/usr/bin/python3
"""Captioning on CLIP's visual tokens, end to end on the tiny golden CLIP: convert it,
extract the ViT's 50 pre-projection tokens (the class token, then the 7x7 patches) of
some Flickr8k images with `capt features`, train a
small decoder for a few steps (train/train.py), export it (train/export.py), combine it
with the CLIP file (tools/combine_capt.py), caption a photo with `capt caption`, and
check that the C engine's greedy caption is the PyTorch decoder's on the same tokens.
Usage: test_clip_caption_pipeline.py CAPT_BINARY"""
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
ASSETS = os.environ.get("CAPT_ASSETS", os.path.join(ROOT, "..", "shared"))
FLICKR = os.path.join(ASSETS, "data", "flickr8k")
CAPT = sys.argv[1]
PY = sys.executable


def run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=900, **kw)
    if r.returncode:
        sys.exit("FAIL %s\n%s%s" % (" ".join(args), r.stdout[-2000:], r.stderr[-2000:]))
    return r.stdout


sys.path.insert(0, os.path.join(ROOT, "train"))
import data  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    clip = os.path.join(tmp, "clip.capt")
    run([PY, os.path.join(ROOT, "tools", "convert_clip.py"), os.path.join(ASSETS, "reference", "clip-tiny-b32"), clip,
         "--dtype", "q8_0"])
    names = data.load_split("train")[:96] + data.load_split("dev")[:24]
    photo = os.path.join(ASSETS, "data", "photos", "chelsea.png")
    with open(os.path.join(tmp, "list.txt"), "w") as f:
        f.write("\n".join(os.path.join(FLICKR, "images", n) for n in names) + "\n" + photo + "\n")
    feats = os.path.join(tmp, "clip-tokens.npy")
    run([CAPT, "features", "--model", clip, "--list", os.path.join(tmp, "list.txt"), "--out", feats])
    tokens = np.load(feats)
    print("ok   capt features: %s visual tokens per image" % (tokens.shape[1:],))
    assert tokens.shape == (len(names) + 1, 50, 128), tokens.shape

    run_dir = os.path.join(tmp, "run")
    log = run([PY, os.path.join(ROOT, "train", "train.py"), "--features", feats, "--out", run_dir, "--limit", "96",
               "--epochs", "2", "--schedule-epochs", "4", "--batch", "32", "--d-model", "64", "--heads", "2",
               "--layers", "1", "--mlp", "128", "--threads", "1"])
    print("ok   train.py: %s" % log.strip().splitlines()[-1][:100])
    # The cosine spans 4 epochs (1 of warmup): after epoch 2 it is at (1 + cos(pi / 3)) / 2 of its peak, not 0.
    lrs = [float(r["lr"]) for r in csv.DictReader(open(os.path.join(run_dir, "log.csv")))]
    assert abs(lrs[-1] / lrs[0] - 0.75) < 0.02, "--schedule-epochs: learning rates %s" % lrs
    print("ok   --schedule-epochs 4 stops the cosine at %.2f of its peak" % (lrs[-1] / lrs[0]))
    decoder = os.path.join(tmp, "decoder.capt")
    run([PY, os.path.join(ROOT, "train", "export.py"), "--checkpoint", os.path.join(run_dir, "best.pt"), "--out", decoder,
         "--dtype", "q8_0"])
    captioner = os.path.join(tmp, "clip-captioner.capt")
    run([PY, os.path.join(ROOT, "tools", "combine_capt.py"), captioner, clip, decoder])
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    from captfile import read_capt  # noqa: E402
    meta = read_capt(decoder).meta
    assert meta["decoder.n_global"] == 1 and meta["decoder.grid_h"] == 7, "the class token is a global token"
    out = json.loads(run([CAPT, "caption", "--model", captioner, "--beam", "1", "--raw", "--json", photo]))
    print("ok   capt caption on CLIP tokens: %r" % out["caption"])
    att = out["attention"]
    assert att["grid"] == [7, 7] and len(att["mean"][0][0]) == 49, "attention maps cover the 7x7 patches"

    # The same caption from PyTorch on the engine's own tokens of that photo, with the
    # exported (dequantized) weights.
    import torch  # noqa: E402
    import search  # noqa: E402
    from evaluate import load_checkpoint  # noqa: E402
    from export import load_exported_weights  # noqa: E402
    model, vocab, _ = load_checkpoint(os.path.join(run_dir, "best.pt"))
    model = load_exported_weights(model, decoder)
    grid = torch.from_numpy(tokens[-1:].astype(np.float32))
    want = vocab.decode(search.greedy(model, grid, 20)[0])
    if out["caption"].strip() != want:
        sys.exit("FAIL the engine says %r, PyTorch says %r" % (out["caption"], want))
    print("ok   PyTorch gives the same greedy caption")
    # The combined file still embeds text (one file, both uses).
    emb = json.loads(run([CAPT, "embed", "--model", captioner, "--text", "a cat"]))
    assert len(emb) == 64
    print("ok   the combined file still embeds text")
print("0 failures")
