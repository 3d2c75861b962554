"""How the next character is chosen: pure functions of the logits, the mask and each name's random stream.

Shape legend: a rows (names still being generated), V vocabulary.

For each row, with the allowed symbols ``mask (V,)`` (the length rules and the
character limits):

    z = logits masked to the allowed symbols, shifted so the best one is 0
    z = z / temperature                          (temperature 0: argmax, no randomness)
    top-k: z below the k-th largest -> -inf      (ties at the k-th value kept)
    p = exp(z)
    top-p: p outside the smallest set whose mass reaches top_p of the total -> 0
    choice = the first symbol whose cumulative mass reaches u * total, u ~ U(0, 1)

``u`` comes from the name's own counter-based stream (:func:`namesmith.rng.uniforms`),
so a name can be regenerated from its seed alone. The log-probability returned is
the model's own (temperature 1, no masks), the number ``score`` reports.
"""

from __future__ import annotations

import numpy as np

from .models.layers import logsumexp
from .rng import uniforms


def masked(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(a, V)`` logits with the disallowed symbols at -inf, shifted so each row's best allowed one is 0."""
    z = np.where(mask, logits, -np.inf)
    return z - z.max(axis=1, keepdims=True)


def top_k(z: np.ndarray, k: int | None) -> np.ndarray:
    """``z`` with everything below each row's k-th largest value at -inf (in place); ties at it are kept."""
    V = z.shape[1]
    if k is not None and k < V:
        kth = np.partition(z, V - k, axis=1)[:, V - k][:, None]
        z[z < kth] = -np.inf
    return z


def top_p(p: np.ndarray, mass: float | None) -> np.ndarray:
    """``p`` (unnormalised) with each row cut to the smallest set of symbols whose mass reaches ``mass`` of the
    row's total, always keeping the most likely one (in place)."""
    if mass is not None and mass < 1:
        order = np.argsort(-p, axis=1, kind="stable")
        ps = np.take_along_axis(p, order, axis=1)
        cum = np.cumsum(ps, axis=1)
        keep_sorted = (cum - ps) < mass * cum[:, -1:]
        keep = np.zeros_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=1)
        p[~keep] = 0.0
    return p


def draw(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Each row's symbol from unnormalised ``p (a, V)`` and ``u (a,)`` in (0, 1): inverse of the cumulative mass."""
    cdf = np.cumsum(p, axis=1)  # (a, V)
    return np.minimum((cdf < (u * cdf[:, -1])[:, None]).sum(axis=1), p.shape[1] - 1)


def next_symbols(logits: np.ndarray, mask: np.ndarray, temperature: float, k: int | None, mass: float | None,
                 seeds: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's next symbol under the decoding rules (see the module docstring), and its log-probability under
    the model itself: ``(choice (a,), logp (a,))``."""
    rows = np.arange(logits.shape[0])
    lse = logsumexp(logits, axis=1)  # (a,) the model's own normaliser
    z = masked(logits, mask)
    if temperature == 0:
        choice = z.argmax(axis=1)
    else:
        if temperature != 1:
            z /= temperature
        p = top_p(np.exp(top_k(z, k)), mass)  # (a, V) unnormalised, 0 where masked
        choice = draw(p, uniforms(seeds, t))
    return choice, logits[rows, choice] - lse
