"""What the web API does, independent of HTTP: typed requests (pydantic) and the models that answer them.

Every bound a request must respect is declared once, on its model below (FastAPI
checks it and publishes it in ``/openapi.json``); :class:`App` holds the served
checkpoints (loaded once, read-only) and turns a valid request into a response.
Each request builds its own sampler state and seeds, so concurrent requests
cannot disturb each other.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from ..api import Checkpoint, load
from ..errors import ConfigError, NamesmithError
from ..options import bounds, optional, overrides, schema, specs
from ..sample import SampleOptions, candidate_budget, option_kwargs

MAX_BODY = 16 * 1024
MAX_LEN = 64
MAX_SCORE = 50
MAX_BLEND = 16
TIME_BUDGET = 2.0  # seconds of generation per request

Text = Annotated[str, StringConstraints(max_length=MAX_LEN)]
Chars = Annotated[str, StringConstraints(max_length=200)]
Style = Union[
    Annotated[str, StringConstraints(max_length=400)],
    Annotated[dict[Annotated[str, StringConstraints(max_length=64)],
                   Annotated[float, Field(ge=0, allow_inf_nan=False)]],
              Field(min_length=1, max_length=MAX_BLEND)],
]
STYLE_DOC = "a style of the model, a blend \"A=0.7,B=0.3\", or {\"A\": 0.7, \"B\": 0.3}; none: all styles pooled"


class ApiError(NamesmithError):
    """An error with its HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Request(BaseModel):
    """Strict JSON: no unknown fields, no "5" for 5, no 1 for true."""

    model_config = ConfigDict(extra="forbid", strict=True)
    model: Optional[Annotated[str, StringConstraints(max_length=64)]] = Field(
        None, description="a served model's name (see /api/models); default: the first")


def _annotation(name: str, s, over: dict):
    """The pydantic type of one declared option for the web API (its limits from the declaration, web first)."""
    lo, hi = bounds(s, "web")
    limits = {}
    if lo is not None:
        limits["gt" if s.lo_open else "ge"] = lo
    if hi is not None:
        limits["lt" if s.hi_open else "le"] = hi
    if s.kind == "style":
        return Style, {}
    if s.kind == "choice":
        return Literal[tuple(s.choices())], {}  # an enum in /openapi.json
    if s.kind == "text":
        return Annotated[str, StringConstraints(max_length=over.get("longest", s.longest))], {}
    if s.kind == "float":
        return float, {**limits, "allow_inf_nan": False}
    return {"int": int, "bool": bool}[s.kind], limits


def request_model(cls=SampleOptions) -> type[BaseModel]:
    """The request of ``POST /api/generate``: ``model`` and one field per declared option of ``cls``
    (:class:`~namesmith.sample.SampleOptions`), with its help, default and limits (the web's where it says)."""
    declared = {}
    for name, (f, s) in specs(cls).items():
        over = overrides(s, "web")
        annotation, limits = _annotation(name, s, over)
        if optional(f, s):
            annotation = Optional[annotation]
        default = over.get("default", f.default)
        declared[name] = (annotation, Field(default, description=s.help, **limits))
    return create_model("GenerateRequest", __base__=Request, **declared)


GenerateRequest = request_model()


def sample_options(req: BaseModel, cls=SampleOptions) -> SampleOptions:
    """The request's options; an empty optional text means "not given", and the candidate budget is capped
    at the web's ``max_tries`` limit."""
    values = {name: getattr(req, name) for name in specs(cls)}
    for name, (f, s) in specs(cls).items():
        if optional(f, s) and s.kind == "text" and values[name] == "":
            values[name] = None
    if values["max_tries"] is None:
        values["max_tries"] = min(bounds(specs(cls)["max_tries"][1], "web")[1], candidate_budget(values["n"]))
    return cls(**values)


class NamesRequest(Request):
    name: Optional[Text] = None
    names: Optional[list[Text]] = Field(None, max_length=MAX_SCORE)
    fold_accents: bool = False

    def all_names(self) -> list[str]:
        names = [x.strip() for x in ([self.name] if self.name is not None else []) + (self.names or [])]
        if not names or any(not x for x in names):
            raise ApiError(400, "give a non-empty 'name' (or a list 'names')")
        return names


class ScoreRequest(NamesRequest):
    style: Optional[Style] = Field(None, description=STYLE_DOC)


class ClassifyRequest(NamesRequest):
    top: Optional[int] = Field(None, ge=1, le=10_000, description="the k most probable styles per name")
    uniform_prior: bool = Field(False, description="equal style priors instead of the training shares")


# ----- responses (declared for the OpenAPI schema) --------------------------------------------
class NameOut(BaseModel):
    name: str
    display: str
    logprob: float
    nats_per_char: float
    novel: Optional[bool]
    seed: Optional[int]


class GenerateResponse(BaseModel):
    model: str
    seed: Optional[int]
    tries: Optional[int]
    steered: Optional[dict[str, float]] = Field(None, description="with like: the styles the names were drawn "
                                                                  "under, with their shares")
    names: list[NameOut]
    elapsed_ms: float


class Surprisal(BaseModel):
    char: str
    nats: float


class ScoreOut(BaseModel):
    name: str
    logprob: Optional[float]
    nats_per_char: Optional[float]
    surprisal: list[Surprisal]
    percentile: Optional[float]
    unknown_chars: list[str]


class ScoreResponse(BaseModel):
    model: str
    scores: list[ScoreOut]


class ClassifyOut(BaseModel):
    name: str
    style: Optional[str]
    probability: Optional[float]
    styles: dict[str, float]
    unknown_chars: list[str]
    factors: dict[str, dict[str, float]] = Field(default_factory=dict, description="each further factor: "
                                                 "value -> probability, under the name's most probable style")


class ClassifyResponse(BaseModel):
    model: str
    results: list[ClassifyOut]


class StyleInfo(BaseModel):
    name: str
    names: int


class ModelInfo(BaseModel):
    name: str
    type: str
    description: str = Field(description="the engineer's description: kinds, shapes, parameters")
    summary: str = Field(description="what the model is in plain words, for people")
    params: int
    corpus: Optional[str]
    corpus_names: Optional[int]
    val_nll: Optional[float]
    val_bits_per_char: Optional[float]
    alphabet: str
    lowercase: bool
    novelty_check: bool
    styles: list[StyleInfo]
    factors: dict[str, list[str]] = Field(default_factory=dict, description="the further factors the model "
                                          "learned (kind, sex) and their values: the kind and sex options")


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class Health(BaseModel):
    status: str
    version: str
    models: int
    worker: int = Field(description="the answering worker process's id")


class ErrorResponse(BaseModel):
    error: str = Field(description="what was wrong, in plain words")


# ----- the application -------------------------------------------------------------------
@dataclass
class Served:
    name: str
    path: str
    ckpt: Checkpoint

    def info(self) -> dict:
        return {"name": self.name, **self.ckpt.info()}


class App:
    """The served models and the request logic."""

    def __init__(self, models: dict[str, str | Path | Checkpoint], time_budget: float = TIME_BUDGET):
        if not models:
            raise ConfigError("no model to serve")
        self.time_budget = time_budget
        self.models: dict[str, Served] = {}
        for name, src in models.items():
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
                raise ConfigError(f"model name {name!r}: use letters, digits, '.', '_' or '-'")
            ck = src if isinstance(src, Checkpoint) else load(src)
            self.models[name] = Served(name, str(src) if not isinstance(src, Checkpoint) else name, ck)
        self.samplers = {name: s.ckpt.sampler() for name, s in self.models.items()}

    def model(self, req: Request) -> str:
        if req.model is None:
            return next(iter(self.models))
        if req.model not in self.models:
            raise ApiError(404, f"no model named {req.model!r}; see /api/models")
        return req.model

    def generate(self, req: BaseModel) -> dict:
        name = self.model(req)
        opts = sample_options(req)
        sampler = (self.samplers[name] if opts.style is None and not opts.factor_values() else
                   self.models[name].ckpt.sampler(style=opts.style, style_strength=opts.style_strength,
                                                  factors=opts.factor_values()))
        t0 = time.perf_counter()
        if opts.full:
            found = self.models[name].ckpt.sample(deadline=t0 + self.time_budget, **option_kwargs(opts))
        elif opts.like is not None:
            found = self.models[name].ckpt.like(opts, deadline=t0 + self.time_budget)
        elif opts.best is not None:
            found = sampler.best(opts, max_expansions=20_000, deadline=t0 + self.time_budget)
        else:
            found = sampler.sample(opts, deadline=t0 + self.time_budget)
        return {"model": name, "seed": found.seed, "tries": found.tries if opts.best is None else None,
                "steered": found.steered, "names": [s.to_dict() for s in found],
                "elapsed_ms": round((time.perf_counter() - t0) * 1e3, 2)}

    def options(self) -> dict:
        """The generation controls as the page builds its form from them (declared in SampleOptions)."""
        return {"options": schema(SampleOptions, "page")}

    def score(self, req: ScoreRequest) -> dict:
        name = self.model(req)
        ck = self.models[name].ckpt
        scores = ck.score(req.all_names(), style=req.style, fold_accents=req.fold_accents)
        if all(s.logprob is None for s in scores):
            s = scores[0]
            letters = ", ".join(f"“{c}”" for c in s.unknown_chars)
            raise ApiError(400, f"“{s.name}” uses letters this model never saw ({letters}); its letters are "
                                f"{ck.vocab.alphabet()}")
        return {"model": name, "scores": [s.to_dict() for s in scores]}

    def classify(self, req: ClassifyRequest) -> dict:
        name = self.model(req)
        ck = self.models[name].ckpt
        if not ck.styles:
            raise ApiError(400, f"the model {name!r} has no styles (it was not trained on a labelled corpus)")
        results = ck.classify(req.all_names(), top=req.top, uniform_prior=req.uniform_prior,
                              fold_accents=req.fold_accents)
        return {"model": name, "results": [r.to_dict() for r in results]}

    def model_list(self) -> dict:
        return {"models": [s.info() for s in self.models.values()]}
