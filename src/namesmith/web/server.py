"""``namesmith serve``: the name-generator page and its JSON API, on the standard library.

Why the standard library's ``ThreadingHTTPServer`` and not a framework: the
page is a few static files and four JSON endpoints on a local machine; the
standard library serves them with no extra dependency, no build step and no
configuration, and a thread per connection is plenty for one user (and, as
BENCHMARKS.md shows, for hundreds of requests per second). Models are loaded
once at start-up and are read-only; each request builds its own sampler state
(its own seeds), so concurrent requests cannot disturb each other.

Endpoints (JSON in and out; errors are ``{"error": "..."}`` with a 4xx status):

* ``GET /`` the page; ``GET /static/<file>`` its script and style sheet
* ``GET /healthz`` liveness
* ``GET /api/models`` the served models with their type, size, corpus and NLL
* ``POST /api/generate`` names under constraints (see :data:`GENERATE_FIELDS`)
* ``POST /api/score`` log-probability, surprisal per character, percentile
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import __version__
from ..checkpoint import Checkpoint, load_checkpoint
from ..errors import ConfigError, ConstraintError, NamesmithError, VocabError
from ..sample import SampleOptions
from ..score import score_names

MAX_BODY = 16 * 1024
MAX_NAMES = 500
MAX_LEN = 64
MAX_SCORE = 50
MAX_TRIES = 20_000
TIME_BUDGET = 2.0  # seconds per request
STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# ----- request validation ----------------------------------------------------------------
def _get(body: dict, key: str, kind, default, lo=None, hi=None):
    if key not in body or body[key] is None:
        return default
    v = body[key]
    if kind is bool:
        if not isinstance(v, bool):
            raise ApiError(400, f"'{key}' must be true or false")
        return v
    if kind is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ApiError(400, f"'{key}' must be a whole number")
    elif kind is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ApiError(400, f"'{key}' must be a number")
        v = float(v)
    elif kind is str:
        if not isinstance(v, str):
            raise ApiError(400, f"'{key}' must be text")
        if hi is not None and len(v) > hi:
            raise ApiError(400, f"'{key}' is longer than {hi} characters")
        return v
    if lo is not None and v < lo or hi is not None and v > hi:
        raise ApiError(400, f"'{key}' must be between {lo} and {hi}")
    return v


GENERATE_FIELDS = {
    "model", "n", "temperature", "top_k", "top_p", "prefix", "suffix", "contains", "min_len",
    "max_len", "exclude_chars", "only_chars", "novel", "unique", "seed", "best",
}
SCORE_FIELDS = {"model", "name", "names"}


def _check_fields(body: Any, allowed: set[str]) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, f"unknown parameter '{unknown[0]}' (allowed: {', '.join(sorted(allowed))})")
    return body


def parse_generate(body: Any) -> tuple[int, SampleOptions, int | None, int | None]:
    body = _check_fields(body, GENERATE_FIELDS)
    n = _get(body, "n", int, 20, 1, MAX_NAMES)
    min_len = _get(body, "min_len", int, 1, 0, MAX_LEN)
    max_len = _get(body, "max_len", int, 16, 1, MAX_LEN)
    if min_len > max_len:
        raise ApiError(400, f"min_len ({min_len}) is larger than max_len ({max_len})")
    top_k = _get(body, "top_k", int, None, 1, 1000)
    top_p = _get(body, "top_p", float, None, 0.0, 1.0)
    if top_p is not None and top_p <= 0:
        raise ApiError(400, "'top_p' must be above 0")
    only = _get(body, "only_chars", str, None, hi=200)
    opts = SampleOptions(
        temperature=_get(body, "temperature", float, 1.0, 0.0, 5.0),
        top_k=top_k,
        top_p=top_p,
        prefix=_get(body, "prefix", str, "", hi=MAX_LEN),
        suffix=_get(body, "suffix", str, "", hi=MAX_LEN),
        contains=_get(body, "contains", str, "", hi=MAX_LEN),
        min_len=min_len,
        max_len=max_len,
        exclude_chars=_get(body, "exclude_chars", str, "", hi=200),
        only_chars=only or None,
        novel=_get(body, "novel", bool, False),
        unique=_get(body, "unique", bool, False),
        max_tries=min(MAX_TRIES, 100 * n + 1000),
    )
    seed = _get(body, "seed", int, None, 0, 2**53 - 1)
    best = _get(body, "best", int, None, 1, 100)
    return n, opts, seed, best


def parse_score(body: Any) -> list[str]:
    body = _check_fields(body, SCORE_FIELDS)
    names = []
    if "name" in body and body["name"] is not None:
        names.append(_get(body, "name", str, "", hi=MAX_LEN))
    if "names" in body and body["names"] is not None:
        if not isinstance(body["names"], list) or not all(isinstance(x, str) for x in body["names"]):
            raise ApiError(400, "'names' must be a list of texts")
        if len(body["names"]) > MAX_SCORE:
            raise ApiError(400, f"at most {MAX_SCORE} names per request")
        for x in body["names"]:
            if len(x) > MAX_LEN:
                raise ApiError(400, f"names are limited to {MAX_LEN} characters")
        names += body["names"]
    names = [x.strip() for x in names]
    if not names or any(not x for x in names):
        raise ApiError(400, "give a non-empty 'name' (or a list 'names') to score")
    return names


# ----- the application -------------------------------------------------------------------
@dataclass
class Served:
    name: str
    path: str
    ckpt: Checkpoint

    def info(self) -> dict:
        meta = self.ckpt.meta
        corpus = meta.get("corpus", {})
        val = meta.get("metrics", {}).get("val_nll")
        return {
            "name": self.name,
            "type": self.ckpt.model.kind,
            "description": self.ckpt.model.describe(),
            "params": self.ckpt.model.num_params(),
            "corpus": corpus.get("source"),
            "corpus_names": corpus.get("names"),
            "val_nll": val,
            "val_bits_per_char": val / math.log(2) if val else None,
            "alphabet": "".join(self.ckpt.vocab.chars[1:]),
            "lowercase": self.ckpt.lowercase,
            "novelty_check": "train_hashes" in self.ckpt.extras,
        }


class App:
    """The models and the request logic, independent of HTTP plumbing (easy to test)."""

    def __init__(self, models: dict[str, str | Path | Checkpoint]):
        if not models:
            raise ConfigError("no model to serve")
        self.models: dict[str, Served] = {}
        for name, src in models.items():
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
                raise ConfigError(f"model name {name!r}: use letters, digits, '.', '_' or '-'")
            ck = src if isinstance(src, Checkpoint) else load_checkpoint(src)
            self.models[name] = Served(name, str(src) if not isinstance(src, Checkpoint) else name, ck)
        self.samplers = {name: s.ckpt.sampler() for name, s in self.models.items()}

    def model(self, body: dict) -> str:
        name = body.get("model") if isinstance(body, dict) else None
        if name is None:
            return next(iter(self.models))
        if not isinstance(name, str) or name not in self.models:
            raise ApiError(404, f"no model named {name!r}; see /api/models")
        return name

    def generate(self, body: Any) -> dict:
        name = self.model(body)
        n, opts, seed, best = parse_generate(body)
        sampler = self.samplers[name]
        t0 = time.perf_counter()
        if best is not None:
            samples = sampler.best(best, opts, max_expansions=20_000)
            tries, used_seed = None, None
        else:
            report = sampler.sample(n, opts, seed=seed, deadline=t0 + TIME_BUDGET)
            samples, tries, used_seed = report.samples, report.tries, report.seed
        return {
            "model": name,
            "seed": used_seed,
            "tries": tries,
            "names": [s.to_dict() for s in samples],
            "elapsed_ms": round((time.perf_counter() - t0) * 1e3, 2),
        }

    def score(self, body: Any) -> dict:
        name = self.model(body)
        names = parse_score(body)
        ck = self.models[name].ckpt
        scores = score_names(ck.model, ck.vocab, names, quantiles=ck.extras.get("train_nll_quantiles"),
                             lowercase=ck.lowercase)
        return {"model": name, "scores": [s.to_dict() for s in scores]}

    def model_list(self) -> dict:
        return {"models": [s.info() for s in self.models.values()]}


def _static(name: str) -> bytes:
    return resources.files("namesmith.web").joinpath("static", name).read_bytes()


def make_handler(app: App, quiet: bool = True):
    class Handler(BaseHTTPRequestHandler):
        server_version = f"namesmith/{__version__}"
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes; with Nagle's algorithm the second waits for the
        # client's delayed ACK (~40 ms per request on keep-alive connections). TCP_NODELAY avoids it.
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):  # noqa: D401 - quiet by default
            if not quiet:
                super().log_message(fmt, *args)

        # --- responses
        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy",
                             "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj: Any) -> None:
            self._send(status, json.dumps(obj).encode("utf-8"), "application/json")

        def _error(self, status: int, message: str) -> None:
            self._json(status, {"error": message})

        # --- routing
        def do_GET(self):  # noqa: N802
            path = urlsplit(self.path).path
            try:
                if path in ("/", "/index.html"):
                    self._send(200, _static("index.html"), "text/html; charset=utf-8")
                elif path.startswith("/static/") and path[len("/static/"):] in STATIC:
                    name = path[len("/static/"):]
                    self._send(200, _static(name), STATIC[name])
                elif path == "/healthz":
                    self._json(200, {"status": "ok", "version": __version__, "models": len(app.models)})
                elif path == "/api/models":
                    self._json(200, app.model_list())
                elif path in ("/api/generate", "/api/score"):
                    self._error(405, f"use POST for {path}")
                else:
                    self._error(404, f"nothing at {path}")
            except Exception as e:  # never a traceback to the client
                self._error(500, f"internal error: {type(e).__name__}")

        def do_POST(self):  # noqa: N802
            path = urlsplit(self.path).path
            routes = {"/api/generate": app.generate, "/api/score": app.score}
            try:
                if path not in routes:
                    # read and discard any body so the connection stays usable
                    self._read_body(discard=True)
                    raise ApiError(404 if path not in ("/", "/healthz", "/api/models") else 405,
                                   f"no POST endpoint at {path}")
                body = self._read_body()
                self._json(200, routes[path](body))
            except ApiError as e:
                self._error(e.status, str(e))
            except VocabError as e:
                self._error(400, str(e))
            except ConstraintError as e:
                self._error(422, str(e))
            except NamesmithError as e:
                self._error(400, str(e))
            except Exception as e:
                self._error(500, f"internal error: {type(e).__name__}")

        def do_PUT(self):  # noqa: N802
            self._read_body(discard=True)
            self._error(405, "method not allowed")

        do_DELETE = do_PATCH = do_PUT

        def _read_body(self, discard: bool = False):
            length = self.headers.get("Content-Length")
            if length is None:
                if discard:
                    return None
                self.close_connection = True
                raise ApiError(411, "a Content-Length header is required")
            try:
                size = int(length)
            except ValueError:
                self.close_connection = True
                raise ApiError(400, "bad Content-Length") from None
            if size < 0 or size > MAX_BODY:
                self.close_connection = True
                raise ApiError(413, f"the request body is limited to {MAX_BODY} bytes")
            raw = self.rfile.read(size)
            if discard:
                return None
            try:
                return json.loads(raw.decode("utf-8")) if raw else {}
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ApiError(400, "the request body is not valid JSON") from None

    return Handler


class Server:
    """A running server in a background thread (used by the tests and by ``serve``)."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, quiet: bool = True):
        self.app = app
        self.httpd = ThreadingHTTPServer((host, port), make_handler(app, quiet))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "Server":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ----- the command ---------------------------------------------------------------------------
def default_model_path() -> Path:
    base = os.environ.get("NAMESMITH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "namesmith")
    return Path(base) / f"default-{__version__}.npz"


def ensure_default_model(log=lambda s: print(s, file=sys.stderr, flush=True)) -> Path:
    path = default_model_path()
    if path.exists():
        log(f"namesmith: no model given, serving the built-in default model (cached at {path})")
        return path
    log(f"namesmith: no model given; training the built-in default model once "
        f"(about 2 minutes), cached at {path} for next time")
    from ..config import resolve
    from ..train import train

    train(resolve({"out": str(path), "samples": 0}), log=log)
    return path


def parse_model_args(specs: list[str]) -> dict[str, str]:
    models: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            path, name = spec, Path(spec).stem
        if name in models:
            raise ConfigError(f"two models are named {name!r}; use NAME=PATH to tell them apart")
        models[name] = path
    return models


def serve_main(specs: list[str], host: str = "127.0.0.1", port: int = 8000, access_log: bool = False) -> int:
    models = parse_model_args(specs) if specs else {"default": str(ensure_default_model())}
    app = App(models)
    try:
        server = Server(app, host, port, quiet=not access_log)
    except OSError as e:
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    print(f"namesmith: serving {', '.join(app.models)} at {server.url}/  (Ctrl-C to stop)", flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print("namesmith: warning: listening beyond this machine; anyone who can reach it can use it",
              file=sys.stderr)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        print("\nnamesmith: stopped", flush=True)
    finally:
        server.httpd.server_close()
    return 0
