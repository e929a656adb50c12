"""Citations students can take away: permalinks, references in Chicago and APA, exported conversations.

A passage's permalink is `<base>/passage/<stem>/<paragraph>` (with `?start=&end=` to highlight the
cited span). A reference is built from the source's meta file (`author`, `title`, `edition`,
`publisher`, `year`) with the templates of `data/citation_styles.json`, in Arabic or English. An
exported conversation resolves every [n] of every answer to the quoted span of the source itself
(never to text a client sent) and its permalink, as Markdown or as a printable HTML page.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlencode

from .messages import message
from .sources import SourceText, find_source

STYLES_FILE = Path(__file__).resolve().parent / "data" / "citation_styles.json"
FIELD = re.compile(r"\{(\w+)\}")
MARKER = re.compile(r"\[(\d+)\]")


@cache
def _styles() -> dict:
    return json.loads(STYLES_FILE.read_text(encoding="utf-8"))


def styles() -> list[str]:
    return list(_styles()["styles"])


def style_label(style: str, language: str) -> str:
    return _styles()["styles"][style]["label"][language]


def permalink(base_url: str, source: SourceText, paragraph: int, start: int | None = None,
              end: int | None = None) -> str:
    """The passage's address; with a span inside it, the reader opens with that span highlighted."""
    url = f"{base_url.rstrip('/')}/passage/{source.stem}/{paragraph}"
    if start is not None and end is not None:
        url += "?" + urlencode({"start": start, "end": end})
    return url


def written_date(day: dt.date, language: str) -> str:
    data = _styles()
    return data["dates"][language].format(day=day.day, month=data["months"][language][day.month - 1], year=day.year)


def _localized(value: object, language: str) -> str:
    if isinstance(value, dict):
        value = value.get(language) or value.get("en") or next(iter(value.values()), "")
    return str(value or "").strip()


def reference(source: SourceText, paragraph: int, style: str, language: str, url: str,
              accessed: dt.date | None = None) -> str:
    """One reference to a paragraph of a source, in a style ("chicago" | "apa") and a language."""
    if style not in _styles()["styles"]:
        raise ValueError(f"unknown citation style {style!r}; known: {', '.join(styles())}")
    language = "ar" if language == "ar" else "en"
    meta = source.meta
    fields = {"author": _localized(meta.get("author"), language),
              "title": _localized(source.title, language) or source.stem,
              "edition": _localized(meta.get("edition"), language),
              "publisher": _localized(meta.get("publisher"), language),
              "year": _localized(meta.get("year"), language),
              "paragraph": str(paragraph), "url": url,
              "accessed": written_date(accessed or dt.date.today(), language)}
    pieces = [piece.format(**fields) for piece in _styles()["styles"][style][language]
              if all(fields.get(name) for name in FIELD.findall(piece))]
    return " ".join(pieces)


def references(source: SourceText, paragraph: int, url: str, accessed: dt.date | None = None) -> dict[str, dict[str, str]]:
    """Every style in both languages: {style: {"ar": ..., "en": ...}}."""
    return {style: {lang: reference(source, paragraph, style, lang, url, accessed) for lang in ("ar", "en")}
            for style in styles()}


# ------------------------------------------------------------------------------ exported conversations
@dataclass(frozen=True)
class ResolvedReference:
    """A citation of an answer, resolved against the loaded source: the quoted text is the
    source's own (the cited spans, or the paragraph when none is marked)."""

    n: int
    source: SourceText | None
    paragraph: int
    quote: str
    translation: str | None
    url: str


def resolve(sources: list[SourceText], citation: dict, base_url: str) -> ResolvedReference:
    """A citation dict (as in `Answer.to_dict()`) checked against the sources: an unknown source or
    a paragraph or span outside it resolves to a reference with no source."""
    n = int(citation.get("n") or 0)
    source = find_source(sources, str(citation.get("source") or ""))
    paragraph = citation.get("paragraph")
    if source is None or not isinstance(paragraph, int) or not 1 <= paragraph <= len(source.paragraphs):
        return ResolvedReference(n, None, paragraph if isinstance(paragraph, int) else 0, "", None, "")
    para = source.paragraph(paragraph)
    spans = [(max(int(s), para.start), min(int(e), para.end)) for s, e in citation.get("highlights") or []
             if isinstance(s, int) and isinstance(e, int)]
    spans = sorted((s, e) for s, e in spans if s < e) or [(para.start, para.end)]
    quote = " … ".join(source.text[s:e].strip() for s, e in spans)
    translation = source.translation_of(spans[0][0], spans[-1][1])
    whole = spans == [(para.start, para.end)]
    url = permalink(base_url, source, paragraph, None if whole else spans[0][0], None if whole else spans[-1][1])
    return ResolvedReference(n, source, paragraph, quote, translation, url)


@dataclass(frozen=True)
class ExportTurn:
    """One question and its answer (an `Answer.to_dict()`), as a conversation is exported."""

    question: str
    answer: dict


def _refs_of(turn: ExportTurn, sources: list[SourceText], base_url: str) -> tuple[list[ResolvedReference], bool]:
    answer = turn.answer
    answerable = bool(answer.get("answerable"))
    items = answer.get("citations") if answerable else (answer.get("passages") or [])[:3]
    return [resolve(sources, c, base_url) for c in items or [] if isinstance(c, dict)], answerable


def _where(ref: ResolvedReference, language: str) -> str:
    name = ref.source.stem if ref.source else "?"
    return f"{name}, {message('export_paragraph', language)} {ref.paragraph}"


def conversation_markdown(turns: list[ExportTurn], sources: list[SourceText], base_url: str, language: str,
                          when: dt.datetime | None = None) -> str:
    """The conversation as Markdown: each question, its answer, and every reference quoted with its
    permalink and a Chicago reference."""
    language = "ar" if language == "ar" else "en"
    when = when or dt.datetime.now(dt.timezone.utc)
    lines = [f"# {message('export_title', language)}", "", f"{message('export_exported', language)} {when:%Y-%m-%d %H:%M} UTC", ""]
    for number, turn in enumerate(turns, 1):
        answer_language = turn.answer.get("language") if turn.answer.get("language") in ("ar", "en") else language
        lines += [f"## {number}. {_md_text(turn.question)}", "", _md_text(str(turn.answer.get("text", ""))), ""]
        refs, answerable = _refs_of(turn, sources, base_url)
        if refs:
            lines += [f"**{message('export_references', answer_language) if answerable else message('export_related', answer_language)}**", ""]
        for ref in refs:
            label = f"[{ref.n}]" if answerable else "-"
            if ref.source is None:
                lines += [f"{label} {message('export_missing', answer_language)}", ""]
                continue
            lines += [f"{label} {_where(ref, answer_language)}: <{ref.url}>", "",
                      f"> {_md_text(ref.quote)}"]
            if ref.translation:
                lines += [">", f"> *{_md_text(ref.translation)}*"]
            lines += ["", f"    {reference(ref.source, ref.paragraph, 'chicago', answer_language, ref.url, when.date())}", ""]
    return "\n".join(lines).rstrip() + "\n"


def _md_text(text: str) -> str:
    """Text as Markdown shows it literally (the [n] markers stay readable)."""
    escaped = re.sub(r"([\\`*_{}<>#|!])", r"\\\1", text.strip())
    return escaped.replace("\n", "  \n")


def conversation_html(turns: list[ExportTurn], sources: list[SourceText], base_url: str, language: str,
                      when: dt.datetime | None = None) -> str:
    """The same conversation as a printable HTML page (every text escaped; each block in its own direction)."""
    language = "ar" if language == "ar" else "en"
    when = when or dt.datetime.now(dt.timezone.utc)
    e = html.escape
    body = [f"<h1>{e(message('export_title', language))}</h1>",
            f"<p class=\"when\">{e(message('export_exported', language))} {when:%Y-%m-%d %H:%M} UTC</p>"]
    for number, turn in enumerate(turns, 1):
        answer = turn.answer
        lang = answer.get("language") if answer.get("language") in ("ar", "en") else language
        qdir = "rtl" if re.search(r"[\u0600-\u06FF]", turn.question) else "ltr"
        text = e(str(answer.get("text", "")))
        text = MARKER.sub(lambda m: f'<a href="#ref-{number}-{m.group(1)}">[{m.group(1)}]</a>', text)
        body.append(f'<section class="turn"><h2 dir="{qdir}">{number}. {e(turn.question)}</h2>'
                    f'<p class="answer" dir="{"rtl" if lang == "ar" else "ltr"}" lang="{lang}">{text}</p>')
        refs, answerable = _refs_of(turn, sources, base_url)
        if refs:
            heading = message("export_references", lang) if answerable else message("export_related", lang)
            body.append(f'<h3 dir="{"rtl" if lang == "ar" else "ltr"}">{e(heading)}</h3><ol class="refs">')
        for ref in refs:
            anchor = f'id="ref-{number}-{ref.n}"'
            if ref.source is None:
                body.append(f"<li {anchor}>{e(message('export_missing', lang))}</li>")
                continue
            translation = f'<blockquote dir="ltr" lang="en">{e(ref.translation)}</blockquote>' if ref.translation else ""
            cite = e(reference(ref.source, ref.paragraph, "chicago", lang, ref.url, when.date()))
            body.append(f'<li {anchor} value="{ref.n}"><a href="{e(ref.url)}">{e(_where(ref, lang))}</a>'
                        f'<blockquote dir="rtl" lang="ar">{e(ref.quote)}</blockquote>{translation}'
                        f'<p class="cite" dir="{"rtl" if lang == "ar" else "ltr"}">{cite}</p></li>')
        if refs:
            body.append("</ol>")
        body.append("</section>")
    return (f'<!doctype html><html lang="{language}" dir="{"rtl" if language == "ar" else "ltr"}"><head>'
            f'<meta charset="utf-8"><title>{e(message("export_title", language))}</title><style>{PRINT_CSS}</style></head>'
            f'<body>{"".join(body)}</body></html>')


PRINT_CSS = """
body { font-family: "Noto Naskh Arabic", "DejaVu Serif", serif; max-width: 48rem; margin: 2rem auto; line-height: 1.7; color: #111; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; } h3 { font-size: 1rem; color: #444; }
blockquote { margin: .3rem 1.5rem; padding: 0 .8rem; border-inline-start: 3px solid #bbb; }
.cite { font-size: .85rem; color: #444; } .when { color: #666; font-size: .9rem; }
a { color: #1d4ed8; } @media print { a { color: inherit; } section { break-inside: avoid-page; } }
"""


def annotate(answer: dict, sources: list[SourceText], base_url: str, accessed: dt.date | None = None) -> dict:
    """An answer dict with, on each citation and passage, its `permalink` (opening at the quoted
    span) and `references` ({style: {"ar", "en"}}): what the API and the pages offer as "Cite"."""
    for item in [*answer.get("citations", []), *answer.get("passages", [])]:
        source = find_source(sources, item.get("source", ""))
        if source is None:
            continue
        spans = sorted(item.get("highlights") or [])
        link = permalink(base_url, source, item["paragraph"], *((spans[0][0], spans[-1][1]) if spans else (None, None)))
        item["permalink"] = link
        item["references"] = references(source, item["paragraph"], link, accessed)
    return answer
