"""Flickr8k captions, splits, the decoder vocabulary and the encoder features.

Features come from the C engine itself (`capt features`, f16 [N, 49, 1280] + a names
file), so training sees exactly what the engine computes at inference.
"""
import os
import re

import numpy as np
import torch


HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.environ.get("CAPT_ASSETS", os.path.join(HERE, "..", "..", "shared"))
# A dataset folder in Flickr8k's layout: Flickr8k.token.txt ("name#i<TAB>caption" lines),
# Flickr_8k.{train,dev,test}Images.txt and images/. $CAPT_DATASET selects another one
# (e.g. Flickr30k, whose results_20130124.token has the same line format).
FLICKR = os.environ.get("CAPT_DATASET", os.path.join(ASSETS, "data", "flickr8k"))
MERGES = os.path.join(ASSETS, "vocab", "bpe_simple_vocab_16e6.txt.gz")

START, END = 0, 1  # decoder ids of <|startoftext|> and <|endoftext|>


def load_captions(path=os.path.join(FLICKR, "Flickr8k.token.txt")):
    """{image name: [5 captions]}; lines naming missing images are skipped."""
    caps = {}
    images = set(os.listdir(os.path.join(FLICKR, "images")))
    for line in open(path, encoding="utf-8"):
        if "\t" not in line:
            continue
        key, text = line.rstrip("\n").split("\t", 1)
        name = key.split("#")[0]
        if name in images:
            caps.setdefault(name, []).append(text.strip())
    return caps


def load_split(split):
    """Names of the official 'train', 'dev' or 'test' images (deduplicated, in order)."""
    path = os.path.join(FLICKR, "Flickr_8k.%sImages.txt" % split)
    seen, names = set(), []
    for n in open(path).read().split():
        if n not in seen:
            seen.add(n)
            names.append(n)
    return names


def clean_caption(text):
    """The text a caption is trained on: no trailing period (the CLI adds one)."""
    return re.sub(r"[\s.]+$", "", text.strip())


class Vocab:
    """Decoder ids: 0 = start, 1 = end, then the CLIP ids seen in training captions."""

    def __init__(self, clip_ids, tokenizer):
        self.clip_ids = [tokenizer.sot, tokenizer.eot] + sorted(set(clip_ids) - {tokenizer.sot, tokenizer.eot})
        self.index = {c: i for i, c in enumerate(self.clip_ids)}
        self.tokenizer = tokenizer

    def __len__(self):
        return len(self.clip_ids)

    def encode(self, text):
        """Decoder ids of a caption (no start/end); ids unseen in training are dropped."""
        return [self.index[c] for c in self.tokenizer.encode(clean_caption(text)) if c in self.index]

    def decode(self, ids):
        """Text of decoder ids, stopping at the end token; spacing as CLIP decodes."""
        clip = []
        for i in ids:
            if i == END:
                break
            if i != START:
                clip.append(self.clip_ids[i])
        return self.tokenizer.decode(clip).strip()


def build_vocab(captions, train_names, tokenizer, text_seqs=(), size=None):
    """The CLIP ids of the training captions (and of the text-only captions' CLIP id
    lists); with `size`, only the `size` most frequent of them (ties: lower id), which
    keeps the output layer, and so the model file, as small as a Flickr8k vocabulary."""
    counts = {}
    for seq in [tokenizer.encode(clean_caption(c)) for n in train_names for c in captions[n]] + list(text_seqs):
        for i in seq:
            counts[i] = counts.get(i, 0) + 1
    ids = sorted(counts, key=lambda i: (-counts[i], i))
    return Vocab(ids[:size] if size else ids, tokenizer)


# Text-only captions ("IMAGE<TAB>caption" lines; images not included) that widen the
# decoder's language beyond Flickr8k (issue 9, docs/model.md "Text-only captions").
TEXT_CORPORA = {
    "coco": os.path.join(ASSETS, "data", "coco-captions", "coco_val2017_captions.tsv"),
    "flickr30k": os.path.join(ASSETS, "data", "flickr30k-captions", "flickr30k_captions.tsv"),
}


def text_corpus_captions(corpus):
    """The captions of a text-only corpus (a TEXT_CORPORA name or a file), in file order."""
    return [line.split("\t", 1)[1] for line in open(TEXT_CORPORA.get(corpus, corpus), encoding="utf-8")
            if "\t" in line]


def tokenize_captions(captions, tokenizer):
    """CLIP id lists of the (non-empty) captions."""
    return [ids for ids in (tokenizer.encode(clean_caption(c)) for c in captions) if ids]


def in_vocab(vocab, clip_seqs):
    """Decoder id lists of the CLIP id lists whose every token is in the vocabulary."""
    return [[vocab.index[i] for i in s] for s in clip_seqs if all(i in vocab.index for i in s)]


def load_features(npy_path):
    """(features f16 [N, tokens, channels], {image name: row})."""
    feats = np.load(npy_path, mmap_mode="r")
    names_path = npy_path[:-4] + ".txt"
    rows = {os.path.basename(line.strip()): i for i, line in enumerate(open(names_path)) if line.strip()}
    return feats, rows


class Images:
    """What the decoder reads of a set of images: the encoder's f16 features (and those of
    the mirrored images) and, for a decoder with detection tokens, the detector's peaks
    (`capt detect --list`), as the slots of docs/model.md."""

    def __init__(self, features, flip_features=None, detections=None, det_max=0, det_min_score=0.0):
        import detections as det_lib
        feats, self.rows = load_features(features)
        self.feats = np.ascontiguousarray(feats)  # into memory: the epochs read it many times
        self.flip_feats = None
        if flip_features:
            flip, flip_rows = load_features(flip_features)
            assert flip_rows == self.rows, "the mirrored features must list the same images in the same order"
            self.flip_feats = np.ascontiguousarray(flip)
        self.det_max, self.det_min_score = det_max, det_min_score
        self.detections = det_lib.load_detections(detections) if detections else None
        if det_max and self.detections is None:
            raise ValueError("a decoder with detection tokens needs the images' detections")
        self._det_lib = det_lib

    def grids(self, names, flipped=None):
        """f16 features of these images as float32 [B, N, C] (values are f16-exact); where
        flipped[i] is set, those of the mirrored image."""
        return torch.from_numpy(np.stack([self.flip_feats[self.rows[n]] if flipped is not None and flipped[i]
                                          else self.feats[self.rows[n]] for i, n in enumerate(names)]).astype(np.float32))

    def image_detections(self, name, flipped=False):
        """All peaks of one image [n, 6] (mirrored with it)."""
        d = self.detections.get(name, np.zeros((0, 6), np.float32))
        return self._det_lib.flip(d) if flipped else d

    def dets(self, names, flipped=None):
        """The detection slots of these images [B, det_max, 6], or None without detection tokens."""
        if not self.det_max:
            return None
        return torch.from_numpy(np.stack([self._det_lib.slots(self.image_detections(n, flipped is not None and flipped[i]),
                                                              self.det_max, self.det_min_score)
                                          for i, n in enumerate(names)]))
