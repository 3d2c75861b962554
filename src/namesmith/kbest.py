"""The k most probable names, exactly: best-first search over prefixes.

A prefix's probability only falls as it grows, so the frontier is a heap of
:class:`Node` by log-probability, and a complete name (its end token chosen) is
emitted only when it is at the top of the heap: no unexplored prefix can beat it.
Popped prefixes are expanded ``batch`` at a time through one ``step()``; the model
state of each expanded prefix is kept once, by index, in a store.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from .errors import ConstraintError, NamesmithError
from .models.base import State, StepFn
from .models.layers import log_softmax


class Node(NamedTuple):
    """A prefix (or a finished name) on the frontier. A tuple, so the heap compares at C speed: by
    ``-logprob``, then by arrival (unique, so the later fields are never compared)."""

    neg_logprob: float
    order: int
    done: bool  # its end token is chosen: a complete name
    ids: tuple[int, ...]  # the generated symbols after the fed prefix
    state: int  # index of the model state before ``last`` was fed (-1 when done)
    last: int  # the symbol still to be fed to expand it


@dataclass
class Frontier:
    """The heap and the store of states it refers to."""

    heap: list[Node] = field(default_factory=list)
    states: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    count: int = 0

    def push(self, neg_logprob: float, done: bool, ids: tuple[int, ...], state: int, last: int) -> None:
        self.count += 1
        heapq.heappush(self.heap, Node(neg_logprob, self.count, done, ids, state, last))


def search(step: StepFn, root: State, lp0: float, last: int, k: int, *, prefix_len: int, min_len: int, max_len: int,
           allowed: np.ndarray, accept: Callable[[tuple[int, ...], float], bool], max_expansions: int, batch: int,
           late: Callable[[int, int], Exception | None]) -> list[tuple[tuple[int, ...], float]]:
    """The ``k`` most probable ``(ids, logprob)`` that ``accept`` takes, most probable first.

    ``root`` is the state before the prefix's last symbol ``last`` was fed (so popping the
    root runs one step); ``allowed (V,)`` the symbols that may be generated; ``late(found,
    expansions)`` returns an error when the time budget has run out.
    """
    f = Frontier(states=[tuple(s[0] for s in root)])
    f.push(-lp0, False, (), 0, last)
    out: list[tuple[tuple[int, ...], float]] = []
    expansions = 0
    while len(out) < k and f.heap:
        if f.heap[0].done:
            node = heapq.heappop(f.heap)
            if accept(node.ids, -node.neg_logprob):
                out.append((node.ids, -node.neg_logprob))
            continue
        popped = []
        while f.heap and not f.heap[0].done and len(popped) < batch:
            popped.append(heapq.heappop(f.heap))
        expansions += len(popped)
        err = late(len(out), expansions)
        if expansions > max_expansions or err is not None:
            raise err or ConstraintError(
                f"k-best search stopped after {max_expansions} expansions with {len(out)} of {k} "
                "names; loosen the constraints or ask for fewer names")
        _expand(f, step, popped, prefix_len=prefix_len, min_len=min_len, max_len=max_len, allowed=allowed)
    return out


def _expand(f: Frontier, step: StepFn, popped: list[Node], *, prefix_len: int, min_len: int, max_len: int,
            allowed: np.ndarray) -> None:
    """One ``step()`` for the popped prefixes; their children (and their completed names) go on the heap."""
    states = tuple(np.stack([f.states[n.state][j] for n in popped]) for j in range(len(f.states[0])))
    last = np.array([n.last for n in popped], dtype=np.int32)
    with np.errstate(all="ignore"):
        logits, new_state = step(last, states)
        logp = log_softmax(logits.astype(np.float64))  # (b, V)
    if not np.isfinite(logp).any(axis=1).all():
        raise NamesmithError("the model gives non-finite probabilities (its weights overflow); "
                             "this model file cannot be used")
    for r, node in enumerate(popped):
        length = prefix_len + len(node.ids)
        sid = len(f.states)
        f.states.append(tuple(s[r] for s in new_state))
        if length >= min_len and np.isfinite(logp[r, 0]):
            f.push(node.neg_logprob - logp[r, 0], True, node.ids, -1, 0)
        if length < max_len:
            for c in np.flatnonzero(allowed & np.isfinite(logp[r])):
                f.push(node.neg_logprob - logp[r, c], False, node.ids + (int(c),), sid, int(c))
