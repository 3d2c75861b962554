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

from importlib import import_module

from ._version import __version__ as __version__

# The public names and the module each comes from, imported on first use (PEP 562): ``import namesmith`` stays
# cheap, so the command line can answer a Ctrl-C during its start-up (namesmith.__main__).
_EXPORTS = {
    "Checkpoint": "api", "RunReport": "api", "fit": "api", "load": "api", "mix": "api",
    "PRESETS": "config", "TrainConfig": "config",
    "Corpus": "corpus", "builtin_corpora": "corpus", "load_corpus": "corpus", "read_corpus": "corpus",
    "NamesmithError": "errors", "MODELS": "models",
    "Sample": "sample", "SampleOptions": "sample", "Sampler": "sample",
    "NameScore": "score", "evaluate": "score", "score_names": "score", "Vocab": "vocab",
}
__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'namesmith' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
