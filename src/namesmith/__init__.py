"""namesmith: character-level language models in plain NumPy that forge new names.

    import namesmith
    ck = namesmith.load("world")                              # a shipped model, or a .npz file
    for s in ck.sample(5, style="Italian", seed=1):           # Samples: a list of Sample
        print(s.display, s.logprob)                           # "Giulietta" -14.2
    ck.sample(5, style={"Italian": 0.7, "Japanese": 0.3})     # a blend of styles
    ck.best(3, prefix="ma")                                   # the 3 most probable names
    ck.classify(["Giuseppe"])[0].style                        # 'Italian' (a Classification)
    ck.score(["Kara"])[0].percentile                          # a NameScore
    ck.evaluate("test.txt").nll                               # an Evaluation: nats/char and its standard error

    ck = namesmith.fit("names.txt", out="names.npz", preset="fast")   # train (a Checkpoint; .run: a RunReport)
    ens = namesmith.mix(["lstm.npz", "transformer.npz"], "ens.npz")     # two runs' networks + an n-gram

Every option of ``sample`` is a field of :class:`SampleOptions`; every option of ``fit`` a
field of :class:`namesmith.config.TrainConfig`. Errors are :class:`NamesmithError`
subclasses with a one-line message. The building blocks (models, sampler, scorer,
corpora) are in the submodules: ``namesmith.models``, ``namesmith.sample``,
``namesmith.score``, ``namesmith.corpus``.
"""

from importlib import import_module

from ._version import __version__ as __version__

# The public names and the module each comes from, imported on first use (PEP 562): ``import namesmith`` stays
# cheap, so the command line can answer a Ctrl-C during its start-up (namesmith.__main__).
_EXPORTS = {
    "load": "api", "fit": "api", "mix": "api", "Checkpoint": "api", "RunReport": "api",
    "Sample": "sample", "Samples": "sample", "SampleOptions": "sample",
    "NameScore": "score", "Evaluation": "score", "Classification": "styles", "NamesmithError": "errors",
}
__all__ = list(_EXPORTS)  # and __version__


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'namesmith' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
