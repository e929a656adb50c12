"""What a question asks for (a number, a date, a person, a place, a reason), and whether a clause has it.

Small bilingual word lists, applied to normalised text; used by the extractive engine to prefer
the clause that holds the kind of thing asked about, and by follow-up handling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .glossary import Glossary, Mention
from .textnorm import normalize, tokenize


def _folded(words: str) -> frozenset[str]:
    return frozenset(normalize(words).split())


NUMBER_WORDS = _folded("""
    اثنان اثنين اثني اثنا ثلاث ثلاثة اربع اربعة خمس خمسة ست ستة سبع سبعة ثمان ثماني ثمانية تسع تسعة
    عشر عشرة عشرين عشرون ثلاثين ثلاثون اربعين خمسين ستين ستون سبعين ثمانين تسعين مائة مئة مائتين
    ثلاثمائة اربعمائة خمسمائة الف الفا ألفاً الاف آلاف الآف يومين شهرين
    two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty sixty seventy
    eighty ninety hundred hundreds thousand thousands dozen
""")
MONTHS = _folded("""
    محرم صفر ربيع جمادى رجب شعبان رمضان شوال القعدة الحجة نيسان شباط اذار آذار ايار حزيران تموز آب
    ايلول تشرين كانون
    muharram safar rabi jumada rajab shaban ramadan shawwal dhu january february march april may june
    july august september october november december spring summer autumn winter
""")
DATE_WORDS = _folded("عام سنة سنه شتاء ربيع اواخر ah ce year years")
PLACE_WORDS = _folded("""
    شمال شمالي الشمال جنوب جنوبا الجنوب جنوباً شرق الشرق شرقي غرب الغرب غربي قرب بالقرب ضفاف ساحل الساحل
    الجزيرة جزيرة جزر قلعة القلعة قلعتها مدينة المدينة نهر النهر بحر معسكر المعسكر بلاط حصن الحصون
    north northern south southern east eastern west western near bank banks shore coast island
    fortress citadel city river sea camp court town
""")
REASON_WORDS = _folded("""
    لتسخيرهم للاستفادة لتأمين لحرب للقبض للاحتجاج للتجارة لاقتحامها للاستيلاء لتبادل لاجتياح انتقاما انتقاماً
    بسبب لان لأنهم لانهم بتهمة هدفه رغبته
    because order purpose aim revenge charge reason so to for
""")

TIME_UNITS = _folded("""
    يوم يوما يوماً ايام أيام يومين شهر شهرا اشهر أشهر شهرين سنة سنوات عام اعوام
    day days month months year years week weeks
""")
UNIT_TERMS = frozenset(tokenize(" ".join(TIME_UNITS)))
# "What was the name of the envoy …?", "ما اسم الخليفة …؟", "Which caliph …?": a name is asked for,
# and only a name of that kind answers it (a person for a caliph, a place for an island), not a
# description such as "one of the envoys" or "one of the islands".
# The role word opens the words after "name of" / "اسم" (up to three), or follows "which" / "what" /
# "اي" at once or after one adjective ("which Abbasid caliph"): "what did the merchants carry?" asks
# for no name.
NAME_ASKED = re.compile(r"(?=(?:\bname of|(?:^|\s)اسم)\s+((?:\S+\s+){0,2}\S+))"
                        r"|(?=(?:\b(?:which|what)|(?:^|\s)اي)\s+(\S+(?:\s+\S+)?))")
# A role is also said in other words: "under the command of" (بقيادة) names a commander (قائد).
ROLE_SAID = {normalize(role): frozenset(tokenize(words)) for role, words in {
    "commander": "command commanded led leader", "commanders": "command commanded led leader",
    "general": "command commanded led", "generals": "command commanded led",
    "leader": "led command", "leaders": "led command", "son": "sons", "sons": "son",
    "قائد": "قيادة بقيادة قادة قاد يقود", "قادة": "قيادة بقيادة قائد قاد يقود", "زعيم": "قيادة بقيادة قاد",
    "ابن": "ابنه ابناء ابنيه", "ابناء": "ابن ابنه ابنيه", "حاكم": "حاكمها والي", "والي": "حاكم حاكمها",
}.items()}
NOT_ADJECTIVES = _folded("did does do was were is are had has have the a an of كان كانت هو هي")
ROLE_KINDS = {**dict.fromkeys(_folded("""
    envoy envoys ambassador ambassadors caliph commander commanders general generals governor ruler son
    sons leader leaders khan sultan king emir prince merchant merchants chamberlain chief successor
    رسول رسل سفير خليفه قائد قاده حاكم والي ابن ابناء امير ملك سلطان تاجر تجار حاجب زعيم خليفته
"""), "person"), **dict.fromkeys(_folded("""
    island city town fortress river region country capital province
    جزيره مدينه قلعه نهر منطقه بلد عاصمه اقليم
"""), "place")}
# "where did he go after Rayy?", "ماذا فعل بعد دخولها؟": what is asked comes after the anchor
AFTER = re.compile(r"\b(?<!chase )(?<!chased )(?<!run )(?<!ran )(?<!look )(?<!looked )(?<!named )"
                   r"(?:after|following)\s+(.+)|(?:^|\s)(?:بعد|عقب)\s+(.+)")  # not "chase after him"
# "Who was Qaracha?", "من هو قراجة؟": the answer is what the text says next to the name
IDENTITY = re.compile(r"^(?:who|what) (?:is|was|are|were) |^(?:من|ما) (?:هو|هي|هم|كان|كانت) ")
# "what happened to him in the end?", "ما مصير ينال خان؟": the answer is the last the text tells of them
FATE = re.compile(r"\b(in the end|at the end|at last|finally|eventually|fate|became of|become of)\b|(^|\s)(في النهايه|في الاخير|في الاخر|اخيرا|مصير|مصيره|نهايه|نهايته)(\s|$|؟)")
YEAR = re.compile(r"(?<!\d)\d{3,4}(?!\d)")
NUMBER = re.compile(r"(?<!\d)\d+(?!\d)")
DATED_YEAR = re.compile(r"(?<!\d)\d+(?=\s?(?:ه|م|ah|ce)(?:\W|$))")  # 617ه/1220م, 617 AH/1220 CE: a date, not a count

# Question words, matched on normalised text at the start of the question (or anywhere for the
# longer phrases): "what did he say when he met them?" asks for words, not a date. Everyday
# spoken forms count too (مين، وين، ليش، امتى، قديش). Order matters: "how long" is a quantity,
# "how" alone is not.
LEAD = r"^((and|so|then|but) )?"  # a question word opens the question, maybe after a conjunction
KIND_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("duration", re.compile(r"\b(how long|for how long|how many (days|months|years))\b|(^|\s)(كم (استمرت?|استغرقت?|دامت?|طالت?)|كم يوما|كم شهرا|كم سنه|ما مده|ما المده|كم من الوقت|كم كانت مده)(\s|$)")),
    ("number", re.compile(r"\b(how many|how much|how long|how large|number of|size of)\b|(^|\s)(كم عدد|كم|عدد|مقدار|تعداد|قديش|كام)(\s|$)")),
    ("date", re.compile(LEAD + r"when\b|\b(what year|which year|what date|in what year|what month)\b|(^|\s)(متي|امتي|تاريخ)(\s|$)|(اي|في اي) (عام|سنه|شهر|تاريخ)")),
    ("reason", re.compile(LEAD + r"why\b|\b(for what reason|what for|what was the purpose|what was the aim)\b|(^|\s)(لماذا|ليش|ليه|سبب|لاي سبب|ما الهدف|ما هدف)(\s|$)")),
    ("place", re.compile(LEAD + r"(to |from )?where\b|\b(which city|what city|which fortress|what fortress|which river|which town|what place|which island|which region|to which)\b|(^|\s)(اين|الي اين|من اين|وين|فين)(\s|$|؟)|(اي|ما) (مدينه|قلعه|نهر|بلد|جزيره|منطقه|حصن)")),
    ("manner", re.compile(LEAD + r"how (did|do|does|was|were|had|has|could|would)\b|(^|\s)(كيف|ازاي|شلون)(\s|$)")),
    ("people", re.compile(r"\b(which peoples?|what peoples?|which nations?|what nations?)\b|(^|\s)(اي|من اي) (شعب|شعبين|شعوب|قوم|اقوام)(\s|$)")),
    ("person", re.compile(LEAD + r"(who|whom|whose)\b|\b(which commander|which general|which son|which sons|by whom|which ruler)\b|^(من|مين) (?!اين|اي )|(^|\s)(بقياده من|من هو|من هم|من كان)(\s|$)")),
]


@dataclass(frozen=True)
class QuestionKind:
    kind: str | None  # duration | number | date | reason | place | manner | people | person | None (anything)
    words: frozenset[str]  # the question's own words, which an answer cannot count as new
    mentioned: frozenset[str]  # glossary ids the question itself names
    numbers: frozenset[str]  # numbers the question itself holds
    after: str | None = None  # the search term the question says its answer follows ("after Rayy")
    fate_of: str | None = None  # glossary id of the one whose end is asked about ("what became of him in the end?")
    asking: frozenset[str] = frozenset()  # search terms of the question phrase ("how large", "كم عدد"):
    # they say what kind of answer is wanted, not what it is about (the unit in "how many days" stays,
    # the "year" in "in which year" goes)
    role: frozenset[str] = frozenset()  # "which caliph": only a clause naming a caliph answers (search terms)
    terms: frozenset[str] = frozenset()  # the question's search terms


def classify(question: str, glossary: Glossary) -> QuestionKind:
    text = normalize(question)
    # the question word that comes first decides: "why did he take a large number of them?" asks why
    found = [(match.start(), order, name, match) for order, (name, pattern) in enumerate(KIND_PATTERNS)
             if (match := pattern.search(text))]
    _, _, kind, match = min(found, default=(0, 0, None, None))
    asking = frozenset(tokenize(match.group(0))) - UNIT_TERMS if match else frozenset()
    if kind == "date":  # "in which month and year": a date answers it, not a month or a year
        asking |= frozenset(tokenize(question)) & UNIT_TERMS
    role, role_terms = _role_named(text)
    if role and kind in (None, role):
        kind = role
    mentions = glossary.find(question)
    mentioned = frozenset(m.entry.id for m in mentions)
    anchor = AFTER.search(text)
    after = next(iter(tokenize(anchor.group(1) or anchor.group(2))), None) if anchor else None
    if IDENTITY.match(text) and (name := _only_name(question, mentions)):
        kind, after = None, name  # "Who was X?": what follows X's name (", the chamberlain of …")
    fate_of = None
    if fate := FATE.search(text):
        asking |= frozenset(tokenize(fate.group(0)))
        people = [m.entry.id for m in mentions if m.entry.kind == "person"]
        fate_of = next(iter(people or [m.entry.id for m in mentions]), None)
    return QuestionKind(kind, frozenset(text.split()), mentioned, frozenset(NUMBER.findall(text)), after,
                        fate_of, asking, role=role_terms if role is not None and kind == role else frozenset(),
                        terms=frozenset(tokenize(question)))


def _role_named(text: str) -> tuple[str | None, frozenset[str]]:
    """("person" or "place", the search terms of the role word) when the (normalised) question asks
    for the name of one ("which caliph", "ما اسم الجزيره"), else (None, empty)."""
    for match in NAME_ASKED.finditer(text):
        words = (match.group(1) or match.group(2)).split()
        if match.group(2) and words[0] in NOT_ADJECTIVES:
            continue
        for word in words:
            bare = word[2:] if word.startswith("ال") and len(word) > 4 else word
            if bare in ROLE_KINDS:
                return ROLE_KINDS[bare], frozenset(tokenize(word)) | ROLE_SAID.get(bare, frozenset())
    return None, frozenset()


def _only_name(question: str, mentions: list[Mention]) -> str | None:
    """The first search token of the one glossary name a question consists of, if it is nothing else."""
    if len({m.entry.id for m in mentions}) != 1:
        return None
    tokens = tokenize(question, keep_stopwords=True)
    named = tokens[mentions[0].start:mentions[0].end]
    return named[0] if named and set(tokenize(question)) <= set(named) else None


def answers_kind(kind: QuestionKind, text: str, entity_kinds: dict[str, str]) -> bool:
    """Whether a clause (in either language) holds a new thing of the kind the question asks for.

    `entity_kinds` maps the glossary ids found in the clause to their kind.
    """
    if kind.kind is None:
        return True
    words = set(normalize(text).split()) - kind.words
    new_entities = {k for eid, k in entity_kinds.items() if eid not in kind.mentioned}
    numbers = set(NUMBER.findall(normalize(text))) - kind.numbers
    if kind.kind == "duration":  # "five months", "12 days"; "in the year 617" is a date, not a length
        counts = {n for n in numbers if not YEAR.fullmatch(n)}
        return bool(words & TIME_UNITS) and (bool(counts) or bool(words & NUMBER_WORDS))
    if kind.kind == "number":
        counts = numbers - set(DATED_YEAR.findall(normalize(text)))
        return bool(counts) or bool(words & NUMBER_WORDS)
    if kind.kind == "date":
        return bool(set(YEAR.findall(" ".join(words))) - kind.numbers) or bool(words & MONTHS)
    if kind.kind == "person":  # "which caliph": a clause naming someone and saying "caliph"
        return "person" in new_entities and (not kind.role or bool(kind.role & set(tokenize(text))))
    if kind.kind == "people":
        return "people" in new_entities
    if kind.kind == "place":
        return bool({"place", "river"} & new_entities) or (not kind.role and bool(words & PLACE_WORDS))
    if kind.kind == "reason":
        return bool(words & REASON_WORDS) or any(w.startswith(("لت", "للا", "لاست")) for w in words)
    return True
