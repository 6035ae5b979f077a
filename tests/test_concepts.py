#!/usr/bin/python3
"""Concept guidance (docs/model.md) is the same in the C engine and in PyTorch: for the
four shared photos and 12 Flickr8k test images, `capt caption` (beam 3, guidance on)
equals train/search.py's beam search with the bonus train/concepts.py computes from the
map stored in the model file and the class probabilities of the engine's own visual
tokens, and the detection slots of the engine's own detections (at least 15 of 16: the engine's probabilities come from f32 activations, the
reference's from the f16 tokens, so a near-tie may break differently). The cat photo is
called a cat with guidance, and its caption without guidance (--no-concepts) is PyTorch's
unguided one. (The Flickr8k-only decoder called the cat "a man" without guidance; the
shipped one, trained on painted concepts too, says "cat" either way.)
Usage: test_concepts.py MODEL.capt CAPT_COMMAND..."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "train"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import concepts  # noqa: E402
import data  # noqa: E402
import detections  # noqa: E402
import search  # noqa: E402
from captfile import CaptWriter, read_capt  # noqa: E402
from clip_bpe import ClipBPE  # noqa: E402
from export import load_exported_weights  # noqa: E402
from model import CaptionDecoder, Config  # noqa: E402

MODEL, CMD = sys.argv[1], sys.argv[2:]
photos = sorted(os.path.join(data.ASSETS, "data", "photos", f) for f in os.listdir(os.path.join(data.ASSETS, "data", "photos")))
flickr = [os.path.join(data.FLICKR, "images", n) for n in data.load_split("test")[:12]]
images = photos + flickr


def capt(*args):
    r = subprocess.run(CMD + list(args), capture_output=True, text=True, timeout=600)
    if r.returncode:
        sys.exit("FAIL capt %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


torch.set_num_threads(1)
f = read_capt(MODEL)
m = f.meta
cfg = Config(len(m["decoder.vocab"]), m["decoder.d_model"], m["decoder.n_heads"], m["decoder.n_layers"],
             m["decoder.d_mlp"], m["decoder.max_len"], m["decoder.grid_h"], m["decoder.grid_w"], m["decoder.d_visual"],
             det_max=m.get("decoder.det_max", 0), det_classes=m.get("decoder.det_classes", 80),
             det_counts=m.get("decoder.det_counts", 4), det_min_score=m.get("decoder.det_min_score", 0.0))
with tempfile.TemporaryDirectory() as tmp:
    decoder_only = os.path.join(tmp, "decoder.capt")
    w = CaptWriter()
    for t in f.tensors.values():
        if t.name.startswith("decoder."):
            w.add_tensor_raw(t.name, t.raw, t.dtype, t.shape)
    w.write(decoder_only)
    model = load_exported_weights(CaptionDecoder(cfg), decoder_only)
    listing = os.path.join(tmp, "images.txt")
    with open(listing, "w") as fh:
        fh.write("\n".join(images) + "\n")
    feats_path = os.path.join(tmp, "tokens.npy")
    capt("features", "--model", MODEL, "--list", listing, "--out", feats_path)
    feats = np.load(feats_path)
vocab = data.Vocab(list(m["decoder.vocab"]), ClipBPE(data.MERGES))
# the detection slots the decoder reads (the engine's own detections)
dets = [None] * len(images)
if cfg.det_max:
    found = {}
    for line in capt("detect", "--model", MODEL, "--json", "--min-score", repr(cfg.det_min_score), *images).splitlines():
        j = json.loads(line)
        found[j["image"]] = np.asarray([d["box"] + [d["score"], d["class"]] for d in j["detections"]],
                                       np.float32).reshape(-1, 6)
    dets = [torch.from_numpy(detections.slots(found[p], cfg.det_max, cfg.det_min_score))[None] for p in images]
tokens = np.array(m["decoder.concept_token"])
beta, tau = m["decoder.concept_beta"], m["decoder.concept_tau"]
head = concepts.classifier(f)
probs = concepts.class_probs(feats, head)

engine = [json.loads(line)["caption"] for line in capt("caption", "--model", MODEL, "--raw", "--json", *images).splitlines()]
same, failures = 0, 0
for i, path in enumerate(images):
    bias = concepts.concept_bias(probs[i], tokens, len(vocab), beta, tau)
    if "decoder.det_concept_token" in m:  # and the detections' votes
        bias = bias + concepts.detection_bias(dets[i][0].numpy(), np.array(m["decoder.det_concept_token"]), len(vocab),
                                              m["decoder.det_concept_beta"], m["decoder.det_concept_tau"])
    bias = torch.from_numpy(bias)
    grid = torch.from_numpy(feats[i:i + 1].astype(np.float32))
    want = vocab.decode(search.beam(model, grid, 3, 20, 1.0, bias, dets1=dets[i]))
    if want == engine[i].strip():
        same += 1
    else:
        print("  differs: %s: engine %r, PyTorch %r" % (os.path.basename(path), engine[i], want))
print("%s guided captions equal PyTorch's: %d of %d" % ("ok  " if same >= len(images) - 1 else "FAIL", same, len(images)))
failures += same < len(images) - 1
i = [n for n, p in enumerate(images) if p.endswith("chelsea.png")][0]
cat = engine[i]
plain = capt("caption", "--model", MODEL, "--raw", "--no-concepts", images[i]).split("\t", 1)[1].strip()
want = vocab.decode(search.beam(model, torch.from_numpy(feats[i:i + 1].astype(np.float32)), 3, 20, 1.0, dets1=dets[i]))
ok = " cat " in " %s " % cat and plain == want
print("%s chelsea.png: %r with guidance; without: %r (PyTorch %r)" % ("ok  " if ok else "FAIL", cat, plain, want))
failures += not ok
print("%d failures" % failures)
sys.exit(1 if failures else 0)
