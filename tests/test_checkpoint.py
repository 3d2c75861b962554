"""Checkpoints are atomic, never pickled, and hostile files are refused with one clear error."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from namesmith.checkpoint import load_checkpoint, save_checkpoint
from namesmith.errors import CheckpointError, NamesmithError, WriteFailed
from namesmith.models.rnn import RNN
from namesmith.vocab import Vocab


@pytest.fixture
def saved(tmp_path):
    vocab = Vocab.from_names(["anna", "bob"])
    model = RNN.create({"vocab_size": vocab.size, "hidden": 4, "dtype": "float64"}, np.random.default_rng(0))
    path = tmp_path / "m.npz"
    save_checkpoint(path, model, vocab, {"train": {"step": 1}}, extras={"known_hashes": np.arange(3, dtype=np.uint64)})
    return path, model, vocab


def arrays_of(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def rewrite(path, arrays, meta=None):
    if meta is not None:
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def meta_of(arrays):
    return json.loads(arrays["__meta__"].tobytes())


def test_round_trip_keeps_everything(saved):
    path, model, vocab = saved
    ck = load_checkpoint(path)
    assert ck.vocab == vocab and ck.model.config == model.config
    for k, v in model.params.items():
        assert np.array_equal(ck.model.params[k], v)
    assert list(ck.extras["known_hashes"]) == [0, 1, 2]
    assert ck.meta.train.step == 1
    from namesmith.checkpoint import read_meta
    doc = read_meta(path)
    assert doc["format"] == "namesmith-checkpoint" and doc["version"] == 1 and doc["train"]["step"] == 1



def test_an_uncompressed_checkpoint_loads_the_same(saved, tmp_path):
    path, model, vocab = saved
    stored = save_checkpoint(tmp_path / "stored.npz", model, vocab, {"train": {"step": 1}}, compress=False)
    with zipfile.ZipFile(stored) as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_STORED}
    a, b = load_checkpoint(path), load_checkpoint(stored)
    assert a.vocab == b.vocab and a.meta == b.meta
    for k, v in a.model.params.items():
        assert np.array_equal(b.model.params[k], v)

def test_legacy_name_hashes_are_read(saved):
    """Files of namesmith 0.1 stored the hashes as extra/train_hashes."""
    path, *_ = saved
    a = arrays_of(path)
    a["extra/train_hashes"] = a.pop("extra/known_hashes")
    rewrite(path, a)
    assert list(load_checkpoint(path).known_hashes) == [0, 1, 2]


def hostile_cases():
    def missing_key(a):
        del a["param/Waa"]

    def extra_key(a):
        a["param/Wzz"] = np.zeros(3)

    def wrong_shape(a):
        a["param/Waa"] = np.zeros((5, 5))

    def nan(a):
        a["param/by"] = a["param/by"].copy()
        a["param/by"][0] = np.nan

    def inf_optim(a):
        a["optim/m/by"] = np.full(a["param/by"].shape, np.inf)

    def wrong_dtype(a):
        a["param/Waa"] = a["param/Waa"].astype(np.float32)

    def strings(a):
        a["param/by"] = np.array(["x"])

    def bad_extra(a):
        a["extra/evil"] = np.zeros(2)

    def unsorted_hashes(a):
        a["extra/known_hashes"] = np.array([5, 3, 9], dtype=np.uint64)

    def stray_member(a):
        a["payload"] = np.zeros(2)

    return [missing_key, extra_key, wrong_shape, nan, inf_optim, wrong_dtype, strings, bad_extra, unsorted_hashes,
            stray_member]


@pytest.mark.parametrize("mutate", hostile_cases(), ids=lambda f: f.__name__)
def test_hostile_arrays_are_refused(saved, mutate):
    path, *_ = saved
    a = arrays_of(path)
    mutate(a)
    rewrite(path, a)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.update(format="something-else"),
        lambda m: m.update(version=99),
        lambda m: m["model"].update(type="evil"),
        lambda m: m["model"]["config"].update(hidden=-1),
        lambda m: m["model"]["config"].update(hidden=5),
        lambda m: m["model"]["config"].update(unknown_option=1),
        lambda m: m["vocab"].update(chars=["a", "b"]),
        lambda m: m["vocab"].update(chars=["\n", "a"]),
        lambda m: m.pop("model"),
    ],
)
def test_hostile_metadata_is_refused(saved, edit):
    path, *_ = saved
    a = arrays_of(path)
    meta = meta_of(a)
    edit(meta)
    rewrite(path, a, meta)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_pickled_object_array_is_refused_without_unpickling(saved, tmp_path):
    path, *_ = saved
    a = arrays_of(path)
    a["param/by"] = np.array([{"evil": 1}, None], dtype=object)
    with open(path, "wb") as f:
        np.savez(f, **a, allow_pickle=True)
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04garbage"])
def test_garbage_files_are_refused(tmp_path, content):
    p = tmp_path / "x.npz"
    p.write_bytes(content)
    with pytest.raises(CheckpointError):
        load_checkpoint(p)


def test_truncated_file_is_refused(saved):
    path, *_ = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_bad_json_and_missing_meta(saved):
    path, *_ = saved
    a = arrays_of(path)
    a["__meta__"] = np.frombuffer(b"{not json", dtype=np.uint8)
    rewrite(path, a)
    with pytest.raises(CheckpointError, match="JSON"):
        load_checkpoint(path)
    del a["__meta__"]
    rewrite(path, a)
    with pytest.raises(CheckpointError, match="metadata"):
        load_checkpoint(path)


def test_size_limits(saved):
    path, *_ = saved
    with pytest.raises(CheckpointError, match="limit"):
        load_checkpoint(path, max_bytes=100)


def test_decompression_bomb_is_refused(tmp_path):
    p = tmp_path / "bomb.npz"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("__meta__.npy", b"\0" * 5_000_000)
    assert p.stat().st_size < 100_000
    with pytest.raises(CheckpointError, match="unpack"):
        load_checkpoint(p, max_bytes=1_000_000)


def test_missing_file_message(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "none.npz")


def test_nan_parameters_are_never_saved_and_the_old_file_survives(saved):
    path, model, vocab = saved
    before = path.read_bytes()
    model.params["Waa"][0, 0] = np.nan
    with pytest.raises(NamesmithError, match="not finite"):
        save_checkpoint(path, model, vocab)
    assert path.read_bytes() == before
    assert not [f for f in path.parent.iterdir() if f.name.endswith(".tmp")]


def test_failed_write_leaves_old_file_and_no_temp(saved, monkeypatch):
    path, model, vocab = saved
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(WriteFailed, match="unchanged"):
        save_checkpoint(path, model, vocab)
    assert path.read_bytes() == before
    assert not [f for f in path.parent.iterdir() if f.name.endswith(".tmp")]
