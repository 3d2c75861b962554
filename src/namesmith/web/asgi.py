"""``namesmith serve`` on the standard Python API stack: a FastAPI application run by uvicorn.

Endpoints (JSON in and out; the schema, with every bound, is at ``/openapi.json``;
errors are ``{"error": "<plain words>"}`` with a 4xx status, never a traceback):

* ``GET /`` the page, ``GET /static/<file>`` its script and style sheet; ``GET /healthz``
* ``GET /api/models`` the served models (type, size, corpus, NLL, styles)
* ``POST /api/generate``, ``POST /api/score``, ``POST /api/classify`` (see :mod:`namesmith.web.app`)

The HTTP layer bounds what a client can hold: a request body is read within
``BODY_TIMEOUT`` seconds and at most ``MAX_BODY`` bytes (:class:`BodyGuard`), the
first request's headers must arrive within ``HEADER_TIMEOUT`` seconds
(:class:`GuardedH11`; later ones are bounded by the keep-alive timeout), and each
worker answers at most ``LIMIT_CONCURRENCY`` connections at once (then 503). The
event loop only reads and writes: the endpoints are plain functions run in a thread
pool, and each worker process holds the models read-only with one BLAS thread.
"""

from __future__ import annotations

import asyncio
import json
import os
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

HEADER_TIMEOUT = 10.0  # seconds for a new connection's first request headers
BODY_TIMEOUT = 10.0  # seconds to receive a request body
KEEP_ALIVE = 5  # seconds an idle keep-alive connection is kept
LIMIT_CONCURRENCY = 1000  # connections + requests per worker before 503
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

    The body is read (bounded) before the application sees it and then replayed.
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
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class HeaderDeadline:
    """Mixed into uvicorn's HTTP/1.1 protocols: a deadline for a new connection's first request headers.

    A client that connects and then sends its headers slowly (or never) is
    disconnected after ``header_timeout`` seconds; later requests on the connection
    are bounded by the keep-alive timeout, which uvicorn arms between requests.
    """

    header_timeout = HEADER_TIMEOUT

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.cycle is not None and self._header_timer is not None:  # the first request's headers arrived
            self._header_timer.cancel()
            self._header_timer = None

    def connection_lost(self, exc) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)


class GuardedH11(HeaderDeadline, H11Protocol):
    """The pure-Python h11 parser with the header deadline."""


try:  # the C parser of uvicorn[standard], several times faster per request
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpTools(HeaderDeadline, HttpToolsProtocol):
        """The httptools parser with the header deadline."""

    PROTOCOL: type = GuardedHttpTools
except ImportError:  # pragma: no cover - uvicorn without its standard extras
    PROTOCOL = GuardedH11


# ----- the application -------------------------------------------------------------------------
def create_app(app: App, body_timeout: float = BODY_TIMEOUT) -> FastAPI:
    """The FastAPI application serving ``app``'s models (no docs page: it would load assets from a CDN)."""
    api = FastAPI(title="namesmith", version=__version__, docs_url=None, redoc_url=None,
                  description="Generate, score and classify names with character-level language models.")
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
    def healthz():
        return {"status": "ok", "version": __version__, "models": len(app.models), "worker": os.getpid()}

    @api.get("/api/models", response_model=ModelsResponse)
    def models():
        return app.model_list()

    @api.post("/api/generate", response_model=GenerateResponse, responses=ERRORS)
    def generate(req: Optional[GenerateRequest] = Body(None)):
        return JSONResponse(app.generate(req or GenerateRequest()))  # built by App: no re-validation

    @api.post("/api/score", response_model=ScoreResponse, responses=ERRORS)
    def score(req: Optional[ScoreRequest] = Body(None)):
        return JSONResponse(app.score(req or ScoreRequest()))  # built by App: no re-validation

    @api.post("/api/classify", response_model=ClassifyResponse, responses=ERRORS)
    def classify(req: Optional[ClassifyRequest] = Body(None)):
        return JSONResponse(app.classify(req or ClassifyRequest()))  # built by App: no re-validation

    api.add_middleware(BodyGuard, timeout=body_timeout)
    return api


def app_from_env() -> FastAPI:
    """The application of a ``namesmith serve`` worker process: its models from ``NAMESMITH_SERVE_MODELS``."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # workers share the cores: one BLAS thread each
    return create_app(App(json.loads(os.environ["NAMESMITH_SERVE_MODELS"])))
