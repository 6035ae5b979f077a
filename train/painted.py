"""Painted concepts: visual grids for text-only captions (docs/experiments/decoder.md, "Text-only
captions"). A text-only caption has no image, and a decoder trained on it with an empty
grid learns words it never links to what the encoder sees. Instead, each such caption
gets the grid of a random Flickr8k training image into which the ImageNet classes its
words name are painted: in a random rectangle of cells, the features that the encoder's
classifier reads as evidence for the class are raised until the classifier, on the
painted grid, gives the class a random target probability. At inference a real photo of
a pizza raises the same classifier evidence, so what the decoder learned to say from
painted pizzas transfers. A distractor class is sometimes painted weakly, as the real
classifier is sometimes wrong.
"""
import random
import re

import numpy as np
import torch

import concepts

# The classifier evidence of a class: its weight row minus the mean row, its TOP_FEATURES
# largest positive entries only (real features are sparse: 81% of them are zero).
TOP_FEATURES = 128
MAX_CONCEPTS = 2           # classes painted per caption
DISTRACTOR_CHANCE = 0.3    # a weak class the caption does not name
TARGET_P = (0.3, 0.95)     # classifier probability of a named class on the painted grid
DISTRACTOR_P = (0.05, 0.3)


class Painter:
    def __init__(self, head, tokens):
        """head: concepts.classifier(encoder file); tokens: decoder word per class (-1: none)."""
        w, b, scale, _ = head
        self.w = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))  # [classes, C]
        self.b = torch.from_numpy(np.asarray(b, dtype=np.float32))           # [classes]
        self.scale = scale
        evidence = self.w - self.w.mean(0, keepdim=True)
        keep = torch.zeros_like(evidence)
        top = evidence.topk(TOP_FEATURES, dim=1)
        keep.scatter_(1, top.indices, top.values.clamp(min=0))
        self.direction = keep / keep.norm(dim=1, keepdim=True).clamp(min=1e-6)  # [classes, C], unit rows
        self.word_classes = {}
        for c, t in enumerate(tokens):
            if t >= 0:
                self.word_classes.setdefault(int(t), []).append(c)
        self.mapped = sorted(c for cs in self.word_classes.values() for c in cs)

    def named_classes(self, seq):
        """One class per distinct concept word of a decoder-id sequence."""
        return [random.choice(self.word_classes[t]) for t in dict.fromkeys(seq) if t in self.word_classes]

    def _probability(self, pooled, cls):
        return torch.softmax(self.scale * (pooled @ self.w.t() + self.b), dim=1)[torch.arange(len(cls)), cls]

    def paint(self, grids, classes_per_grid, grid_h, grid_w):
        """grids [B, N, C] (real, float32; N = grid_h * grid_w) -> painted copies."""
        grids = grids.clone()
        N = grids.shape[1]
        jobs = []  # (row, class, target probability, cells [N, 1])
        for i, named in enumerate(classes_per_grid):
            for c in named[:MAX_CONCEPTS]:
                jobs.append((i, c, random.uniform(*TARGET_P)))
            if random.random() < DISTRACTOR_CHANCE:
                jobs.append((i, random.choice(self.mapped), random.uniform(*DISTRACTOR_P)))
        for k, (i, c, target) in enumerate(jobs):
            h, w = random.randint(2, grid_h), random.randint(2, grid_w)
            r0, c0 = random.randint(0, grid_h - h), random.randint(0, grid_w - w)
            mask = torch.zeros(grid_h, grid_w)
            mask[r0:r0 + h, c0:c0 + w] = 1
            jobs[k] = (i, c, target, mask.reshape(N, 1))
        # The jobs of one grid run in order, each on what the ones before painted; the k-th
        # jobs of all grids run together, their paint strengths found by one batched bisection.
        rounds, seen = [], {}
        for job in jobs:
            k = seen[job[0]] = seen.get(job[0], -1) + 1
            if k == len(rounds):
                rounds.append([])
            rounds[k].append(job)
        for batch in rounds:
            rows, cls = torch.tensor([j[0] for j in batch]), torch.tensor([j[1] for j in batch])
            target = torch.tensor([j[2] for j in batch])
            mask = torch.stack([j[3] for j in batch])                      # [J, N, 1]
            grid, d = grids[rows], self.direction[cls][:, None, :]         # [J, N, C], [J, 1, C]
            lo, hi = torch.zeros(len(batch)), torch.full((len(batch),), 400.0)
            for _ in range(14):  # bisection on the paint strength: p(class) grows with it
                mid = (lo + hi) / 2
                pooled = (grid + mask * mid[:, None, None] * d).clamp(max=6.0).mean(1)
                below = self._probability(pooled, cls) < target
                lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
            grids[rows] = (grid + mask * hi[:, None, None] * d).clamp(max=6.0)
        return grids.half().float()  # f16 values, as the engine's features are stored


# Flickr8k's two subjects. A text-only caption painted onto a random Flickr8k grid would
# mostly sit on a photo of people or a dog it does not mention, and the decoder would learn
# that what the grid shows matters less than the paint; on a real photo, with no paint, it
# would then fall back to Flickr8k's habit of describing people. Matching the base image
# to the caption on these two subjects keeps "a kitchen with a stove" on a grid without
# people, and "a man riding a horse" on one with people.
PERSON_WORDS = frozenset("man men woman women person people boy boys girl girls child children kid kids baby "
                         "babies player players lady ladies guy guys crowd someone skier skiers surfer surfers "
                         "biker bikers rider riders climber toddler family couple".split())
DOG_WORDS = frozenset("dog dogs puppy puppies".split())


def subjects(text):
    """(names a person, names a dog) of one caption."""
    words = set(re.findall(r"[a-z]+", text.lower()))
    return bool(words & PERSON_WORDS), bool(words & DOG_WORDS)


class BaseImages:
    """Picks the Flickr8k training image a text-only caption is painted onto: one whose
    captions agree with it on people and dogs (a subject counts when at least 3 of the 5
    captions name it)."""

    def __init__(self, captions, train_names):
        self.by_subjects = {}
        for name in train_names:
            votes = [subjects(c) for c in captions[name]]
            key = tuple(sum(v[k] for v in votes) >= 3 for k in range(2))
            self.by_subjects.setdefault(key, []).append(name)

    def pick(self, text):
        key = subjects(text)
        return random.choice(self.by_subjects.get(key) or next(iter(self.by_subjects.values())))
