"""``namesmith serve``: the page and the JSON API (:mod:`namesmith.web.asgi`) on uvicorn worker processes.

:func:`serve_main` checks the models and the address in this process (so mistakes
are one clear line), then starts uvicorn with ``--workers`` processes (default:
one per core), each loading the models read-only with one BLAS thread.
:class:`Server` runs the same application in a background thread of this process
(the tests, and anyone embedding namesmith).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn

from .._version import __version__
from ..api import fit
from ..errors import ConfigError
from ..pretrained import pretrained_path
from ..runtime import usable_cores
from .app import MAX_BODY, App, ApiError  # noqa: F401  (the web API's names, for callers and tests)
from .asgi import KEEP_ALIVE, LIMIT_REQUESTS, MAX_CONNECTIONS, PROTOCOL, create_app

BACKLOG = 1024


def _settings(host: str, port: int, access_log: bool, protocol: type = PROTOCOL,
              keep_alive: float = KEEP_ALIVE) -> dict:
    """uvicorn's settings for namesmith: the guarded protocol, its timeouts and limits."""
    return {"host": host, "port": port, "http": protocol, "timeout_keep_alive": keep_alive,
            "limit_concurrency": max_connections(), "backlog": BACKLOG, "access_log": access_log,
            "log_level": "info" if access_log else "warning", "timeout_graceful_shutdown": 5}


def max_connections() -> int:
    """Connections a worker holds before answering 503: ``MAX_CONNECTIONS``, within the open-file limit
    (raised to its hard limit first; a little room is kept for the models and the listening socket)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = MAX_CONNECTIONS + 64
        if soft != resource.RLIM_INFINITY and soft < want:
            soft = want if hard == resource.RLIM_INFINITY else min(want, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        return max(16, min(MAX_CONNECTIONS, soft - 64)) if soft != resource.RLIM_INFINITY else MAX_CONNECTIONS
    except (ImportError, ValueError, OSError):  # not on a POSIX system, or not allowed
        return MAX_CONNECTIONS


def check_host(host) -> str:
    """The address to bind; an empty one (which would silently mean every interface) is refused."""
    if not isinstance(host, str) or not host.strip():
        raise ConfigError("--host is empty; give 127.0.0.1 (this machine only, the default) or, to let other "
                          "machines reach the server, 0.0.0.0 (every interface)")
    return host.strip()


class Server:
    """The application of ``app`` served by uvicorn in a background thread of this process."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, quiet: bool = True,
                 timeout: float | None = None, limit: int = LIMIT_REQUESTS, rebalance: int = 0):
        """``timeout``: seconds for headers, bodies and idle keep-alive (default: the serving defaults);
        ``limit``: requests in progress before 503."""
        self.app = app
        host = check_host(host)
        if timeout is None:
            config = uvicorn.Config(create_app(app, limit=limit, rebalance=rebalance),
                                    **_settings(host, port, not quiet))
        else:
            protocol = type(PROTOCOL.__name__, (PROTOCOL,), {"header_timeout": timeout})
            config = uvicorn.Config(create_app(app, body_timeout=timeout, limit=limit, rebalance=rebalance),
                                    **_settings(host, port, not quiet, protocol, max(1, round(timeout))))
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # the main thread keeps its own
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self.server.servers[0].sockets[0].getsockname()[:2]

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def start(self) -> "Server":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError("the web server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


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


def serve_main(specs: list[str], host: str = "127.0.0.1", port: int = 8000, access_log: bool = False,
               workers: int | None = None) -> int:
    host = check_host(host)
    if specs:
        models = parse_model_args(specs)
    else:  # the shipped model under its own name (it was labelled "default")
        path = ensure_default_model()
        models = {"given-names" if path == pretrained_path("given-names") else "default": str(path)}
    app = App(models)  # every model checked here, before any worker starts
    workers = usable_cores() if workers is None else workers
    if not 1 <= workers <= 64:
        raise ConfigError(f"--workers must be in [1, 64], got {workers}")
    try:  # the address, checked here: a busy port is one line, not a worker's traceback
        with socket.create_server((host, port)):
            pass
    except OSError as e:
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    print(f"namesmith: serving {', '.join(app.models)} at http://{host}:{port}/ with {workers} worker "
          f"process{'es' if workers > 1 else ''} (Ctrl-C to stop)", flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"namesmith: listening on {host}: other machines can reach this server", file=sys.stderr)
    os.environ["NAMESMITH_SERVE_MODELS"] = json.dumps({k: str(v) for k, v in models.items()})
    os.environ["NAMESMITH_SERVE_REBALANCE"] = "1" if workers > 1 else "0"  # asgi.Rebalance
    uvicorn.run("namesmith.web.asgi:app_from_env", factory=True, workers=workers,
                **_settings(host, port, access_log))
    print("namesmith: stopped", flush=True)
    return 0
