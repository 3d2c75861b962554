"""The JSON API over real HTTP, against a server on port 0 in this process."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from namesmith.checkpoint import load_checkpoint, save_checkpoint
from namesmith.corpus import name_hashes
from namesmith.models.rnn import RNN
from namesmith.vocab import Vocab
from namesmith.web.server import MAX_BODY, App, Server, parse_model_args

ALPHA = "abcdefghijklmnopqrstuvwxyz"
TRAIN = ["anna", "emma", "mia", "leo", "noah", "liam", "ava", "eli", "ben", "zoe"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("web")
    vocab = Vocab.from_names([ALPHA])
    paths = {}
    for i, name in enumerate(["first", "second"]):
        model = RNN.create({"vocab_size": vocab.size, "hidden": 16, "dtype": "float32"}, np.random.default_rng(i))
        model.params["by"][0] += 1.0
        p = d / f"{name}.npz"
        save_checkpoint(p, model, vocab, {"corpus": {"source": "test", "names": 10, "lowercase": True},
                                           "metrics": {"val_nll": 2.5}},
                        extras={"known_hashes": name_hashes(TRAIN)})
        paths[name] = str(p)
    srv = Server(App(paths)).start()
    yield srv
    srv.stop()


def request(server, method, path, body=None, raw=None, headers=None):
    host, port = server.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, body=data, headers=hdrs)
    res = conn.getresponse()
    payload = res.read()
    conn.close()
    ctype = res.getheader("Content-Type", "")
    return res.status, (json.loads(payload) if "json" in ctype else payload)


def test_healthz_and_models(server):
    status, body = request(server, "GET", "/healthz")
    assert status == 200 and body["status"] == "ok" and body["models"] == 2
    status, body = request(server, "GET", "/api/models")
    assert status == 200 and [m["name"] for m in body["models"]] == ["first", "second"]
    m = body["models"][0]
    assert m["type"] == "rnn" and m["params"] > 0 and m["val_nll"] == 2.5 and m["corpus"] == "test"


def test_page_and_static_files(server):
    status, page = request(server, "GET", "/")
    assert status == 200 and b"<title>namesmith" in page and b"/static/app.js" in page
    for f in ("app.js", "style.css"):
        status, body = request(server, "GET", f"/static/{f}")
        assert status == 200 and len(body) > 100
    # no external requests: everything the page loads is same-origin
    assert b"http://" not in page and b"https://" not in page


def test_generate_obeys_constraints(server):
    status, body = request(server, "POST", "/api/generate",
                           {"model": "second", "n": 30, "prefix": "Ma", "min_len": 4, "max_len": 7,
                            "novel": True, "unique": True, "seed": 5, "temperature": 0.8, "top_k": 10})
    assert status == 200 and body["model"] == "second" and body["seed"] == 5
    names = [x["name"] for x in body["names"]]
    assert len(names) == 30 and len(set(names)) == 30
    assert all(n.startswith("ma") and 4 <= len(n) <= 7 and n not in TRAIN for n in names)
    assert set(body["names"][0]) == {"name", "display", "logprob", "nats_per_char", "novel", "seed"}
    assert body["names"][0]["display"] == body["names"][0]["name"].capitalize()
    # the same seed gives the same names
    assert request(server, "POST", "/api/generate",
                   {"model": "second", "n": 30, "prefix": "Ma", "min_len": 4, "max_len": 7, "novel": True,
                    "unique": True, "seed": 5, "temperature": 0.8, "top_k": 10})[1]["names"] == body["names"]


def test_generate_best_and_score(server):
    status, body = request(server, "POST", "/api/generate", {"best": 5, "min_len": 2})
    lps = [x["logprob"] for x in body["names"]]
    assert status == 200 and len(lps) == 5 and lps == sorted(lps, reverse=True)
    status, body = request(server, "POST", "/api/score", {"name": "Anna"})
    s = body["scores"][0]
    assert status == 200 and s["name"] == "anna" and len(s["surprisal"]) == 5 and s["logprob"] < 0
    status, body = request(server, "POST", "/api/score", {"names": ["bob", "eve"], "model": "first"})
    assert status == 200 and [x["name"] for x in body["scores"]] == ["bob", "eve"]


@pytest.mark.parametrize("body,status,fragment", [
    ({"n": 0}, 400, "'n'"),
    ({"n": 501}, 400, "'n'"),
    ({"n": "ten"}, 400, "'n'"),
    ({"n": True}, 400, "'n'"),
    ({"temperature": -0.1}, 400, "temperature"),
    ({"temperature": 5.5}, 400, "temperature"),
    ({"temperature": "hot"}, 400, "temperature"),
    ({"top_k": 0}, 400, "top_k"),
    ({"top_p": 0}, 400, "top_p"),
    ({"top_p": 1.5}, 400, "top_p"),
    ({"min_len": 65}, 400, "min_len"),
    ({"max_len": 65}, 400, "max_len"),
    ({"max_len": 0}, 400, "max_len"),
    ({"min_len": 8, "max_len": 4}, 400, "min_len"),
    ({"prefix": "a" * 65}, 400, "prefix"),
    ({"suffix": 3}, 400, "suffix"),
    ({"prefix": "a7"}, 400, "'7'"),
    ({"prefix": "abc", "max_len": 2}, 400, "prefix"),
    ({"seed": -1}, 400, "seed"),
    ({"seed": 2**60}, 400, "seed"),
    ({"novel": "yes"}, 400, "novel"),
    ({"best": 0}, 400, "best"),
    ({"model": "third"}, 404, "no model"),
    ({"model": "../first.npz"}, 404, "no model"),
    ({"pattern": "("}, 400, "not a valid regular expression"),
    ({"pattern": "x" * 201}, 400, "pattern"),
    ({"suffix": "zqzqzq", "n": 3}, 422, "found only"),
    ([1, 2], 400, "JSON object"),
])
def test_generate_validation_errors(server, body, status, fragment):
    got, payload = request(server, "POST", "/api/generate", body)
    assert got == status and fragment in payload["error"]
    assert "Traceback" not in payload["error"]


@pytest.mark.parametrize("body,status,fragment", [
    ({}, 400, "non-empty"),
    ({"name": ""}, 400, "non-empty"),
    ({"name": "a" * 65}, 400, "64"),
    ({"names": "anna"}, 400, "list"),
    ({"names": ["a"] * 51}, 400, "at most"),
    ({"name": "zoë"}, 400, "“ë”"),
    ({"name": "anna", "extra": 1}, 400, "unknown parameter"),
    ({"name": "anna", "model": 3}, 404, "no model"),
])
def test_score_validation_errors(server, body, status, fragment):
    got, payload = request(server, "POST", "/api/score", body)
    assert got == status and fragment in payload["error"]


def test_protocol_errors(server):
    assert request(server, "POST", "/api/generate", raw=b"{not json")[0] == 400
    assert request(server, "POST", "/api/generate", raw=b"\xff\xfe")[0] == 400
    status, body = request(server, "POST", "/api/generate", raw=b"x" * (MAX_BODY + 1))
    assert status == 413 and "limited" in body["error"]
    assert request(server, "GET", "/api/generate")[0] == 405
    assert request(server, "POST", "/api/models", {})[0] == 405
    assert request(server, "GET", "/nope")[0] == 404
    assert request(server, "GET", "/static/../server.py")[0] == 404
    assert request(server, "GET", "/static/index.html%00")[0] == 404
    assert request(server, "PUT", "/api/generate", {})[0] == 405
    assert request(server, "DELETE", "/")[0] == 405


def test_a_post_without_a_body_uses_the_defaults(server):
    """HTTP/1.1: no Content-Length and no chunked encoding is an empty body, so every field takes its default."""
    host, port = server.address
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.putrequest("POST", "/api/generate")
    conn.endheaders()
    res = conn.getresponse()
    assert res.status == 200 and len(json.loads(res.read())["names"]) == 10  # SampleOptions' n
    conn.close()


def test_concurrent_requests_do_not_interfere(server):
    """Many threads at once: every response equals the same request made alone."""
    bodies = [{"n": 15, "seed": s, "prefix": p, "max_len": 9, "model": m}
              for s in range(6) for p in ("", "b") for m in ("first", "second")]
    alone = [request(server, "POST", "/api/generate", b)[1]["names"] for b in bodies]
    barrier = threading.Barrier(8)

    def hit(i):
        if i < 8:
            barrier.wait()
        return request(server, "POST", "/api/generate", bodies[i % len(bodies)])

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(hit, range(len(bodies) * 3)))
    for i, (status, body) in enumerate(results):
        assert status == 200 and body["names"] == alone[i % len(bodies)]


def test_app_refuses_bad_model_names_and_files(tmp_path):
    from namesmith.errors import CheckpointError, ConfigError

    with pytest.raises(ConfigError):
        App({"bad name!": "x.npz"})
    with pytest.raises(CheckpointError):
        App({"m": str(tmp_path / "none.npz")})
    with pytest.raises(ConfigError, match="two models"):
        parse_model_args(["a/m.npz", "b/m.npz"])
    assert parse_model_args(["x=a/m.npz", "b/m.npz"]) == {"x": "a/m.npz", "m": "b/m.npz"}


def test_loaded_model_is_shared_read_only(server):
    served = server.app.models["first"]
    before = {k: v.copy() for k, v in served.ckpt.model.params.items()}
    request(server, "POST", "/api/generate", {"n": 50, "model": "first"})
    after = load_checkpoint(served.path).model.params
    for k in before:
        assert np.array_equal(before[k], served.ckpt.model.params[k]) and np.array_equal(before[k], after[k])


def test_default_model_is_trained_once_and_cached(tmp_path, monkeypatch):
    from namesmith.web import server as srv

    monkeypatch.setenv("NAMESMITH_CACHE", str(tmp_path / "cache"))
    calls, logs = [], []

    def fake_fit(corpus=None, out=None, **options):
        calls.append(options)
        vocab = Vocab.from_names([ALPHA])
        model = RNN.create({"vocab_size": vocab.size, "hidden": 4}, np.random.default_rng(0))
        save_checkpoint(out, model, vocab)

    monkeypatch.setattr(srv, "fit", fake_fit)
    monkeypatch.setattr(srv, "pretrained_path", lambda name: None)  # a copy without the shipped models
    path = srv.ensure_default_model(log=logs.append)
    assert path.exists() and path.parent == tmp_path / "cache" and len(calls) == 1
    assert "preset" not in calls[0] and "training the built-in default model once" in logs[-1]
    assert srv.ensure_default_model(log=logs.append) == path and len(calls) == 1
    assert "cached at" in logs[-1]


@pytest.mark.parametrize("ctype", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data", ""])
def test_a_json_body_is_read_whatever_the_content_type_says(server, ctype):
    """curl -d sends application/x-www-form-urlencoded: the README's examples must work as written."""
    headers = {"Content-Type": ctype} if ctype else {}
    status, body = request(server, "POST", "/api/score", raw=b'{"name": "Kaylee"}', headers=headers)
    assert status == 200 and body["scores"][0]["name"] == "kaylee", body
    status, body = request(server, "POST", "/api/generate", raw=b'{"n": 3, "seed": 1}', headers=headers)
    assert status == 200 and len(body["names"]) == 3
    status, body = request(server, "POST", "/api/score", raw=b"name=Kaylee", headers=headers)  # a real form
    assert status == 400 and "JSON" in body["error"], body


def test_curl_with_its_default_content_type(server):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("needs curl")
    host, port = server.address
    out = subprocess.run([curl, "-s", "-X", "POST", f"http://{host}:{port}/api/score", "-d", '{"name": "Kaylee"}'],
                         capture_output=True, text=True, timeout=30).stdout
    assert json.loads(out)["scores"][0]["name"] == "kaylee", out
