"""A name per key (namesmith.keys): recorded key -> name pairs of the shipped models, across processes, a re-saved
copy, the command line's --key and --keys, and the exported module."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

import namesmith
from namesmith.cli import main
from namesmith.errors import ConfigError
from namesmith.keys import key_seed

# recorded once (namesmith 0.8.1); a shipped model that changes has another digest, and this test then asks
# for the pairs to be recorded again: a key's name changes only when the model does
RECORDED = {
    "given-names": ("5444171867295eac7dac2af7211fe8ca92e5d599953756b0b7f7ba7cab849ff2",
                    {"user-4711": "emmelyn", "npc:blacksmith:3": "fram", "Ω-42": "mareena", "0": "vella"},
                    ["kalishaa", "kaylon", "kaylenne"]),
    # world re-recorded when it was retrained on the origin-labelled corpus with kind and sex (issue 27)
    "world": ("c37a29c93c831affb0d3c1164e7a7c3cd68724df5c9daa1172d0b0587d65420b",
              {"user-4711": "boole", "npc:blacksmith:3": "sanimber", "Ω-42": "nadela", "0": "tieberl"},
              ["kahnger", "karah", "kallin"]),
}


@pytest.mark.parametrize("model", sorted(RECORDED))
def test_keys_give_the_recorded_names(model):
    digest, pairs, with_options = RECORDED[model]
    ck = namesmith.load(model)
    assert ck.digest == digest, f"the shipped {model} model changed: record its key -> name pairs again"
    assert {k: ck.sample(1, key=k)[0].name for k in pairs} == pairs
    assert [s.name for s in ck.sample(3, key="user-4711", prefix="ka", min_len=5)] == with_options
    assert ck.sample(3, key="user-4711")[0].name == pairs["user-4711"]  # -n K: the key's name first


def test_the_same_key_in_another_process_and_a_resaved_copy(tmp_path):
    digest, pairs, _ = RECORDED["given-names"]
    out = subprocess.run([sys.executable, "-m", "namesmith", "sample", "given-names", "--key", "user-4711", "--raw"],
                         capture_output=True, text=True, check=True).stdout
    assert out == pairs["user-4711"] + "\n"
    ck = namesmith.load("given-names")
    copy = namesmith.load(ck.save(tmp_path / "copy.npz"))
    assert copy.digest == digest and copy.sample(1, key="npc:blacksmith:3")[0].name == pairs["npc:blacksmith:3"]


def test_another_model_names_a_key_otherwise():
    a, b = namesmith.load("given-names"), namesmith.load("world")
    assert a.digest != b.digest
    assert key_seed("user-4711", a.digest) != key_seed("user-4711", b.digest)


def test_a_key_and_a_seed_are_not_both_given():
    ck = namesmith.load("given-names")
    with pytest.raises(ConfigError, match="a key or a seed"):
        ck.sample(1, key="a", seed=3)
    with pytest.raises(ConfigError, match="key"):
        ck.sample(1, key=4711)


def test_keys_file_names_every_line_in_order(tmp_path, capsys):
    keys = tmp_path / "keys.txt"
    keys.write_text("user-4711\r\nnpc:blacksmith:3\n\n  0  \nuser-4711\n")
    assert main(["sample", "given-names", "--keys", str(keys)]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    pairs = RECORDED["given-names"][1]
    assert rows == [[k, pairs[k].capitalize()] for k in ("user-4711", "npc:blacksmith:3", "0", "user-4711")]
    assert main(["sample", "given-names", "--keys", str(keys), "--unique", "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in got] == ["user-4711", "npc:blacksmith:3", "0", "user-4711"]
    names = [r["name"] for r in got]
    assert len(set(names)) == 4 and names[:3] == [pairs[k] for k in ("user-4711", "npc:blacksmith:3", "0")]
    assert main(["sample", "given-names", "--keys", str(keys), "-n", "3"]) == 2
    assert "one name per key" in capsys.readouterr().err


def test_the_exported_module_names_keys_as_python(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    from namesmith.export import static_file

    out = tmp_path / "m.json"
    assert main(["export", "given-names", "--json", str(out)]) == 0
    (tmp_path / "namesmith.mjs").write_text(static_file("namesmith.js"))
    (tmp_path / "run.mjs").write_text(
        "import { load } from './namesmith.mjs'; import { readFileSync } from 'node:fs';\n"
        f"const m = await load(JSON.parse(readFileSync({json.dumps(str(out))}, 'utf8')));\n"
        f"const keys = {json.dumps(list(RECORDED['given-names'][1]))};\n"
        "console.log(JSON.stringify({one: keys.map((k) => m.sample({n: 1, key: k})[0].name),\n"
        "  three: m.sample({n: 3, key: 'user-4711', prefix: 'ka', min_len: 5}).map((s) => s.name)}));\n")
    got = json.loads(subprocess.run([node, str(tmp_path / "run.mjs")], check=True, capture_output=True, text=True,
                                    timeout=60).stdout)
    _, pairs, with_options = RECORDED["given-names"]
    assert got == {"one": list(pairs.values()), "three": with_options}
