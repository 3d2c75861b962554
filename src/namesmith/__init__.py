"""namesmith: character-level language models in plain NumPy that forge new names.

The Python API in brief::

    import namesmith
    ck = namesmith.load("model.npz")                      # a validated checkpoint
    sampler = ck.sampler()
    report = sampler.sample(5, namesmith.SampleOptions(prefix="ka", max_len=8, novel=True), seed=1)
    [s.name for s in report.samples]
    namesmith.score_names(ck.model, ck.vocab, ["kara"])   # log-probability, surprisal, percentile

    cfg = namesmith.resolve({"corpus": "census-surnames", "steps": 2000, "out": "surnames.npz"})
    result = namesmith.train(cfg)
"""

__version__ = "0.1.0"

from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint  # noqa: E402
from .config import PRESETS, TrainConfig, resolve  # noqa: E402
from .corpus import Corpus, builtin_corpora, load_corpus, read_corpus  # noqa: E402
from .errors import NamesmithError  # noqa: E402
from .models import MODELS  # noqa: E402
from .sample import Sample, SampleOptions, Sampler, sample_names  # noqa: E402
from .score import evaluate, score_names  # noqa: E402
from .train import train  # noqa: E402
from .vocab import Vocab  # noqa: E402

load = load_checkpoint

__all__ = [
    "Checkpoint", "Corpus", "MODELS", "NamesmithError", "PRESETS", "Sample", "SampleOptions", "Sampler",
    "TrainConfig", "Vocab", "builtin_corpora", "evaluate", "load", "load_checkpoint", "load_corpus",
    "read_corpus", "resolve", "sample_names", "save_checkpoint", "score_names", "train",
]
