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
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Config:
    def __init__(self, vocab_size, d_model=256, n_heads=8, n_layers=3, d_mlp=1024, max_len=32, grid_h=7, grid_w=7,
                 d_visual=1280, dropout=0.3, n_global=0):
        self.vocab_size, self.d_model, self.n_heads, self.n_layers, self.d_mlp = vocab_size, d_model, n_heads, n_layers, d_mlp
        self.max_len, self.grid_h, self.grid_w, self.d_visual, self.dropout = max_len, grid_h, grid_w, d_visual, dropout
        self.n_global = n_global  # 1: a global visual token (CLIP's class token) precedes the grid

    def to_dict(self):
        return dict(self.__dict__)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.h = c.n_heads
        self.q, self.k, self.v, self.o = (nn.Linear(c.d_model, c.d_model) for _ in range(4))
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x, mem, causal, return_weights=False):
        B, T, D = x.shape
        S = mem.shape[1]
        hd = D // self.h
        q = self.q(x).view(B, T, self.h, hd).transpose(1, 2)      # [B, H, T, hd]
        k = self.k(mem).view(B, S, self.h, hd).transpose(1, 2)    # [B, H, S, hd]
        v = self.v(mem).view(B, S, self.h, hd).transpose(1, 2)
        att = q @ k.transpose(-1, -2) / math.sqrt(hd)             # [B, H, T, S]
        if causal:
            att = att.masked_fill(torch.ones(T, S, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
        w = att.softmax(-1)
        y = (self.drop(w) @ v).transpose(1, 2).reshape(B, T, D)
        return self.o(y), (w if return_weights else None)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.self_attn, self.cross_attn = Attention(c), Attention(c)
        self.fc1, self.fc2 = nn.Linear(c.d_model, c.d_mlp), nn.Linear(c.d_mlp, c.d_model)
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x, mem, return_weights=False):
        h = self.ln1(x)
        a, _ = self.self_attn(h, h, causal=True)
        x = x + self.drop(a)
        a, w = self.cross_attn(self.ln2(x), mem, causal=False, return_weights=return_weights)
        x = x + self.drop(a)
        x = x + self.drop(self.fc2(self.drop(F.gelu(self.fc1(self.ln3(x))))))
        return x, w


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
        self.tok = nn.Embedding(c.vocab_size, c.d_model)
        self.pos = nn.Parameter(torch.zeros(c.max_len, c.d_model))
        self.layers = nn.ModuleList(Layer(c) for _ in range(c.n_layers))
        self.ln_f = nn.LayerNorm(c.d_model)
        self.out_bias = nn.Parameter(torch.zeros(c.vocab_size))
        self.drop = nn.Dropout(c.dropout)
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.pos, std=0.02)
        nn.init.normal_(self.row, std=0.02)
        nn.init.normal_(self.col, std=0.02)

    def memory(self, grid):
        """grid: [B, N, d_visual] (f16-rounded features; N = n_global + grid_h * grid_w) -> [B, N, d]."""
        c = self.config
        pos = (self.row[:, None, :] + self.col[None, :, :]).reshape(c.grid_h * c.grid_w, c.d_model)
        if c.n_global:
            pos = torch.cat([self.global_pos, pos])
        return self.drop(self.ln_visual(self.visual(grid) + pos))

    def hidden(self, grid, tokens, return_weights=False, mem=None):
        """tokens: [B, T] decoder-vocabulary ids (starting with the start token) ->
        final hidden states [B, T, d] (and per-layer cross-attention weights [B, H, T, N])."""
        if mem is None:
            mem = self.memory(grid)
        T = tokens.shape[1]
        x = self.drop(self.tok(tokens) + self.pos[:T])
        weights = []
        for layer in self.layers:
            x, w = layer(x, mem, return_weights)
            weights.append(w)
        return x, weights

    def project(self, x):
        """Hidden states [..., d] -> logits [..., V] (the tied output layer)."""
        return self.ln_f(x) @ self.tok.weight.t() + self.out_bias

    def forward(self, grid, tokens, return_weights=False, mem=None):
        """Logits [B, T, V] (and the cross-attention weights with return_weights)."""
        x, weights = self.hidden(grid, tokens, return_weights, mem)
        logits = self.project(x)
        return (logits, weights) if return_weights else logits
