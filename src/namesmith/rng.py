"""Counter-based random numbers for sampling: every name has its own reproducible stream.

The sampler advances thousands of names together, yet each name must be
regenerable from its own seed alone, whatever else was in the batch. A single
``np.random.Generator`` cannot do that (its draws depend on the batch
composition), and one Generator per name would be slow. SplitMix64 (Steele,
Lea & Flood, 2014) is a counter-based generator: the ``t``-th output of the
stream with seed ``s`` is ``mix(mix(s) + (t + 1) * GAMMA)``, a pure function, so it can be
evaluated for a whole vector of seeds at once with NumPy's wrapping uint64
arithmetic. Seeds are kept below 2**53 so they survive JSON and JavaScript.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
SEED_BITS = 53
SEED_MASK = (1 << SEED_BITS) - 1


_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function (a bijection on uint64).

    Works on arrays (at least 1-D), where NumPy's uint64 arithmetic wraps
    modulo 2**64 silently, as the algorithm requires.
    """
    z = np.atleast_1d(np.asarray(z, dtype=np.uint64))
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def stream(seeds: np.ndarray, t: int) -> np.ndarray:
    """The ``t``-th (0-based) uint64 output of each seed's SplitMix64 stream."""
    step = np.array([(t + 1) * int(GAMMA) % (1 << 64)], dtype=np.uint64)
    return mix64(mix64(seeds) + step)


def uniforms(seeds: np.ndarray, t: int) -> np.ndarray:
    """Uniform floats in the open interval (0, 1): draw ``t`` of each name's stream."""
    bits = stream(seeds, t) >> np.uint64(11)  # 53 random bits
    return (bits.astype(np.float64) + 0.5) * (1.0 / (1 << 53))


def child_seeds(seed: int, start: int, count: int) -> np.ndarray:
    """Seeds of names ``start .. start+count-1`` of a run seeded with ``seed``.

    Name 0's seed is ``seed`` itself, so ``--seed S -n 1`` regenerates the name
    whose reported seed is ``S``; later names take the stream's outputs.
    """
    idx = np.arange(start, start + count, dtype=np.uint64)
    seeds = mix64(np.array([seed], dtype=np.uint64) ^ mix64(idx + GAMMA)) & np.uint64(SEED_MASK)
    if start == 0 and count:
        seeds[0] = np.uint64(seed & SEED_MASK)
    return seeds


def fresh_seed() -> int:
    """A random seed from the operating system, below 2**53."""
    return int(np.random.SeedSequence().entropy) & SEED_MASK


def check_seed(seed) -> int:
    """A sampling seed as an int in [0, 2**53), or a ConfigError (seeds must survive JSON and JavaScript)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= SEED_MASK:
        raise ConfigError(f"a sampling seed must be a whole number in [0, 2**53), got {seed!r:.40}")
    return int(seed)
