#!/usr/bin/env python3
"""Does a shipped model name the origin people would? ``classify`` on well-known, unambiguous names.

    python benchmarks/origin_names.py world                      # the shipped model
    python benchmarks/origin_names.py old-world.npz world        # several models side by side

The list is written by hand (given names and surnames nobody would place elsewhere), ~4 per origin
for 30 origins; a model gets a name right when its most probable style is the name's origin. Origins a
model does not know count as wrong (the user asked and got another answer). Accuracy's standard
error is the binomial one; two models are compared on the same names (paired: the SE of the mean
per-name difference).
"""

from __future__ import annotations

import argparse
import math
import sys

import namesmith

NAMES = {
    "Italian": ["Giuseppe", "Francesca", "Alessandro", "Esposito", "Ferrari"],
    "Spanish": ["Alejandro", "Guadalupe", "Fernández", "Gutiérrez"],
    "Portuguese": ["João", "Conceição", "Gonçalves", "Magalhães"],
    "French": ["Jacqueline", "Thibault", "Dupont", "Lefebvre"],
    "German": ["Wolfgang", "Gertrud", "Schmidt", "Schneider"],
    "Dutch": ["Geert", "Maarten", "Van der Berg", "Jansen"],
    "English": ["Nigel", "Gwendolyn", "Thompson", "Whitaker"],
    "Irish": ["Siobhan", "Padraig", "O'Sullivan", "Murphy"],
    "Swedish": ["Björn", "Ingrid", "Lindqvist", "Andersson"],
    "Norwegian": ["Sigrid", "Håkon", "Solberg", "Haugen"],
    "Danish": ["Søren", "Mette", "Jørgensen", "Rasmussen"],
    "Finnish": ["Juha", "Aino", "Virtanen", "Mäkinen"],
    "Icelandic": ["Guðrún", "Sigurður", "Jónsdóttir", "Þórsson"],
    "Polish": ["Krzysztof", "Małgorzata", "Kowalski", "Wiśniewski"],
    "Czech": ["Jiří", "Vojtěch", "Dvořák", "Novotný"],
    "Hungarian": ["Zsófia", "László", "Szabó", "Nagy"],
    "Romanian": ["Ionuț", "Mihaela", "Popescu", "Ionescu"],
    "Greek": ["Dimitrios", "Eleni", "Papadopoulos", "Georgiou"],
    "Russian": ["Dmitry", "Svetlana", "Smirnov", "Kuznetsova"],
    "Ukrainian": ["Bohdan", "Oksana", "Shevchenko", "Kovalenko"],
    "Turkish": ["Mehmet", "Ayşe", "Yılmaz", "Öztürk"],
    "Arabic": ["Mohammed", "Fatima", "Abdullah", "Khadija"],
    "Hebrew": ["Yitzhak", "Shoshana", "Avraham", "Tzipora"],
    "Indian": ["Rajesh", "Lakshmi", "Srinivasan", "Venkatesh"],
    "Japanese": ["Hiroshi", "Yuki", "Tanaka", "Watanabe"],
    "Chinese": ["Xiaoming", "Meiling", "Zhang", "Wang"],
    "Korean": ["Minjun", "Jiwoo", "Seoyeon", "Jeong"],
    "Vietnamese": ["Nguyễn", "Phương", "Thảo", "Trần"],
    "Yoruba": ["Oluwaseun", "Adebayo", "Folasade", "Olumide"],
    "Swahili": ["Baraka", "Neema", "Zawadi", "Imani"],
}


def run(spec: str) -> list[bool]:
    ck = namesmith.load(spec)
    out = []
    for origin, names in NAMES.items():
        for r in ck.classify(names):
            out.append(r.style == origin)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="model files or shipped model names")
    args = ap.parse_args()
    n = sum(map(len, NAMES.values()))
    print(f"{n} names of {len(NAMES)} origins")
    results = {m: run(m) for m in args.models}
    for m, right in results.items():
        acc = sum(right) / n
        print(f"{m}: {acc:.1%} right ± {math.sqrt(acc * (1 - acc) / n):.1%}")
    first, *rest = args.models
    for m in rest:
        d = [b - a for a, b in zip(results[first], results[m])]
        mean = sum(d) / n
        se = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1) / n)
        print(f"{m} - {first}: {mean:+.1%} ± {se:.1%} (paired)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
