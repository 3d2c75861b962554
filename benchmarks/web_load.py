"""Load test of `POST /api/generate` (n = 20): requests/s and latency under concurrent clients.

Starts `namesmith serve MODEL` in a subprocess on a free loopback port (one BLAS
thread, the serve default), then drives it with wrk (Debian package `wrk`,
C and epoll, so the load generator takes little of the 2 cores) for --seconds
with --clients keep-alive connections, each sending the same JSON body with
its own seed. Falls back to a Python thread client when wrk is missing.
Prints one JSON object.

    python benchmarks/web_load.py MODEL.npz --clients 8 --seconds 20 [--workers N] [--src OLD/src]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BODY = {"n": 20, "temperature": 1.0, "min_len": 3, "max_len": 12}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(port: int, timeout: float = 60) -> None:
    t = time.time()
    while time.time() - t < timeout:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '%s'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%f %%f %%f\\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, latency.max, latency:percentile(90)))
end
"""


def run_wrk(port, clients, seconds):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA % json.dumps(BODY))
        script = f.name
    out = subprocess.run(["wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds}s", "--latency", "-s", script,
                          f"http://127.0.0.1:{port}/api/generate"], capture_output=True, text=True).stdout
    Path(script).unlink()
    m = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", out)
    req, sock_err, status_err, dur_us, p50, p99, mean, mx, p90 = m.groups()
    return {"tool": "wrk", "requests": int(req), "errors": int(sock_err) + int(status_err),
            "requests_per_s": int(req) / (int(dur_us) / 1e6), "p50_ms": int(p50) / 1e3, "p90_ms": float(p90) / 1e3,
            "p99_ms": int(p99) / 1e3, "mean_ms": float(mean) / 1e3, "max_ms": float(mx) / 1e3}


def run_python(port, clients, seconds):
    lat, errors = [], [0]
    stop = time.time() + seconds
    lock = threading.Lock()
    body = json.dumps(BODY).encode()

    def client():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.time() < stop:
            t = time.perf_counter()
            c.request("POST", "/api/generate", body=body, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            with lock:
                lat.append(time.perf_counter() - t)
                errors[0] += r.status != 200

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat.sort()
    return {"tool": "python", "requests": len(lat), "errors": errors[0], "requests_per_s": len(lat) / (time.time() - t0),
            "p50_ms": lat[len(lat) // 2] * 1e3, "p99_ms": lat[int(len(lat) * 0.99)] * 1e3}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--workers", type=int, help="namesmith serve --workers (servers that have it)")
    ap.add_argument("--src", help="serve with the namesmith package in this folder (an older version's src)")
    a = ap.parse_args()
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.path.abspath(a.src)) if a.src else None
    extra = ["--workers", str(a.workers)] if a.workers else []
    server = subprocess.Popen([sys.executable, "-m", "namesmith", "serve", a.model, "--port", str(port), *extra],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_up(port)
        # warm-up
        c = http.client.HTTPConnection("127.0.0.1", port)
        for _ in range(20):
            c.request("POST", "/api/generate", body=json.dumps(BODY), headers={"Content-Type": "application/json"})
            c.getresponse().read()
        res = run_wrk(port, a.clients, a.seconds) if shutil.which("wrk") else run_python(port, a.clients, a.seconds)
    finally:
        server.terminate()
        server.wait(10)
    res.update(clients=a.clients, seconds=a.seconds, body=BODY, workers=a.workers, src=a.src)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
