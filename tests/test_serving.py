"""The serving stack: the OpenAPI schema, slow clients, worker processes, clean shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest

from namesmith.checkpoint import save_checkpoint
from namesmith.models.rnn import RNN
from namesmith.vocab import Vocab
from namesmith.web.app import App
from namesmith.web.server import Server


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    vocab = Vocab.from_names(["abcdefghijklmnopqrstuvwxyz"])
    path = tmp_path_factory.mktemp("serving") / "m.npz"
    save_checkpoint(path, RNN.create({"vocab_size": vocab.size, "hidden": 16}, np.random.default_rng(0)), vocab)
    return path


@pytest.fixture(scope="module")
def server(model):
    srv = Server(App({"m": str(model)})).start()
    yield srv
    srv.stop()


def get(url: str, timeout: float = 10.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, json.loads(r.read())


def test_openapi_describes_every_endpoint_with_its_bounds(server):
    status, schema = get(server.url + "/openapi.json")
    assert status == 200
    assert {"/healthz", "/api/models", "/api/generate", "/api/score", "/api/classify"} <= set(schema["paths"])
    gen = schema["components"]["schemas"]["GenerateRequest"]
    assert gen["additionalProperties"] is False
    assert (gen["properties"]["n"]["minimum"], gen["properties"]["n"]["maximum"]) == (1, 500)
    assert gen["properties"]["temperature"]["maximum"] == 5.0
    assert "400" in schema["paths"]["/api/generate"]["post"]["responses"]
    with pytest.raises(urllib.error.HTTPError) as e:  # no docs page: it would fetch its assets from a CDN
        urllib.request.urlopen(server.url + "/docs", timeout=5)
    assert e.value.code == 404


def test_slow_clients_do_not_starve_others(server):
    """100 connections trickle their headers for 4 s (NAMESMITH_SLOW_SECONDS); /healthz stays fast, every request
    succeeds. ``NAMESMITH_SLOW_SECONDS=10 pytest tests/test_serving.py -k slow -s`` prints the figures."""
    host, port = server.address
    stop = threading.Event()
    slow = []
    for _ in range(100):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        slow.append(s)

    def trickle():
        while not stop.is_set():
            for s in slow:
                try:
                    s.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass
            time.sleep(0.2)

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    latencies = []
    seconds = float(os.environ.get("NAMESMITH_SLOW_SECONDS", "4"))
    deadline = time.time() + seconds
    try:
        while time.time() < deadline:
            t0 = time.perf_counter()
            status, body = get(server.url + "/healthz", timeout=5)
            latencies.append(time.perf_counter() - t0)
            assert status == 200 and body["status"] == "ok"
            status, body = get(server.url + "/api/models", timeout=5)
            assert status == 200
    finally:
        stop.set()
        t.join()
        for s in slow:
            s.close()
    latencies.sort()
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    print(f"slow clients: 100 for {seconds:g} s; /healthz {len(latencies)} requests, median "
          f"{1e3 * statistics.median(latencies):.1f} ms, p99 {1e3 * p99:.1f} ms, max {1e3 * latencies[-1]:.1f} ms")
    assert len(latencies) > 50 and p99 < 0.1, (len(latencies), p99, statistics.median(latencies))


def test_a_connection_that_never_sends_its_headers_is_closed(model):
    srv = Server(App({"m": str(model)}), timeout=1.0).start()
    try:
        host, port = srv.address
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: 1\r\n")  # and never the end of the headers
            t0 = time.time()
            assert s.recv(100) == b""  # closed by the server
            assert time.time() - t0 < 5
    finally:
        srv.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_worker_processes_answer_and_stop_cleanly_on_ctrl_c(model):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "namesmith", "serve", f"m={model}", "--port", str(port),
                             "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                get(url + "/healthz", timeout=2)
                break
            except OSError:
                assert proc.poll() is None and time.time() < deadline, proc.communicate()[1]
                time.sleep(0.2)
        workers = set()
        for _ in range(60):  # fresh connections, so the kernel spreads them over both workers
            workers.add(get(url + "/healthz")[1]["worker"])
            req = urllib.request.Request(url + "/api/generate", data=json.dumps({"n": 3, "seed": 1}).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as r:
                assert len(json.loads(r.read())["names"]) == 3
            if len(workers) == 2:
                break
        assert len(workers) == 2, workers
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert "2 worker processes" in out and "stopped" in out


def test_serve_refuses_a_busy_port_in_one_line(model):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "namesmith", "serve", str(model), "--port", str(port)],
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "cannot listen" in r.stderr and len(r.stderr.strip().splitlines()) == 1
