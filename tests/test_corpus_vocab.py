from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from namesmith.corpus import (
    BUILTIN_CORPORA,
    Corpus,
    builtin_corpora,
    in_hashes,
    load_corpus,
    name_hashes,
    parse_names,
    read_corpus,
)
from namesmith.errors import CorpusError, VocabError
from namesmith.vocab import EOS, Vocab


def write(tmp_path, data: bytes, name="c.txt"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_reads_bom_crlf_blank_lines_whitespace_and_lowercases(tmp_path):
    p = write(tmp_path, "\ufeffAnna\r\n\r\n  Bob  \r\nZoe\u0308\n\n".encode("utf-8"))
    c = read_corpus(p)
    assert c.names == ("anna", "bob", "zo\u00eb")  # NFC composes e + diaeresis
    assert read_corpus(p, lowercase=False).names == ("Anna", "Bob", "Zo\u00eb")
    assert c.chars == 10 and c.tokens == 13


@pytest.mark.parametrize(
    "data,fragment",
    [
        (b"", "empty"),
        (b"\n  \n\r\n", "empty"),
        (b"anna\nbo\xffb\n", "line 2, byte 3: invalid UTF-8"),
        (b"anna\nb\tob\n", "line 2: control character"),
        (b"anna\nb\x00ob\n", "line 2: control character"),
        ("a\u2028b\n".encode(), "line 1: control character"),
        (b"a" * 65 + b"\n", "line 1: item is 65 characters long, over the limit of 64"),
    ],
)
def test_corpus_errors_name_the_problem(tmp_path, data, fragment):
    with pytest.raises(CorpusError, match=fragment.replace("(", r"\(")):
        read_corpus(write(tmp_path, data))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        read_corpus(tmp_path / "nope.txt")
    with pytest.raises(CorpusError, match="is a directory"):
        read_corpus(tmp_path)


def test_configurable_item_limit(tmp_path):
    p = write(tmp_path, b"abcdef\n")
    with pytest.raises(CorpusError):
        read_corpus(p, max_len=5)
    assert read_corpus(p, max_len=6).names == ("abcdef",)


def test_split_is_seeded_disjoint_and_complete():
    c = Corpus(tuple(f"n{i}" for i in range(100)))
    tr, va = c.split(0.1, 42)
    assert len(va) == 10 and len(tr) == 90
    assert set(tr.names) | set(va.names) == set(c.names) and not set(tr.names) & set(va.names)
    assert c.split(0.1, 42) == (tr, va)
    assert c.split(0.1, 43)[1] != va
    # a tiny corpus still gets one validation name
    assert len(Corpus(("a", "b")).split(0.1, 0)[1]) == 1


def test_split_cap_takes_a_prefix_of_the_same_permutation():
    c = Corpus(tuple(f"n{i}" for i in range(1000)))
    assert c.split(0.1, 7, val_max=100) == c.split(0.1, 7)  # under the cap: the very same split
    tr, va = c.split(0.1, 7, val_max=40)
    assert len(va) == 40 and len(tr) == 960
    assert set(va.names) <= set(c.split(0.1, 7)[1].names)


@given(st.lists(st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=6), max_size=10))
@settings(max_examples=80, deadline=None)
def test_alphabet_is_every_distinct_character(names):
    expected = sorted({"\n"} | {c for n in names for c in n})
    assert list(Vocab.from_names(names).chars) == expected
    assert list(Vocab.from_names(["a"]).extended(names).chars[2:]) == sorted(set(expected) - {"\n", "a"})


def test_builtin_corpora_are_listed_and_load():
    rows = {r["name"]: r for r in builtin_corpora()}
    assert set(rows) == set(BUILTIN_CORPORA)
    assert rows["given-names"]["default"] and rows["given-names"]["names"] == 36_719
    c = load_corpus(None)
    assert len(c) == 36_719 and c.source == "builtin:given-names"
    assert all(n == n.lower() and n for n in c.names)


def test_name_hashes_membership():
    h = name_hashes(["anna", "bob"])
    assert h.dtype == np.uint64 and list(in_hashes(["bob", "eve", "anna"], h)) == [True, False, True]


# ----- vocabulary ----------------------------------------------------------------
def test_vocab_is_sorted_with_end_token_first():
    v = Vocab.from_names(["zoe", "anna", "o'neil", "jean-luc"])
    assert v.chars[0] == EOS and list(v.chars) == sorted(v.chars)
    assert v.size == len(set("zoeanna o'neil jean-luc".replace(" ", ""))) + 1


def test_vocab_dict_round_trip():
    v = Vocab.from_names(["añil", "zoë"])
    assert Vocab.from_dict(v.to_dict()) == v


@given(st.lists(st.text(alphabet="abcxyzé' -", min_size=0, max_size=12), min_size=1, max_size=8))
@settings(max_examples=60, deadline=None)
def test_encode_decode_round_trip(names):
    v = Vocab.from_names(names)
    for n in names:
        ids = v.encode(n)
        assert ids.dtype == np.int32 and (ids > 0).all()
        assert v.decode(ids) == n


def test_unknown_characters_are_listed():
    v = Vocab.from_names(["anna"])
    with pytest.raises(VocabError, match=r"'z', 'q'"):
        v.encode("zaqz")
    with pytest.raises(VocabError):
        v.encode("a\nb")  # the end token is not a character of a name


def test_extended_vocabulary_keeps_the_base_order_and_appends():
    base = Vocab.from_names(["mara", "bob"])
    ext = base.extended(["zoë", "ana"])
    assert ext.chars[: base.size] == base.chars and ext.chars[base.size:] == ("n", "z", "ë")
    assert list(ext.encode("bob")) == list(base.encode("bob"))  # known characters keep their ids
    assert Vocab.from_dict(ext.to_dict()) == ext


@pytest.mark.parametrize("chars", [["a", "\n"], ["\n", "a", "a"], ["\n", "ab"], [], ["\n", "a", "\n"]])
def test_invalid_vocabularies_are_refused(chars):
    with pytest.raises(VocabError):
        Vocab(chars)


def test_parse_keeps_duplicates_in_order():
    assert parse_names("b\na\nb\n").names == ("b", "a", "b")


def test_evaluation_batches_cover_every_name_once_and_bound_the_logits():
    from namesmith.batch import length_sorted_batches

    rng = np.random.default_rng(0)
    names = ["a" * int(n) for n in rng.integers(0, 300, size=2000)]
    enc = Vocab.from_names(["a"]).encode_many(names)
    for width, cells in ((1, 1 << 30), (2686, 8 << 20), (50_000, 1000)):
        batches = length_sorted_batches(enc, 1024, width, cells)
        assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(len(names)))
        for idx in batches:
            assert len(idx) <= 1024
            assert len(idx) == 1 or len(idx) * (enc.lengths[idx].max() + 1) * width <= cells
    assert [len(b) for b in length_sorted_batches(enc, 1024)] == [1024, 976]  # small alphabets: unchanged


def test_a_large_alphabet_is_shown_shortened():
    v = Vocab.from_names(["".join(chr(0x4E00 + 2 * i) for i in range(2000))])  # no runs to shorten
    text = v.alphabet()
    assert text.endswith("… (2,000 in all)") and len(text) < 230
    assert Vocab.from_names(["zoe", "anna"]).alphabet() == "a e no z"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="aZé\u0308 \t\r\x00\u2028=,", max_size=5),
                          st.text(alphabet="Ab é\u0308\t=,\x00", max_size=4)), max_size=6))
def test_labelled_corpus_column_reading_equals_the_line_by_line_reading(rows):
    """The column-at-once reading of a labelled corpus (fast) gives what the line-by-line one gives, or the
    same error (a column check that let a control character, an empty name or a bad style through fails)."""
    from namesmith.corpus import _parse_labelled, _parse_labelled_lines

    text = "\n".join(f"{a}\t{b}" for a, b in rows) + "\n"
    outcomes = []
    for parse in (_parse_labelled, _parse_labelled_lines):
        try:
            c = parse(text, "t.tsv", lowercase=True, max_len=3)
            outcomes.append((c.names, c.labels))
        except CorpusError as e:
            outcomes.append(str(e))
    assert outcomes[0] == outcomes[1]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="aZé \x00", max_size=4), st.text(alphabet="Ab=", max_size=3),
                          st.text(alphabet="gs \t,", max_size=3)), max_size=5))
def test_a_headed_labelled_corpus_reads_the_same_by_column_and_by_line(rows):
    """With a header (name, style, kind) both readings agree, further columns included (blank is unknown)."""
    from namesmith.corpus import _parse_labelled, _parse_labelled_lines

    text = "name\tstyle\tkind\n" + "".join(f"{a}\t{b}\t{k}\n" for a, b, k in rows)
    outcomes = []
    for parse in (_parse_labelled, _parse_labelled_lines):
        try:
            c = parse(text, "t.tsv", lowercase=True, max_len=3)
            outcomes.append((c.names, c.labels, c.factors))
        except CorpusError as e:
            outcomes.append(str(e))
    assert outcomes[0] == outcomes[1]


def test_further_label_columns_are_read_kept_and_split_with_their_names():
    c = parse_names("Name\tStyle\tkind\tsex\nAnna\tItalian\tgiven\tfemale\nRossi\tItalian\tsurname\t\n"
                    "Ivanova\tRussian\tsurname\tfemale\n", "w.tsv")
    assert c.names == ("anna", "rossi", "ivanova") and c.labels == ("Italian", "Italian", "Russian")
    assert c.factor("kind") == ("given", "surname", "surname") and c.factor("sex") == ("female", "", "female")
    assert c.factor("era") is None and c.styles == ["Italian", "Russian"]
    sub = c.subset(np.array([2, 0]), "part")
    assert sub.names == ("ivanova", "anna") and sub.factor("kind") == ("surname", "given")
    assert parse_names("name\tIt\nbob\tIt\n").names == ("name", "bob")  # no header: "name" is a name


@pytest.mark.parametrize("text,message", [
    ("name\tstyle\tkind\nanna\tIt\n", r"w.tsv:2: expected name<TAB>style<TAB>kind \(2 tabs, as the header"),
    ("name\tstyle\tkind\tkind\nanna\tIt\tg\tg\n", r"w.tsv:1: the header names each column once"),
    ("name\tstyle\t\nanna\tIt\tg\n", r"w.tsv:1: the header names each column once"),
    ("name\tstyle\tkind\nanna\tIt\tgi=ven\n", r"w.tsv:2: kind 'gi=ven' must be"),
    ("name\tstyle\tkind\nanna\t\tgiven\n", r"w.tsv:2: the style after the tab is empty"),
])
def test_headed_labelled_file_errors_name_the_line(text, message):
    with pytest.raises(CorpusError, match=message):
        parse_names(text, "w.tsv")


def test_the_world_corpus_is_labelled_by_origin_kind_and_sex():
    """The shipped world corpus (issue 27): 59 origins with hundreds of names each, every row a kind, given names
    a sex; a name listed by many locales stands only where it is characteristic."""
    import unicodedata
    from collections import Counter

    from namesmith.corpus import load_corpus

    w = load_corpus("world")
    counts = Counter(w.labels)
    assert len(counts) >= 59 and min(counts.values()) >= 200
    assert {"Japanese", "Chinese", "Korean", "Russian", "Ukrainian", "Polish", "Greek", "Arabic", "Hebrew",
            "Hindi", "Thai", "Vietnamese", "Turkish", "Italian", "Yoruba"} <= set(counts)
    assert set(w.factor("kind")) == {"given", "surname"}
    sexes = set(zip(w.factor("kind"), w.factor("sex")))
    assert {("given", "female"), ("given", "male"), ("surname", "female")} <= sexes
    styles_of = {}
    for name, style in zip(w.names, w.labels):
        styles_of.setdefault(name, set()).add(style)
    assert styles_of["giuseppe"] == {"Italian"} and styles_of["francesca"] == {"Italian"}
    assert styles_of["yuki"] == {"Japanese"} and styles_of["siobhan"] == {"Irish"}
    assert sum(len(s) > 1 for s in styles_of.values()) < 0.05 * len(styles_of)
    assert all(c in " '-" or (c.isalpha() and "LATIN" in unicodedata.name(c)) for c in set("".join(w.names)))
    native = load_corpus("world-native")
    assert "Japanese" in native.styles and any("\u3040" <= ch <= "\u9fff" for ch in "".join(native.names))
