"""Slow-loris on kept-alive connections against ``namesmith serve``, and what a new client sees meanwhile.

Starts ``namesmith serve MODEL --workers W`` on a free loopback port; opens ``--attackers`` connections,
each of which sends one ``GET /healthz``, reads the answer, then trickles the next request's headers at
one byte per second (the keep-alive timer is re-armed by uvicorn only after a response; the first byte
cancels it). Meanwhile a probe opens a new connection every 50 ms and asks ``/healthz``. Reports the
probes' statuses and latency quantiles, and how many attacking connections the server still held at the
end (the header deadline, 10 s, must have closed them). Prints one JSON object.

    python benchmarks/slowloris.py MODEL.npz --attackers 1010 --workers 1 --seconds 25
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web_load import free_port, wait_up  # noqa: E402

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


async def attacker(port: int, stop: float, alive: list) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    try:
        writer.write(REQUEST)
        await writer.drain()
        await reader.readuntil(b"}")  # the JSON answer of the first request
        alive.append(writer)
        for byte in REQUEST * 100:
            if time.time() > stop:
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(1.0)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        if writer in alive:
            alive.remove(writer)
        writer.close()


async def probe(port: int, stop: float, out: list) -> None:
    while time.time() < stop:
        t = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(REQUEST.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
            await writer.drain()
            status = (await asyncio.wait_for(reader.readline(), 5)).split(b" ")[1].decode()
            await reader.read()
            writer.close()
        except (OSError, asyncio.TimeoutError, IndexError):
            status = "failed"
        out.append((status, (time.perf_counter() - t) * 1e3))
        await asyncio.sleep(0.05)


async def attack(port: int, attackers: int, seconds: float) -> dict:
    stop = time.time() + seconds
    alive: list = []
    probes: list = []
    tasks = [asyncio.create_task(attacker(port, stop, alive)) for _ in range(attackers)]
    await asyncio.sleep(2.0)  # every attacker connected and answered once
    peak = len(alive)
    await probe(port, stop, probes)
    held_at_end = len(alive)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    ms = sorted(m for s, m in probes if s == "200")
    q = statistics.quantiles(ms, n=100) if len(ms) >= 2 else [float("nan")] * 99
    return {"attackers": attackers, "trickling_after_first_answer": peak, "held_at_end": held_at_end,
            "probes": len(probes), "probe_200": len(ms), "probe_other": len(probes) - len(ms),
            "probe_p50_ms": q[49], "probe_p99_ms": q[98], "probe_max_ms": ms[-1] if ms else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--attackers", type=int, default=1010)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=25)
    a = ap.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "namesmith", "serve", a.model, "--port", str(port),
                               "--workers", str(a.workers)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(port)
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, a.attackers + 256)), hard))
        res = asyncio.run(attack(port, a.attackers, a.seconds))
    finally:
        server.terminate()
        server.wait(10)
    res.update(workers=a.workers, seconds=a.seconds,
               command=f"python benchmarks/slowloris.py MODEL --attackers {a.attackers} --workers {a.workers} "
                       f"--seconds {a.seconds:g}")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
