"""namesmith: character-level language models in plain NumPy that forge new names.

The Python API in brief (see :mod:`namesmith.api`)::

    import namesmith
    ck = namesmith.load("model.npz")                      # a validated checkpoint
    for s in ck.sample(5, prefix="ka", seed=1):           # Sample(name, logprob, nats_per_char, novel, seed)
        print(s.name, s.logprob)
    ck.score(["Kara"])[0].percentile                      # more plausible than this % of the training names
    ck.evaluate("test.txt")["nll"]                        # held-out NLL, nats per character

    ck = namesmith.fit("names.txt", out="names.npz", preset="fast")   # train
    ens = namesmith.mix(["lstm.npz", "transformer.npz"], "ens.npz")     # two runs' networks + an n-gram
"""

from ._version import __version__
from .api import Checkpoint, RunReport, fit, load, mix
from .config import PRESETS, TrainConfig
from .corpus import Corpus, builtin_corpora, load_corpus, read_corpus
from .errors import NamesmithError
from .models import MODELS
from .sample import Sample, SampleOptions, Sampler
from .score import NameScore, evaluate, score_names
from .vocab import Vocab

__all__ = [
    "Checkpoint", "Corpus", "MODELS", "NameScore", "NamesmithError", "PRESETS", "RunReport", "Sample",
    "SampleOptions", "Sampler", "TrainConfig", "Vocab", "__version__", "builtin_corpora", "evaluate", "fit", "load",
    "load_corpus", "mix", "read_corpus", "score_names",
]
