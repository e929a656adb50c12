"""The study app (Gradio) and the HTTP API (FastAPI) in one server.

    rag serve                      # http://127.0.0.1:7860
    POST /api/ask                  {"question", "history"?, "language"?} -> the Answer dict, each
                                   citation with its permalink and references (Chicago, APA; ar, en)
    GET  /api/passages/{source}/{paragraph}
    POST /api/ask/stream           the same, as server-sent events (delta..., then answer)
    POST /api/export               {"turns": [{"question", "answer"}], "format": "markdown"|"html"}
    GET  /passage/{source}/{paragraph}?start=&end=   a passage's permalink: the reader opened at it
    GET  /api/health, /docs, /embed (a compact page for an iframe)
    /lti/*                         the LTI 1.3 tool (ui/lti.py)

The app and the API only call the library (`rag.Assistant`); every user's conversation lives in
their own session state. `RAG_ALLOWED_ORIGINS` (comma-separated) lists the sites that may call
the API from a browser (CORS) and frame /embed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Iterator, Literal

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from rag import Answer, Assistant, QuestionError, Settings
from rag.citations import ExportTurn, annotate, conversation_html, conversation_markdown, permalink, references
from rag.messages import message
from rag.sources import find_source
from rag.textnorm import detect_language, normalize

from .lti import create_lti_router
from .pages import base_url_of, chat_page, page, passage_page, request_language
from .render import answer_sources_html, answer_with_references, message_html, reader_html, sources_panel

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


class ExportedTurn(BaseModel):
    question: str = Field(max_length=20_000)
    answer: dict


class ExportRequest(BaseModel):
    turns: list[ExportedTurn] = Field(max_length=500, description="The conversation, oldest first, as the API answered it")
    format: Literal["markdown", "html"] = "markdown"
    language: Literal["ar", "en"] | None = Field(default=None, description="Page language; default: the first question's")


class AskRequest(BaseModel):
    question: str = Field(max_length=100_000, description="The question, in Arabic or English")
    history: list[Turn] | None = Field(default=None, max_length=10_000, description="Earlier turns, oldest first")
    language: Literal["ar", "en", "auto"] | None = Field(default=None, description="Answer language; default: the question's")


def allowed_origins() -> list[str]:
    return [o.strip() for o in os.environ.get("RAG_ALLOWED_ORIGINS", "").split(",") if o.strip()]


def _error(status: int, message: str, language: str = "en") -> JSONResponse:
    return JSONResponse({"error": message, "language": language}, status_code=status)


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
            return _error(400, message("bad_json", "en"))
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
    def api_ask(body: AskRequest, request: Request) -> dict:
        history = [t.model_dump() for t in body.history] if body.history else None
        try:
            answer = assistant.ask(body.question, history=history, language=body.language).to_dict()
        except QuestionError as exc:
            return _error(400, str(exc), exc.language)
        return annotate(answer, assistant.sources, base_url_of(request, assistant.settings))

    @app.post("/api/ask/stream", summary="Answer a question, streamed as server-sent events")
    def api_ask_stream(body: AskRequest, request: Request) -> Response:
        """`event: delta` with {"text"} as the answer is written (a generator's sentences only once
        checked), then `event: answer` with the whole Answer dict (as POST /api/ask returns it)."""
        history = [t.model_dump() for t in body.history] if body.history else None
        try:
            checked = assistant.validate(body.question, history, body.language)
        except QuestionError as exc:
            return _error(400, str(exc), exc.language)
        base = base_url_of(request, assistant.settings)

        def events() -> Iterator[str]:
            try:
                for item in assistant.ask_stream(body.question, history=history, language=body.language):
                    if isinstance(item, Answer):
                        answer = annotate(item.to_dict(), assistant.sources, base)
                        yield f"event: answer\ndata: {json.dumps(answer, ensure_ascii=False)}\n\n"
                    else:
                        yield f"event: delta\ndata: {json.dumps({'text': item}, ensure_ascii=False)}\n\n"
            except Exception:  # the stream has begun: the error travels as an event, never a traceback
                log.exception("streaming an answer to %r failed", body.question)
                error = {"error": message("internal_error", checked.language), "language": checked.language}
                yield f"event: error\ndata: {json.dumps(error, ensure_ascii=False)}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/api/passages/{source}/{paragraph}", summary="One paragraph of a source, with its translation")
    def api_passage(source: str, paragraph: int, request: Request) -> dict:
        language = request_language(request)
        text, problem = _paragraph_of(source, paragraph, language)
        if problem:
            return _error(404, problem, language)
        para = text.paragraph(paragraph)
        link = permalink(base_url_of(request, assistant.settings), text, paragraph)
        segments = [s for s in text.segments if s.paragraph == paragraph]
        return {"source": text.path, "paragraph": paragraph, "start": para.start, "end": para.end,
                "text": text.text[para.start:para.end], "translation": text.translation_of(para.start, para.end),
                "permalink": link, "references": references(text, paragraph, link),
                "segments": [{"start": s.start, "end": s.end, "text": s.text, "translation": s.translation}
                             for s in segments]}

    def _paragraph_of(source: str, paragraph: int, language: str):
        """(the source, None), or (None, why not, in the reader's language) for an unknown source or paragraph."""
        text = find_source(assistant.sources, source)
        if text is None:
            known = ", ".join(s.stem for s in assistant.sources)
            return None, message("unknown_source", language, source=source, known=known)
        if not 1 <= paragraph <= len(text.paragraphs):
            return None, message("unknown_passage", language, paragraph=paragraph, source=text.stem)
        return text, None

    @app.post("/api/export", summary="A conversation as Markdown or a printable HTML page, references resolved")
    def api_export(body: ExportRequest, request: Request) -> Response:
        turns = [ExportTurn(t.question, t.answer) for t in body.turns]
        language = body.language or (detect_language(turns[0].question) if turns else "en")
        base = base_url_of(request, assistant.settings)
        if body.format == "html":
            return HTMLResponse(conversation_html(turns, assistant.sources, base, language),
                                headers={"Content-Disposition": 'attachment; filename="conversation.html"'})
        return Response(conversation_markdown(turns, assistant.sources, base, language), media_type="text/markdown; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="conversation.md"'})

    @app.get("/passage/{source}/{paragraph}", response_class=HTMLResponse, summary="A passage's permalink")
    def passage(source: str, paragraph: str, request: Request, start: str | None = None, end: str | None = None) -> Response:
        language = request_language(request)
        number = int(paragraph) if paragraph.isdigit() else 0
        text, problem = _paragraph_of(source, number, language)
        if problem:
            return HTMLResponse(page(problem, language, "404", error=True), status_code=404)
        span = (int(start), int(end)) if (start or "").isdigit() and (end or "").isdigit() else (None, None)
        return HTMLResponse(passage_page(assistant, text, number, *span, language, base_url_of(request, assistant.settings)))

    @app.get("/api/health", summary="Liveness and what is loaded")
    def api_health() -> dict:
        return {"status": "ok", "model": assistant.settings.model, "engine": assistant.engine.name,
                "generator": assistant.engine_status(), "passages": len(assistant.index.passages),
                "sources": [s.path for s in assistant.sources]}

    @app.get("/embed", response_class=HTMLResponse, summary="A compact page for an iframe")
    def embed(request: Request) -> HTMLResponse:
        ancestors = " ".join(["'self'", *origins])
        return HTMLResponse(chat_page(assistant, request_language(request), base_url_of(request, assistant.settings)),
                            headers={"Content-Security-Policy": f"frame-ancestors {ancestors}"})

    app.include_router(create_lti_router(assistant))
    return app


# ------------------------------------------------------------------------------------ Gradio app
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


def _gradio_base_url(request: gr.Request | None, settings: Settings) -> str:
    """The address the app was opened at (for permalinks in references), as `base_url_of` for the API."""
    inner = getattr(request, "request", None) if request is not None else None
    if settings.public_url or inner is None or not hasattr(inner, "base_url"):
        return (settings.public_url or "http://127.0.0.1:7860").rstrip("/")
    return base_url_of(inner, settings)


def _export_files(exported: list[dict], sources, base: str, session: str) -> tuple[str, str]:
    """The conversation as conversation.md and conversation.html in this session's own folder."""
    folder = Path(tempfile.gettempdir()) / "khwarazm-export" / re.sub(r"\W", "", session or "anonymous")
    folder.mkdir(parents=True, exist_ok=True)
    turns = [ExportTurn(t["question"], t["answer"]) for t in exported]
    language = detect_language(turns[0].question) if turns else "en"
    (folder / "conversation.md").write_text(conversation_markdown(turns, sources, base, language), encoding="utf-8")
    (folder / "conversation.html").write_text(conversation_html(turns, sources, base, language), encoding="utf-8")
    return str(folder / "conversation.md"), str(folder / "conversation.html")


def create_blocks(assistant: Assistant) -> gr.Blocks:
    texts = {source.path: source for source in assistant.sources}

    def respond(question: str, chat: list, exported: list, groups: list, language: str,
                request: gr.Request) -> Iterator[tuple]:
        """Stream one answer into the chat; the sources panel and the export files follow the final answer.

        Outputs: question box, chat, the conversation so far ([{question, answer dict}]: history for
        follow-ups, and what is exported), source groups, sources panel, copy box, the two export
        files. Everything is per session (gr.State and the Chatbot's own value)."""
        question = question if isinstance(question, str) else ""
        lang = language if language in ("ar", "en") else None
        chat = [*chat, {"role": "user", "content": message_html(question.strip() or "…")}]
        turn = len(groups) + 1
        unchanged = (gr.skip(),) * 6
        history = [m for t in exported for m in ({"role": "user", "content": t["question"]},
                                                 {"role": "assistant", "content": t["answer"]["text"]})]
        answer = None
        try:
            text = ""
            for item in assistant.ask_stream(question, history=history, language=lang):
                if isinstance(item, Answer):
                    answer = item
                    break
                text += item
                yield ("", [*chat, {"role": "assistant", "content": message_html(text, lang)}], *unchanged)
        except QuestionError as exc:
            yield question, [*chat, {"role": "assistant", "content": message_html(str(exc), exc.language)}], *unchanged
            return
        except Exception:  # never a traceback in the chat: a short message, the details in the log
            log.exception("answering %r failed", question)
        if answer is None:
            lang = lang or detect_language(question)
            sorry = {"role": "assistant", "content": message_html(message("internal_error", lang), lang)}
            yield question, [*chat, sorry], *unchanged
            return
        base = _gradio_base_url(request, assistant.settings)
        copy_text = answer_with_references(answer)
        reply = {"role": "assistant", "content": message_html(answer.text, answer.language, turn=turn,
                                                              copy_text=copy_text)}
        annotated = annotate(answer.to_dict(), assistant.sources, base)
        exported = [*exported, {"question": question, "answer": annotated}]
        groups = [*groups, answer_sources_html(answer, turn, question, notes=notes_of, annotated=annotated)]
        markdown_file, html_file = _export_files(exported, assistant.sources, base, getattr(request, "session_hash", ""))
        yield ("", [*chat, reply], exported, groups, sources_panel(groups), copy_text,
               gr.DownloadButton(value=markdown_file, interactive=True), gr.DownloadButton(value=html_file, interactive=True))

    def notes_of(citation) -> list[dict]:
        text = texts.get(citation.source)
        return text.notes(citation.paragraph) if text else []

    def clear() -> tuple:
        return ([], [], [], sources_panel([]), "", gr.DownloadButton(value=None, interactive=False),
                gr.DownloadButton(value=None, interactive=False))

    def api_ask(question: str, history: list[dict] | None = None, language: str | None = None) -> dict:
        """Answer a question with cited passages (the same JSON as POST /api/ask).

        question: the question, in Arabic or English. history: earlier turns, oldest first, as
        [{"role": "user"|"assistant", "content": str}] or None. language: "ar", "en", or None/"auto"
        for the question's own language."""
        try:
            return assistant.ask(question, history=history, language=language).to_dict()
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
                        with gr.Row():
                            export_markdown = gr.DownloadButton("Export conversation (Markdown) · تصدير المحادثة",
                                                                elem_id="export-md", interactive=False, size="sm")
                            export_html = gr.DownloadButton("Printable page · صفحة للطباعة", elem_id="export-html",
                                                            interactive=False, size="sm")
                    with gr.Column(scale=2, elem_id="sources-column"):
                        sources = gr.HTML(sources_panel([]), elem_id="sources")
            with gr.Tab("Reader · النص", elem_id="tab-reader"):
                gr.HTML(reader_html(assistant.sources), elem_id="reader")
            with gr.Tab("Glossary · المسرد", elem_id="tab-glossary"):
                search = gr.Textbox(label="Search (Arabic or English) · بحث", elem_id="glossary-search")
                table = gr.Dataframe(glossary_rows(assistant), headers=GLOSSARY_HEADERS,
                                     interactive=False, wrap=True, elem_id="glossary")
                search.change(lambda q: glossary_rows(assistant, q), search, table, api_visibility="private",
                              show_progress="hidden")
        exported = gr.State([])
        groups = gr.State([])
        outputs = [question, chatbot, exported, groups, sources, copy_box, export_markdown, export_html]
        inputs = [question, chatbot, exported, groups, language]
        ask.click(respond, inputs, outputs, api_visibility="private")
        question.submit(respond, inputs, outputs, api_visibility="private")
        clear_button.click(clear, None, [chatbot, exported, groups, sources, copy_box, export_markdown, export_html],
                           api_visibility="private")
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
