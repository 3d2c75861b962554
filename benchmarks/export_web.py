"""The exported page of each shipped model: its size, how soon names appear, and how fast it generates,
beside the Python sampler on the same model and options, interleaved round by round.

    python benchmarks/export_web.py given-names world --n 2000 --rounds 5

For each model: ``namesmith export MODEL --web DIR`` into a temporary folder; the size of
each file and of the whole site gzipped (level 9, as a static host serves it); then, in
headless Chromium (the system's, through Playwright), the page opened from ``file://``:
the time until its first names are shown (it generates the page's default 20 names on
opening) and, for ``rounds`` rounds, ``n`` names through the page's own backend
(``namesmith.js``) with the Python API's default options and with the page's (novel-only,
no duplicates, at least 3 letters), each round followed by the Python sampler
(``Checkpoint.sample``, one BLAS thread) on the same options and seed. Medians of the
rounds; one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

import namesmith
from namesmith.cli import main as cli

PAGE = {"min_len": 3, "novel": True, "unique": True}


def python_rate(ck, n: int, seed: int, opts: dict) -> float:
    with threadpool_limits(1, "blas"):
        t0 = time.perf_counter()
        got = ck.sample(n, seed=seed, **opts)
        return len(got) / (time.perf_counter() - t0)


def page_rate(page, n: int, seed: int, opts: dict) -> float:
    ms = page.evaluate("async (body) => { const t0 = performance.now(); "
                       "const r = await namesmithLocal.request('/api/generate', body); "
                       "return [r.names.length, performance.now() - t0]; }", {"n": n, "seed": seed, **opts})
    return ms[0] / (ms[1] / 1e3)


def measure(browser, model: str, n: int, rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        with contextlib.redirect_stdout(sys.stderr):
            code = cli(["export", model, "--web", str(site)])
        if code != 0:
            raise SystemExit(f"export of {model} failed")
        sizes = {p.name: p.stat().st_size for p in site.iterdir() if not p.name.startswith(".")}
        gz = {name: len(gzip.compress((site / name).read_bytes(), 9)) for name in sizes}
        page = browser.new_page()
        t0 = time.perf_counter()
        page.goto((site / "index.html").as_uri())
        page.wait_for_selector("#results li", timeout=60_000)
        first = time.perf_counter() - t0
        ck = namesmith.load(model)
        page_rate(page, 200, 0, {}), python_rate(ck, 200, 0, {})  # warm up both
        runs = {"default": ([], []), "page": ([], [])}
        for r in range(rounds):
            for label, opts in (("default", {}), ("page", PAGE)):
                runs[label][0].append(page_rate(page, n, r + 1, opts))
                runs[label][1].append(python_rate(ck, n, r + 1, opts))
        page.close()
    out = {"model": model, "bytes": sizes, "gzip_bytes": gz, "site_gzip_bytes": sum(gz.values()),
           "first_names_s": round(first, 3)}
    for label, (js, py) in runs.items():
        out[label] = {"page_names_per_s": round(statistics.median(js)), "python_names_per_s": round(
            statistics.median(py)), "page_rounds": [round(x) for x in js], "python_rounds": [round(x) for x in py]}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        chromium = browser.version
        rows = [measure(browser, m, args.n, args.rounds) for m in args.models]
        browser.close()
    print(json.dumps({"chromium": chromium, "n": args.n, "rounds": args.rounds, "models": rows,
                      "command": "python benchmarks/export_web.py " + " ".join(sys.argv[1:])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
