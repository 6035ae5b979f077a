#!/usr/bin/python3
"""CLIP's byte-level BPE tokenizer in Python, with the semantics of the C tokenizer
(core/src/bpe.c, docs/tokenizer.md): OpenAI's simple_tokenizer without ftfy. Used by
training to turn captions into ids; tests/test_clip_bpe_py.py holds it to the same
golden file as the C code.

    tok = ClipBPE("../shared/vocab/bpe_simple_vocab_16e6.txt.gz")
    ids = tok.encode("A dog runs.")      # [320, 1929, 5586, 269]
    tok.decode(ids)                      # "a dog runs . "
"""
import gzip
import html
import re
import unicodedata

SOT, EOT = "<|startoftext|>", "<|endoftext|>"
CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _is_letter(c):
    return unicodedata.category(c).startswith("L")


def _is_number(c):
    return unicodedata.category(c).startswith("N")


# CLIP's pattern for ASCII text: there \p{L} is [a-z] (the text is lowercased by clean())
# and \p{N} is [0-9]; regex alternation tries the branches in the order pre_tokenize does.
_ASCII_PATTERN = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+")


def pre_tokenize(text):
    """CLIP's pattern <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|
    [^\\s\\p{L}\\p{N}]+, scanned left to right (lowercase ASCII text, nearly every
    caption, by the same pattern as a regular expression: several times faster)."""
    if text.isascii() and text.lower() == text:
        return _ASCII_PATTERN.findall(text)
    return scan(text)


def scan(text):
    """pre_tokenize for any text, one character at a time."""
    pieces, i, n = [], 0, len(text)
    while i < n:
        for special in (SOT, EOT):
            if text.startswith(special, i):
                pieces.append(special)
                i += len(special)
                break
        else:
            c = text[i]
            contraction = next((f for f in CONTRACTIONS if text.startswith(f, i)), None)
            if contraction:
                j = i + len(contraction)
            elif _is_letter(c):
                j = i + 1
                while j < n and _is_letter(text[j]):
                    j += 1
            elif _is_number(c):
                j = i + 1
            elif not c.isspace():
                j = i + 1
                while j < n and not (text[j].isspace() or _is_letter(text[j]) or _is_number(text[j])):
                    j += 1
            else:
                i += 1
                continue
            pieces.append(text[i:j])
            i = j
    return pieces


class ClipBPE:
    def __init__(self, merges_path):
        opener = gzip.open if merges_path.endswith(".gz") else open
        with opener(merges_path, "rb") as f:
            lines = f.read().decode("utf-8").split("\n")
        merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        vocab = list(self.byte_encoder.values())
        vocab += [v + "</w>" for v in vocab]
        vocab += ["".join(m) for m in merges]
        vocab += [SOT, EOT]
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.ranks = dict(zip(merges, range(len(merges))))
        self.cache = {SOT: SOT, EOT: EOT}
        self.sot, self.eot = self.encoder[SOT], self.encoder[EOT]

    def _bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        self.cache[token] = word
        return word

    @staticmethod
    def clean(text):
        text = html.unescape(html.unescape(text)).strip()
        return " ".join(text.split()).lower()

    def encode(self, text):
        ids = []
        for piece in pre_tokenize(self.clean(text)):
            if piece in (SOT, EOT):
                ids.append(self.encoder[piece])
                continue
            encoded = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self._bpe(encoded))
        return ids

    def token_bytes(self, i):
        """The raw bytes of token i, with its end-of-word mark as a trailing space."""
        t = self.decoder[i]
        if t in (SOT, EOT):
            return t.encode()
        end = t.endswith("</w>")
        return bytes(self.byte_decoder[c] for c in (t[:-4] if end else t)) + (b" " if end else b"")

    def decode(self, ids):
        text = "".join(self.decoder[i] for i in ids)
        return bytearray(self.byte_decoder[c] for c in text).decode("utf-8", "replace").replace("</w>", " ")
