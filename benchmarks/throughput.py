"""Speed measurements of namesmith's training engine and sampler (one JSON object on stdout).

    python benchmarks/throughput.py seed --iterations 20000        # the notebook's algorithm
    python benchmarks/throughput.py step --model rnn --hidden 50 --embed 0 --batch 32 --optimizer sgd
    python benchmarks/throughput.py flops --hidden 256 --batch 1024 # achieved FLOP/s vs matmul peak
    python benchmarks/throughput.py sample --model M.npz -n 10000  # names per second
    python benchmarks/throughput.py peak                           # float32/float64 matmul peak

All on names-ssa2018/train.txt (read from ../shared).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("NAMESMITH_SHARED", HERE.parent.parent / "shared"))
TRAIN = SHARED / "data" / "names-ssa2018" / "train.txt"


from namesmith.runtime import keep_freed_memory  # noqa: E402

keep_freed_memory()  # as the namesmith command does


def rss_mb() -> float:
    from peakrss import peak_rss_mb

    return peak_rss_mb()


def data():
    from namesmith.corpus import read_corpus
    from namesmith.vocab import Vocab

    corpus = read_corpus(TRAIN)
    vocab = Vocab.from_names(corpus.names)
    encoded = [vocab.encode(n) for n in corpus.names]
    return vocab, encoded


def matmul_peak(dtype, n=2048, reps=5) -> float:
    a = np.random.default_rng(0).random((n, n)).astype(dtype)
    b = np.random.default_rng(1).random((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    np.matmul(a, b, out=out)
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def cmd_peak(args):
    return {"float32_gflops": matmul_peak(np.float32) / 1e9, "float64_gflops": matmul_peak(np.float64) / 1e9,
            "n": 2048}


def cmd_seed(args):
    from namesmith.recipes.seed import train_seed

    r = train_seed(TRAIN, iterations=args.iterations, log_every=0, write=lambda s: None)
    return {"iterations": args.iterations, "seconds": r.seconds, "chars": r.chars,
            "chars_per_s": r.chars / r.seconds, "peak_rss_mb": rss_mb()}


def _engine(args, vocab, encoded):
    from namesmith.batch import batch_order, make_batch
    from namesmith.models import MODELS
    from namesmith.optim import clip_by_global_norm, clip_by_value, make_optimizer

    cls = MODELS[args.model]
    given = {"hidden": args.hidden, "embed": args.embed, "learn_h0": args.learn_h0, "layers": args.layers,
             "heads": args.heads, "block": args.block}
    cfg = {"vocab_size": vocab.size, "dtype": args.dtype,
           **{k: v for k, v in given.items() if k in cls.defaults and v is not None}}
    model = cls.create(cfg, np.random.default_rng(0))
    if args.optimizer == "sgd":
        opt = make_optimizer("sgd")
    else:
        opt = make_optimizer(args.optimizer, betas=(0.9, 0.99), weight_decay=args.weight_decay)
    opt.bind(model.params)
    lengths = np.array([len(e) for e in encoded])
    order = batch_order(lengths, args.batch, np.random.default_rng(0), bucket=not args.no_bucket)
    dtype = np.float32 if args.dtype == "float32" else np.float64
    batches = [make_batch([encoded[i] for i in idx], dtype=dtype) for idx in order[: args.steps + args.warmup]]
    while len(batches) < args.steps + args.warmup:
        batches += batches[: args.steps + args.warmup - len(batches)]

    def step(b):
        loss, cache = model.forward(b, train=True)
        grads = model.backward(cache)
        if args.clip == "value":
            clip_by_value(grads, 5.0)
        elif args.clip == "norm":
            clip_by_global_norm(grads, 5.0)
        opt.step(model.params, grads, args.lr)

    return model, batches, step


def cmd_step(args):
    vocab, encoded = data()
    model, batches, step = _engine(args, vocab, encoded)
    for b in batches[: args.warmup]:
        step(b)
    timed = batches[args.warmup :]
    t = time.perf_counter()
    for b in timed:
        step(b)
    dt = time.perf_counter() - t
    tokens = sum(b.tokens for b in timed)
    return {"model": args.model, "hidden": args.hidden, "embed": args.embed, "batch": args.batch,
            "dtype": args.dtype, "bucket": not args.no_bucket, "optimizer": args.optimizer,
            "ms_per_step": dt / len(timed) * 1e3, "chars_per_s": tokens / dt,
            "mean_T": float(np.mean([b.X.shape[1] for b in timed])), "params": model.num_params(),
            "peak_rss_mb": rss_mb()}


def rnn_step_flops(B: int, T: int, H: int, V: int, tokens: int) -> float:
    """Matrix-product FLOPs of one training step of a one-hot RNN (forward and backward).

    forward: T recurrent products (B,H)x(H,H); the output layer (B*T,H)x(H,V).
    backward: dlogits x Wya (B*T,V)x(V,H); dWya (V,B*T)x(B*T,H); T products draw x Waa;
    dWaa (H,B*T)x(B*T,H); the input scatter as a one-hot product (V,B*T)x(B*T,H).
    Each (m,k)x(k,n) product counts 2mkn.
    """
    N = B * T
    recurrent = 2 * (2 * B * H * H) * T  # forward and backward recurrences
    weights = 2 * H * N * H  # dWaa
    output = 2 * N * H * V * 3  # logits, dlogits x Wya, dWya
    lookup = 2 * V * N * H  # the input scatter-add product
    return recurrent + weights + output + lookup


def cmd_flops(args):
    args.model, args.embed, args.learn_h0 = "rnn", 0, False
    vocab, encoded = data()
    model, batches, step = _engine(args, vocab, encoded)
    for b in batches[: args.warmup]:
        step(b)
    timed = batches[args.warmup :]
    flops = sum(rnn_step_flops(b.size, b.X.shape[1], args.hidden, vocab.size, b.tokens) for b in timed)
    t = time.perf_counter()
    for b in timed:
        step(b)
    dt = time.perf_counter() - t
    peak = matmul_peak(np.float32 if args.dtype == "float32" else np.float64)
    return {"hidden": args.hidden, "batch": args.batch, "dtype": args.dtype, "ms_per_step": dt / len(timed) * 1e3,
            "achieved_gflops": flops / dt / 1e9, "peak_gflops": peak / 1e9, "share_of_peak": flops / dt / peak,
            "chars_per_s": sum(b.tokens for b in timed) / dt, "peak_rss_mb": rss_mb()}


def cmd_sample(args):
    from namesmith.api import load
    from namesmith.sample import SampleOptions

    ck = load(args.model_path)
    sampler = ck.sampler()
    opts = SampleOptions(n=1000, temperature=1.0, max_len=50, seed=0)
    sampler.sample(opts)  # warm-up
    times = []
    for rep in range(args.reps):
        t = time.perf_counter()
        report = sampler.sample(dataclasses.replace(opts, n=args.n, seed=rep + 1))
        times.append(time.perf_counter() - t)
    best = min(times)
    return {"model": ck.model.describe(), "n": args.n, "seconds_best": best, "seconds_median": sorted(times)[len(times) // 2],
            "names_per_s": args.n / best, "names_per_s_median": args.n / sorted(times)[len(times) // 2],
            "mean_len": float(np.mean([len(s.name) for s in report])), "peak_rss_mb": rss_mb()}


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("peak")
    p = sub.add_parser("seed")
    p.add_argument("--iterations", type=int, default=20000)
    for name in ("step", "flops"):
        p = sub.add_parser(name)
        p.add_argument("--model", default="rnn")
        p.add_argument("--hidden", type=int, default=50)
        p.add_argument("--embed", type=int, default=0)
        p.add_argument("--layers", type=int, default=1)
        p.add_argument("--learn-h0", action="store_true")
        p.add_argument("--heads", type=int, help="transformer: attention heads")
        p.add_argument("--block", type=int, help="transformer: positions; mlp: window")
        p.add_argument("--batch", type=int, default=32)
        p.add_argument("--dtype", default="float32")
        p.add_argument("--optimizer", default="sgd")
        p.add_argument("--weight-decay", type=float, default=0.0)
        p.add_argument("--lr", type=float, default=0.01)
        p.add_argument("--clip", default="none")
        p.add_argument("--no-bucket", action="store_true")
        p.add_argument("--steps", type=int, default=300)
        p.add_argument("--warmup", type=int, default=20)
    p = sub.add_parser("sample")
    p.add_argument("model_path")
    p.add_argument("-n", type=int, default=10000)
    p.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    out = {"peak": cmd_peak, "seed": cmd_seed, "step": cmd_step, "flops": cmd_flops, "sample": cmd_sample}[args.cmd](args)
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
