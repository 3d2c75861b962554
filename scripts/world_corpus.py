"""The ``world`` corpora: given names and surnames labelled by origin, kind and sex (see data/PROVENANCE.md).

Sources (versions pinned in build_corpora.py's docstring):

* ``gender-guesser``'s ``nam_dict.txt`` (Jörg Michael, 2008, GNU FDL 1.2+): about 45,000 given
  names, each with its sex and a frequency 1-13 (a log scale, one step about a factor 2) in each
  of 54 countries. It supplies given names and their sex for the countries of NAMDICT_STYLES.
* ``Faker``'s person providers (MIT): given names (female/male lists) and surnames per locale
  (FAKER_STYLES), romanised by one named scheme per script (ROMANISERS) or, for the scripts no
  maintained library romanises reliably (Arabic, Hebrew, Persian, the Indic scripts), kept only in
  ``world-native``.

**Which origins a name keeps** (a name is listed in several places; it should stand only where it
is characteristic):

1. *Frequency rule* (given names nam_dict knows): the name stays under each style whose frequency
   is at least its highest frequency minus ``WITHIN`` (a factor of about 4). "Giuseppe" is 9 in
   Italy and at most 2 elsewhere: Italian only. A Faker listing of such a name in a style nam_dict
   also covers is kept only when the frequency rule keeps it there.
2. *Character rule* (every other name under two or more styles: surnames, and given names of styles
   nam_dict does not cover): a per-style Kneser-Ney 4-gram fitted on the names listed under one
   style only gives each listed style a posterior; the name stays under the most probable style and
   any listed style within a factor ``KEEP_RATIO`` of it.

Each row: ``name, style, kind ("given" | "surname"), sex ("female" | "male" | "unisex" | "")``; a
surname has a sex only where the language inflects it (Russian Ivanova / Ivanov). Names are NFC,
lowercased, 2-40 characters, at most ``MAX_WORDS`` words.
"""

from __future__ import annotations

import importlib
import tempfile
import unicodedata
from collections import defaultdict
from pathlib import Path

WITHIN = 2  # frequency steps below a name's peak that still count as characteristic
KEEP_RATIO = 0.5  # character rule: keep listed styles whose posterior is >= this share of the best one
MIN_STYLE = 200  # names a style needs to be kept
MAX_WORDS = 2

# nam_dict's country columns (in file order, from column 30) -> style; None: left out (mixed or too few)
NAMDICT_COUNTRIES = [
    ("great_britain", "English"), ("ireland", "Irish"), ("usa", "English"), ("italy", "Italian"),
    ("malta", "Maltese"), ("portugal", "Portuguese"), ("spain", "Spanish"), ("france", "French"),
    ("belgium", None), ("luxembourg", None), ("the_netherlands", "Dutch"), ("east_frisia", "Frisian"),
    ("germany", "German"), ("austria", "German"), ("swiss", "German"), ("iceland", "Icelandic"),
    ("denmark", "Danish"), ("norway", "Norwegian"), ("sweden", "Swedish"), ("finland", "Finnish"),
    ("estonia", "Estonian"), ("latvia", "Latvian"), ("lithuania", "Lithuanian"), ("poland", "Polish"),
    ("czech_republic", "Czech"), ("slovakia", "Slovak"), ("hungary", "Hungarian"), ("romania", "Romanian"),
    ("bulgaria", "Bulgarian"), ("bosnia", "Bosnian"), ("croatia", "Croatian"), ("kosovo", "Albanian"),
    ("macedonia", "Macedonian"), ("montenegro", "Serbian"), ("serbia", "Serbian"), ("slovenia", "Slovenian"),
    ("albania", "Albanian"), ("greece", "Greek"), ("russia", "Russian"), ("belarus", "Belarusian"),
    ("moldova", None), ("ukraine", "Ukrainian"), ("armenia", "Armenian"), ("azerbaijan", "Azerbaijani"),
    ("georgia", "Georgian"), ("the_stans", "Central Asian"), ("turkey", "Turkish"), ("arabia", "Arabic"),
    ("israel", "Hebrew"), ("china", "Chinese"), ("india", "Indian"), ("japan", "Japanese"),
    ("korea", "Korean"), ("vietnam", "Vietnamese"), ("other", None),
]
NAMDICT_STYLES = {s for _, s in NAMDICT_COUNTRIES if s}
NAMDICT_SEX = {"M": "male", "1M": "male", "?M": "unisex", "F": "female", "1F": "female", "?F": "unisex",
               "?": "unisex"}

# Faker locale -> (style, what it supplies: "given", "surname" or both)
BOTH, GIVEN, SURNAME = ("given", "surname"), ("given",), ("surname",)
FAKER_STYLES = {
    "az_AZ": ("Azerbaijani", BOTH), "bg_BG": ("Bulgarian", BOTH), "cs_CZ": ("Czech", BOTH),
    "da_DK": ("Danish", BOTH), "de_AT": ("German", BOTH), "de_CH": ("German", BOTH), "de_DE": ("German", BOTH),
    "el_GR": ("Greek", BOTH), "en_GB": ("English", BOTH), "en_US": ("English", BOTH), "en_NZ": ("English", BOTH),
    "en_IE": ("Irish", BOTH), "ga_IE": ("Irish", BOTH), "en_IN": ("Indian", BOTH), "en_KE": ("Kenyan", BOTH),
    "en_PK": ("Pakistani", BOTH), "en_TH": ("Thai", BOTH), "th_TH": ("Thai", BOTH),
    "es_AR": ("Spanish", BOTH), "es_CL": ("Spanish", BOTH), "es_CO": ("Spanish", BOTH), "es_ES": ("Spanish", BOTH),
    "es_MX": ("Spanish", BOTH), "es_CA": ("Catalan", GIVEN), "et_EE": ("Estonian", BOTH),
    "fi_FI": ("Finnish", BOTH), "fr_BE": ("French", BOTH), "fr_CA": ("French", BOTH), "fr_CH": ("French", BOTH),
    "fr_FR": ("French", BOTH), "fr_QC": ("French", BOTH), "fr_DZ": ("Algerian", BOTH), "hr_HR": ("Croatian", BOTH),
    "hu_HU": ("Hungarian", BOTH), "hy_AM": ("Armenian", BOTH), "id_ID": ("Indonesian", BOTH),
    "is_IS": ("Icelandic", BOTH), "it_IT": ("Italian", BOTH), "ja_JP": ("Japanese", BOTH), "ka_GE": ("Georgian", BOTH),
    "ko_KR": ("Korean", BOTH), "lt_LT": ("Lithuanian", BOTH), "lv_LV": ("Latvian", BOTH),
    "mk_MK": ("Macedonian", BOTH), "nl_BE": ("Dutch", BOTH), "nl_NL": ("Dutch", BOTH), "no_NO": ("Norwegian", BOTH),
    "pl_PL": ("Polish", BOTH), "pt_BR": ("Portuguese", BOTH), "pt_PT": ("Portuguese", BOTH),
    "ro_RO": ("Romanian", BOTH), "ru_RU": ("Russian", BOTH), "sk_SK": ("Slovak", BOTH), "sl_SI": ("Slovenian", BOTH),
    "sv_SE": ("Swedish", BOTH), "sw": ("Swahili", BOTH), "tr_TR": ("Turkish", BOTH), "tw_GH": ("Twi", BOTH),
    "uk_UA": ("Ukrainian", BOTH), "uz_UZ": ("Uzbek", BOTH), "vi_VN": ("Vietnamese", BOTH),
    "yo_NG": ("Yoruba", BOTH), "zh_CN": ("Chinese", BOTH), "zh_TW": ("Taiwanese", BOTH), "zu_ZA": ("Zulu", BOTH),
    "hi_IN": ("Hindi", BOTH), "ne_NP": ("Nepali", BOTH), "bn_BD": ("Bengali", BOTH), "or_IN": ("Odia", BOTH),
    # native script only (world-native): no maintained library romanises these names reliably (Arabic,
    # Persian and Hebrew write no short vowels; Tamil and Sinhala romanisers give unreadable names)
    "ar_AA": ("Arabic", BOTH), "fa_IR": ("Persian", BOTH), "he_IL": ("Hebrew", BOTH), "ta_IN": ("Tamil", BOTH),
    "si_LK": ("Sinhala", BOTH),
}
# Faker attributes: (attribute, kind, sex)
FAKER_LISTS = [("first_names_female", "given", "female"), ("first_names_male", "given", "male"),
               ("first_names_unisex", "given", "unisex"), ("first_names", "given", ""),
               ("last_names_female", "surname", "female"), ("last_names_male", "surname", "male"),
               ("last_names", "surname", ""), ("male_last_names", "surname", "male"),
               ("unisex_last_names", "surname", "unisex"), ("last_names_common", "surname", ""),
               ("first_names_female_common", "given", "female"), ("first_names_male_common", "given", "male"),
               ("first_names_female_hinduism", "given", "female"), ("first_names_male_hinduism", "given", "male"),
               ("first_names_female_islamic", "given", "female"), ("first_names_male_islamic", "given", "male")]
# romanised lists Faker ships itself (Hepburn for Japanese, pinyin for Chinese): used instead of romanising
FAKER_ROMANISED = {"ja_JP": [("first_romanized_names_female", "given", "female"),
                             ("first_romanized_names_male", "given", "male"),
                             ("last_romanized_names", "surname", "")],
                   "zh_CN": [("first_romanized_names", "given", ""), ("last_romanized_names", "surname", "")],
                   "zh_TW": [("first_romanized_names_female", "given", "female"),
                             ("first_romanized_names_male", "given", "male"), ("last_romanized_names", "surname", "")]}


def _script(name: str) -> str:
    """The first non-Latin script of a name ("LATIN" when there is none)."""
    for c in name:
        if c.isalpha():
            word = unicodedata.name(c, "").split(" ")[0]
            if word != "LATIN":
                return word
    return "LATIN"


def _latin(name: str) -> bool:
    """Only Latin letters (precomposed), spaces, apostrophes and hyphens."""
    return all(c in " '-" or (c.isalpha() and "LATIN" in unicodedata.name(c, "")) for c in name)


def _greek(name: str) -> str:
    from anyascii import anyascii
    return anyascii(name.replace("ου", "ou").replace("Ου", "Ou").replace("ΟΥ", "OU"))


def _korean(name: str) -> str:
    from korean_romanizer.romanizer import Romanizer
    return Romanizer(name).romanize()


def _thai(name: str) -> str:
    from pythainlp.transliterate import romanize
    return romanize(name, engine="royin")


def _indic(script: str):
    """OPTITRANS (indic_transliteration), lowercased, with Hindi/Nepali/Bengali word-final schwa deletion: a
    word ending in a bare consonant loses its inherent a (कुमार kumAra -> kumar). Medial schwas are kept."""
    def romanise(name: str) -> str:
        from indic_transliteration import sanscript

        words = []
        for word in name.split():
            out = sanscript.transliterate(word, getattr(sanscript, script), sanscript.OPTITRANS)
            out = out.replace("M", "n").replace(".", "").replace("~", "").replace("^", "").lower()
            if unicodedata.category(word[-1]) == "Lo" and out.endswith("a") and len(out) > 2:
                out = out[:-1]
            words.append(out)
        return " ".join(words)
    return romanise


def _anyascii(name: str) -> str:
    from anyascii import anyascii
    return anyascii(name).replace("'", "")  # the soft sign's apostrophe (Agaf'ya -> Agafya), as passports write it


# script -> romaniser (stated scheme): Cyrillic, Georgian, Armenian by anyascii (BGN/PCGN-like, soft signs
# dropped); Greek BGN/PCGN-like (ου -> ou); Korean Revised Romanisation; Thai RTGS (Royal Institute);
# Devanagari, Bengali and Odia OPTITRANS with final schwa deletion
ROMANISERS = {"CYRILLIC": _anyascii, "GEORGIAN": _anyascii, "ARMENIAN": _anyascii, "GREEK": _greek,
              "HANGUL": _korean, "THAI": _thai, "DEVANAGARI": _indic("DEVANAGARI"), "BENGALI": _indic("BENGALI"),
              "ORIYA": _indic("ORIYA")}


def clean(name) -> str:
    """A name as the corpus keeps it: NFC, lowercased, single spaces; "" when it is not a usable name."""
    if not isinstance(name, str):
        return ""
    name = " ".join(unicodedata.normalize("NFC", name).lower().replace("i\u0307", "i").split())  # İ -> i, not i̇
    if not 2 <= len(name) <= 40 or len(name.split()) > MAX_WORDS:
        return ""
    if not all(c.isalpha() or c in " '-" or (unicodedata.category(c).startswith("M") and _script(name) != "LATIN")
               for c in name):  # a combining mark only in a script that needs one (Devanagari, Thai, ...)
        return ""
    return name


def _values(provider, attr):
    values = getattr(provider, attr, None)
    if values is None or isinstance(values, property):
        return []
    return list(values.keys() if hasattr(values, "keys") else values)


def faker_rows(native: bool):
    """(name, style, kind, sex) of every Faker list: romanised (``native=False``) or in its own script."""
    for locale, (style, kinds) in FAKER_STYLES.items():
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        lists = FAKER_LISTS if native or locale not in FAKER_ROMANISED else FAKER_ROMANISED[locale]
        seen_given = set()
        for attr, kind, sex in lists:
            if kind not in kinds:
                continue
            for raw in _values(provider, attr):
                if not isinstance(raw, str) or not raw.strip():
                    continue
                script = _script(raw)
                if native:
                    if script == "LATIN":
                        continue
                    name = clean(raw)
                elif script == "LATIN":
                    name = clean(raw)
                elif script in ROMANISERS:
                    name = clean(ROMANISERS[script](raw))
                    if not _latin(name):
                        continue  # the romaniser left a letter of the script (a Thai vowel, an Odia nukta)
                else:
                    continue
                if not name:
                    continue
                if kind == "given" and not sex:  # the unsexed list repeats the sexed ones
                    if name in seen_given:
                        continue
                elif kind == "given":
                    seen_given.add(name)
                yield name, style, kind, sex


def namdict_rows(path: Path):
    """(name, style, sex, frequency) per nam_dict line and country (several countries of a style: the highest)."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line[:1] in "#=" or len(line) < 31:
                continue
            parts = line.split()
            sex = NAMDICT_SEX.get(parts[0])
            if sex is None or line[29] == "+":  # '+' in column 30: a duplicate with expanded umlauts
                continue
            raw = parts[1]
            freq = line[30:30 + len(NAMDICT_COUNTRIES)]
            best: dict[str, int] = {}
            for (_, style), ch in zip(NAMDICT_COUNTRIES, freq):
                if style and ch.strip():
                    best[style] = max(best.get(style, 0), int(ch, 16))
            if not best:
                continue
            for variant in ({raw.replace("+", "")} if "+" in raw else {raw}):  # Jun+Wei: "Junwei"
                name = clean(variant)
                if name:
                    for style, v in best.items():
                        yield name, style, sex, v


def frequency_rule(entries):
    """nam_dict's names: {name: {style: sex}} keeping, per name, the styles within WITHIN of its peak."""
    freq: dict[str, dict[str, int]] = defaultdict(dict)
    sexes: dict[tuple[str, str], set] = defaultdict(set)
    for name, style, sex, v in entries:
        freq[name][style] = max(freq[name].get(style, 0), v)
        sexes[name, style].add(sex)
    kept = {}
    for name, by_style in freq.items():
        top = max(by_style.values())
        kept[name] = {}
        for style, v in by_style.items():
            if v >= top - WITHIN:
                s = sexes[name, style]
                kept[name][style] = s.pop() if len(s) == 1 else "unisex"
    return kept, freq


def character_rule(rows, log=print):
    """Rows whose name is listed under several styles: kept under its characteristic styles (module docstring)."""
    import namesmith

    styles_of: dict[str, set] = defaultdict(set)
    for name, style, _, _ in rows:
        styles_of[name].add(style)
    single = sorted({(n, s) for n, s, _, _ in rows if len(styles_of[n]) == 1})
    multi = sorted(n for n, st in styles_of.items() if len(st) > 1)
    if not multi:
        return rows
    with tempfile.TemporaryDirectory() as tmp:
        tsv = Path(tmp) / "single.tsv"
        tsv.write_text("".join(f"{n}\t{s}\n" for n, s in single), encoding="utf-8")
        judge = namesmith.fit(str(tsv), model="ngram", order=4, val_fraction=0.0)
    keep: dict[str, set] = {}
    known = set(judge.styles)
    for name, result in zip(multi, judge.classify(multi, uniform_prior=True)):
        listed = styles_of[name] & known
        p = {s: result.styles.get(s, 0.0) for s in listed} if result.styles else {}
        if not p or max(p.values()) <= 0:
            keep[name] = styles_of[name]
            continue
        top = max(p.values())
        keep[name] = {s for s, v in p.items() if v >= KEEP_RATIO * top}
    log(f"character rule: {len(multi)} names listed under 2+ styles judged by a 4-gram fitted on "
        f"{len(single)} single-listed names")
    return [r for r in rows if len(styles_of[r[0]]) == 1 or r[1] in keep[r[0]]]


def _multi(rows) -> int:
    styles_of: dict[str, set] = defaultdict(set)
    for name, style, _, _ in rows:
        styles_of[name].add(style)
    return sum(len(s) > 1 for s in styles_of.values())


def _dedup(rows):
    """One row per (name, style, kind); several sexes of one given name -> unisex, a sexed row over an unsexed one."""
    merged: dict[tuple[str, str, str], set] = defaultdict(set)
    for name, style, kind, sex in rows:
        merged[name, style, kind].add(sex)
    out = []
    for (name, style, kind), sexes in merged.items():
        named = sexes - {""}
        sex = "" if not named else named.pop() if len(named) == 1 else "unisex"
        out.append((name, style, kind, sex))
    return out


def world_rows(namdict: Path, log=print):
    """The romanised world corpus: (name, style, kind, sex) rows sorted by style, kind, sex, name."""
    entries = list(namdict_rows(namdict))
    listed_before = _dedup([(n, s, "given", x) for n, s, x, _ in entries] + list(faker_rows(native=False)))
    kept, freq = frequency_rule(entries)
    rows = [(n, s, "given", x) for n, by in kept.items() for s, x in by.items()]
    for name, style, kind, sex in faker_rows(native=False):
        if kind == "given" and name in freq and style in NAMDICT_STYLES and style not in kept[name]:
            continue  # nam_dict knows the name and does not find it characteristic of this style
        rows.append((name, style, kind, sex))
    rows = character_rule(_dedup(rows), log)
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[r[1]] += 1
    small = sorted(s for s, c in counts.items() if c < MIN_STYLE)
    rows = sorted((r for r in rows if counts[r[1]] >= MIN_STYLE), key=lambda r: (r[1], r[2], r[3], r[0]))
    log(f"names under 2+ styles: {_multi(listed_before)} of {len({r[0] for r in listed_before})} as listed, "
        f"{_multi(rows)} of {len({r[0] for r in rows})} kept; styles left out (< {MIN_STYLE} names): "
        f"{', '.join(small) or 'none'}")
    return rows


def world_native_rows(log=print):
    """Faker's names in their own scripts (no frequency or character rule: each locale's list is its own)."""
    rows = _dedup(list(faker_rows(native=True)))
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[r[1]] += 1
    rows = sorted((r for r in rows if counts[r[1]] >= 50), key=lambda r: (r[1], r[2], r[3], r[0]))
    log(f"world-native: {len(rows)} rows, {len({r[1] for r in rows})} styles")
    return rows


HEADER = "name\tstyle\tkind\tsex"


def lines(rows) -> list[str]:
    return [HEADER] + ["\t".join(r) for r in rows]

