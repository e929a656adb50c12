"""HTML for the app: answers with clickable [n] markers, cited passages with highlighted quotes.

Everything that comes from a user, an answer or a source goes through `escape()` here, before any
markup is added: HTML special characters become entities, and so do the characters Markdown and
LaTeX would act on (the chat renders Markdown), so a question like `<img src=x onerror=...>` or
`[x](javascript:...)` is shown as text and never runs. Each block carries its own direction
(dir="rtl" for Arabic, "ltr" for English) and language, and names and numbers of the other script
are isolated with <bdi> so mixed text reads correctly.

Anchors: answer number `turn` (1, 2, ...) links its marker [n] to `#src-{turn}-{n}` in the
sources panel, which keeps the passages of every answer of the conversation (newest first).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from rag import Answer, Citation
from rag.citations import style_label
from rag.sources import SourceText
from rag.textnorm import detect_language

MARKER = re.compile(r"\[(\d+)\]")
OTHER_SCRIPT = {"ar": re.compile(r"[A-Za-z][A-Za-z0-9 .,'\-()]*[A-Za-z0-9)]|[A-Za-z]"),
                "en": re.compile(r"[\u0600-\u06FF][\u0600-\u06FF0-9 ،]*[\u0600-\u06FF]|[\u0600-\u06FF]")}

# HTML specials, then what Markdown / GFM / KaTeX would interpret: all become numeric entities,
# which render as the same characters and are never parsed as syntax.
_ESCAPES = {ord(c): f"&#{ord(c)};" for c in "[]()*_`~$\\!#|{}:"}
_ESCAPES.update({ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;", ord("'"): "&#39;"})

LABELS = {
    "sources": {"en": "Sources", "ar": "المصادر"},
    "answer": {"en": "Answer", "ar": "الإجابة"},
    "related": {"en": "Related passages (the text does not answer this)", "ar": "مقاطع ذات صلة (لا يجيب النص عن ذلك)"},
    "paragraph": {"en": "paragraph", "ar": "الفقرة"},
    "translation": {"en": "English translation", "ar": "الترجمة الإنجليزية"},
    "copy": {"en": "Copy with references", "ar": "نسخ مع المراجع"},
    "cite": {"en": "Cite", "ar": "استشهد"},
    "open": {"en": "Open in the reader", "ar": "افتح في النص"},
    "empty": {"en": "Ask a question: the passages an answer cites appear here.",
              "ar": "اطرح سؤالاً: تظهر هنا المقاطع التي تستشهد بها الإجابة."},
}


def escape(text: str) -> str:
    """Text as inert HTML: no tag, attribute, entity, Markdown or LaTeX syntax survives."""
    return text.translate(_ESCAPES)


def direction(language: str | None) -> str:
    return "rtl" if language == "ar" else "ltr"


def bidi_html(text: str, language: str) -> str:
    """Escape a text and wrap runs of the other script in <bdi>, so they keep their own direction.
    Line breaks become <br> (a message stays one HTML block: Markdown never sees a blank line)."""
    out, cursor = [], 0
    for match in OTHER_SCRIPT.get(language, OTHER_SCRIPT["en"]).finditer(text):
        out.append(escape(text[cursor:match.start()]))
        out.append(f"<bdi>{escape(match.group())}</bdi>")
        cursor = match.end()
    out.append(escape(text[cursor:]))
    return "".join(out).replace("\r\n", "\n").replace("\n", "<br>")


def message_html(text: str, language: str | None = None, *, turn: int | None = None,
                 copy_text: str | None = None) -> str:
    """A chat message in its own direction. With `turn` (the answer's number in the conversation)
    the [n] markers become links to that answer's passages in the sources panel; with
    `copy_text`, a "copy with references" button follows."""
    language = language if language in ("ar", "en") else detect_language(text)
    if turn is None:
        body = bidi_html(text, language)
    else:
        pieces, cursor = [], 0
        for m in MARKER.finditer(text):
            n = m.group(1)
            pieces.append(bidi_html(text[cursor:m.start()], language))
            pieces.append(f'<a class="cite" href="#src-{turn}-{n}">&#91;{n}&#93;</a>')
            cursor = m.end()
        pieces.append(bidi_html(text[cursor:], language))
        body = "".join(pieces)
    button = ""
    if copy_text is not None:  # the text to copy rides along, hidden (data-* attributes are sanitised away)
        payload = escape(copy_text).replace("\r", "").replace("\n", "&#10;")
        button = (f'<span class="copy-text" hidden>{payload}</span>'
                  f'<button type="button" class="copy-ref" title="{LABELS["copy"][language]}">'
                  f'{LABELS["copy"][language]}</button>')
    return f'<div class="msg" dir="{direction(language)}" lang="{language}">{body}{button}</div>'


def _highlighted(citation: Citation) -> str:
    """The original passage with the quoted spans marked."""
    pieces, cursor = [], citation.start
    for start, end in sorted(tuple(h) for h in citation.highlights):
        start, end = max(start, cursor), min(end, citation.end)
        if start >= end:
            continue
        pieces.append(bidi_html(citation.text[cursor - citation.start:start - citation.start], citation.language))
        quoted = bidi_html(citation.text[start - citation.start:end - citation.start], citation.language)
        pieces.append(f"<mark>{quoted}</mark>")
        cursor = end
    pieces.append(bidi_html(citation.text[cursor - citation.start:], citation.language))
    return "".join(pieces)


def notes_html(notes: list[dict], language: str) -> str:
    """The editors' footnotes on a passage (where the source slips), in the reader's language."""
    items = "".join(f'<li dir="{direction(language)}" lang="{language}">{escape(n.get(language) or n.get("en", ""))}</li>'
                    for n in notes)
    return f'<ul class="src-notes">{items}</ul>' if items else ""


def cite_rows(references: dict[str, dict[str, str]], language: str) -> str:
    """A passage's reference in every style, in the reader's language first, then the other."""
    order = [language, "en" if language == "ar" else "ar"]
    return "".join(f'<p class="cite-ref" dir="{direction(lang)}" lang="{lang}"><b>{escape(style_label(style, lang))}</b> '
                   f'<span class="cite-text">{escape(by_language[lang])}</span></p>'
                   for style, by_language in references.items() for lang in order)


def cite_html(references: dict[str, dict[str, str]], language: str) -> str:
    """A folded "Cite" box with the passage's references."""
    if not references:
        return ""
    return f'<details class="cite-box"><summary>{LABELS["cite"][language]}</summary>{cite_rows(references, language)}</details>'


def citation_html(citation: Citation, language: str, *, turn: int, related: bool, notes: list[dict] = (),
                  link: str = "", references: dict[str, dict[str, str]] | None = None) -> str:
    """One passage of an answer; with `link` (its permalink) the paragraph number opens it in the
    reader, and with `references` a "Cite" box follows it."""
    label = f"({citation.n})" if related else f"[{citation.n}]"
    where = f'{LABELS["paragraph"][language]} <bdi>{citation.paragraph}</bdi>'
    if link:
        where = f'<a class="permalink" href="{escape(link)}" target="_blank" title="{LABELS["open"][language]}">{where}</a>'
    head = (f'<div class="src-head" dir="{direction(language)}"><b><bdi>{label}</bdi></b> '
            f'<bdi class="src-file">{escape(citation.source)}</bdi> · {where}</div>')
    original = (f'<div class="src-original" dir="{direction(citation.language)}" lang="{escape(citation.language)}">'
                f"{_highlighted(citation)}</div>")
    translation = ""
    if citation.translation:
        tl = citation.translation_language or "en"
        translation = (f'<details open><summary>{LABELS["translation"][language]}</summary>'
                       f'<div class="src-translation" dir="{direction(tl)}" lang="{escape(tl)}">'
                       f"{bidi_html(citation.translation, tl)}</div></details>")
    anchor = "rel" if related else "src"
    return (f'<section class="src{" related" if related else ""}" id="{anchor}-{turn}-{citation.n}">'
            f"{head}{original}{translation}{notes_html(list(notes), language)}"
            f"{cite_html(references or {}, language)}</section>")


def answer_sources_html(answer: Answer, turn: int, question: str,
                        notes: Callable[[Citation], list[dict]] = lambda citation: [],
                        annotated: dict | None = None) -> dict:
    """The passages of one answer (the cited ones, or for a refusal the three closest as related),
    with the editors' footnotes on them and, from `annotated` (the answer's dict as
    `rag.citations.annotate` completes it), their permalinks and references, as {"html", "title",
    "dir"}: one group of the sources panel."""
    language = answer.language
    related = not answer.answerable
    title = LABELS["related" if related else "sources"][language]
    shown = answer.passages[:3] if related else answer.citations
    extras = ((annotated or {}).get("passages" if related else "citations") or [])[:len(shown)]
    extras += [{}] * (len(shown) - len(extras))
    items = [citation_html(c, language, turn=turn, related=related, notes=notes(c), link=extra.get("permalink", ""),
                           references=extra.get("references")) for c, extra in zip(shown, extras)]
    q = detect_language(question)
    heading = f'{title} <span class="turn">· {LABELS["answer"][language]} <bdi>{turn}</bdi></span>'
    asked = f'<p class="src-question" dir="{direction(q)}" lang="{q}">{bidi_html(question, q)}</p>'
    body = (f'<div class="answer-sources" dir="{direction(language)}" lang="{language}">'
            f'<h3>{heading}</h3>{asked}{"".join(items)}</div>')
    return {"html": body, "title": f"{heading}: {asked}", "dir": direction(language)}


def sources_panel(groups: list[dict]) -> str:
    """The sources panel: one group per answer, newest first (older ones folded)."""
    if not groups:
        return (f'<div class="sources-empty">{LABELS["empty"]["en"]}<br>'
                f'<span dir="rtl" lang="ar">{LABELS["empty"]["ar"]}</span></div>')
    newest, *older = reversed(groups)
    folded = "".join(f'<details class="older" dir="{g["dir"]}"><summary>{g["title"]}</summary>{g["html"]}</details>'
                     for g in older)
    return f'<div class="sources">{newest["html"]}{folded}</div>'


def answer_with_references(answer: Answer) -> str:
    """Plain text to copy: the answer, then one line per reference (with its translation)."""
    lines = [answer.text, ""]
    for c in answer.citations if answer.answerable else []:
        lines.append(f"[{c.n}] {c.source}, ¶{c.paragraph} ({c.start}–{c.end}): {c.text}")
        if c.translation:
            lines.append(f"    {c.translation}")
    return "\n".join(lines).strip()


def reader_html(sources: list[SourceText], focus: tuple[str, int, int | None, int | None] | None = None) -> str:
    """Every source, paragraph by paragraph (numbered), beside its aligned English translation.
    With `focus` = (stem, paragraph, start, end), that paragraph is marked (class "focus") and the
    span [start, end) of the original inside it highlighted."""
    parts = []
    for source in sources:
        parts.append(f'<h2 dir="rtl" lang="ar">{escape(source.title.get("ar", source.path))}</h2>')
        if source.title.get("en"):
            parts.append(f'<h3 dir="ltr" lang="en">{escape(source.title["en"])}</h3>')
        parts.append(f'<p class="reader-source"><bdi>{escape(source.path)}</bdi></p>')
        for para in source.paragraphs:
            focused = focus is not None and focus[:2] == (source.stem, para.number)
            start, end = (focus[2], focus[3]) if focused and None not in focus[2:] else (para.end, para.end)
            start, end = max(start, para.start), min(end, para.end)
            original = escape(source.text[para.start:para.end])
            if start < end:
                original = (escape(source.text[para.start:start]) + "<mark>" + escape(source.text[start:end])
                            + "</mark>" + escape(source.text[end:para.end]))
            # the translation of the highlighted clauses is highlighted too
            translation = " ".join(f"<mark>{escape(s.translation)}</mark>" if s.start < end and start < s.end
                                   else escape(s.translation)
                                   for s in source.segments if s.paragraph == para.number and s.translation)
            parts.append(
                f'<div class="reader-row{" focus" if focused else ""}" id="para-{html.escape(source.stem)}-{para.number}">'
                f'<div class="reader-n">{para.number}</div>'
                f'<div class="reader-ar" dir="rtl" lang="ar">{original}{notes_html(source.notes(para.number), "ar")}</div>'
                f'<div class="reader-en" dir="ltr" lang="en">{translation}'
                f'{notes_html(source.notes(para.number), "en")}</div></div>')
    return '<div class="reader">' + "".join(parts) + "</div>"
