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
* ``POST /api/classify`` which style a name sounds like, p(style | name) (models with styles)
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._version import __version__
from ..api import Checkpoint, fit, load
from ..errors import ConfigError, ConstraintError, NamesmithError, VocabError
from ..pretrained import pretrained_path
from ..sample import SampleOptions, candidate_budget

MAX_BODY = 16 * 1024
MAX_NAMES = 500
MAX_LEN = 64
MAX_SCORE = 50
MAX_TRIES = 20_000
TIME_BUDGET = 2.0  # seconds per request
SOCKET_TIMEOUT = 10.0  # seconds a connection may stay silent (idle keep-alive, slow headers or body)
MAX_WORKERS = 64  # requests handled at once; more connections get 503 at once
BACKLOG = 1024  # connections the kernel queues before they are accepted
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
    "max_len", "exclude_chars", "only_chars", "novel", "unique", "seed", "best", "fold_accents", "style",
}
SCORE_FIELDS = {"model", "name", "names", "fold_accents", "style"}
CLASSIFY_FIELDS = {"model", "name", "names", "fold_accents", "top", "uniform_prior"}
MAX_BLEND = 16  # styles in one blend


def parse_style(body: dict):
    """``style``: a style name, ``"A=0.7,B=0.3"``, or ``{"A": 0.7, "B": 0.3}``; checked against the model later."""
    v = body.get("style")
    if v is None or isinstance(v, str) and len(v) <= 400:
        return v or None
    if isinstance(v, dict) and 1 <= len(v) <= MAX_BLEND and all(
            isinstance(k, str) and isinstance(w, (int, float)) and not isinstance(w, bool) for k, w in v.items()):
        return v
    raise ApiError(400, f"'style' must be a style name, \"A=0.7,B=0.3\" or an object of up to {MAX_BLEND} "
                        "styles and weights")


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
        fold_accents=_get(body, "fold_accents", bool, False),
        max_tries=min(MAX_TRIES, candidate_budget(n)),
    )
    seed = _get(body, "seed", int, None, 0, 2**53 - 1)
    best = _get(body, "best", int, None, 1, 100)
    return n, opts, seed, best


def parse_score(body: Any, fields: set[str] = SCORE_FIELDS) -> tuple[list[str], bool]:
    body = _check_fields(body, fields)
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
        raise ApiError(400, "give a non-empty 'name' (or a list 'names')")
    return names, _get(body, "fold_accents", bool, False)


# ----- the application -------------------------------------------------------------------
@dataclass
class Served:
    name: str
    path: str
    ckpt: Checkpoint

    def info(self) -> dict:
        ck = self.ckpt
        val = ck.val_nll
        return {
            "name": self.name,
            "type": ck.model.kind,
            "description": ck.model.describe(),
            "params": ck.model.num_params(),
            "corpus": ck.corpus_name,
            "corpus_names": ck.section("corpus").get("names"),
            "val_nll": val,
            "val_bits_per_char": val / math.log(2) if val is not None else None,
            "alphabet": "".join(ck.vocab.chars[1:]),
            "lowercase": ck.lowercase,
            "novelty_check": ck.known_hashes is not None,
            "styles": [{"name": n, "names": c} for n, c in ck.style_counts.items()],
        }


class App:
    """The models and the request logic, independent of HTTP plumbing (easy to test)."""

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
        style = parse_style(body)
        sampler = self.samplers[name] if style is None else self.models[name].ckpt.sampler(style=style)
        t0 = time.perf_counter()
        if best is not None:
            samples = sampler.best(best, opts, max_expansions=20_000, deadline=t0 + self.time_budget)
            tries, used_seed = None, None
        else:
            report = sampler.sample(n, opts, seed=seed, deadline=t0 + self.time_budget)
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
        names, fold = parse_score(body)
        ck = self.models[name].ckpt
        scores = ck.score(names, style=parse_style(body), fold_accents=fold)
        if all(s.logprob is None for s in scores):
            s = scores[0]
            letters = ", ".join(f"“{c}”" for c in s.unknown_chars)
            raise ApiError(400, f"“{s.name}” uses letters this model never saw ({letters}); its letters are "
                                f"{ck.vocab.alphabet()}")
        return {"model": name, "scores": [s.to_dict() for s in scores]}

    def classify(self, body: Any) -> dict:
        name = self.model(body)
        names, fold = parse_score(body, CLASSIFY_FIELDS)
        top = _get(body, "top", int, None, 1, 10_000)
        uniform = _get(body, "uniform_prior", bool, False)
        ck = self.models[name].ckpt
        if not ck.styles:
            raise ApiError(400, f"the model {name!r} has no styles (it was not trained on a labelled corpus)")
        return {"model": name, "results": ck.classify(names, top=top, uniform_prior=uniform, fold_accents=fold)}

    def model_list(self) -> dict:
        return {"models": [s.info() for s in self.models.values()]}


def _static(name: str) -> bytes:
    return resources.files("namesmith.web").joinpath("static", name).read_bytes()


def _parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8")) if raw else {}
    except (UnicodeDecodeError, ValueError, RecursionError):  # ValueError: also numbers of 4,300+ digits
        raise ApiError(400, "the request body is not valid JSON") from None


class Handler(BaseHTTPRequestHandler):
    """One connection: routes GET/POST to the :class:`App`; every failure is a JSON error line."""

    app: App  # set by make_handler
    quiet = True
    idle_timeout = SOCKET_TIMEOUT
    server_version = f"namesmith/{__version__}"
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; with Nagle's algorithm the second waits for the
    # client's delayed ACK (~40 ms per request on keep-alive connections). TCP_NODELAY avoids it.
    disable_nagle_algorithm = True

    def setup(self):
        self.timeout = self.idle_timeout  # every read and write: an idle or slow client is dropped
        super().setup()

    def log_message(self, fmt, *args):  # noqa: D401 - quiet by default
        if not self.quiet:
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
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _guarded(self, work) -> None:
        """Run ``work()``; every failure becomes a JSON error, never a traceback."""
        try:
            work()
        except ApiError as e:
            self._error(e.status, str(e))
        except VocabError as e:
            self._error(400, str(e))
        except ConstraintError as e:
            self._error(422, str(e))
        except NamesmithError as e:
            self._error(400, str(e))
        except (ConnectionError, socket.timeout):
            self.close_connection = True
        except Exception as e:
            self._error(500, f"internal error: {type(e).__name__}")

    # --- routing
    def do_GET(self):  # noqa: N802
        self._guarded(self._get)

    def _get(self):
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            self._send(200, _static("index.html"), "text/html; charset=utf-8")
        elif path.startswith("/static/") and path[len("/static/"):] in STATIC:
            name = path[len("/static/"):]
            self._send(200, _static(name), STATIC[name])
        elif path == "/healthz":
            self._json(200, {"status": "ok", "version": __version__, "models": len(self.app.models)})
        elif path == "/api/models":
            self._json(200, self.app.model_list())
        elif path in ("/api/generate", "/api/score", "/api/classify"):
            raise ApiError(405, f"use POST for {path}")
        else:
            raise ApiError(404, f"nothing at {path}")

    def do_POST(self):  # noqa: N802
        self._guarded(self._post)

    def _post(self):
        path = urlsplit(self.path).path
        routes = {"/api/generate": self.app.generate, "/api/score": self.app.score, "/api/classify": self.app.classify}
        if path not in routes:
            self._read_body(discard=True)  # so the connection stays usable
            raise ApiError(404 if path not in ("/", "/healthz", "/api/models") else 405,
                           f"no POST endpoint at {path}")
        body = _parse_json(self._read_body())
        self._json(200, routes[path](body))

    def do_PUT(self):  # noqa: N802
        self._guarded(self._other)

    do_DELETE = do_PATCH = do_PUT

    def _other(self):
        self._read_body(discard=True)
        raise ApiError(405, "method not allowed")

    def _read_body(self, discard: bool = False) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            if discard:
                return b""
            self.close_connection = True
            raise ApiError(411, "a Content-Length header is required")
        if not length.strip().isdigit():
            self.close_connection = True
            raise ApiError(400, "bad Content-Length")
        size = int(length)
        if size > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, f"the request body is limited to {MAX_BODY} bytes")
        return self.rfile.read(size)


def make_handler(app: App, quiet: bool = True, timeout: float = SOCKET_TIMEOUT) -> type[Handler]:
    """The handler class bound to ``app`` (the standard library wants a class, not an instance)."""
    return type("AppHandler", (Handler,), {"app": app, "quiet": quiet, "idle_timeout": timeout})


class BoundedServer(ThreadingHTTPServer):
    """A thread per connection, at most ``MAX_WORKERS`` at once; beyond that a 503, never silence."""

    daemon_threads = True
    request_queue_size = BACKLOG  # the listen() backlog (the standard library's default is 5)

    def __init__(self, address, handler, workers: int = MAX_WORKERS):
        self.slots = threading.BoundedSemaphore(workers)
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                b"Content-Length: 50\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
                                b'{"error": "the server is busy; try again shortly"}')
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address):
        """A client that vanished mid-request is not an error of the server; say nothing."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, socket.timeout, TimeoutError)):
            print(f"namesmith: error while serving {client_address[0]}: {type(exc).__name__}: {exc}",
                  file=sys.stderr)


class Server:
    """A running server in a background thread (used by the tests and by ``serve``)."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, quiet: bool = True,
                 timeout: float = SOCKET_TIMEOUT, workers: int = MAX_WORKERS):
        self.app = app
        self.httpd = BoundedServer((host, port), make_handler(app, quiet, timeout), workers)
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
    shipped = pretrained_path("given-names")
    if shipped is not None:
        log("namesmith: no model given, serving the shipped given-names model (see namesmith models)")
        return shipped
    path = default_model_path()
    if path.exists():
        log(f"namesmith: no model given, serving the built-in default model (cached at {path})")
        return path
    log(f"namesmith: no model given; training the built-in default model once "
        f"(about 2 minutes), cached at {path} for next time")
    fit(out=path, samples=0, log=log)
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
