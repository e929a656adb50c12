"""HTML for the app: answers with clickable [n] markers, cited passages with highlighted quotes.

Everything that comes from a user, an answer or a source is HTML-escaped here, before any markup
is added, so a question like `<img src=x onerror=...>` is shown as text and never runs.
Each block carries its own direction (dir="rtl" for Arabic, "ltr" for English) and language, and
names and numbers of the other script are isolated with <bdi> so mixed text reads correctly.
"""

from __future__ import annotations

import html
import re

from rag import Answer, Citation
from rag.textnorm import detect_language

MARKER = re.compile(r"\[(\d+)\]")
OTHER_SCRIPT = {"ar": re.compile(r"[A-Za-z][A-Za-z0-9 .,'\-()]*[A-Za-z0-9)]|[A-Za-z]"),
                "en": re.compile(r"[\u0600-\u06FF][\u0600-\u06FF0-9 ،]*[\u0600-\u06FF]|[\u0600-\u06FF]")}

LABELS = {
    "sources": {"en": "Sources", "ar": "المصادر"},
    "related": {"en": "Related passages (the text does not answer this)", "ar": "مقاطع ذات صلة (لا يجيب النص عن ذلك)"},
    "paragraph": {"en": "paragraph", "ar": "الفقرة"},
    "translation": {"en": "English translation", "ar": "الترجمة الإنجليزية"},
    "empty": {"en": "Ask a question: the passages an answer cites appear here.",
              "ar": "اطرح سؤالاً: تظهر هنا المقاطع التي تستشهد بها الإجابة."},
}


def direction(language: str) -> str:
    return "rtl" if language == "ar" else "ltr"


def bidi_html(text: str, language: str) -> str:
    """Escape a text and wrap runs of the other script in <bdi>, so they keep their own direction."""
    out, cursor = [], 0
    for match in OTHER_SCRIPT[language].finditer(text):
        out.append(html.escape(text[cursor:match.start()]))
        out.append(f"<bdi>{html.escape(match.group())}</bdi>")
        cursor = match.end()
    out.append(html.escape(text[cursor:]))
    return "".join(out)


def message_html(text: str, language: str | None = None, *, link_markers: bool = False) -> str:
    """A chat message in its own direction; [n] markers become links to the sources panel."""
    language = language or detect_language(text)
    body = bidi_html(text, language)
    if link_markers:
        body = MARKER.sub(lambda m: f'<a class="cite" href="#src-{m.group(1)}" data-n="{m.group(1)}">[{m.group(1)}]</a>',
                          body)
    return f'<div class="msg" dir="{direction(language)}" lang="{language}">{body}</div>'


def _highlighted(citation: Citation) -> str:
    """The original passage with the quoted spans marked."""
    pieces, cursor = [], citation.start
    for start, end in sorted(citation.highlights):
        start, end = max(start, cursor), min(end, citation.end)
        if start >= end:
            continue
        pieces.append(bidi_html(citation.text[cursor - citation.start:start - citation.start], citation.language))
        quoted = bidi_html(citation.text[start - citation.start:end - citation.start], citation.language)
        pieces.append(f"<mark>{quoted}</mark>")
        cursor = end
    pieces.append(bidi_html(citation.text[cursor - citation.start:], citation.language))
    return "".join(pieces)


def citation_html(citation: Citation, language: str, *, related: bool) -> str:
    label = f"({citation.n})" if related else f"[{citation.n}]"
    head = (f'<div class="src-head" dir="{direction(language)}"><b>{label}</b> '
            f'<bdi>{html.escape(citation.source)}</bdi> · {LABELS["paragraph"][language]} {citation.paragraph}</div>')
    original = (f'<div class="src-original" dir="{direction(citation.language)}" lang="{citation.language}">'
                f"{_highlighted(citation)}</div>")
    translation = ""
    if citation.translation:
        tl = citation.translation_language or "en"
        translation = (f'<details open><summary>{LABELS["translation"][language]}</summary>'
                       f'<div class="src-translation" dir="{direction(tl)}" lang="{tl}">'
                       f"{bidi_html(citation.translation, tl)}</div></details>")
    anchor = "rel" if related else "src"
    return f'<section class="src" id="{anchor}-{citation.n}">{head}{original}{translation}</section>'


def sources_html(answer: Answer | None, language: str = "en") -> str:
    if answer is None:
        return f'<div class="sources-empty" dir="{direction(language)}">{LABELS["empty"][language]}</div>'
    language = answer.language
    if answer.answerable:
        title, items = LABELS["sources"][language], [citation_html(c, language, related=False) for c in answer.citations]
    else:
        title, items = LABELS["related"][language], [citation_html(c, language, related=True)
                                                     for c in answer.passages[:3]]
    return f'<div class="sources" dir="{direction(language)}"><h3>{title}</h3>{"".join(items)}</div>'


def answer_with_references(answer: Answer) -> str:
    """Plain text to copy: the answer, then one line per reference."""
    lines = [answer.text, ""]
    cited = answer.citations if answer.answerable else []
    for c in cited:
        lines.append(f"[{c.n}] {c.source}, ¶{c.paragraph} ({c.start}–{c.end}): {c.text}")
    return "\n".join(lines).strip()
