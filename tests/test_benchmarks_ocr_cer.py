"""benchmarks/ocr_cer.py's scoring: Levenshtein distance (checked against the textbook
dynamic programme) and the text normalisation both texts get."""

from __future__ import annotations

import random

from benchmarks.ocr_cer import edit_distance, normalise


def reference_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_edit_distance_is_levenshtein() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3
    rng = random.Random(7)
    for _ in range(200):
        a = "".join(rng.choice("abcé ") for _ in range(rng.randint(0, 30)))
        b = "".join(rng.choice("abcé ") for _ in range(rng.randint(0, 30)))
        assert edit_distance(a, b) == reference_distance(a, b), (a, b)


def test_normalise_folds_ligatures_and_whitespace() -> None:
    assert normalise("  e\ufb03cient\n\tlayout  ") == "efficient layout"
