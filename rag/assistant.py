"""The Python API: `Assistant.load()` then `ask()`. The CLI, UI and HTTP API only call this."""

from __future__ import annotations

import dataclasses

import sys
from dataclasses import dataclass
from typing import Callable, Iterator

from .answer import Answer, Citation
from .embeddings import Embedder
from .engine import Draft, Engine, EngineInput
from .extractive import ExtractiveEngine
from .glossary import Glossary
from .index import READER_FILE, Index, IndexLoadError, StaleIndexError
from .learned import ReaderModels
from .messages import message
from .query import QueryAnalyzer
from .retrieval import Hit, Retriever
from .settings import Settings
from .sources import SourceText, load_sources
from .textnorm import detect_language, tokenize

LANGUAGES = ("ar", "en")
SENTENCE_END = " \t\n،,؛;:."  # a quoted clause's own closing punctuation gives way to the marker


class QuestionError(ValueError):
    """Bad input from a user; `str(error)` is a message in the user's language."""

    def __init__(self, key: str, language: str, **values: object):
        self.key = key
        self.language = language
        super().__init__(message(key, language, **values))


@dataclass(frozen=True)
class Request:
    """A validated question: the text, the answer language and the earlier turns."""

    question: str
    language: str  # of the answer: the question's, unless asked for explicitly
    question_language: str  # of the question's script: what is searched in
    history: list[dict]


class Assistant:
    def __init__(self, settings: Settings, sources: list[SourceText], index: Index, embedder: Embedder,
                 reader: ReaderModels | None):
        self.settings = settings
        self.sources = sources
        self.index = index
        self.embedder = embedder
        self.glossary = Glossary([e for s in sources for e in s.glossary], known_words=_words_of(index))
        self.analyzer = QueryAnalyzer(self.glossary, embedder, reader.kinds if reader else None,
                                      reader.head if reader else None, reader.follow_up if reader else None)
        self.retriever = Retriever(index, embedder, self.glossary, settings)
        self.extractive = ExtractiveEngine(index, self.glossary, reader, settings.reader_passages)
        self.engine: Engine = self.extractive if settings.engine == "extractive" else self._generative()

    def _generative(self) -> Engine:
        """The generator named in the settings; its sentences are checked against the passages."""
        if self.settings.engine != "openai":
            raise ValueError(f"unknown answer engine {self.settings.engine!r} (use extractive or openai)")
        from .generative import OpenAIEngine
        from .support import SupportCheck

        return OpenAIEngine(self.settings, SupportCheck(self.extractive.table, self.glossary, self.index, self.embedder))

    def engine_status(self) -> dict:
        """The answer engine, and for a generator whether its server answers (for /api/health)."""
        health = getattr(self.engine, "health", None)
        return health() if health else {"engine": self.engine.name}

    def use_reader(self, reader: ReaderModels) -> None:
        """Answer with other trained models (cross-validation trains one per fold)."""
        self.analyzer.kinds = reader.kinds
        self.analyzer.head = reader.head
        self.analyzer.follow_up = reader.follow_up
        self.extractive.models = reader

    @classmethod
    def load(cls, settings: Settings | None = None, *, rebuild: bool = True, require_reader: bool = True,
             progress: Callable[[str], None] | None = None) -> "Assistant":
        """Load the sources, the embedding model, the index and the trained reader.

        A stale or damaged index is rebuilt (and saved when the folder is writable) if `rebuild`,
        otherwise the error says what is wrong. No network is used: the model must be set up.
        Without a trained reader (`rag train`) only `require_reader=False` loads (to train one).
        """
        settings = settings or Settings.from_env()
        sources = load_sources(settings.sources_dir, settings.project_dir)
        embedder = Embedder.from_settings(settings, progress=progress is not None)
        try:
            index = Index.load(settings.index_dir, sources, settings, embedder.checksum)
        except IndexLoadError as exc:
            if not rebuild:
                raise
            say = progress or (lambda text: print(text, file=sys.stderr))
            say(f"{exc}; rebuilding it now")
            index = Index.build(sources, embedder, settings, progress=progress)
            try:
                index.save(settings.index_dir)
            except OSError as save_error:
                say(f"could not save the rebuilt index ({save_error}); using it from memory")
        embedder.check_query_encoder(*index.clause_samples())
        reader_path = settings.index_dir / READER_FILE
        if reader_path.exists():
            try:
                reader = ReaderModels.load(reader_path)
            except Exception as exc:  # any damage to the file (safetensors raises its own errors)
                if require_reader:
                    raise StaleIndexError(f"the reader in {settings.index_dir} is unreadable ({exc!r}): run `rag train`") from None
                return cls(settings, sources, index, embedder, None)
            if ExtractiveEngine.reads_with(reader):
                return cls(settings, sources, index, embedder, reader)
            if require_reader:
                raise StaleIndexError(f"the reader in {settings.index_dir} was trained on other features: run `rag train`")
        if require_reader:
            raise StaleIndexError(f"no trained reader in {settings.index_dir}: run `rag train`")
        return cls(settings, sources, index, embedder, None)

    # ------------------------------------------------------------------ input
    def validate(self, question: object, history: object = None, language: object = None) -> Request:
        """Check a question before any work: every refusal is a QuestionError in the user's language."""
        if language not in (None, "", "auto") and language not in LANGUAGES:
            lang = detect_language(question) if isinstance(question, str) else "en"
            raise QuestionError("bad_language", lang, value=language)
        if not isinstance(question, str):
            raise QuestionError("question_not_text", language if language in LANGUAGES else "en")
        lang = language if language in LANGUAGES else detect_language(question)
        cleaned = " ".join(question.split())
        if not cleaned:
            raise QuestionError("empty_question", lang)
        if len(cleaned) > self.settings.max_question_chars:
            raise QuestionError("question_too_long", lang, length=len(cleaned),
                                limit=self.settings.max_question_chars)
        return Request(cleaned, lang, detect_language(cleaned),
                       _validate_history(history, lang, self.settings.max_history_turns))

    # ------------------------------------------------------------------ answers
    def search(self, question: str, language: str | None = None, k: int | None = None) -> list[Hit]:
        request = self.validate(question, None, language)
        query = self.analyzer.analyze(request.question, split=False)[0]
        return self.retriever.search(query, k)

    def retrieve(self, question: str, history: list[dict] | None = None,
                 language: str | None = None) -> EngineInput:
        """Validate, analyse (its parts, and names a follow-up leans on) and retrieve for each part:
        what an engine answers from. The parts' passages are merged, best ranks first."""
        request = self.validate(question, history, language)
        queries = self.analyzer.analyze(request.question, request.history)
        part_hits = [self.retriever.search(query) for query in queries]
        return EngineInput(request.question, request.language, queries, part_hits, _merge(part_hits))

    def ask(self, question: str, history: list[dict] | None = None, language: str | None = None) -> Answer:
        """Answer a question from the sources, in its language, citing the passages quoted."""
        answer = None
        for item in self.ask_stream(question, history, language):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def ask_stream(self, question: str, history: list[dict] | None = None,
                   language: str | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text in increments as it is produced, then the final Answer."""
        engine_input = self.retrieve(question, history, language)
        streamed = False
        draft = None
        for item in self.engine.stream(engine_input):
            if isinstance(item, Draft):
                draft = item
            else:
                streamed = True
                yield item
        if draft is None or draft.notice:  # the generator could not answer: the extractive answer, and why
            fallback = self.extractive.draft(engine_input)
            notice = message(draft.notice if draft else "generator_failed", engine_input.language)
            draft = dataclasses.replace(fallback, notes=[*fallback.notes, notice])
        answer = self._compose(draft, engine_input)
        if not streamed:
            words = answer.text.split(" ")
            for i, word in enumerate(words):
                yield word if i == 0 else " " + word
        yield answer

    def _compose(self, draft: Draft, request: EngineInput) -> Answer:
        """Number the cited passages in order of first use and end each quoted sentence with its
        marker; the engine's own words (a verdict, a note) stand before or after the quotes."""
        order = draft.ranking or list(range(len(request.hits)))
        passages = [Citation.from_hit(rank, request.hits[i]) for rank, i in enumerate(order, 1)]
        if not draft.answerable or not draft.claims:
            return Answer(" ".join([message("not_in_text", request.language), *draft.notes]), request.language,
                          False, [], passages, request.query)
        numbers: dict[int, int] = {}
        highlights: dict[int, list[list[int]]] = {}
        sentences = []
        for claim in draft.claims:
            n = numbers.setdefault(claim.hit, len(numbers) + 1)
            highlights.setdefault(claim.hit, []).extend([list(span) for span in claim.highlights])
            sentence = claim.text.strip().rstrip(SENTENCE_END)
            if request.language == "en" and not claim.prefix:
                sentence = sentence[:1].upper() + sentence[1:]
            sentences.append(f"{claim.prefix + ' ' if claim.prefix else ''}{sentence} [{n}].")
        citations = [Citation.from_hit(n, request.hits[hit], highlights[hit]) for hit, n in numbers.items()]
        text = " ".join(sentences + draft.notes)
        return Answer(text, request.language, True, citations, passages, request.query)


def _merge(part_hits: list[list[Hit]]) -> list[Hit]:
    """The passages of every part, in turn by rank (a passage once, at its best rank)."""
    if len(part_hits) == 1:
        return part_hits[0]
    merged, seen = [], set()
    for rank in range(max(map(len, part_hits))):
        for hits in part_hits:
            if rank < len(hits) and hits[rank].passage.id not in seen:
                seen.add(hits[rank].passage.id)
                merged.append(hits[rank])
    return merged


def _words_of(index: Index) -> frozenset[str]:
    """Every search token of the indexed texts, in both views: words that are never a misspelt name."""
    return frozenset(t for p in index.passages for view in (p.text, p.translation) if view for t in tokenize(view))


def _validate_history(history: object, language: str, max_turns: int) -> list[dict]:
    """History is a list of {"role": "user"|"assistant", "content": str}; only recent turns matter."""
    if history is None:
        return []
    if not isinstance(history, list):
        raise QuestionError("history_not_list", language)
    turns = []
    for i, turn in enumerate(history):
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant") \
                or not isinstance(turn.get("content"), str):
            raise QuestionError("history_bad_turn", language, turn=i + 1)
        turns.append({"role": turn["role"], "content": turn["content"][:4000]})
    return turns[-max_turns:]
