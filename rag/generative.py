"""Generated answers from any OpenAI-compatible server, every sentence checked before it is shown.

No model that writes Arabic can be installed on the project's machines, but deployments usually have
one behind the OpenAI chat-completions API: Ollama or llama.cpp's server on a laptop, vLLM on a GPU
server, `transformers serve` anywhere. `RAG_ENGINE=openai` with `RAG_OPENAI_BASE_URL`,
`RAG_OPENAI_MODEL` and (if the server wants one) `RAG_OPENAI_API_KEY` answers through it.

The model sees the numbered passages (the original and its aligned translation) and is asked for
sentences that each end with [n]. As the answer streams in, each finished sentence is checked
against passage n (rag/support.py): a sentence whose marker names no passage, or that passage does
not support, is dropped and never shown; a sentence the model left without a marker is shown only
if one of the numbered passages supports it, with that passage's marker. An answer in the wrong language is asked for once more.
When nothing supported is left, or the server is down, slow or answers garbage, the engine says
so in its `Draft.notice` and the assistant answers extractively, with a short note.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from typing import Iterator

import httpx

from .engine import Claim, Draft, EngineInput
from .settings import Settings
from .support import SupportCheck
from .textnorm import detect_language, tokenize

log = logging.getLogger("rag.generative")
SYSTEM_PROMPT = {
    "en": ("You answer questions about a history text using only the numbered passages given. "
           "Answer in English, in one to three short sentences. End every sentence with the number of "
           "the passage it comes from in brackets, like [1]. Do not add anything the passages do not say. "
           "If the passages do not answer the question, write only: The text does not say."),
    "ar": ("تجيب عن أسئلة حول نص تاريخي من المقاطع المرقمة المعطاة فقط. "
           "أجب بالعربية في جملة إلى ثلاث جمل قصيرة. اختم كل جملة برقم المقطع الذي أخذتها منه بين قوسين مثل [1]. "
           "لا تضف شيئاً لا تقوله المقاطع. إذا لم تجب المقاطع عن السؤال فاكتب فقط: لا يذكر النص ذلك."),
}
INSIST = {"en": "Write the answer in English only.", "ar": "اكتب الإجابة باللغة العربية فقط."}
REFUSALS = ("the text does not say", "لا يذكر النص")
MARKERS = re.compile(r"\s*\[(\d+)\]")
# a sentence is finished at . ! ? ؟ (with its markers before or after), followed by white space
SENTENCE_BREAK = re.compile(r"(?<=[.!?؟])((?:\s*\[\d+\])*)\s+(?=[^\s\[])")


class GeneratorFailed(Exception):
    """The server could not give a usable answer: `notice` is the message key the user is shown."""

    def __init__(self, notice: str, detail: str):
        super().__init__(detail)
        self.notice = notice


class OpenAIEngine:
    name = "openai"

    def __init__(self, settings: Settings, support: SupportCheck):
        if not settings.openai_base_url or not settings.openai_model:
            raise ValueError("RAG_ENGINE=openai needs RAG_OPENAI_BASE_URL (e.g. http://127.0.0.1:11434/v1) "
                             "and RAG_OPENAI_MODEL")
        self.base_url = settings.openai_base_url.rstrip("/")
        self.model = settings.openai_model
        self.headers = {"Authorization": f"Bearer {settings.openai_api_key}"} if settings.openai_api_key else {}
        self.timeout = settings.openai_timeout
        self.connect_timeout = settings.openai_connect_timeout
        self.support = support
        if settings.openai_passage_views not in ("both", "answer"):
            raise ValueError(f"RAG_OPENAI_PASSAGE_VIEWS must be both or answer, not {settings.openai_passage_views!r}")
        self.views = settings.openai_passage_views
        self.passages = settings.openai_passages
        self.max_tokens = settings.openai_max_tokens
        # since start: sentences kept and dropped, answers by outcome (for benchmarks and the log)
        self.counts: Counter[str] = Counter()

    # ---- the prompt
    def prompt(self, request: EngineInput, insist: bool = False) -> list[dict]:
        lines = []
        for n, hit in enumerate(request.hits[:self.passages], 1):
            p = hit.passage
            own = p.view(request.language)
            if self.views == "answer" and own:
                lines.append(f"[{n}] {own}")
            else:
                lines.append(f"[{n}] {p.text}" + (f"\n    ({p.translation_language}) {p.translation}" if p.translation else ""))
        label = {"en": ("Passages:", "Question:"), "ar": ("المقاطع:", "السؤال:")}[request.language]
        user = "\n".join([label[0], *lines, "", f"{label[1]} {request.question}"])
        system = SYSTEM_PROMPT[request.language] + (" " + INSIST[request.language] if insist else "")
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    # ---- the server
    def health(self) -> dict:
        """Whether the server answers (GET /models), for /api/health. The key is never included."""
        try:
            response = httpx.get(f"{self.base_url}/models", headers=self.headers, timeout=self.connect_timeout)
            reachable = response.status_code == 200
        except httpx.HTTPError:
            reachable = False
        return {"engine": self.name, "model": self.model, "server": "ok" if reachable else "unreachable"}

    def _chunks(self, request: EngineInput, insist: bool) -> Iterator[str]:
        """The answer's text as the server streams it (server-sent events), within the time limits."""
        body = {"model": self.model, "messages": self.prompt(request, insist), "stream": True,
                "max_tokens": self.max_tokens, "temperature": 0}
        deadline = time.monotonic() + self.timeout
        timeout = httpx.Timeout(self.timeout, connect=self.connect_timeout)
        with httpx.stream("POST", f"{self.base_url}/chat/completions", json=body, headers=self.headers,
                          timeout=timeout) as response:
            if response.status_code != 200:
                raise GeneratorFailed("generator_failed", f"HTTP {response.status_code} from {self.base_url}")
            finished = False
            for line in response.iter_lines():
                if time.monotonic() > deadline:
                    raise GeneratorFailed("generator_timeout", f"no complete answer within {self.timeout} s")
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    choice = json.loads(data)["choices"][0]
                    delta = choice.get("delta") or {}
                except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                    raise GeneratorFailed("generator_failed", f"not a chat-completion chunk: {data[:120]!r}") from None
                if isinstance(delta.get("content"), str):
                    yield delta["content"]
                finished = finished or bool(choice.get("finish_reason"))
            if not finished:  # the connection closed before the server said the answer was complete
                raise GeneratorFailed("generator_failed", "the answer stream ended before it was finished")

    def _attempt(self, request: EngineInput, insist: bool) -> Iterator[str]:
        """One answer, with one retry when the connection is refused or reset before anything arrived
        (a connect timeout is not retried: a server that is down costs at most the connect timeout)."""
        for attempt in (1, 2):
            started = False
            try:
                for piece in self._chunks(request, insist):
                    started = True
                    yield piece
                return
            except httpx.ConnectError as error:  # refused or reset at once: worth one more try
                if started or attempt == 2:
                    raise GeneratorFailed("generator_unavailable", f"{self.base_url}: {error!r}") from None
                log.warning("generator connection failed (%r); retrying once", error)
            except httpx.ConnectTimeout as error:  # the connect budget is spent: no second wait
                raise GeneratorFailed("generator_unavailable", f"{self.base_url}: {error!r}") from None
            except httpx.TimeoutException as error:
                raise GeneratorFailed("generator_timeout", f"{self.base_url}: {error!r}") from None
            except httpx.HTTPError as error:  # the server went away mid-answer, or spoke garbage
                raise GeneratorFailed("generator_failed", f"{self.base_url}: {error!r}") from None

    # ---- answering
    def stream(self, request: EngineInput) -> Iterator[str | Draft]:
        """Yield each supported sentence (its marker numbered as the answer will number it) as soon as
        it is finished and checked, then the Draft; on failure a Draft with a notice."""
        hits = request.hits[:self.passages]
        for insist in (False, True):
            claims: list[Claim] = []
            numbers: dict[int, int] = {}
            text, pending, dropped = "", "", 0
            try:
                for piece in self._attempt(request, insist):
                    text += piece
                    pending += piece
                    *finished, pending = _sentences(pending)
                    for sentence in finished:
                        claim = self._claim(sentence, hits, request.language)
                        if claim is None:
                            dropped += 1
                            continue
                        claims.append(claim)
                        yield _shown(claim, numbers, first=len(claims) == 1)
                claim = self._claim(pending, hits, request.language) if pending.strip() else None
                if claim is not None:
                    claims.append(claim)
                    yield _shown(claim, numbers, first=len(claims) == 1)
                elif pending.strip():
                    dropped += 1
            except GeneratorFailed as failure:
                log.warning("generator failed: %s", failure)
                self.counts[failure.notice] += 1
                yield Draft([], answerable=False, notice=failure.notice)
                return
            said = MARKERS.sub("", text).strip()
            if said and detect_language(said, default=request.language) != request.language:
                log.info("generator answered in the wrong language%s", "" if insist else "; asking once more")
                if not insist:
                    continue
                self.counts["generator_language"] += 1
                yield Draft([], answerable=False, notice="generator_language")
                return
            self.counts.update(kept=len(claims), dropped=dropped)
            if any(phrase in said.casefold() for phrase in REFUSALS) and not claims:
                self.counts["refused"] += 1
                yield Draft([], answerable=False)
                return
            log.info("generator: %d sentence(s) kept, %d dropped", len(claims), dropped)
            self.counts["answered" if claims else "generator_unsupported"] += 1
            yield Draft(claims, answerable=True) if claims else Draft([], answerable=False, notice="generator_unsupported")
            return

    def _claim(self, sentence: str, hits, language: str) -> Claim | None:
        """A sentence as a claim on the passage its marker names, if that passage supports it. A
        sentence without any marker is attributed to the numbered passage that supports it best (if
        one does); a marker that names no passage, or a passage that does not support it, drops it."""
        cited = [int(n) - 1 for n in MARKERS.findall(sentence)]
        words = MARKERS.sub("", sentence).strip()
        if words.casefold().startswith(REFUSALS):
            return None
        candidates = [hit for hit in (dict.fromkeys(cited) if cited else range(len(hits))) if 0 <= hit < len(hits)]
        if not candidates:
            return None
        vector = self.support.encode(words) if tokenize(words) else None
        checked = [(self.support.check(words, hits[hit], language, vector), hit) for hit in candidates]
        supported = [(support.similarity, hit, support) for support, hit in checked if support.supported]
        if not supported:
            return None
        _, hit, support = max(supported, key=lambda item: item[0])
        return Claim(words, hit, (support.evidence,) if support.evidence else ())


def _sentences(text: str) -> list[str]:
    """The finished sentences of a text and, last, what is not finished yet."""
    pieces, cursor = [], 0
    for match in SENTENCE_BREAK.finditer(text):
        pieces.append(text[cursor:match.end(1)])
        cursor = match.end()
    return [*pieces, text[cursor:]]


def _shown(claim: Claim, numbers: dict[int, int], first: bool) -> str:
    """A kept sentence as the user sees it stream: its marker numbered in order of first use."""
    n = numbers.setdefault(claim.hit, len(numbers) + 1)
    return ("" if first else " ") + f"{claim.text.rstrip('.!?؟ ')} [{n}]."
