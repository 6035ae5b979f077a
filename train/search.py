"""Greedy and beam search over the decoder, as docs/model.md specifies them (the C
engine implements the same rules, tie-breaks included, so their captions agree).

Greedy: the highest-probability token (lowest id on ties) until the end token or
max_tokens generated tokens.

Beam (width B, length exponent alpha): every step, each live hypothesis h (sum of log
probabilities s_h, n_h tokens so far) proposes all V tokens with s_h + log p(v). Walking
the candidates from the best (ties: lower hypothesis index, then lower token id), an end
token finishes its hypothesis with score (s_h + log p) / (n_h + 1)^alpha, any other
token extends it, until B hypotheses are live. Search stops once B hypotheses have
finished or after max_tokens steps (live ones then finish as they are, scored
s / n^alpha). The caption is the finished hypothesis with the best score (the first
finished on ties).

Concept guidance (concepts.py): `bias` [V] (greedy: [B, V]) is added to the logits
before the softmax, except at tokens the hypothesis already holds.
"""
import torch

from data import END, START


@torch.no_grad()
def greedy(model, grid, max_tokens=20, bias=None, dets=None):
    """grid: [B, N, C] (and dets, its detection slots [B, K, 6]) -> list of token-id lists
    (end token excluded)."""
    model.eval()
    unused = torch.ones(grid.shape[0], model.config.vocab_size)  # [B, V]: 1 where the caption lacks the token

    def most_probable(logits):
        if bias is not None:
            logits = logits + bias * unused
        nxt = logits.argmax(-1)  # first maximum: the lowest id on ties
        unused[torch.arange(len(nxt)), nxt] = 0
        return nxt

    return until_end(decode(model, model.memory(grid, dets), max_tokens, most_probable)[:, 1:].tolist())


def until_end(rows):
    """Token-id lists cut before their first end token (whole when there is none)."""
    return [row[:row.index(END)] if END in row else row for row in rows]


@torch.no_grad()
def sample(model, mem, max_tokens=20):
    """Captions drawn from the model's distribution (temperature 1), one per row of the
    visual memory mem [B, N, d] -> [B, 1 + T] ids (as decode)."""
    return decode(model, mem, max_tokens, lambda logits: torch.multinomial(logits.float().softmax(-1), 1)[:, 0])


def decode(model, mem, max_tokens, choose):
    """The token loop of greedy and sample: from the start token, one position at a time
    over cached keys and values, choose(logits [B, V]) -> the next tokens [B], until every
    row has its end token or max_tokens. mem: [B, N, d] -> [B, 1 + T] ids: the start
    token, then the chosen tokens; after a row's end token only end tokens."""
    tokens = torch.full((mem.shape[0], 1), START, dtype=torch.long)
    done = torch.zeros(mem.shape[0], dtype=torch.bool)
    cache = model.start_cache(mem)
    for t in range(max_tokens):
        nxt = choose(model.step(tokens[:, -1], t, cache))
        nxt[done] = END
        tokens = torch.cat([tokens, nxt[:, None]], 1)
        done |= nxt == END
        if done.all():
            break
    return tokens


@torch.no_grad()
def beam(model, grid1, width=3, max_tokens=20, alpha=1.0, bias=None, dets1=None):
    """One image (grid1: [1, N, C], dets1: [1, K, 6] or None) -> token ids of the best hypothesis."""
    model.eval()
    cache = model.start_cache(model.memory(grid1, dets1))  # one row per live hypothesis
    live = [([], 0.0)]  # (tokens, sum of log p)
    finished = []       # (normalized score, tokens)
    for step in range(max_tokens):
        last = torch.tensor([t[-1] if t else START for t, _ in live], dtype=torch.long)
        logits = model.step(last, step, cache).float()             # [live, V]
        if bias is not None:
            b = bias.expand(len(live), -1).clone()
            for i, (t, _) in enumerate(live):
                b[i, t] = 0
            logits = logits + b
        logp = logits.log_softmax(-1)
        scores = torch.tensor([s for _, s in live], dtype=torch.float32)[:, None] + logp  # [live, V]
        flat = scores.reshape(-1)
        # The walk below keeps at most `width` extensions and meets at most one end token per
        # hypothesis, so only candidates scoring at least the (width + live)-th best can be
        # reached; those (ties included) in descending score, the stable sort keeping
        # (hypothesis, token) order on ties.
        threshold = flat.topk(min(width + len(live), flat.numel())).values[-1]
        reachable = (flat >= threshold).nonzero()[:, 0]
        order = reachable[torch.sort(flat[reachable], descending=True, stable=True).indices].tolist()
        V = scores.shape[1]
        new_live, parents = [], []
        for idx in order:
            h, v = divmod(idx, V)
            tokens, s = live[h][0], flat[idx].item()
            if v == END:
                finished.append((s / (len(tokens) + 1) ** alpha, tokens))
            else:
                new_live.append((tokens + [v], s))
                parents.append(h)
            if len(new_live) == width:
                break
        live = new_live
        if len(finished) >= width:
            break
        model.reorder_cache(cache, torch.tensor(parents, dtype=torch.long))
    else:
        for tokens, s in live:
            finished.append((s / max(len(tokens), 1) ** alpha, tokens))
    best = max(range(len(finished)), key=lambda i: (finished[i][0], -i))
    return finished[best][1]
