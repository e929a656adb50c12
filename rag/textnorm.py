"""Text normalisation for search: Arabic orthography, light stemming, language detection.

Normalisation is used only to match queries against passages; what is shown or cited is always
the original text, sliced from the source file by character offsets.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

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
ANALYSIS_VERSION = 10

# Light stemming (after Larkey et al.'s light10): strip one conjunction/preposition and the
# article from the front, one common suffix from the back. A lone one-letter clitic is only
# stripped from a long word (فارسل -> ارسل, but فيلا "elephant" stays), and no stem is shorter
# than 2 letters. A lone ك is not stripped: it starts far more roots (كلف, كتب, كان) than it
# is the preposition "like".
AR_PREFIXES = ("وبال", "وكال", "فبال", "وال", "بال", "كال", "فال", "لل", "ال", "و", "ف", "ب", "ل")
AR_SUFFIXES = ("هما", "كما", "تين", "ات", "ان", "ون", "ين", "وا", "ها", "هم", "هن", "يه", "يا", "ه", "ي")

_AR_STOPWORDS = (
    """
    في من على الى إلى عن ما ماذا لماذا من كم اين أين متى هل كيف اي أي الذي التي الذين اللذين
    هذا هذه ذلك تلك هو هي هم هن انه أنه ان أن إن كان كانت قد لم لن لا ثم او أو و ف ب ل مع عند
    بعد قبل حين حتى كل بين الا إلا غير منه منها فيه فيها عليه عليها اليه إليه به بها له لها لهم
    يكون تكون وكان وكانت التي وهو وهي وقد ولم ولا حدث جرى يحدث هما اللذان اللتان اللتين هؤلاء أولئك
    مين وين ليش ليه امتى إمتى قديش كام اللي شو ايش
    """
)
EN_STOPWORDS = frozenset(
    """
    a an the of to in on at by for from with and or but is are was were be been being do does did
    what which who whom whose when where why how that this these those it its he him his she her
    they them their there here as into than then so not no yes can could would should will shall
    may might must about after before during over under up down out off i you we us our your
    text say says said tell me please happen happened
    """.split()
)

# Irregular English verb forms, mapped to their base form before stemming: a question asks "Where
# did he flee?" of a text that says "he fled", "When did he leave?" of "he left". "borne" goes to
# "bear", so that "born" (a birth) no longer stems like "had borne arms". Forms that are mostly
# nouns here (ground, wound, bound, lay, lit) and the light verb "made" are left alone.
EN_IRREGULAR = dict(pair.split(":") for pair in """
arose:arise awoke:awake bore:bear borne:bear beaten:beat became:become began:begin begun:begin
bent:bend bit:bite bitten:bite bled:bleed blew:blow blown:blow broke:break broken:break brought:bring
built:build burnt:burn bought:buy caught:catch chose:choose chosen:choose clung:cling came:come
crept:creep dealt:deal dug:dig did:do done:do drew:draw drawn:draw drank:drink drunk:drink drove:drive
driven:drive ate:eat eaten:eat fell:fall fallen:fall fed:feed felt:feel fought:fight found:find
fled:flee flung:fling flew:fly flown:fly forbade:forbid forbidden:forbid forgot:forget
forgotten:forget forgave:forgive forgiven:forgive froze:freeze frozen:freeze got:get gotten:get
gave:give given:give went:go gone:go grew:grow grown:grow hung:hang heard:hear hid:hide hidden:hide
held:hold knelt:kneel knew:know known:know laid:lay led:lead left:leave lent:lend lost:lose
meant:mean met:meet paid:pay rode:ride ridden:ride rang:ring rung:ring rose:rise risen:rise
ran:run saw:see seen:see sought:seek sold:sell sent:send shook:shake shaken:shake shone:shine
shot:shoot shown:show sang:sing sung:sing sank:sink sunk:sink sat:sit slept:sleep slew:slay
slain:slay slid:slide spoke:speak spoken:speak spent:spend sprang:spring sprung:spring stood:stand
stole:steal stolen:steal stuck:stick stung:sting struck:strike strove:strive striven:strive
swore:swear sworn:swear swept:sweep swam:swim swum:swim swung:swing took:take taken:take
taught:teach tore:tear torn:tear told:tell thought:think threw:throw thrown:throw
understood:understand undertook:undertake undertaken:undertake woke:wake wore:wear worn:wear
wept:weep won:win wrote:write written:write withdrew:withdraw withdrawn:withdraw overran:overrun
overtook:overtake overtaken:overtake overcame:overcome oversaw:oversee befell:befall befallen:befall
""".split())


def normalize(text: str) -> str:
    """Fold Arabic orthographic variants, digits, case and thousands separators.

    The same folding as the evaluation's: NFKC, no diacritics or tatweel, one alef, ى->ي, ة->ه,
    ؤ->و, ئ->ي, Arabic-Indic digits -> 0-9, lower case, 50,000 -> 50000, single spaces.
    """
    text = unicodedata.normalize("NFKC", text).translate(DIGITS)
    text = DIACRITICS.sub("", text).translate(LETTER_FOLDS).lower().replace("\u2019", "'")
    text = THOUSANDS.sub("", text)
    return re.sub(r"\s+", " ", text).strip()


# Stop words are compared after normalisation, so fold them the same way.
AR_STOPWORDS = frozenset(normalize(_AR_STOPWORDS).split())


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
