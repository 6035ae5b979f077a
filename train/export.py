#!/usr/bin/python3
"""Exports a trained decoder to .capt (docs/model.md) and writes the golden file the C
engine is tested against.

    export.py --checkpoint out/train/run/best.pt --out weights/decoder-flickr8k.capt
              [--dtype q8_0] [--golden tests/golden/decoder_golden.capt
               --features out/features/flickr8k.npy [--detections out/features/flickr8k_det.jsonl]]

Golden (8 Flickr8k test images): the logits of the first 3 greedy steps and the greedy
and beam-3 captions, computed twice: with the fp32 weights and with the exact
dequantized weights of the exported file; plus the f16 grids (and the detection slots) they
were computed from.
"""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import data  # noqa: E402
import search  # noqa: E402
from captfile import CaptWriter, read_capt  # noqa: E402
from evaluate import load_checkpoint  # noqa: E402

GOLDEN_IMAGES = 8
GOLDEN_STEPS = 3


def tensors(model):
    """(name in the .capt file, float array, kind): kind 'matrix' may be quantized."""
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    out = [("decoder.visual.weight", sd["visual.weight"], "matrix"), ("decoder.visual.bias", sd["visual.bias"], "f32"),
           ("decoder.visual.row", sd["row"], "f32"), ("decoder.visual.col", sd["col"], "f32"),
           ("decoder.visual.ln.weight", sd["ln_visual.weight"], "f32"),
           ("decoder.visual.ln.bias", sd["ln_visual.bias"], "f32"),
           ("decoder.tok_emb", sd["tok.weight"], "matrix"), ("decoder.pos_emb", sd["pos"], "f32")]
    if model.config.n_global:
        out.append(("decoder.visual.global_pos", sd["global_pos"], "f32"))
    for l in range(model.config.n_layers):
        p, q = "layers.%d." % l, "decoder.layer.%d." % l
        for ln in ("ln1", "ln2", "ln3"):
            out += [(q + ln + ".weight", sd[p + ln + ".weight"], "f32"), (q + ln + ".bias", sd[p + ln + ".bias"], "f32")]
        for att, name in (("self_attn", "self"), ("cross_attn", "cross")):
            for m in "qkvo":
                out += [(q + "%s.%s.weight" % (name, m), sd[p + "%s.%s.weight" % (att, m)], "matrix"),
                        (q + "%s.%s.bias" % (name, m), sd[p + "%s.%s.bias" % (att, m)], "f32")]
        for fc in ("fc1", "fc2"):
            out += [(q + fc + ".weight", sd[p + fc + ".weight"], "matrix"), (q + fc + ".bias", sd[p + fc + ".bias"], "f32")]
    out += [("decoder.ln_f.weight", sd["ln_f.weight"], "f32"), ("decoder.ln_f.bias", sd["ln_f.bias"], "f32"),
            ("decoder.out_bias", sd["out_bias"], "f32")]
    if model.config.det_max:
        out += [("decoder.det.class", sd["det_class"], "matrix"), ("decoder.det.box.weight", sd["det_box.weight"], "f32"),
                ("decoder.det.box.bias", sd["det_box.bias"], "f32"), ("decoder.det.count", sd["det_count"], "f32"),
                ("decoder.det.pad", sd["det_pad"], "f32"), ("decoder.det.ln.weight", sd["ln_det.weight"], "f32"),
                ("decoder.det.ln.bias", sd["ln_det.bias"], "f32")]
    return out


def write_decoder(model, vocab, path, dtype):
    c = model.config
    w = CaptWriter()
    w.add_meta("general.architecture", "capt.decoder")
    w.add_meta("general.license", "research use only: trained on Flickr8k (Hodosh, Young, Hockenmaier 2013)")
    w.add_meta("decoder.type", "transformer")
    for key in ("d_model", "n_heads", "n_layers", "d_mlp", "max_len", "grid_h", "grid_w", "d_visual"):
        w.add_meta("decoder." + key, int(getattr(c, key)))
    if c.n_global:
        w.add_meta("decoder.n_global", int(c.n_global))
    if c.det_max:
        for key in ("det_max", "det_classes", "det_counts"):
            w.add_meta("decoder." + key, int(getattr(c, key)))
        w.add_meta("decoder.det_min_score", float(c.det_min_score))
    w.add_meta("decoder.ln_eps", 1e-5)
    w.add_meta("decoder.vocab", [int(i) for i in vocab.clip_ids])
    w.add_meta("decoder.token_text", [b"" if i < 2 else vocab.tokenizer.token_bytes(cid)
                                      for i, cid in enumerate(vocab.clip_ids)])
    for name, arr, kind in tensors(model):
        w.add_tensor(name, arr, dtype if kind == "matrix" and arr.shape[-1] % 32 == 0 else "f32")
    w.write(path)


def load_exported_weights(model, path):
    """A copy of the model whose weights are the file's, dequantized exactly."""
    f = read_capt(path)
    sd = model.state_dict()
    names = {capt: torch_name for capt, torch_name in zip([t[0] for t in tensors(model)], _torch_names(model))}
    new = {k: v.clone() for k, v in sd.items()}
    for capt_name, torch_name in names.items():
        new[torch_name] = torch.from_numpy(f.tensors[capt_name].array().reshape(sd[torch_name].shape))
    clone = type(model)(model.config)
    clone.load_state_dict(new)
    clone.eval()
    return clone


def _torch_names(model):
    out = ["visual.weight", "visual.bias", "row", "col", "ln_visual.weight", "ln_visual.bias", "tok.weight", "pos"]
    out += ["global_pos"] if model.config.n_global else []
    for l in range(model.config.n_layers):
        p = "layers.%d." % l
        for ln in ("ln1", "ln2", "ln3"):
            out += [p + ln + ".weight", p + ln + ".bias"]
        for att in ("self_attn", "cross_attn"):
            for m in "qkvo":
                out += [p + "%s.%s.weight" % (att, m), p + "%s.%s.bias" % (att, m)]
        for fc in ("fc1", "fc2"):
            out += [p + fc + ".weight", p + fc + ".bias"]
    out += ["ln_f.weight", "ln_f.bias", "out_bias"]
    if model.config.det_max:
        out += ["det_class", "det_box.weight", "det_box.bias", "det_count", "det_pad", "ln_det.weight", "ln_det.bias"]
    return out


@torch.no_grad()
def golden(model, exported, vocab, images, path):
    names = data.load_split("test")[:GOLDEN_IMAGES]
    w = CaptWriter()
    w.add_meta("golden.images", names)
    w.add_meta("golden.steps", GOLDEN_STEPS)
    for tag, m in (("fp32", model), ("exported", exported)):
        greedy_caps, beam_caps = [], []
        for i, n in enumerate(names):
            grid, dets = images.grids([n]), images.dets([n])
            ids = search.greedy(m, grid, max_tokens=20, dets=dets)[0]
            steps = [data.START] + ids[:GOLDEN_STEPS - 1]
            logits = m(grid, torch.tensor([steps]), dets=dets)[0, :GOLDEN_STEPS].numpy()
            w.add_tensor("%s.logits.%d" % (tag, i), logits, "f32")
            greedy_caps.append(vocab.decode(ids))
            beam_caps.append(vocab.decode(search.beam(m, grid, 3, 20, 1.0, dets1=dets)))
        w.add_meta("%s.greedy" % tag, greedy_caps)
        w.add_meta("%s.beam3" % tag, beam_caps)
    for i, n in enumerate(names):
        w.add_tensor("grid.%d" % i, images.grids([n])[0].numpy(), "f16")
        if model.config.det_max:  # the detection slots (class -1: empty)
            w.add_tensor("dets.%d" % i, images.dets([n])[0].numpy(), "f32")
    w.write(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", default="q8_0", choices=["f32", "f16", "q8_0", "q4_0"])
    ap.add_argument("--golden")
    ap.add_argument("--features")
    ap.add_argument("--detections", help="the test images' detections, for a decoder that reads them")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model, vocab, _ = load_checkpoint(args.checkpoint)
    write_decoder(model, vocab, args.out, args.dtype)
    print("%s: %d bytes" % (args.out, os.path.getsize(args.out)))
    if args.golden:
        from evaluate import model_images
        golden(model, load_exported_weights(model, args.out), vocab, model_images(model, args.features, args.detections),
               args.golden)
        print("%s: %d bytes" % (args.golden, os.path.getsize(args.golden)))


if __name__ == "__main__":
    main()
