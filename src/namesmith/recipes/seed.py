"""The seed notebook's training run, reproduced with namesmith's parts (its log to printed precision).

What the notebook does, and where it happens here:

* reads the whole file, lowercases it and takes ``sorted(set(text))`` as the
  vocabulary (newline first), then reads the file again line by line, keeping
  every line - a blank line is an empty name - lowercased and stripped
  (:func:`read_examples`);
* ``np.random.seed(1)`` then ``randn * 0.01`` for ``Wax, Waa, Wya`` in that
  order, zero biases (:func:`init_params`);
* ``np.random.seed(0); np.random.shuffle(examples)``;
* one name per iteration, ``X = [None] + chars`` (the zero vector first),
  ``Y = chars + ["\\n"]``, loss summed over the name, exact BPTT through the
  batched :class:`~namesmith.models.rnn.RNN` with a batch of one, the hidden
  state carried over from the previous name, every gradient element clipped to
  [-5, 5] (:func:`~namesmith.optim.clip_by_value`), plain SGD with lr 0.01;
* every ``log_every`` iterations it prints ``Iteration: N, Loss: L`` (the raw
  loss of that iteration's name) and five names from its own sampler
  (:func:`notebook_sample`).

This module is the only place in namesmith that uses NumPy's legacy global
random state, because the notebook's numbers depend on it.

Two things in the published notebook cannot run as printed: it reads the file
from Google Drive, and the line ``loss = curr_loss`` names an undefined
variable. The published log shows the raw per-name loss, which is what this
recipe prints.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..batch import make_batch
from ..checkpoint import save_checkpoint
from ..meta import CorpusInfo, RngInfo, RunInfo, RunMeta, TrainInfo
from ..corpus import Corpus, load_text, name_hashes
from ..errors import CorpusError
from ..models.layers import softmax
from ..models.rnn import RNN
from ..optim import SGD, clip_by_value
from ..runfiles import new_run
from ..score import nll_quantiles
from ..text import is_control
from ..vocab import Vocab

HIDDEN = 50
LEARNING_RATE = 0.01
CLIP = 5.0
NAMES_PER_LOG = 5
SAMPLE_CAP = 50


def read_examples(path: str | Path) -> tuple[Vocab, list[str]]:
    """The notebook's data: vocabulary of the whole lowercased file, and every line as a name.

    ``path`` is a file or the name of a built-in corpus.
    """
    text, source = load_text(path)
    # open(path).read() in text mode: universal newlines; a UTF-8 BOM is not data.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.lower()
    for lineno, line in enumerate(data.split("\n"), start=1):
        bad = [c for c in line if is_control(c)]
        if bad:
            raise CorpusError(f"{source}: line {lineno}: control character {bad[0]!r}; "
                              "the seed recipe needs plain text, one name per line")
    if not data.strip():
        raise CorpusError(f"{source}: the corpus is empty")
    examples = [line.lower().strip() for line in io.StringIO(data).readlines()]
    return Vocab.from_text(data), examples


def init_params(n_a: int, vocab_size: int) -> dict[str, np.ndarray]:
    """The notebook's initialisation (legacy global seeding, on purpose)."""
    np.random.seed(1)
    Wax = np.random.randn(n_a, vocab_size) * 0.01
    Waa = np.random.randn(n_a, n_a) * 0.01
    Wya = np.random.randn(vocab_size, n_a) * 0.01
    return {"Wax": Wax, "Waa": Waa, "Wya": Wya, "b": np.zeros((n_a, 1)), "by": np.zeros((vocab_size, 1))}


def notebook_sample(model: RNN, seed: int, cap: int = SAMPLE_CAP) -> list[int]:
    """The notebook's sampler, draw for draw.

    Before the k-th character (k = 0, 1, ...) it calls ``np.random.seed(k + seed')``
    where ``seed'`` has itself grown by k, i.e. it seeds with ``seed + 2k``. Name
    ``s`` therefore uses the draws seeded s, s+2, s+4, ... and name ``s+2`` reuses
    them shifted by one character, which is why the log's names come in
    correlated pairs (``Mjzwwtalc...`` and ``Jzwwtalc...``). The result ends
    with the end token; a name reaching ``cap`` characters is cut there.
    """
    V = model.vocab_size
    state = model.initial_state(1)
    x = np.zeros(1, dtype=np.int32)  # the zero input vector
    indices: list[int] = []
    idx, counter = -1, 0
    while idx != 0 and counter != cap:
        logits, state = model.step(x, state)
        p = softmax(logits[0])
        np.random.seed(counter + seed)
        idx = int(np.random.choice(list(range(V)), p=p.ravel()))
        indices.append(idx)
        x = np.array([idx], dtype=np.int32)
        seed += 1
        counter += 1
    if counter == cap:
        indices.append(0)
    return indices


def format_sample(indices: list[int], vocab: Vocab) -> str:
    """``print_sample``: the characters with the first one upper-cased (end token kept)."""
    txt = "".join(vocab.chars[i] for i in indices)
    return txt[0].upper() + txt[1:]


@dataclass
class SeedResult:
    model: RNN
    vocab: Vocab
    examples: list[str]
    iterations: int
    seconds: float
    chars: int  # characters (incl. end tokens) processed
    last_loss: float


def train_seed(
    path: str | Path,
    iterations: int = 200_000,
    log_every: int = 10_000,
    write: Callable[[str], None] = lambda s: print(s, end=""),
    progress: Callable[[int], None] | None = None,
) -> SeedResult:
    """Run the notebook's ``model()`` on ``path`` and write its log through ``write``."""
    vocab, examples = read_examples(path)
    V = vocab.size
    model = RNN({"vocab_size": V, "hidden": HIDDEN, "dtype": "float64"}, init_params(HIDDEN, V))
    np.random.seed(0)
    np.random.shuffle(examples)
    encoded = [vocab.encode(x) for x in examples]
    opt = SGD()
    a_prev = (np.zeros((1, HIDDEN)),)
    chars = 0
    loss = float("nan")
    start = time.perf_counter()
    for j in range(iterations):
        batch = make_batch([encoded[j % len(encoded)]], norm="sum")
        loss, cache = model.forward(batch, state=a_prev)
        grads = model.backward(cache)
        clip_by_value(grads, CLIP)
        opt.step(model.params, grads, LEARNING_RATE)
        a_prev = cache["final_state"]
        chars += batch.tokens
        if log_every and j % log_every == 0:
            lines = [f"Iteration: {j}, Loss: {loss:f}\n\n"]
            lines += [format_sample(notebook_sample(model, seed), vocab) for seed in range(NAMES_PER_LOG)]
            write("".join(lines) + "\n\n")
        if progress is not None:
            progress(j + 1)
    seconds = time.perf_counter() - start
    return SeedResult(model, vocab, examples, iterations, seconds, chars, float(loss))


def save_seed_checkpoint(result: SeedResult, out: str | Path, source: str, run: dict | None = None) -> None:
    """Save the recipe's model like any other namesmith model (sample, score and eval work on it).

    It cannot be resumed: the notebook's run depends on the global random state
    and the carried-over hidden state, which a checkpoint does not hold.
    """
    names = [n for n in result.examples if n]
    meta = RunMeta(
        run=RunInfo(**(run or new_run())),
        train=TrainInfo({"recipe": "seed", "corpus": source, "steps": result.iterations, "hidden": HIDDEN,
                         "lr": LEARNING_RATE, "clip": "value", "clip_value": CLIP},
                        step=result.iterations, recipe="seed"),
        corpus=CorpusInfo(source=source, fingerprint=Corpus(tuple(result.examples)).fingerprint(),
                          names=len(result.examples), lowercase=True),
        rng=RngInfo(scheme="the notebook's legacy global seeding: 1 for the initialisation, 0 for the shuffle"),
    )
    extras = {"known_hashes": name_hashes(names)}
    if names:
        extras["train_nll_quantiles"] = nll_quantiles(result.model, result.vocab.encode_many(names))
    save_checkpoint(out, result.model, result.vocab, meta, None, extras)
