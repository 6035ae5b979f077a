"""Caption metrics: corpus BLEU-1..4 over all references (Papineni et al.; checked
against nltk's corpus_bleu in tests) and CIDEr-D (Vedantam et al.; the coco-caption
implementation: sigma 6, clipped tf-idf n-grams 1-4, idf from the reference set, x10).
Text is lowercased and punctuation stripped first."""
import math
import re
from collections import Counter, defaultdict


def words(text):
    return re.sub(r"[^\w\s]|_", " ", text.lower()).split()


def ngrams(ws, n):
    return Counter(tuple(ws[i:i + n]) for i in range(len(ws) - n + 1))


def bleu(hyps, refs_list, max_n=4):
    """hyps: [text]; refs_list: [[text]] -> [BLEU-1, ..., BLEU-max_n] (cumulative)."""
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for hyp, refs in zip(hyps, refs_list):
        h = words(hyp)
        rs = [words(r) for r in refs]
        hyp_len += len(h)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in rs)[1]  # closest, shorter on ties
        for n in range(1, max_n + 1):
            hc = ngrams(h, n)
            best = Counter()
            for r in rs:
                best |= ngrams(r, n)
            matches[n - 1] += sum(min(c, best[g]) for g, c in hc.items())
            totals[n - 1] += max(len(h) - n + 1, 1)  # as nltk: a too-short caption counts one
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / max(hyp_len, 1))
    scores, log_sum = [], 0.0
    for n in range(max_n):
        if matches[n] == 0:
            scores.append(0.0)
            log_sum = float("-inf")
            continue
        log_sum += math.log(matches[n] / totals[n])
        scores.append(bp * math.exp(log_sum / (n + 1)) if log_sum > float("-inf") else 0.0)
    return scores


def _cider_vec(counts, df, log_n_images):
    vec = [defaultdict(float) for _ in range(4)]
    norm = [0.0] * 4
    length = 0
    for g, tf in counts.items():
        n = len(g) - 1
        vec[n][g] = tf * (log_n_images - math.log(max(1.0, df[g])))
        norm[n] += vec[n][g] ** 2
        if n == 1:  # coco-caption counts bigrams as the length
            length += tf
    return vec, [math.sqrt(x) for x in norm], length


def _all_ngrams(text):
    ws = words(text)
    c = Counter()
    for n in range(1, 5):
        c.update(ngrams(ws, n))
    return c


class CiderD:
    """CIDEr-D of single captions against a fixed reference set (idf from that set); the
    reward of self-critical training (train.py --scst) and the corpus metric below."""

    def __init__(self, refs_list, sigma=6.0):
        ref_counts = [[_all_ngrams(r) for r in refs] for refs in refs_list]
        self.df = Counter()
        for rc in ref_counts:
            self.df.update(set(g for c in rc for g in c))
        self.log_n = math.log(float(len(refs_list)))
        self.sigma = sigma
        self.refs = [[_cider_vec(c, self.df, self.log_n) for c in rc] for rc in ref_counts]

    def score(self, hyp, i):
        """CIDEr-D of caption hyp against the references of image i."""
        vh, nh, lh = _cider_vec(_all_ngrams(hyp), self.df, self.log_n)
        score = [0.0] * 4
        for vr, nr, lr in self.refs[i]:
            delta = float(lh - lr)
            for n in range(4):
                val = sum(min(vh[n][g], vr[n][g]) * vr[n][g] for g in vh[n])
                if nh[n] != 0 and nr[n] != 0:
                    val /= nh[n] * nr[n]
                score[n] += val * math.exp(-(delta ** 2) / (2 * self.sigma ** 2))
        return sum(score) / 4 / len(self.refs[i]) * 10.0


def cider_d(hyps, refs_list, sigma=6.0):
    """Mean CIDEr-D over images."""
    scorer = CiderD(refs_list, sigma)
    return sum(scorer.score(h, i) for i, h in enumerate(hyps)) / len(hyps)


def score_all(hyps, refs_list):
    b = bleu(hyps, refs_list)
    return {"bleu1": b[0], "bleu2": b[1], "bleu3": b[2], "bleu4": b[3], "cider_d": cider_d(hyps, refs_list)}
