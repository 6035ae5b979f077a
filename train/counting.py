#!/usr/bin/python3
"""Do captions count what the detector sees? For people and dogs, compares the number of
detections (score >= --min-score) with the number a caption states (detections.named_classes:
"a man" 1, "two dogs" 2, "a group of people" 4...), over captions from `capt caption`
(IMAGE<TAB>caption lines) and the images' detections (`capt detect --list`).

    counting.py CAPTIONS.tsv DETECTIONS.jsonl [--min-score 0.3]

Prints, per category and detected count (1, 2, 3+), how the captions count it; and the
same for the human captions of those images (Flickr8k), as the ceiling.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import data  # noqa: E402
import detections  # noqa: E402


def bucket(n):
    return "0" if n == 0 else "1" if n == 1 else "2" if n == 2 else "3+"


def table(pairs):
    """{(detected, stated): count} -> rows of the share of each stated count per detected count."""
    out = []
    for det in ("1", "2", "3+"):
        row = {s: pairs.get((det, s), 0) for s in ("0", "1", "2", "3+")}
        total = sum(row.values())
        if total:
            out.append("  detected %-2s (%4d): caption says %s" % (det, total, "  ".join(
                "%s %3.0f%%" % (s, 100 * v / total) for s, v in row.items())))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("captions")
    ap.add_argument("detections")
    ap.add_argument("--min-score", type=float, default=0.3)
    args = ap.parse_args()
    dets = detections.load_detections(args.detections)
    caps = data.load_captions()
    hyps = {}
    for line in open(args.captions, encoding="utf-8"):
        if "\t" in line:
            image, caption = line.rstrip("\n").split("\t", 1)
            hyps[os.path.basename(image)] = caption
    for cls in (detections.PERSON, detections.DOG):
        model, human = {}, {}
        for name, caption in hyps.items():
            d = dets.get(name)
            if d is None:
                continue
            seen = bucket(int(((d[:, 5] == cls) & (d[:, 4] >= args.min_score)).sum()))
            if seen == "0":
                continue
            key = (seen, bucket(detections.named_classes(caption).get(cls, 0)))
            model[key] = model.get(key, 0) + 1
            for ref in caps.get(name, []):
                key = (seen, bucket(detections.named_classes(ref).get(cls, 0)))
                human[key] = human.get(key, 0) + 1
        print("%s (detections with score >= %.2f)" % (detections.CLASSES[cls], args.min_score))
        print("\n".join(table(model)))
        if human:
            print(" human captions of the same images:")
            print("\n".join(table(human)))


if __name__ == "__main__":
    main()
