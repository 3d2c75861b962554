"""``namesmith serve`` on the standard Python API stack: a FastAPI application run by uvicorn.

Endpoints (JSON in and out; the schema, with every bound, is at ``/openapi.json``;
errors are ``{"error": "<plain words>"}`` with a 4xx status, never a traceback):

* ``GET /`` the page, ``GET /static/<file>`` its script and style sheet; ``GET /healthz``
* ``GET /api/models`` the served models (type, size, corpus, NLL, styles)
* ``POST /api/generate``, ``POST /api/score``, ``POST /api/classify`` (see :mod:`namesmith.web.app`)

The HTTP layer bounds what a client can hold: a request body is read within
``BODY_TIMEOUT`` seconds and at most ``MAX_BODY`` bytes (:class:`BodyGuard`), every
request's line and headers must arrive within ``HEADER_TIMEOUT`` seconds and
``MAX_HEADER_BYTES`` (:class:`HeaderDeadline`), each worker runs at most
``LIMIT_REQUESTS`` requests at once (:class:`RequestLimit`, then 503) and holds at
most ``MAX_CONNECTIONS`` connections.

Each worker process holds the models read-only with one BLAS thread and computes one
request at a time, on its event loop (the endpoints are ``async``): run in a thread pool,
several requests of one worker took turns at the GIL, and p99 latency was 64-89 ms where it
is 26-30 ms now (BENCHMARKS.md, "Serving"). With several workers, :class:`Rebalance` closes
each kept-alive connection after its answer, so a client's next request goes to whichever
worker is free instead of staying with the one that first accepted it.
"""

from __future__ import annotations

import asyncio
import json
import os
from http import HTTPStatus
from importlib import resources
from typing import Optional

from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from uvicorn.protocols.http.h11_impl import H11Protocol

from .._version import __version__
from ..errors import ConstraintError, NamesmithError
from .app import (MAX_BLEND, MAX_BODY, App, ApiError, ClassifyRequest, ClassifyResponse, ErrorResponse,
                  GenerateRequest, GenerateResponse, Health, ModelsResponse, ScoreRequest, ScoreResponse)

HEADER_TIMEOUT = 10.0  # seconds for each request's line and headers, from the connection or the previous answer
MAX_HEADER_BYTES = 32 * 1024  # the request line and headers
LIMIT_REQUESTS = 1000  # requests in progress per worker before 503 (connections waiting for headers hold none)
MAX_CONNECTIONS = 10_000  # open connections per worker before 503 (bounded by the open-file limit too)
BODY_TIMEOUT = 10.0  # seconds to receive a request body
KEEP_ALIVE = 5  # seconds an idle keep-alive connection is kept
STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
ERRORS = {code: {"model": ErrorResponse} for code in (400, 404, 413, 422)}


def _static(name: str) -> bytes:
    return resources.files("namesmith.web").joinpath("static", name).read_bytes()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


# ----- turning validation errors into one plain sentence --------------------------------------
def _bounds(schema: dict) -> str:
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    return f"between {lo} and {hi}" if lo is not None and hi is not None else f"at least {lo}" if lo is not None \
        else f"at most {hi}"


def plain_error(err: dict, model: type | None) -> tuple[int, str]:
    """``(status, sentence)`` for the first pydantic error of a request, bounds read from its declaration."""
    loc = [x for x in err["loc"] if x != "body"]
    field, kind, ctx = (str(loc[0]) if loc else None), err["type"], err.get("ctx") or {}
    props = model.model_json_schema().get("properties", {}) if model else {}
    if kind == "json_invalid":
        return 400, "the request body is not valid JSON"
    if field is None or kind in ("model_type", "model_attributes_type"):
        return 400, str(ctx.get("error") or "the request body must be a JSON object")
    if kind == "extra_forbidden":
        return 400, f"unknown parameter '{field}' (allowed: {', '.join(sorted(props))})"
    if field == "model":
        return 404, f"no model named {err.get('input')!r}; see /api/models"
    if field == "style":
        return 400, (f"'style' must be a style name, \"A=0.7,B=0.3\" or an object of up to {MAX_BLEND} styles "
                     "with weights ≥ 0")
    schema = props.get(field, {})
    schema = next((s for s in schema.get("anyOf", []) if s.get("type") not in (None, "null")), schema)
    words = {"int_type": "a whole number", "float_type": "a number", "bool_type": "true or false",
             "string_type": "text", "list_type": "a list of texts", "finite_number": "a finite number"}
    if kind in words:
        return 400, f"'{field}' must be {words[kind]}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return 400, f"'{field}' must be {_bounds(schema)}"
    if kind == "string_too_long":
        return 400, f"'{field}' is longer than {ctx.get('max_length')} characters"
    if kind == "too_long":
        return 400, f"at most {ctx.get('max_length')} {field} per request"
    return 400, f"'{field}': {err.get('msg', 'invalid')}"


# ----- the HTTP guards -------------------------------------------------------------------------
class BodyGuard:
    """ASGI middleware: a body over ``limit`` bytes gets 413, one slower than ``timeout`` seconds 408.

    The body is read (bounded) before the application sees it and then replayed. A POST body is read as
    JSON whatever its ``Content-Type`` says: ``curl -d '{...}'`` sends a form type, and every body this API
    takes is JSON.
    """

    def __init__(self, app, limit: int = MAX_BODY, timeout: float = BODY_TIMEOUT):
        self.app, self.limit, self.timeout = app, limit, timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            status, text = (413, f"request bodies are limited to {self.limit} bytes") if length.isdigit() else (
                400, "the Content-Length header is not a number")
            return await _error(status, text)(scope, receive, send)
        body, more = b"", True
        deadline = asyncio.get_running_loop().time() + self.timeout
        try:
            while more:
                msg = await asyncio.wait_for(receive(), max(deadline - asyncio.get_running_loop().time(), 0.001))
                if msg["type"] == "http.disconnect":
                    return
                body += msg.get("body", b"")
                more = msg.get("more_body", False)
                if len(body) > self.limit:
                    return await _error(413, f"request bodies are limited to {self.limit} bytes")(scope, receive, send)
        except asyncio.TimeoutError:
            return await _error(408, f"the request body did not arrive within {self.timeout:g} s")(
                scope, receive, send)
        if scope.get("method") == "POST":  # every body is JSON: read it so whatever the Content-Type says
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"content-type"]
                     + [(b"content-type", b"application/json")]}
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class HeaderDeadline:
    """Mixed into uvicorn's HTTP/1.1 protocols: bounds on every request's headers, and JSON for bad framing.

    * **Every request's headers within** ``header_timeout`` **seconds**: the deadline is armed when a
      connection opens and again when a response completes (the next request on a kept-alive connection),
      and disarmed when that request's headers are complete. A client that trickles headers a byte at a
      time is cut off at the deadline; the keep-alive timer alone would be cancelled by its first byte.
    * **At most** ``max_header_bytes`` before the headers are complete (a 48 MB header line, a 1 MB URL):
      431, and the connection is closed.
    * **Only HTTP/1.0 and 1.1**: a request line without a version (HTTP/0.9) or with another is refused.
    * **Malformed framing** (a bad Content-Length or chunk size, two lengths, length with chunked, garbage,
      an HTTP/2 preface) is answered ``{"error": ...}`` with status 400 like every other error, not
      uvicorn's plain-text line.
    """

    header_timeout = HEADER_TIMEOUT
    max_header_bytes = MAX_HEADER_BYTES

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._header_timer = None
        self._awaiting = None  # the cycle before the awaited request's: its headers are in when self.cycle differs
        self._header_bytes = 0
        self._await_headers()

    def _await_headers(self) -> None:
        self._disarm()
        self._awaiting, self._header_bytes = self.cycle, 0
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def reply_error(self, status: int, message: str) -> None:
        """Answer ``{"error": message}`` and close the connection (the request could not be read)."""
        self._disarm()
        if self.transport.is_closing():
            return
        body = json.dumps({"error": message}).encode()
        head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode()
        self.transport.write(head + body)
        self.transport.close()

    def send_400_response(self, msg: str) -> None:  # uvicorn's hook for a request its parser cannot read
        self.reply_error(400, "the request is not valid HTTP/1.1 (its request line, a header or the framing of "
                              "its body is malformed)")

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._header_timer is not None:
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                return self.reply_error(431, f"the request line and headers are limited to "
                                             f"{self.max_header_bytes // 1024} KiB")
        super().data_received(data)
        if self._header_timer is not None and self.cycle is not self._awaiting:
            self._disarm()  # this request's headers are complete

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._await_headers()  # the next request on this connection (none pipelined): its own deadline

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)


class GuardedH11(HeaderDeadline, H11Protocol):
    """The pure-Python h11 parser with the header deadline."""


try:  # the C parser of uvicorn[standard], several times faster per request
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpTools(HeaderDeadline, HttpToolsProtocol):
        """The httptools parser with the header bounds; it also reads HTTP/0.9 request lines, refused here."""

        def on_headers_complete(self) -> None:
            version = self.parser.get_http_version()
            if version not in ("1.0", "1.1"):
                return self.reply_error(505, f"only HTTP/1.0 and HTTP/1.1 are served, not {version or 'no version'}")
            super().on_headers_complete()

    PROTOCOL: type = GuardedHttpTools
except ImportError:  # pragma: no cover - uvicorn without its standard extras
    PROTOCOL = GuardedH11


class Rebalance:
    """ASGI middleware: every ``every``-th request on a connection is answered with ``Connection: close``.

    Keep-alive connections stay with the worker process that accepted them, and the kernel hands
    new connections to whichever worker accepts first, so 8 clients' connections measured 8/0, 7/1 or
    6/2 across 2 workers as often as 4/4: throughput moved 2x between runs. A client whose connection
    is closed reconnects, and the worker that is free accepts first, so the load evens out.
    """

    def __init__(self, app, every: int):
        self.app, self.every = app, every
        self.counts: dict = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.every <= 0 or scope.get("client") is None:
            return await self.app(scope, receive, send)
        if len(self.counts) > 4096:
            self.counts.clear()
        key = tuple(scope["client"])
        n = self.counts[key] = self.counts.get(key, 0) + 1
        if n % self.every:
            return await self.app(scope, receive, send)
        self.counts.pop(key, None)

        async def closing(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)


class RequestLimit:
    """ASGI middleware: at most ``limit`` requests in progress in this worker; more get 503 at once.

    It counts requests whose headers have arrived, not connections: idle or slow clients (who are
    cut off by the header deadline) cannot take the slots of real requests.
    """

    def __init__(self, app, limit: int = LIMIT_REQUESTS):
        self.app, self.limit, self.active = app, limit, 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.active >= self.limit:
            return await _error(503, f"the server is busy ({self.active} requests in progress); try again in a "
                                     "moment")(scope, receive, send)
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


# ----- the application -------------------------------------------------------------------------
def _add_error_handlers(api: FastAPI) -> None:
    """Every failure as ``{"error": "<plain words>"}`` with its status: validation (400, naming the field and
    its bound), API errors, namesmith's errors (400, or 422 for constraints that cannot be met), HTTP errors
    (404, 405) and anything unexpected (500, no traceback)."""
    bodies = {"/api/generate": GenerateRequest, "/api/score": ScoreRequest, "/api/classify": ClassifyRequest}

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return _error(*plain_error(exc.errors()[0], bodies.get(request.url.path)))

    @api.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _error(exc.status, str(exc))

    @api.exception_handler(NamesmithError)
    async def _namesmith(request: Request, exc: NamesmithError):
        return _error(422 if isinstance(exc, ConstraintError) else 400, str(exc))

    @api.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        text = f"use POST for {request.url.path}" if exc.status_code == 405 else (
            f"nothing at {request.url.path}" if exc.status_code == 404 else str(exc.detail))
        return _error(exc.status_code, text)

    @api.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        return _error(500, f"internal error: {type(exc).__name__}")


def create_app(app: App, body_timeout: float = BODY_TIMEOUT, limit: int = LIMIT_REQUESTS,
               rebalance: int = 0) -> FastAPI:
    """The FastAPI application serving ``app``'s models (no docs page: it would load assets from a CDN)."""
    api = FastAPI(title="namesmith", version=__version__, docs_url=None, redoc_url=None,
                  description="Generate, score and classify names with character-level language models.")
    _add_error_handlers(api)

    @api.get("/", include_in_schema=False)
    @api.get("/index.html", include_in_schema=False)
    def page():
        return Response(_static("index.html"), media_type="text/html; charset=utf-8")

    @api.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        if name not in STATIC:
            raise HTTPException(404)
        return Response(_static(name), media_type=STATIC[name])

    @api.get("/healthz", response_model=Health)
    async def healthz():
        return {"status": "ok", "version": __version__, "models": len(app.models), "worker": os.getpid()}

    @api.get("/api/models", response_model=ModelsResponse)
    async def models():
        return app.model_list()

    @api.get("/api/options")
    async def options():
        """The generation controls, declared once (namesmith.sample.SampleOptions): name, kind, the page's
        default, limits, label and help of each; the page builds its form from them."""
        return app.options()

    @api.post("/api/generate", response_model=GenerateResponse, responses=ERRORS)
    async def generate(req: Optional[GenerateRequest] = Body(None)):
        return JSONResponse(app.generate(req or GenerateRequest()))  # built by App: no re-validation

    @api.post("/api/score", response_model=ScoreResponse, responses=ERRORS)
    async def score(req: Optional[ScoreRequest] = Body(None)):
        return JSONResponse(app.score(req or ScoreRequest()))  # built by App: no re-validation

    @api.post("/api/classify", response_model=ClassifyResponse, responses=ERRORS)
    async def classify(req: Optional[ClassifyRequest] = Body(None)):
        return JSONResponse(app.classify(req or ClassifyRequest()))  # built by App: no re-validation

    api.add_middleware(BodyGuard, timeout=body_timeout)
    api.add_middleware(RequestLimit, limit=limit)  # a busy worker answers before reading a body
    if rebalance:
        api.add_middleware(Rebalance, every=rebalance)
    return api


def app_from_env() -> FastAPI:
    """The application of a ``namesmith serve`` worker process: its models from ``NAMESMITH_SERVE_MODELS``."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # workers share the cores: one BLAS thread each
    return create_app(App(json.loads(os.environ["NAMESMITH_SERVE_MODELS"])),
                      rebalance=int(os.environ.get("NAMESMITH_SERVE_REBALANCE", "0")))
