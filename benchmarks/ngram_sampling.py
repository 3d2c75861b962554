"""Sampling speed of a pure 6-gram fitted on names-ssa2018/train.txt (names/s, median of 5 calls of 10,000).

Compare two versions by running it alternately with each on the path:

    git worktree add ../old <commit>
    for i in 1 2 3 4 5; do PYTHONPATH=../old/src python benchmarks/ngram_sampling.py old; \
        python benchmarks/ngram_sampling.py new; done
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from namesmith.corpus import read_corpus
from namesmith.models.ngram import NGram
from namesmith.sample import SampleOptions, Sampler
from namesmith.vocab import Vocab

SHARED = Path(os.environ.get("NAMESMITH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
train = read_corpus(str(SHARED / "data" / "names-ssa2018" / "train.txt"), lowercase=True)
vocab = Vocab.from_names(train.names)
sampler = Sampler(NGram.fit({"vocab_size": vocab.size, "order": 6}, vocab.encode_many(train.names)), vocab)
sampler.sample(SampleOptions(n=1000, seed=0))  # warm
times = []
for seed in range(5):
    t = time.perf_counter()
    sampler.sample(SampleOptions(n=10_000, seed=seed))
    times.append(time.perf_counter() - t)
print(sys.argv[1] if len(sys.argv) > 1 else "this", round(10_000 / statistics.median(times)))
