"""Deterministic pseudo-text for the HTML pages: syllable words in several scripts, numbers.

Nothing is downloaded: words are built from per-script syllable tables with the page's
``random.Random``, so a seed always gives the same text. Scripts other than Latin are used
only where a font on this machine has their glyphs (:func:`available_scripts`, from
``fc-list``); Latin always is.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Script:
    """A writing system: syllables, direction, the fontconfig language that proves a font."""

    name: str
    syllables: tuple[str, ...]
    rtl: bool = False
    fc_lang: str = "en"
    space: str = " "  # CJK runs words together
    full_stop: str = "."
    fonts: tuple[str, ...] = ()  # CSS families preferred for this script (before fallbacks)


def _cv(consonants: str, vowels: str) -> tuple[str, ...]:
    return tuple(c + v for c in consonants for v in vowels)


SCRIPTS: dict[str, Script] = {
    "latin": Script(
        "latin",
        (*_cv("bcdfghklmnprstvz", "aeiou"), "tra", "ste", "pri", "con", "ment", "ion", "ver"),
    ),
    "greek": Script("greek", _cv("βγδζθκλμνξπρστφχ", "αεηιουω"), fc_lang="el"),
    "cyrillic": Script("cyrillic", _cv("бвгджзклмнпрстфхч", "аеиоуыя"), fc_lang="ru"),
    "arabic": Script(
        "arabic", _cv("بتثجحخدذرزسشصطعفقكلمن", "اوي"), rtl=True, fc_lang="ar", full_stop="."
    ),
    "hebrew": Script("hebrew", _cv("בגדהזחטכלמנסעפצקרשת", "וי"), rtl=True, fc_lang="he"),
    "cjk": Script(
        "cjk",
        tuple("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会"),
        fc_lang="zh",
        space="",
        full_stop="。",
        fonts=("Noto Sans CJK SC", "Noto Serif CJK SC"),
    ),
}


@lru_cache(maxsize=1)
def available_scripts() -> tuple[str, ...]:
    """Scripts some installed font covers (``fc-list :lang=XX``); always ``latin`` first."""
    found = ["latin"]
    if shutil.which("fc-list") is None:
        return tuple(found)
    for name, script in SCRIPTS.items():
        if name == "latin":
            continue
        out = subprocess.run(
            ["fc-list", f":lang={script.fc_lang}", "family"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if out.strip():
            found.append(name)
    return tuple(found)


class Words:
    """Pseudo-text in one script from a seeded ``random.Random``."""

    def __init__(
        self, rng: random.Random, script: str = "latin", vocab: list[str] | None = None
    ) -> None:
        self.rng = rng
        self.script = SCRIPTS[script]
        # a small per-document vocabulary, so words repeat like real text
        self.vocab = vocab if vocab is not None else [self._word() for _ in range(300)]

    def _word(self) -> str:
        n = self.rng.choice((1, 2, 2, 2, 3, 3, 4))
        return "".join(self.rng.choice(self.script.syllables) for _ in range(n))

    def word(self) -> str:
        """One word from the document's vocabulary (its first 30 words are frequent)."""
        if self.rng.random() < 0.3:
            return self.vocab[self.rng.randrange(30)]
        return self.rng.choice(self.vocab)

    def words(self, low: int, high: int) -> str:
        """``low..high`` words joined by the script's space, no final stop."""
        return self.script.space.join(self.word() for _ in range(self.rng.randint(low, high)))

    def title(self, low: int = 2, high: int = 7) -> str:
        """A capitalised phrase without a full stop."""
        text = self.words(low, high)
        return text[:1].upper() + text[1:]

    def sentence(self, low: int = 5, high: int = 16) -> str:
        """A capitalised sentence; sometimes with a number or a comma."""
        parts = [self.word() for _ in range(self.rng.randint(low, high))]
        if self.rng.random() < 0.2:
            parts.insert(self.rng.randrange(len(parts)), str(self.rng.randint(2, 2030)))
        if len(parts) > 6 and self.rng.random() < 0.4 and self.script.space:
            parts[self.rng.randrange(2, len(parts) - 2)] += ","
        text = self.script.space.join(parts)
        return text[:1].upper() + text[1:] + self.script.full_stop

    def paragraph(self, low: int = 2, high: int = 6) -> str:
        """Several sentences."""
        joiner = self.script.space or ""
        return joiner.join(self.sentence() for _ in range(self.rng.randint(low, high)))

    def name(self) -> str:
        """A person's name: two capitalised words."""
        return " ".join(w[:1].upper() + w[1:] for w in (self.word(), self.word()))


def amount(rng: random.Random, scale: int = 6, negative: float = 0.15, paren: bool = True) -> str:
    """A financial figure with thousands separators; negatives in parentheses or with a minus."""
    value = rng.randint(10 ** (scale - 3), 10**scale)
    text = f"{value:,}"
    if rng.random() < negative:
        text = f"({text})" if paren else f"−{text}"
    return text
