"""Pages served outside the Gradio app: the compact chat (for /embed and LTI launches), a passage's
permalink (the reader opened at it, the cited span highlighted), the deep-linking picker, and
plain message pages (a refused launch). Everything from a user or a source is escaped here.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from fastapi import Request

from rag import Assistant, Settings
from rag.citations import permalink, references
from rag.lti import Launch
from rag.messages import message
from rag.sources import SourceText, find_source

from .render import cite_rows, reader_html

STATIC = Path(__file__).resolve().parent / "static"


def base_url_of(request: Request, settings: Settings) -> str:
    """The server's public address: the configured one, else the one this request came to."""
    return (settings.public_url or str(request.base_url)).rstrip("/")


def request_language(request: Request) -> str:
    """The page language: `?lang=`, else the browser's first choice of Arabic or English."""
    chosen = request.query_params.get("lang", "")
    if chosen in ("ar", "en"):
        return chosen
    ranked = []
    for n, item in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, q = item.strip().partition(";q=")
        try:
            ranked.append((-float(q or 1), n, tag.strip().lower()))
        except ValueError:
            continue
    return next(("ar" if tag.startswith("ar") else "en" for _, _, tag in sorted(ranked) if tag[:2] in ("ar", "en")), "en")


def _dir(language: str) -> str:
    return "rtl" if language == "ar" else "ltr"


def page(body_text: str, language: str, title: str, error: bool = False) -> str:
    """A plain page with one message (e.g. why a launch was refused)."""
    e = html.escape
    return (f'<!doctype html><html lang="{language}" dir="{_dir(language)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{e(title)}</title>'
            f'<style>body{{font-family:system-ui,"Noto Naskh Arabic","DejaVu Sans",sans-serif;margin:2rem;'
            f'line-height:1.7}} .error{{color:#b91c1c}}</style></head><body><h1>{e(message("page_title", language))}</h1>'
            f'<p class="{"error" if error else "message"}" role="{"alert" if error else "status"}">{e(body_text)}</p>'
            f'</body></html>')


def _json_for_script(value: object) -> str:
    """JSON that cannot end its <script> element (every '<' escaped)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace("\u2028", "\\u2028")


def chat_page(assistant: Assistant, language: str, base_url: str, *, token: str | None = None,
              start: dict | None = None, turns: list[tuple[str, dict]] = (), title: str = "") -> str:
    """The compact chat: for /embed (no token: the page keeps the history) and for an LTI launch
    (a token: the server keeps the conversation, earlier turns shown, a starting question or passage)."""
    start = start or {}
    config = {"language": language, "api": "/lti/api/ask" if token else "/api/ask", "token": token,
              "title": title, "start": start, "turns": [{"question": q, "answer": a} for q, a in turns]}
    text = (STATIC / "chat.html").read_text(encoding="utf-8")
    text = text.replace('<script type="application/json" id="config">{}</script>',
                        f'<script type="application/json" id="config">{_json_for_script(config)}</script>')
    return text.replace("<!--passage-->", _start_passage(assistant, start.get("passage", ""), language, base_url))


def passage_of(assistant: Assistant, value: str) -> tuple[SourceText, int] | None:
    """The passage an LTI item names ("stem:12"), if the loaded sources have it."""
    stem, _, number = str(value).partition(":")
    source = find_source(assistant.sources, stem) if stem else None
    if source is None or not number.isdigit() or not 1 <= int(number) <= len(source.paragraphs):
        return None
    return source, int(number)


def _start_passage(assistant: Assistant, value: str, language: str, base_url: str) -> str:
    """A passage an LTI item opens with ("stem:12"): the paragraph, its translation, a link to the reader."""
    found = passage_of(assistant, value)
    if found is None:
        return ""
    source, number = found
    para = source.paragraph(number)
    e = html.escape
    link = permalink(base_url, source, para.number)
    translation = source.translation_of(para.start, para.end) or ""
    return (f'<section class="passage" id="start-passage"><div class="where"><a href="{e(link)}" target="_blank">'
            f'{e(source.title.get(language) or source.stem)} · {message("page_paragraph", language)} {para.number}</a></div>'
            f'<div class="ar" dir="rtl" lang="ar">{e(source.text[para.start:para.end])}</div>'
            f'<div class="en" dir="ltr" lang="en">{e(translation)}</div></section>')


def picker_page(assistant: Assistant, launch: Launch, token: str, error: str = "") -> str:
    """The teacher's deep-linking choice: "ask the assistant" (with a starting question) and passages."""
    lang, e = launch.language, html.escape
    rows = []
    for source in assistant.sources:
        for para in source.paragraphs:
            opening = source.text[para.start:para.end][:90]
            english = (source.translation_of(para.start, para.end) or "")[:90]
            rows.append(f'<label class="item"><input type="checkbox" name="passage" value="{e(source.stem)}:{para.number}">'
                        f' <b>{para.number}</b> <span dir="rtl" lang="ar">{e(opening)}…</span>'
                        f'{f" <small dir=ltr lang=en>{e(english)}…</small>" if english else ""}</label>')
    problem = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    return (f'<!doctype html><html lang="{lang}" dir="{_dir(lang)}"><head><meta charset="utf-8">'
            f'<title>{e(message("page_pick", lang))}</title><style>body{{font-family:system-ui,"Noto Naskh Arabic",sans-serif;'
            f'margin:1rem;line-height:1.6}} .item{{display:block;padding:4px 0;border-bottom:1px solid #eee}}'
            f' .error{{color:#b91c1c}} fieldset{{margin:.6rem 0}} small{{color:#555}}</style></head><body>'
            f'<h1>{e(message("page_pick", lang))}</h1><p>{e(message("page_pick_help", lang))}</p>{problem}'
            f'<form method="POST" action="/lti/deep-link" id="picker"><input type="hidden" name="token" value="{e(token)}">'
            f'<fieldset><label><input type="checkbox" name="ask" value="1" id="pick-ask"> {e(message("page_ask_item", lang))}</label>'
            f'<br><label>{e(message("page_start_question", lang))}: <input name="question" id="pick-question" dir="auto" '
            f'maxlength="{assistant.settings.max_question_chars}" size="50"></label></fieldset>'
            f'<fieldset><legend>{e(message("page_passages", lang))}</legend>{"".join(rows)}</fieldset>'
            f'<button type="submit" id="pick-add">{e(message("page_add", lang))}</button></form></body></html>')


def passage_page(assistant: Assistant, source: SourceText, paragraph: int, start: int | None, end: int | None,
                 language: str, base_url: str) -> str:
    """A passage's permalink: the reader opened at it (the cited span highlighted) with its references."""
    e = html.escape
    link = permalink(base_url, source, paragraph, start, end)
    cite = cite_rows(references(source, paragraph, link), language)
    licence = source.meta.get("licence_short") or {}
    licence_text = licence.get(language, "") if isinstance(licence, dict) else str(licence)
    css = (STATIC / "app.css").read_text(encoding="utf-8")
    licence_html = f"<p><small>{e(message('page_licence', language))}: {e(licence_text)}</small></p>" if licence_text else ""
    heading = f'{e(source.title.get(language) or source.stem)} · {message("page_paragraph", language)} {paragraph}'
    return (f'<!doctype html><html lang="{language}" dir="{_dir(language)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{heading}</title>'
            f'<style>{css} body{{font-family:system-ui,"DejaVu Sans",sans-serif;margin:1rem 2rem}}'
            f' .reader-row.focus{{background:#fffbeb;outline:2px solid #f59e0b;scroll-margin:40vh}}'
            f' .cite{{border:1px solid #e5e7eb;border-radius:8px;padding:4px 12px;background:#f9fafb}}</style></head>'
            f'<body><h1>{heading}</h1><section class="cite" id="cite"><h2>{e(message("page_cite", language))}</h2>{cite}'
            f'{licence_html}'
            f'</section>{reader_html([source], (source.stem, paragraph, start, end))}'
            f'<script>const f=document.querySelector(".reader-row.focus");if(f)f.scrollIntoView({{block:"center"}});</script>'
            f'</body></html>')
