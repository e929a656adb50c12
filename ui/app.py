"""The study app (Gradio) and the HTTP API (FastAPI) in one server.

    rag serve                      # http://127.0.0.1:7860
    POST /api/ask                  {"question", "history"?, "language"?} -> the Answer dict
    GET  /api/passages/{source}/{paragraph}
    GET  /api/health, /docs, /embed (a compact page for an iframe)

The app and the API only call the library (`rag.Assistant`); every user's conversation lives in
their own session state. `RAG_ALLOWED_ORIGINS` (comma-separated) lists the sites that may call
the API from a browser (CORS) and frame /embed.
"""

from __future__ import annotations

import html
import logging
import os
from pathlib import Path
from typing import Iterator, Literal

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from rag import Answer, Assistant, QuestionError, Settings
from rag.messages import message
from rag.textnorm import detect_language, normalize

from .render import answer_sources_html, answer_with_references, message_html, notes_html, sources_panel

STATIC = Path(__file__).resolve().parent / "static"
EXAMPLES = [
    "Who governed Otrar, and what happened to him?",
    "How many soldiers defended Samarkand?",
    "كم استمر حصار اوترار؟",
    "إلى أين فر السلطان محمد بعد الري؟",
]
CONCURRENCY = 4
log = logging.getLogger("ui")


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AskRequest(BaseModel):
    question: str = Field(max_length=100_000, description="The question, in Arabic or English")
    history: list[Turn] | None = Field(default=None, max_length=10_000, description="Earlier turns, oldest first")
    language: Literal["ar", "en", "auto"] | None = Field(default=None, description="Answer language; default: the question's")


def allowed_origins() -> list[str]:
    return [o.strip() for o in os.environ.get("RAG_ALLOWED_ORIGINS", "").split(",") if o.strip()]


def _error(status: int, message: str, language: str = "en") -> JSONResponse:
    return JSONResponse({"error": message, "language": language}, status_code=status)


def _ask(assistant: Assistant, question: object, history: object, language: object) -> Answer:
    return assistant.ask(question, history=history, language=None if language in (None, "", "auto") else language)


class ApiOnly:
    """Apply a middleware (CORS) to /api/* only; the app's own pages keep Gradio's rules."""

    def __init__(self, app, inner, **options):
        self.app = app
        self.wrapped = inner(app, **options)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("path", "").startswith("/api/"):
            await self.wrapped(scope, receive, send)
        else:
            await self.app(scope, receive, send)


# ------------------------------------------------------------------------------------ HTTP API
def create_api(assistant: Assistant) -> FastAPI:
    app = FastAPI(title="Khwarazm study assistant API", version="1",
                  description="Cited answers, in Arabic or English, from an Arabic history of the Mongol "
                              "campaign against Khwarazm (1218-1222).")
    origins = allowed_origins()
    if origins:
        app.add_middleware(ApiOnly, inner=CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type"], max_age=600)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        """Errors raised before an endpoint runs (an unparsable body, an unknown path) in the same shape."""
        message = "The request body could not be read (it must be UTF-8 JSON)." \
            if "parsing the body" in str(exc.detail) else str(exc.detail)
        return _error(exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return _error(400, "The request body is not valid JSON.")
        body = exc.body if isinstance(exc.body, dict) else None
        if body is not None and request.url.path == "/api/ask":
            # the library's own check says what is wrong, in the question's language
            try:
                assistant.validate(body.get("question"), body.get("history"), body.get("language"))
            except QuestionError as error:
                return _error(422, str(error), error.language)
        first = problems[0] if problems else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        language = detect_language(body["question"]) if body and isinstance(body.get("question"), str) else "en"
        return _error(422, f"Invalid request: {where or 'body'}: {first.get('msg', 'invalid value')}.", language)

    @app.post("/api/ask", summary="Answer a question with citations")
    def api_ask(body: AskRequest) -> dict:
        history = [t.model_dump() for t in body.history] if body.history else None
        try:
            return _ask(assistant, body.question, history, body.language).to_dict()
        except QuestionError as exc:
            return _error(400, str(exc), exc.language)

    @app.get("/api/passages/{source}/{paragraph}", summary="One paragraph of a source, with its translation")
    def api_passage(source: str, paragraph: int) -> dict:
        text = next((s for s in assistant.sources if source in (s.path, Path(s.path).name, Path(s.path).name.split(".")[0])),
                    None)
        if text is None:
            names = ", ".join(Path(s.path).name for s in assistant.sources)
            return _error(404, f"Unknown source {source!r}; known: {names}.")
        try:
            para = text.paragraph(paragraph)
        except KeyError:
            return _error(404, f"{Path(text.path).name} has paragraphs 1 to {len(text.paragraphs)}, not {paragraph}.")
        segments = [s for s in text.segments if s.paragraph == paragraph]
        translation = " ".join(s.translation for s in segments if s.translation) or None
        return {"source": text.path, "paragraph": paragraph, "start": para.start, "end": para.end,
                "text": text.text[para.start:para.end], "translation": translation,
                "segments": [{"start": s.start, "end": s.end, "text": s.text, "translation": s.translation}
                             for s in segments]}

    @app.get("/api/health", summary="Liveness and what is loaded")
    def api_health() -> dict:
        return {"status": "ok", "model": assistant.settings.model, "engine": assistant.engine.name,
                "passages": len(assistant.index.passages), "sources": [s.path for s in assistant.sources]}

    @app.get("/embed", response_class=HTMLResponse, summary="A compact page for an iframe")
    def embed() -> HTMLResponse:
        ancestors = " ".join(["'self'", *origins])
        return HTMLResponse((STATIC / "embed.html").read_text(encoding="utf-8"),
                            headers={"Content-Security-Policy": f"frame-ancestors {ancestors}"})

    return app


# ------------------------------------------------------------------------------------ Gradio app
def reader_html(assistant: Assistant) -> str:
    """Every source, paragraph by paragraph (numbered), beside its aligned English translation."""
    parts = []
    for source in assistant.sources:
        stem = html.escape(Path(source.path).name.split(".")[0])
        parts.append(f'<h2 dir="rtl" lang="ar">{html.escape(source.title.get("ar", source.path))}</h2>')
        if source.title.get("en"):
            parts.append(f'<h3 dir="ltr" lang="en">{html.escape(source.title["en"])}</h3>')
        parts.append(f'<p class="reader-source"><bdi>{html.escape(source.path)}</bdi></p>')
        for para in source.paragraphs:
            segments = [s for s in source.segments if s.paragraph == para.number]
            translation = " ".join(s.translation for s in segments if s.translation)
            parts.append(
                f'<div class="reader-row" id="para-{stem}-{para.number}"><div class="reader-n">{para.number}</div>'
                f'<div class="reader-ar" dir="rtl" lang="ar">{html.escape(source.text[para.start:para.end])}'
                f'{notes_html(source.notes(para.number), "ar")}</div>'
                f'<div class="reader-en" dir="ltr" lang="en">{html.escape(translation)}'
                f'{notes_html(source.notes(para.number), "en")}</div></div>')
    return '<div class="reader">' + "".join(parts) + "</div>"


GLOSSARY_HEADERS = ["Arabic · عربي", "English", "kind · النوع", "note", "ملاحظة"]


def glossary_rows(assistant: Assistant, query: str = "") -> list[list[str]]:
    """Glossary entries whose names or notes contain the query (Arabic matched without diacritics
    or hamza/alef differences, English without case)."""
    query = (query or "").strip()
    folded = normalize(query) if query else ""
    rows = []
    for entry in assistant.glossary.entries:
        row = ["، ".join(entry.ar), ", ".join(entry.en), entry.kind, entry.note_en, entry.note_ar]
        text = " ".join(row)
        if not query or query.casefold() in text.casefold() or (folded and folded in normalize(text)):
            rows.append(row)
    return rows or [["—", "no match · لا نتائج", "", "", ""]]


def create_blocks(assistant: Assistant) -> gr.Blocks:
    texts = {source.path: source for source in assistant.sources}

    def respond(question: str, chat: list, turns: list, groups: list, language: str) -> Iterator[tuple]:
        """Stream one answer into the chat; the sources panel follows the final answer.

        Outputs: question box, chat, turns (plain history for follow-ups), source groups, sources
        panel, copy box. Everything is per session (gr.State and the Chatbot's own value)."""
        question = question if isinstance(question, str) else ""
        lang = language if language in ("ar", "en") else None
        chat = [*chat, {"role": "user", "content": message_html(question.strip() or "…")}]
        turn = len(groups) + 1
        answer = None
        try:
            text = ""
            for item in assistant.ask_stream(question, history=turns, language=lang):
                if isinstance(item, Answer):
                    answer = item
                    break
                text += item
                yield ("", [*chat, {"role": "assistant", "content": message_html(text, lang)}],
                       gr.skip(), gr.skip(), gr.skip(), gr.skip())
        except QuestionError as exc:
            reply = {"role": "assistant", "content": message_html(str(exc), exc.language)}
            yield question, [*chat, reply], gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        except Exception:  # never a traceback in the chat: a short message, the details in the log
            log.exception("answering %r failed", question)
        if answer is None:
            lang = lang or detect_language(question)
            sorry = {"role": "assistant", "content": message_html(message("internal_error", lang), lang)}
            yield question, [*chat, sorry], gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        copy_text = answer_with_references(answer)
        reply = {"role": "assistant", "content": message_html(answer.text, answer.language, turn=turn,
                                                              copy_text=copy_text)}
        turns = [*turns, {"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]
        groups = [*groups, answer_sources_html(answer, turn, question, notes=notes_of)]
        yield "", [*chat, reply], turns, groups, sources_panel(groups), copy_text

    def notes_of(citation) -> list[dict]:
        text = texts.get(citation.source)
        return text.notes(citation.paragraph) if text else []

    def clear() -> tuple:
        return [], [], [], sources_panel([]), ""

    def api_ask(question: str, history: list[dict] | None = None, language: str | None = None) -> dict:
        """Answer a question with cited passages (the same JSON as POST /api/ask).

        question: the question, in Arabic or English. history: earlier turns, oldest first, as
        [{"role": "user"|"assistant", "content": str}] or None. language: "ar", "en", or None/"auto"
        for the question's own language."""
        try:
            return _ask(assistant, question, history, language).to_dict()
        except QuestionError as exc:
            raise gr.Error(str(exc)) from None

    with gr.Blocks(title="Khwarazm study assistant · مساعد دراسة حملة المغول على خوارزم") as blocks:
        gr.HTML('<div class="title"><h1>Khwarazm study assistant <span class="title-ar" dir="rtl" lang="ar">'
                'مساعد دراسة حملة المغول على خوارزم</span></h1>'
                '<p>Ask about the Mongol campaign against the Khwarazmian Empire (1218–1222), in Arabic or English. '
                'Answers quote the text; click [n] to see the passage.</p>'
                '<p dir="rtl" lang="ar">اسأل بالعربية أو بالإنجليزية عن حملة المغول على الدولة الخوارزمية '
                '(<bdi>1218–1222</bdi>). تقتبس الإجابات من النص؛ انقر [n] لعرض المقطع.</p></div>')
        with gr.Tabs():
            with gr.Tab("Chat · محادثة", elem_id="tab-chat"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(elem_id="chat", height=520, show_label=False, sanitize_html=True,
                                             render_markdown=True, latex_delimiters=[], buttons=[],
                                             feedback_options=None, group_consecutive_messages=False)
                        with gr.Row():
                            question = gr.Textbox(elem_id="question", show_label=False, scale=5, max_lines=4,
                                                  placeholder="Ask a question · اطرح سؤالاً", autofocus=True)
                            ask = gr.Button("Ask · اسأل", variant="primary", elem_id="ask", scale=1, min_width=110)
                        with gr.Row(equal_height=True):
                            language = gr.Radio([("Auto · تلقائي", "auto"), ("العربية", "ar"), ("English", "en")],
                                                value="auto", label="Answer language · لغة الإجابة",
                                                elem_id="language", scale=4)
                            clear_button = gr.Button("Clear chat · مسح المحادثة", elem_id="clear", scale=1,
                                                     min_width=110, size="sm")
                        gr.Examples(EXAMPLES, inputs=question, label="Examples · أمثلة", examples_per_page=8)
                        with gr.Accordion("Last answer with references (plain text) · آخر إجابة مع المراجع",
                                          open=False, elem_id="copy-accordion"):
                            copy_box = gr.Textbox(show_label=False, elem_id="copy", lines=4, interactive=False,
                                                  buttons=["copy"])
                    with gr.Column(scale=2, elem_id="sources-column"):
                        sources = gr.HTML(sources_panel([]), elem_id="sources")
            with gr.Tab("Reader · النص", elem_id="tab-reader"):
                gr.HTML(reader_html(assistant), elem_id="reader")
            with gr.Tab("Glossary · المسرد", elem_id="tab-glossary"):
                search = gr.Textbox(label="Search (Arabic or English) · بحث", elem_id="glossary-search")
                table = gr.Dataframe(glossary_rows(assistant), headers=GLOSSARY_HEADERS,
                                     interactive=False, wrap=True, elem_id="glossary")
                search.change(lambda q: glossary_rows(assistant, q), search, table, api_visibility="private",
                              show_progress="hidden")
        turns = gr.State([])
        groups = gr.State([])
        outputs = [question, chatbot, turns, groups, sources, copy_box]
        inputs = [question, chatbot, turns, groups, language]
        ask.click(respond, inputs, outputs, api_visibility="private")
        question.submit(respond, inputs, outputs, api_visibility="private")
        clear_button.click(clear, None, [chatbot, turns, groups, sources, copy_box], api_visibility="private")
        gr.api(api_ask, api_name="ask")
    blocks.queue(default_concurrency_limit=CONCURRENCY)
    return blocks


def create_app(assistant: Assistant | None = None, settings: Settings | None = None) -> FastAPI:
    assistant = assistant or Assistant.load(settings)
    app = create_api(assistant)
    return gr.mount_gradio_app(app, create_blocks(assistant), path="/", footer_links=["api"],
                               css=(STATIC / "app.css").read_text(encoding="utf-8"),
                               head=f"<script>{(STATIC / 'app.js').read_text(encoding='utf-8')}</script>")


def free_port() -> int:
    """A free loopback port, for tests and benchmarks that start their own server."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, seconds: float = 60.0) -> None:
    """Poll /api/health until the server answers (it loads the model first)."""
    import time

    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready within {seconds:.0f} s")


def serve(host: str = "127.0.0.1", port: int = 7860) -> None:
    import uvicorn

    uvicorn.run(create_app(), host=host, port=port, log_level="info")


__all__ = ["create_app", "create_api", "create_blocks", "free_port", "serve", "wait_until_ready"]
