"""Text normalisation for search: Arabic orthography, light stemming, language detection.

Normalisation is used only to match queries against passages; what is shown or cited is always
the original text, sliced from the source file by character offsets.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import Stemmer

ARABIC_LETTER = re.compile(r"[\u0621-\u064A\u0671-\u06D3\u06FA-\u06FF]")
LATIN_LETTER = re.compile(r"[A-Za-z\u00C0-\u024F]")
# Harakat, Quranic marks, superscript alef and tatweel carry no meaning for search.
DIACRITICS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
LETTER_FOLDS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
THOUSANDS = re.compile(r"(?<=\d)[,\u066C](?=\d{3})")
TOKEN = re.compile(r"[0-9]+|[\u0621-\u064A\u0671-\u06D3\u06FA-\u06FF]+|[a-z\u00C0-\u024F]+(?:'[a-z]+)?")

# Bumped whenever tokenisation changes, so that indexes built with the old one are rebuilt.
ANALYSIS_VERSION = 11

DATA = Path(__file__).resolve().parent / "data"


@lru_cache(maxsize=None)
def lexicon(language: str) -> dict:
    """The word lists of a language (`rag/data/lexicon.<language>.json`), as written there."""
    return json.loads((DATA / f"lexicon.{language}.json").read_text(encoding="utf-8"))


# Light stemming (after Larkey et al.'s light10): strip one conjunction/preposition and the
# article from the front, one common suffix from the back. A lone one-letter clitic is only
# stripped from a long word (فارسل -> ارسل, but فيلا "elephant" stays), and no stem is shorter
# than 2 letters. A lone ك is not stripped: it starts far more roots (كلف, كتب, كان) than it
# is the preposition "like".
AR_PREFIXES = tuple(lexicon("ar")["clitic_prefixes"])
AR_SUFFIXES = tuple(lexicon("ar")["suffixes"])
EN_STOPWORDS = frozenset(lexicon("en")["stopwords"])
# Irregular English verb forms, mapped to their base form before stemming: a question asks "Where
# did he flee?" of a text that says "he fled", "When did he leave?" of "he left". "borne" goes to
# "bear", so that "born" (a birth) no longer stems like "had borne arms". Forms that are mostly
# nouns here (ground, wound, bound, lay, lit) and the light verb "made" are left alone.
EN_IRREGULAR = dict(lexicon("en")["irregular_verbs"])


def normalize(text: str) -> str:
    """Fold Arabic orthographic variants, digits, case and thousands separators.

    The same folding as the evaluation's: NFKC, no diacritics or tatweel, one alef, ى->ي, ة->ه,
    ؤ->و, ئ->ي, Arabic-Indic digits -> 0-9, lower case, 50,000 -> 50000, single spaces.
    """
    text = unicodedata.normalize("NFKC", text).translate(DIGITS)
    text = DIACRITICS.sub("", text).translate(LETTER_FOLDS).lower().replace("\u2019", "'")
    text = THOUSANDS.sub("", text)
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=None)
def word_set(language: str, name: str) -> frozenset[str]:
    """A word list of the lexicon, folded like the text it is compared with (see `normalize`)."""
    return frozenset(normalize(" ".join(lexicon(language)[name])).split())


AR_STOPWORDS = word_set("ar", "stopwords")  # compared after normalisation


def strip_latin_accents(word: str) -> str:
    """'Ögedei' and 'Ogedei' must match: drop combining marks from Latin words."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def stem_arabic(word: str) -> str:
    for prefix in AR_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= (2 if len(prefix) > 1 else 3):
            word = word[len(prefix):]
            break
    for suffix in AR_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            word = word[: -len(suffix)]
            break
    return word


def arabic_skeleton(stem: str) -> str | None:
    """A light stem without its imperfect-verb prefix and its long vowels, so that the forms of one
    word meet: يقاتل and قاتل (قتل), رسول and رسل, اضعف and ضعف, يحتج and احتج. Fewer than three
    letters left tell nothing (زوج, مات) and give None. Too coarse to match passages on, it only
    tells whether the text uses a word at all."""
    if not ARABIC_LETTER.match(stem):
        return None
    if len(stem) >= 4 and stem[0] in "يتنا":
        stem = stem[1:]
    core = stem[0] + re.sub("[اوي]", "", stem[1:])
    return core if len(core) >= 3 else None


@lru_cache(maxsize=1)
def _english_stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def _stem_token(token: str) -> str:
    if ARABIC_LETTER.match(token):
        return stem_arabic(token)
    if token[0].isdigit():
        return token
    word = strip_latin_accents(token).replace("'", "")
    return _english_stemmer().stemWord(EN_IRREGULAR.get(word, word))


def tokenize(text: str, *, keep_stopwords: bool = False) -> list[str]:
    """Search tokens of a text in either language: normalised, stop words dropped, light-stemmed."""
    tokens = []
    for token in TOKEN.findall(normalize(text)):
        if not keep_stopwords and (token in AR_STOPWORDS or token in EN_STOPWORDS):
            continue
        stem = _stem_token(token)
        if not keep_stopwords and (stem in AR_STOPWORDS or token[1:] in AR_STOPWORDS and token[0] in "وفب"):
            continue  # a stop word behind a clitic: وكم, بماذا, فهل
        if stem:
            tokens.append(stem)
    return tokens


def script_counts(text: str) -> tuple[int, int]:
    """(Arabic letters, Latin letters) in a text, ignoring citation markers."""
    text = re.sub(r"\[\d+\]", "", text)
    return len(ARABIC_LETTER.findall(text)), len(LATIN_LETTER.findall(text))


def detect_language(text: str, default: str = "en") -> str:
    """'ar' for Arabic-script text, 'en' for Latin-script text; mixed text goes by the majority,
    so an Arabic question that names 'Otrar' in Latin letters is still Arabic."""
    arabic, latin = script_counts(text)
    if arabic == 0 and latin == 0:
        return default
    return "ar" if arabic >= latin else "en"
