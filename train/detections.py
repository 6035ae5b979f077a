"""Detections as the decoder reads them (docs/model.md, "Detection tokens"): the
detector's peaks of an image (`capt detect --list`, JSON lines), the COCO categories a
caption names (and how many), and pseudo detections for text-only captions.

A detection is a row (x0, y0, x1, y1, score, class): the box in 0..1 image units.
"""
import json
import random
import re

import numpy as np

# The 80 COCO categories in the detector's order (tools/centernet_reference.COCO_CLASSES).
CLASSES = ("person|bicycle|car|motorcycle|airplane|bus|train|truck|boat|traffic light|fire hydrant|stop sign|"
           "parking meter|bench|bird|cat|dog|horse|sheep|cow|elephant|bear|zebra|giraffe|backpack|umbrella|"
           "handbag|tie|suitcase|frisbee|skis|snowboard|sports ball|kite|baseball bat|baseball glove|"
           "skateboard|surfboard|tennis racket|bottle|wine glass|cup|fork|knife|spoon|bowl|banana|apple|"
           "sandwich|orange|broccoli|carrot|hot dog|pizza|donut|cake|chair|couch|potted plant|bed|"
           "dining table|toilet|tv|laptop|mouse|remote|keyboard|cell phone|microwave|oven|toaster|sink|"
           "refrigerator|book|clock|vase|scissors|teddy bear|hair drier|toothbrush").split("|")
PERSON, DOG = 0, 16

# What people write for each category (singular and plural forms; two-word phrases are
# matched as phrases). A word counts for at most one category.
WORDS = {
    "person": "man men woman women person people persons boy boys girl girls child children kid kids baby babies "
              "toddler toddlers player players lady ladies guy guys skier skiers surfer surfers snowboarder "
              "snowboarders skateboarder skateboarders biker bikers cyclist cyclists rider riders climber climbers "
              "adult adults teenager teenagers teen teens gentleman gentlemen spectators crowd athlete athletes "
              "worker workers chef cook soldier soldiers policeman officer dancer dancers runner runners swimmer "
              "swimmers wrestler wrestlers performer performers tourists hiker hikers fans audience student "
              "students mother father daughter son couple family someone he she bride groom",
    "bicycle": "bicycle bicycles bike bikes", "car": "car cars taxi suv", "motorcycle": "motorcycle motorcycles "
    "motorbike motorbikes scooter scooters moped", "airplane": "airplane airplanes plane planes jet jets aircraft "
    "airliner jetliner", "bus": "bus buses", "train": "train trains locomotive", "truck": "truck trucks",
    "boat": "boat boats ship ships sailboat sailboats kayak kayaks canoe canoes yacht", "traffic light":
    "traffic_light traffic_lights stoplight", "fire hydrant": "hydrant hydrants", "stop sign": "stop_sign",
    "parking meter": "parking_meter parking_meters", "bench": "bench benches", "bird": "bird birds "
    "seagull seagulls pigeon pigeons duck ducks geese goose", "cat": "cat cats kitten kittens kitty",
    "dog": "dog dogs puppy puppies pup", "horse": "horse horses pony ponies", "sheep": "sheep lamb lambs",
    "cow": "cow cows cattle bull bulls calf", "elephant": "elephant elephants", "bear": "bear bears",
    "zebra": "zebra zebras", "giraffe": "giraffe giraffes", "backpack": "backpack backpacks", "umbrella":
    "umbrella umbrellas", "handbag": "handbag handbags purse purses", "tie": "tie ties necktie", "suitcase":
    "suitcase suitcases luggage", "frisbee": "frisbee frisbees", "skis": "skis", "snowboard": "snowboard "
    "snowboards", "sports ball": "ball balls soccer_ball football basketball volleyball", "kite": "kite kites",
    "baseball bat": "bat baseball_bat", "baseball glove": "glove mitt", "skateboard": "skateboard skateboards",
    "surfboard": "surfboard surfboards", "tennis racket": "racket racquet rackets", "bottle": "bottle bottles",
    "wine glass": "wine_glass wine_glasses", "cup": "cup cups mug mugs", "fork": "fork forks", "knife": "knife "
    "knives", "spoon": "spoon spoons", "bowl": "bowl bowls", "banana": "banana bananas", "apple": "apple apples",
    "sandwich": "sandwich sandwiches", "orange": "oranges", "broccoli": "broccoli", "carrot": "carrot carrots",
    "hot dog": "hot_dog hot_dogs hotdog hotdogs", "pizza": "pizza pizzas", "donut": "donut donuts doughnut "
    "doughnuts", "cake": "cake cakes", "chair": "chair chairs", "couch": "couch couches sofa sofas",
    "potted plant": "plant plants", "bed": "bed beds", "dining table": "table tables", "toilet": "toilet toilets",
    "tv": "tv television", "laptop": "laptop laptops", "mouse": "mouse", "remote": "remote remotes",
    "keyboard": "keyboard", "cell phone": "phone phones cellphone", "microwave": "microwave", "oven": "oven stove",
    "toaster": "toaster", "sink": "sink sinks", "refrigerator": "refrigerator fridge", "book": "book books",
    "clock": "clock clocks", "vase": "vase vases", "scissors": "scissors", "teddy bear": "teddy teddy_bear",
    "hair drier": "hairdryer hair_dryer", "toothbrush": "toothbrush toothbrushes",
}
WORD_CLASS = {w.replace("_", " "): CLASSES.index(c) for c, ws in WORDS.items() for w in ws.split()}
assert set(WORDS) == set(CLASSES)

NUMBERS = {"a": 1, "an": 1, "one": 1, "single": 1, "lone": 1, "two": 2, "pair": 2, "couple": 2, "both": 2,
           "three": 3, "four": 4, "five": 5, "six": 6, "several": 4, "many": 5, "group": 4, "crowd": 6, "bunch": 4,
           "herd": 5, "flock": 5, "team": 5, "lots": 5, "few": 3}
PLURAL_GROUPS = {"people", "men", "women", "children", "kids", "crowd", "spectators", "fans", "audience", "family",
                 "couple", "tourists", "students"}


def words_of(text):
    return re.findall(r"[a-z]+", text.lower())


def named_classes(text):
    """{class: count} of the COCO categories a caption names. The count is the number
    word before the noun (a, two, several...), else 1 for a singular noun and 2 for a
    plural one (3 for words that name a group)."""
    w = words_of(text)
    found = {}
    i = 0
    while i < len(w):
        two = " ".join(w[i:i + 2])
        word, span = (two, 2) if two in WORD_CLASS else (w[i], 1)
        cls = WORD_CLASS.get(word)
        if cls is not None:
            n = None
            for back in (1, 2, 3):  # "two young men", "a group of people"
                if i - back >= 0 and w[i - back] in NUMBERS:
                    n = NUMBERS[w[i - back]]
                    break
            if n is None or (n == 1 and word in PLURAL_GROUPS):
                last = word.split()[-1]
                plural = last.endswith("s") and not last.endswith("ss") and last not in ("bus", "skis", "glass")
                n = 3 if word in PLURAL_GROUPS else (2 if plural or last in ("men", "women", "children", "people",
                                                                                "geese", "sheep", "cattle") else 1)
            if word in ("couple", "family"):
                n = max(n, 2)
            found[cls] = max(found.get(cls, 0), n)
        i += span
    return found


def load_detections(path):
    """{image name: float32 [n, 6] (x0, y0, x1, y1, score, class), most confident first}."""
    out = {}
    for line in open(path):
        d = json.loads(line)
        rows = [t["box"] + [t["score"], t["class"]] for t in d["detections"]]
        out[d["image"]] = np.asarray(rows, dtype=np.float32).reshape(-1, 6)
    return out


def flip(dets):
    """The detections of the mirrored image."""
    d = dets.copy()
    d[:, 0], d[:, 2] = 1 - dets[:, 2], 1 - dets[:, 0]
    return d


def slots(dets, k, min_score):
    """The decoder's detection slots of one image: its first k detections with score >=
    min_score (they come most confident first), then empty rows (class -1): [k, 6]."""
    kept = dets[dets[:, 4] >= min_score][:k]
    out = np.full((k, 6), -1.0, dtype=np.float32)
    out[:len(kept)] = kept
    return out


class PseudoDetections:
    """Detections for a text-only caption (docs/model.md, "Detection tokens"): those of the
    Flickr8k training image its grid is painted onto, plus, for each COCO category the
    caption names that the image lacks, as many made-up detections as the caption counts
    (at most MAX_MADE_UP each). A made-up detection is missed as often as real ones of
    that category are (on training images whose captions name it), and takes the box and
    the score of a real detection of that category (while fewer than MIN_SAMPLES are
    known, of any category but people and dogs), so text-only captions see what photos
    give."""

    MAX_MADE_UP = 4
    MIN_SAMPLES = 30

    def __init__(self, images, captions, train_names, min_score):
        self.min_score = min_score
        found, named, hits = {}, {}, {}
        for name in train_names:
            votes = {}
            for c in captions[name]:
                for cls in named_classes(c):
                    votes[cls] = votes.get(cls, 0) + 1
            dets = images.image_detections(name)
            for cls in (c for c, v in votes.items() if v >= 3):  # a category most of the five captions name
                rows = dets[(dets[:, 5] == cls) & (dets[:, 4] >= min_score)]
                named[cls] = named.get(cls, 0) + 1
                hits[cls] = hits.get(cls, 0) + (len(rows) > 0)
                found.setdefault(cls, []).extend(rows[:, :5].tolist())
        # Categories with few samples borrow from all but people and dogs (Flickr8k's subjects,
        # whose boxes and scores are their own).
        self.every = np.asarray([r for c, rows in found.items() if c not in (PERSON, DOG) for r in rows], np.float32)
        self.samples = {c: np.asarray(rows, np.float32) for c, rows in found.items() if len(rows) >= self.MIN_SAMPLES}
        self.miss = {c: 1 - hits[c] / n for c, n in named.items() if n >= self.MIN_SAMPLES}
        self.global_miss = 1 - sum(hits.values()) / max(1, sum(named.values()))

    def make(self, text, base):
        """Detections [n, 6] of a text-only caption painted onto an image with detections base."""
        rows = [r for r in base[base[:, 4] >= self.min_score]]
        for cls, count in named_classes(text).items():
            have = sum(1 for r in rows if int(r[5]) == cls)
            pool = self.samples.get(cls, self.every)
            for _ in range(have, min(count, self.MAX_MADE_UP)):
                if random.random() < self.miss.get(cls, self.global_miss):
                    continue
                box = pool[random.randrange(len(pool))]
                rows.append(np.append(box, cls).astype(np.float32))
        out = np.asarray(rows, np.float32).reshape(-1, 6)
        return out[np.argsort(-out[:, 4], kind="stable")]
