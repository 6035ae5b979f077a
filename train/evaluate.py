#!/usr/bin/python3
"""Scores captions: corpus BLEU-1..4 (all references) and CIDEr-D.

    evaluate.py --checkpoint out/train/run/best.pt --features out/features/flickr8k.npy
                [--detections out/features/flickr8k_det.jsonl] [--split test] [--search greedy beam3 beam5] [--save-jsonl out.jsonl]
    evaluate.py --jsonl captions.jsonl [--split test]        # e.g. from `capt caption --json`
    evaluate.py --jsonl captions.jsonl --refs coco-ood-dev   # the 80 COCO photos

A JSONL line holds "image" (a name or path; its basename is looked up) and "caption";
lines of `capt caption`'s plain output (IMAGE<TAB>caption) are read too.
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
import metrics  # noqa: E402
import search  # noqa: E402
from clip_bpe import ClipBPE  # noqa: E402
from model import CaptionDecoder, Config  # noqa: E402


def references(refs, split):
    """({image name: [captions]}, ordered names) for a Flickr8k split or coco-ood-dev."""
    if refs == "coco-ood-dev":
        r = json.load(open(os.path.join(data.ASSETS, "data", "coco-ood-dev", "refs.json")))
        return r, sorted(r)
    caps = data.load_captions()
    names = data.load_split(split)
    return caps, names


def load_checkpoint(path):
    ck = torch.load(path, map_location="cpu")
    cfg = Config(**ck["config"])
    model = CaptionDecoder(cfg)
    model.load_state_dict(ck["model"])
    model.eval()
    vocab = data.Vocab(ck["vocab"], ClipBPE(data.MERGES))
    return model, vocab, ck


def caption_split(model, vocab, images, names, mode, max_tokens=20, alpha=1.0):
    from train import decode_split
    if mode == "greedy":
        return decode_split(model, images, names, vocab, max_tokens)
    width = int(mode[len("beam"):])
    return [vocab.decode(search.beam(model, images.grids([n]), width, max_tokens, alpha, dets1=images.dets([n])))
            for n in names]


def model_images(model, features, detections):
    """data.Images of these features (and detections) as the model reads them."""
    c = model.config
    return data.Images(features, None, detections, c.det_max, c.det_min_score)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint")
    ap.add_argument("--features")
    ap.add_argument("--detections", help="the images' detections (capt detect --list), for a decoder that reads them")
    ap.add_argument("--jsonl")
    ap.add_argument("--split", default="test")
    ap.add_argument("--refs", default="flickr8k", choices=["flickr8k", "coco-ood-dev"])
    ap.add_argument("--search", nargs="+", default=["greedy", "beam3", "beam5"])
    ap.add_argument("--alpha", type=float, default=1.0, help="beam length exponent")
    ap.add_argument("--save-jsonl", help="write the captions of the last search mode here")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--exported", help="evaluate with the exact dequantized weights of this exported decoder .capt")
    ap.add_argument("--json-out", help="also write the scores here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    refs, names = references(args.refs, args.split)
    results = {}
    if args.jsonl:
        got = {}
        for line in open(args.jsonl, encoding="utf-8"):
            if line.startswith("{"):
                j = json.loads(line)
                if "caption" in j:
                    got[os.path.basename(j["image"])] = j["caption"]
            elif "\t" in line:
                image, caption = line.rstrip("\n").split("\t", 1)
                if not caption.startswith("error:"):
                    got[os.path.basename(image)] = caption
        missing = [n for n in names if n not in got]
        if missing:
            print("%d of %d images have no caption (e.g. %s)" % (len(missing), len(names), missing[0]))
            return 1
        results["jsonl"] = metrics.score_all([got[n] for n in names], [refs[n] for n in names])
    else:
        model, vocab, _ = load_checkpoint(args.checkpoint)
        if args.exported:
            from export import load_exported_weights
            model = load_exported_weights(model, args.exported)
        images = model_images(model, args.features, args.detections)
        for mode in args.search:
            hyps = caption_split(model, vocab, images, names, mode, alpha=args.alpha)
            results[mode] = metrics.score_all(hyps, [refs[n] for n in names])
            if args.save_jsonl:
                with open(args.save_jsonl, "w") as f:
                    for n, h in zip(names, hyps):
                        f.write(json.dumps({"image": n, "caption": h}) + "\n")
    for mode, s in results.items():
        print("%-8s BLEU-1 %.4f  BLEU-2 %.4f  BLEU-3 %.4f  BLEU-4 %.4f  CIDEr-D %.4f  (%s, %d images)" % (
            mode, s["bleu1"], s["bleu2"], s["bleu3"], s["bleu4"], s["cider_d"], args.refs if args.refs != "flickr8k"
            else args.split, len(names)))
    print(json.dumps(results))
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
