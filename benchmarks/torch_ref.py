"""Reference PyTorch (CPU) implementations of makemore's `rnn`, `gru` and `transformer`, for benchmarks only.

The models follow karpathy/makemore's definitions: a token embedding (n_embd),
a learned starting hidden state, a cell applied step by step over the
embedded sequence (the `rnn` cell is ``h = tanh(W [x; h] + b)``; the `gru`
cell has reset and update gates and a candidate computed from ``[x; r * h]``),
and a linear head; the `transformer` is makemore's (GPT-2 blocks: pre-LayerNorm,
causal self-attention, a 4x MLP with the tanh GELU; 4 layers, 4 heads, 64
embedding, ~200k parameters). Batches are padded to makemore's block size (longest name
+ 1) with targets -1 ignored; AdamW with makemore's settings. torch is a
benchmark dependency only: `pip install torch==2.13.0`.

    python benchmarks/torch_ref.py --cell rnn --mode steps --steps 300
    python benchmarks/torch_ref.py --cell transformer --mode steps --steps 300
    python benchmarks/torch_ref.py --cell gru --mode train --seconds 300 --train train.txt --test test.txt

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RNNCell(nn.Module):
    def __init__(self, n_embd, n_embd2):
        super().__init__()
        self.xh_to_h = nn.Linear(n_embd + n_embd2, n_embd2)

    def forward(self, xt, hprev):
        return torch.tanh(self.xh_to_h(torch.cat([xt, hprev], dim=1)))


class GRUCell(nn.Module):
    def __init__(self, n_embd, n_embd2):
        super().__init__()
        self.xh_to_z = nn.Linear(n_embd + n_embd2, n_embd2)
        self.xh_to_r = nn.Linear(n_embd + n_embd2, n_embd2)
        self.xh_to_hbar = nn.Linear(n_embd + n_embd2, n_embd2)

    def forward(self, xt, hprev):
        xh = torch.cat([xt, hprev], dim=1)
        r = torch.sigmoid(self.xh_to_r(xh))
        hbar = torch.tanh(self.xh_to_hbar(torch.cat([xt, r * hprev], dim=1)))
        z = torch.sigmoid(self.xh_to_z(xh))
        return (1 - z) * hprev + z * hbar


class RecurrentLM(nn.Module):
    def __init__(self, cell, vocab_size, n_embd=64, n_embd2=64):
        super().__init__()
        self.start = nn.Parameter(torch.zeros(1, n_embd2))
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.cell = {"rnn": RNNCell, "gru": GRUCell}[cell](n_embd, n_embd2)
        self.lm_head = nn.Linear(n_embd2, vocab_size)

    def forward(self, idx, targets):
        b, t = idx.size()
        emb = self.wte(idx)
        h = self.start.expand((b, -1))
        hs = []
        for i in range(t):
            h = self.cell(emb[:, i, :], h)
            hs.append(h)
        logits = self.lm_head(torch.stack(hs, 1))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


class NewGELU(nn.Module):
    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, block):
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.register_buffer("bias", torch.tril(torch.ones(block, block)).view(1, 1, block, block))
        self.n_head, self.n_embd = n_head, n_embd

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, block):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, block)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), NewGELU(), nn.Linear(4 * n_embd, n_embd))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, vocab_size, block, n_layer=4, n_head=4, n_embd=64):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab_size, n_embd), nn.Embedding(block, n_embd)
        self.h = nn.ModuleList([Block(n_embd, n_head, block) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

    def forward(self, idx, targets):
        t = idx.size(1)
        x = self.wte(idx) + self.wpe(torch.arange(t, dtype=torch.long).unsqueeze(0))
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


def load(path):
    with open(path, encoding="utf-8") as f:
        return [w.strip() for w in f.read().splitlines() if w.strip()]


def encode(words, stoi, block):
    X = torch.zeros(len(words), block, dtype=torch.long)
    Y = torch.full((len(words), block), -1, dtype=torch.long)
    for i, w in enumerate(words):
        ix = torch.tensor([stoi[c] for c in w], dtype=torch.long)
        X[i, 1 : 1 + len(w)] = ix
        Y[i, : len(w)] = ix
        Y[i, len(w)] = 0
    return X, Y


@torch.no_grad()
def nll_per_char(model, X, Y):
    """Mean NLL per predicted symbol over the whole set (end token included)."""
    total, count = 0.0, 0
    for i in range(0, X.size(0), 500):
        x, y = X[i : i + 500], Y[i : i + 500]
        n = int((y >= 0).sum())
        total += float(model(x, y)) * n
        count += n
    return total / count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cell", choices=["rnn", "gru", "transformer"], default="rnn")
    ap.add_argument("--mode", choices=["steps", "train"], default="steps")
    ap.add_argument("--train", required=True)
    ap.add_argument("--test")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--target", type=float, default=2.05)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=3407)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    words = load(args.train)
    chars = sorted(set("".join(words)))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    block = max(len(w) for w in words) + 1
    X, Y = encode(words, stoi, block)
    test_block = max(len(w) for w in load(args.test)) + 1 if args.test else block
    if args.cell == "transformer":
        model = Transformer(len(chars) + 1, max(block, test_block))
    else:
        model = RecurrentLM(args.cell, len(chars) + 1)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01, betas=(0.9, 0.99), eps=1e-8)
    gen = torch.Generator().manual_seed(args.seed)

    def train_step():
        ix = torch.randint(0, X.size(0), (args.batch_size,), generator=gen)
        loss = model(X[ix], Y[ix])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    out = {"impl": f"torch-{args.cell}", "torch": torch.__version__, "threads": torch.get_num_threads(),
           "params": sum(p.numel() for p in model.parameters()), "block": block}
    if args.mode == "steps":
        for _ in range(30):
            train_step()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            train_step()
        out["ms_per_step"] = (time.perf_counter() - t0) / args.steps * 1e3
    else:
        Xt, Yt = encode(load(args.test), stoi, max(block, test_block))
        train_time, step, best, reached = 0.0, 0, math.inf, None
        curve = []
        while train_time < args.seconds:
            t0 = time.perf_counter()
            for _ in range(args.eval_every):
                train_step()
            step += args.eval_every
            train_time += time.perf_counter() - t0
            nll = nll_per_char(model, Xt, Yt)
            curve.append((round(train_time, 2), step, nll))
            best = min(best, nll)
            if reached is None and nll <= args.target:
                reached = train_time
        out.update(best_nll=best, seconds_to_target=reached, target=args.target, steps=step,
                   train_seconds=train_time, ms_per_step=train_time / step * 1e3, curve=curve)
    from peakrss import peak_rss_mb

    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
