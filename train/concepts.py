"""Concept guidance (docs/model.md, "Concept guidance"): the encoder's ImageNet head names
what it sees (tabby, Egyptian cat, school bus, pizza...). Each class maps to at most one
decoder word, and while decoding, that word's logit gets a bonus beta * p(class) for the
classes with p >= tau, until the hypothesis contains it. It lets a decoder trained on
Flickr8k say "cat" for a cat, a word it knows but rarely needs.

Mapping (from the labels and the training captions only): a class that is a kind of one of
COCO's 80 object categories takes that category's everyday words (coco_words.tsv:
washbasin -> sink, airliner -> airplane, goldfinch -> bird); any other class, the last
words (head nouns) of its synonyms. Of those that are whole words of the decoder
vocabulary, the one most frequent in the training captions wins ("Egyptian cat" -> cat;
"tabby, tabby cat" -> cat). Classes that are often the top class
of Flickr8k training images, but whose word rarely appears in those images' captions
(dog breeds: people write "dog", not "retriever"), are left unmapped.
"""
import os

import numpy as np

COCO_WORDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "coco_words.tsv")

# A class that is the top class of at least MIN_IMAGES training images keeps its word
# only if the word is in the captions of at least MIN_SHARE of them.
MIN_IMAGES = 5
MIN_SHARE = 0.25


def classifier(encoder_file):
    """(W [classes, channels], b [classes], scale, labels) of the encoder's classifier head."""
    m, t = encoder_file.meta, encoder_file.tensors
    op = m["encoder.logits"] - 1  # value v is written by op v-1
    w = t["encoder.op.%d.weight" % op].array()
    b = t["encoder.op.%d.bias" % op].array()
    return w, b, float(m.get("encoder.op.%d.output_scale" % op, 1.0)), list(m["encoder.labels"])


def class_probs(grids, head):
    """Softmax of the classifier over the mean of each f16 grid: [N, classes]."""
    w, b, scale, _ = head
    pooled = np.asarray(grids, dtype=np.float32).mean(axis=1)
    logits = scale * (pooled @ w.T + b)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def _label_text(label):
    return label.decode("utf-8") if isinstance(label, bytes) else label


def coco_words(path=COCO_WORDS):
    """{first synonym of an ImageNet label: [words of its COCO category]}."""
    table = {}
    for line in open(path, encoding="utf-8"):
        if line.strip() and not line.startswith("#"):
            label, words = line.rstrip("\n").split("\t")
            table[label] = words.split()
    return table


def word_counts(caps, train_names, text_captions):
    """How often each word occurs in the training text (Flickr8k training captions and the
    text-only captions): a word map prefers the word people write most."""
    counts = {}
    for cap in [c for n in train_names for c in caps[n]] + list(text_captions):
        for w in cap.lower().replace(".", " ").split():
            counts[w] = counts.get(w, 0) + 1
    return counts


def whole_word_tokens(vocab):
    """{word: decoder id} for the vocabulary tokens that are a whole word (a word end)."""
    word_token = {}
    for i, cid in enumerate(vocab.clip_ids[2:], start=2):
        text = vocab.tokenizer.token_bytes(cid).decode("utf-8", "replace")
        if text.endswith(" "):
            word_token[text.strip()] = i
    return word_token


def concept_tokens(labels, vocab, caps, train_probs, train_names, text_captions=()):
    """Decoder token id per class, or -1. Head nouns are ranked by their frequency in the
    Flickr8k training captions and the text-only captions the decoder was trained on."""
    counts = word_counts(caps, train_names, text_captions)
    word_token = whole_word_tokens(vocab)
    category_words = coco_words()
    tokens = np.full(len(labels), -1, dtype=np.int64)
    for c, label in enumerate(labels):
        text = _label_text(label)
        if text == "background":
            continue
        heads = [h for h in category_words.get(text.split(",")[0].strip(), []) if h in word_token]
        if not heads:
            heads = [s.strip().lower().replace("'", "").split()[-1] for s in text.split(",") if s.strip()]
            heads = [h for h in heads if h in word_token]
        if heads:
            tokens[c] = word_token[max(heads, key=lambda h: counts.get(h, 0))]
    top = train_probs.argmax(axis=1)
    for c in np.unique(top):
        images = [n for n, t in zip(train_names, top) if t == c]
        if tokens[c] < 0 or len(images) < MIN_IMAGES:
            continue
        word = vocab.tokenizer.token_bytes(vocab.clip_ids[tokens[c]]).decode("utf-8").strip()
        share = np.mean([any(word in cap.lower().replace(".", " ").split() for cap in caps[n]) for n in images])
        if share < MIN_SHARE:
            tokens[c] = -1
    return tokens


def concept_bias(probs, tokens, vocab_size, beta, tau):
    """The logit bonus per decoder token for one image: [V] float32."""
    bias = np.zeros(vocab_size, dtype=np.float32)
    for c in np.nonzero((probs >= tau) & (tokens >= 0))[0]:
        bias[tokens[c]] += np.float32(beta * probs[c])
    return bias


def detection_concept_tokens(vocab, caps, train_names, text_captions=()):
    """Decoder token id per COCO category of the detector (docs/model.md, "Concept
    guidance"), or -1: of the category's words (detections.WORDS) that are whole words of
    the vocabulary, the one most frequent in the training text. People are left to the
    decoder ("man", "girl", "people" depend on more than a box)."""
    import detections
    counts = word_counts(caps, train_names, text_captions)
    word_token = whole_word_tokens(vocab)
    tokens = np.full(len(detections.CLASSES), -1, dtype=np.int64)
    for c, name in enumerate(detections.CLASSES):
        words = [w for w in detections.WORDS[name].split() if w in word_token]
        if c != detections.PERSON and words:
            tokens[c] = word_token[max(words, key=lambda w: counts.get(w, 0))]
    return tokens


def detection_bias(dets, tokens, vocab_size, beta, tau):
    """The logit bonus per decoder token from one image's detection slots [K, 6]: beta
    times the best score of each category with a word and a detection scoring >= tau."""
    bias = np.zeros(vocab_size, dtype=np.float32)
    best = {}
    for x0, y0, x1, y1, score, cls in dets:
        c = int(cls)
        if c >= 0 and score >= tau and tokens[c] >= 0:
            best[c] = max(best.get(c, 0.0), float(score))
    for c, score in best.items():
        bias[tokens[c]] += np.float32(beta * np.float32(score))
    return bias


def main():
    """Writes the concept map and its strength into a decoder .capt file (in place)."""
    import argparse
    import os
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "tools"))
    import data
    from captfile import CaptWriter, read_capt
    from clip_bpe import ClipBPE
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--decoder", required=True, help="decoder .capt (rewritten with decoder.concept_*)")
    ap.add_argument("--encoder", required=True, help="the encoder .capt whose classifier names the classes")
    ap.add_argument("--features", required=True, help="Flickr8k features (capt features): the training images' classes")
    ap.add_argument("--text", nargs="*", default=[], help="the text-only corpora the decoder was trained on "
                                                              "(train.py --text)")
    ap.add_argument("--beta", type=float, default=6.0)
    ap.add_argument("--tau", type=float, default=0.3)
    ap.add_argument("--det-beta", type=float, default=0.0, help="guidance strength of the detected COCO categories "
                                                                 "(a decoder with detection tokens; 0: none)")
    ap.add_argument("--det-tau", type=float, default=0.3, help="the least detection score that guides")
    args = ap.parse_args()
    dec = read_capt(args.decoder)
    vocab = data.Vocab(list(dec.meta["decoder.vocab"]), ClipBPE(data.MERGES))
    head = classifier(read_capt(args.encoder))
    feats, rows = data.load_features(args.features)
    caps, train = data.load_captions(), data.load_split("train")
    text = [cap for c in args.text for cap in data.text_corpus_captions(c)]
    tokens = concept_tokens(head[3], vocab, caps, class_probs(np.stack([feats[rows[n]] for n in train]), head), train,
                            text)
    w = CaptWriter()
    for key, value in dec.meta.items():
        if not key.startswith(("decoder.concept_", "decoder.det_concept_")):
            w.add_meta(key, value)
    w.add_meta("decoder.concept_token", [int(t) for t in tokens])
    w.add_meta("decoder.concept_beta", float(args.beta))
    w.add_meta("decoder.concept_tau", float(args.tau))
    if dec.meta.get("decoder.det_max", 0):
        det_tokens = detection_concept_tokens(vocab, caps, train, text)
        w.add_meta("decoder.det_concept_token", [int(t) for t in det_tokens])
        w.add_meta("decoder.det_concept_beta", float(args.det_beta))
        w.add_meta("decoder.det_concept_tau", float(args.det_tau))
        print("%d of %d detector categories name a decoder word; beta %g, tau %g" % (
            int((det_tokens >= 0).sum()), len(det_tokens), args.det_beta, args.det_tau))
    for t in dec.tensors.values():
        w.add_tensor_raw(t.name, t.raw, t.dtype, t.shape)
    w.write(args.decoder)
    print("%s: %d of %d classes name a decoder word; beta %g, tau %g" % (args.decoder, int((tokens >= 0).sum()),
                                                                       len(tokens), args.beta, args.tau))


if __name__ == "__main__":
    main()
