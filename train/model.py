"""The caption decoder (docs/model.md is the specification; core/src/decoder.c is the
C implementation). Pre-LayerNorm transformer decoder over CLIP BPE tokens that attends
to the encoder's visual tokens:

    mem    = LN_v(g · W_vᵀ + b_v + row[r] + col[c])          [N = grid_h * grid_w, d]
             (with n_global = 1 a global token comes first, CLIP's class token, with its
             own position vector: mem_0 = LN_v(g_0 · W_vᵀ + b_v + global_pos))
    x_t    = E[y_t] + P[t]                                    [T, d]
    layer: x += SelfAttn(LN_1(x))          causal, H heads
           x += CrossAttn(LN_2(x), mem)    H heads
           x += W_2 · gelu(W_1 · LN_3(x) + b_1) + b_2
    logits = LN_f(x) · Eᵀ + b_out                              [T, V]

g is the grid rounded to f16 (as training stored it), gelu is the exact (erf) one,
attention is softmax(Q Kᵀ / sqrt(d / H)) V, every linear layer has a bias.

With det_max = K > 0 the memory also holds K detection tokens after the grid, one per
slot of the image's most confident detections (x0, y0, x1, y1, score, class), empty
slots a learned padding token:

    det_k  = LN_d(C[class_k] + W_b · f_k + b_b + Q[min(n_k, det_counts) - 1])    [K, d]
    empty  = LN_d(pad)
    f_k    = (x0, y0, x1, y1, centre x, centre y, width, height, area, score)
    n_k    = the number of the image's detections of class_k
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


DET_FEATURES = 10  # per detection: x0, y0, x1, y1, centre x, centre y, width, height, area, score


def box_features(dets):
    """[..., 6] detections -> [..., DET_FEATURES] box features (docs/model.md)."""
    x0, y0, x1, y1, score = dets[..., 0], dets[..., 1], dets[..., 2], dets[..., 3], dets[..., 4]
    w, h = x1 - x0, y1 - y0
    return torch.stack([x0, y0, x1, y1, (x0 + x1) / 2, (y0 + y1) / 2, w, h, w * h, score], -1)


class Config:
    def __init__(self, vocab_size, d_model=256, n_heads=8, n_layers=3, d_mlp=1024, max_len=32, grid_h=7, grid_w=7,
                 d_visual=1280, dropout=0.3, n_global=0, det_max=0, det_classes=80, det_counts=4,
                 det_min_score=0.3):
        self.vocab_size, self.d_model, self.n_heads, self.n_layers, self.d_mlp = vocab_size, d_model, n_heads, n_layers, d_mlp
        self.max_len, self.grid_h, self.grid_w, self.d_visual, self.dropout = max_len, grid_h, grid_w, d_visual, dropout
        self.n_global = n_global  # 1: a global visual token (CLIP's class token) precedes the grid
        # Detection tokens: at most det_max detections with score >= det_min_score, of
        # det_classes classes; det_counts count embeddings (1, 2, ..., det_counts or more).
        self.det_max, self.det_classes, self.det_counts = det_max, det_classes, det_counts
        self.det_min_score = det_min_score

    def to_dict(self):
        return dict(self.__dict__)


class Dropout(nn.Module):
    """Inverted dropout as nn.Dropout defines it (in training each value is kept with
    probability 1 - p and scaled by 1 / (1 - p); in evaluation the identity), with the mask
    drawn by torch.rand instead of bernoulli_: torch 1.13's bernoulli_ on CPU took 18% of a
    training step, this mask less than half of that (docs/experiments/decoder.md)."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        return x * ((torch.rand_like(x) >= self.p).to(x.dtype) * (1 / (1 - self.p)))


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.h = c.n_heads
        self.q, self.k, self.v, self.o = (nn.Linear(c.d_model, c.d_model) for _ in range(4))
        self.drop = Dropout(c.dropout)

    def forward(self, x, mem, causal, return_weights=False):
        return self.attend(self.q(x), self.k(mem), self.v(mem), causal, return_weights)

    def attend(self, q, k, v, causal, return_weights=False):
        """Projected queries q [B, T, D], keys and values k, v [B, S, D] -> the output
        projection of the attended values [B, T, D] (and the weights [B, H, T, S]); causal
        masks key s > query t (T = S)."""
        B, T, D = q.shape
        S = k.shape[1]
        hd = D // self.h
        q = q.view(B, T, self.h, hd).transpose(1, 2)              # [B, H, T, hd]
        k = k.view(B, S, self.h, hd).transpose(1, 2)              # [B, H, S, hd]
        v = v.view(B, S, self.h, hd).transpose(1, 2)
        if T == 1 and not self.training and not return_weights:
            # One query per row at inference (search and sampling, step): products summed over hd, then
            # weights times values summed over S. torch 1.13's CPU bmm runs one GEMM call per
            # batch row and head, which made these 160x8 matrix-vector products 1.6x slower.
            w = ((q * k).sum(-1) / math.sqrt(hd)).softmax(-1)     # [B, H, S]
            y = (w[..., None] * v).sum(-2).reshape(B, 1, D)       # [B, 1, D]
            return self.o(y), None
        att = q @ k.transpose(-1, -2) / math.sqrt(hd)             # [B, H, T, S]
        if causal:
            att = att.masked_fill(torch.ones(T, S, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
        w = att.softmax(-1)
        y = (self.drop(w) @ v).transpose(1, 2).reshape(B, T, D)
        return self.o(y), (w if return_weights else None)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.self_attn, self.cross_attn = Attention(c), Attention(c)
        self.fc1, self.fc2 = nn.Linear(c.d_model, c.d_mlp), nn.Linear(c.d_mlp, c.d_model)
        self.drop = Dropout(c.dropout)

    def forward(self, x, mem, return_weights=False):
        h = self.ln1(x)
        a, _ = self.self_attn(h, h, causal=True)
        x = x + self.drop(a)
        a, w = self.cross_attn(self.ln2(x), mem, causal=False, return_weights=return_weights)
        x = x + self.drop(a)
        x = x + self.drop(self.fc2(self.drop(F.gelu(self.fc1(self.ln3(x))))))
        return x, w

    def step(self, x, cache):
        """One new position x [B, 1, d] at inference (eval mode: no dropout), attending to the
        keys and values cached for the earlier positions and the memory (start_cache)."""
        h = self.ln1(x)
        cache["self_k"] = torch.cat([cache["self_k"], self.self_attn.k(h)], 1)  # [B, t + 1, d]
        cache["self_v"] = torch.cat([cache["self_v"], self.self_attn.v(h)], 1)
        x = x + self.self_attn.attend(self.self_attn.q(h), cache["self_k"], cache["self_v"], False)[0]
        x = x + self.cross_attn.attend(self.cross_attn.q(self.ln2(x)), cache["mem_k"], cache["mem_v"], False)[0]
        return x + self.fc2(F.gelu(self.fc1(self.ln3(x))))


class CaptionDecoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.visual = nn.Linear(c.d_visual, c.d_model)
        self.row = nn.Parameter(torch.zeros(c.grid_h, c.d_model))
        self.col = nn.Parameter(torch.zeros(c.grid_w, c.d_model))
        if c.n_global:
            self.global_pos = nn.Parameter(torch.zeros(c.n_global, c.d_model))
            nn.init.normal_(self.global_pos, std=0.02)
        self.ln_visual = nn.LayerNorm(c.d_model)
        if c.det_max:
            self.det_class = nn.Parameter(torch.randn(c.det_classes, c.d_model) * 0.02)
            self.det_box = nn.Linear(DET_FEATURES, c.d_model)
            self.det_count = nn.Parameter(torch.randn(c.det_counts, c.d_model) * 0.02)
            self.det_pad = nn.Parameter(torch.randn(c.d_model) * 0.02)
            self.ln_det = nn.LayerNorm(c.d_model)
        self.tok = nn.Embedding(c.vocab_size, c.d_model)
        self.pos = nn.Parameter(torch.zeros(c.max_len, c.d_model))
        self.layers = nn.ModuleList(Layer(c) for _ in range(c.n_layers))
        self.ln_f = nn.LayerNorm(c.d_model)
        self.out_bias = nn.Parameter(torch.zeros(c.vocab_size))
        self.drop = Dropout(c.dropout)
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.pos, std=0.02)
        nn.init.normal_(self.row, std=0.02)
        nn.init.normal_(self.col, std=0.02)

    def memory(self, grid, dets=None):
        """grid: [B, N, d_visual] (f16-rounded features; N = n_global + grid_h * grid_w) and,
        with det_max, dets [B, det_max, 6] (detection_slots) -> [B, N (+ det_max), d]."""
        c = self.config
        pos = (self.row[:, None, :] + self.col[None, :, :]).reshape(c.grid_h * c.grid_w, c.d_model)
        if c.n_global:
            pos = torch.cat([self.global_pos, pos])
        mem = self.ln_visual(self.visual(grid) + pos)
        if c.det_max:
            if dets is None:
                dets = torch.full((grid.shape[0], c.det_max, 6), -1.0)
            mem = torch.cat([mem, self.detection_tokens(dets)], 1)
        return self.drop(mem)

    def detection_tokens(self, dets):
        """dets [B, K, 6] (x0, y0, x1, y1, score, class; class -1: an empty slot) -> [B, K, d]."""
        c = self.config
        cls = dets[..., 5].long()                                                  # [B, K]
        present = cls >= 0
        same = (cls[:, :, None] == cls[:, None, :]) & present[:, None, :]          # [B, K, K]
        count = same.sum(-1).clamp(1, c.det_counts) - 1                           # [B, K]
        x = self.det_class[cls.clamp(min=0)] + self.det_box(box_features(dets)) + self.det_count[count]
        x = torch.where(present[..., None], x, self.det_pad.expand_as(x))
        return self.ln_det(x)

    def hidden(self, grid, tokens, return_weights=False, mem=None, dets=None):
        """tokens: [B, T] decoder-vocabulary ids (starting with the start token) ->
        final hidden states [B, T, d] (and per-layer cross-attention weights [B, H, T, N])."""
        if mem is None:
            mem = self.memory(grid, dets)
        T = tokens.shape[1]
        x = self.drop(self.tok(tokens) + self.pos[:T])
        weights = []
        for layer in self.layers:
            x, w = layer(x, mem, return_weights)
            weights.append(w)
        return x, weights

    def start_cache(self, mem):
        """Per layer: the cross-attention keys and values of the memory mem [B, N, d], computed
        once per caption, and empty self-attention keys and values ([B, 0, d])."""
        empty = mem.new_zeros(mem.shape[0], 0, self.config.d_model)
        return [{"mem_k": layer.cross_attn.k(mem), "mem_v": layer.cross_attn.v(mem), "self_k": empty, "self_v": empty}
                for layer in self.layers]

    @staticmethod
    def reorder_cache(cache, rows):
        """Keeps the cached rows listed in rows [B'] (in that order), e.g. the parents of the
        hypotheses a beam search step kept; a row may repeat."""
        for layer_cache in cache:
            for key, value in layer_cache.items():
                layer_cache[key] = value.index_select(0, rows)

    def step(self, tokens, t, cache):
        """Inference, one position at a time: the tokens [B] at position t (after the t
        tokens already in cache) -> logits [B, V] of the next token; cache grows by one."""
        x = (self.tok(tokens) + self.pos[t])[:, None, :]          # [B, 1, d]
        for layer, layer_cache in zip(self.layers, cache):
            x = layer.step(x, layer_cache)
        return self.project(x[:, 0])

    def project(self, x):
        """Hidden states [..., d] -> logits [..., V] (the tied output layer)."""
        return self.ln_f(x) @ self.tok.weight.t() + self.out_bias

    def forward(self, grid, tokens, return_weights=False, mem=None, dets=None):
        """Logits [B, T, V] (and the cross-attention weights with return_weights)."""
        x, weights = self.hidden(grid, tokens, return_weights, mem, dets)
        logits = self.project(x)
        return (logits, weights) if return_weights else logits
