"""The extractive answer engine: grounded quotes, in the question's language, with honest refusals.

These check what every answer must be, over whole question sets (the development and probe sets
and a sample of the bank from every writer), and how the answer is composed for the question's
shape (two parts, yes/no, "quote the sentence", a follow-up); how often answers are right is
measured by bench/reader_cv.py and `rag eval`, not here.
"""

import random
import re

import pytest

from rag.answer import Answer
from rag.bank import bank_path, read_bank
from rag.engine import squash
from rag.evaluation import in_language, read_qa
from rag.messages import message

from .conftest import PROJECT

QA_SETS = sorted((PROJECT / "bench").glob("*_qa.jsonl"))
MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def bank(assistant):
    source = assistant.sources[0]
    return read_bank(bank_path(source, PROJECT), source)


def quoted_sentences(answer: Answer) -> list[tuple[str, object]]:
    """Each quoted sentence of an answer (the engine's own opening words set apart) with the citation
    its marker names."""
    opening = tuple(message(k, answer.language) for k in ("verdict_yes", "verdict_no", "untranslated"))
    out = []
    for sentence, n in re.findall(r"(.+?) \[(\d+)\]\.", answer.text):
        sentence = sentence.strip()
        for words in opening:
            sentence = sentence.removeprefix(words).strip()
        out.append((sentence, next(c for c in answer.citations if c.n == int(n))))
    return out


def check_answer(answer: Answer, language: str, where: str) -> None:
    assert answer.language == language, where
    assert in_language(answer.text, language), (where, answer.text)
    if not answer.answerable:
        assert not answer.citations and len(answer.passages) >= 10, where
        assert answer.text == message("not_in_text", language), where
        return
    markers = [int(m) for m in MARKER.findall(answer.text)]
    assert sorted(set(markers)) == list(range(1, len(answer.citations) + 1)) == [c.n for c in answer.citations], where
    sentences = quoted_sentences(answer)
    assert sentences, (where, answer.text)
    for sentence, citation in sentences:
        views = [squash(citation.text), squash(citation.translation or "")]
        assert any(squash(sentence) in view for view in views), (where, sentence)
        for start, end in citation.highlights:
            assert citation.start <= start < end <= citation.end, where


@pytest.mark.parametrize("qa_path", QA_SETS, ids=lambda p: p.name)
def test_every_answer_quotes_its_cited_passage(assistant, qa_path):
    """Every sentence occurs in the passage it cites (or its translation), markers are numbered
    1..k in order of first use, and the answer is in the question's language."""
    for q in read_qa(qa_path):
        check_answer(assistant.ask(q.question, history=q.history), q.lang, q.id)


def test_every_writer_of_the_bank_gets_grounded_answers(assistant, bank):
    """A sample of every writer's questions (spoken Arabic, other spellings, two parts, yes/no,
    quotes, follow-ups, unanswerable ones): the same contract."""
    writers = sorted({q.writer for q in bank})
    sample = [q for w in writers for q in random.Random(w).sample([q for q in bank if q.writer == w], 6)]
    for q in sample:
        check_answer(assistant.ask(q.question, history=list(q.history)), q.lang, q.id)


def test_english_answer_quotes_the_translation_arabic_the_original(assistant):
    en = assistant.ask("How large was the army the Sultan left in Samarkand?")
    ar = assistant.ask("كم كان تعداد الجيش الذي تركه السلطان في سمرقند؟")
    assert en.answerable and ar.answerable
    en_quotes, ar_quotes = quoted_sentences(en), quoted_sentences(ar)
    assert en_quotes and ar_quotes
    assert all(squash(s) in squash(c.translation) for s, c in en_quotes)
    assert all(squash(s) in squash(c.text) for s, c in ar_quotes)
    assert {c.paragraph for _, c in en_quotes} & {c.paragraph for _, c in ar_quotes}


def test_a_question_with_two_parts_gets_a_quote_for_each(assistant):
    answer = assistant.ask("Who commanded the second army, and in which month and year did Jand fall?")
    sentences = quoted_sentences(answer)
    assert answer.answerable and len(sentences) >= 2
    assert " | " in answer.query  # searched part by part
    assert any("Jochi" in s for s, _ in sentences) and any("617" in s for s, _ in sentences)


def test_a_yes_no_answer_opens_with_its_verdict_then_the_evidence(assistant, bank):
    """Over the bank's yes/no questions: a verdict, where the reader is confident enough to give
    one, opens the answer and a quote with its marker follows; verdicts are given, and mostly right."""
    given, right = 0, 0
    for q in [q for q in bank if q.kind == "yesno" and q.answerable][::2]:
        answer = assistant.ask(q.question, history=list(q.history))
        opening = [k for k in ("verdict_yes", "verdict_no") if answer.text.startswith(message(k, q.lang))]
        if opening:
            given += 1
            right += opening[0] == f"verdict_{q.verdict}"
            assert quoted_sentences(answer), answer.text
        assert not any(message(k, q.lang) in answer.text[1:] for k in ("verdict_yes", "verdict_no")
                       if not answer.text.startswith(message(k, q.lang))), answer.text
    assert given >= 1 and right >= 0.6 * given, (given, right)


def test_asked_to_quote_a_sentence_the_answer_is_the_whole_sentence(assistant, bank):
    """"Quote the sentence that…": the quote starts where a sentence starts and ends with its full stop."""
    for q in [q for q in bank if q.kind == "quote" and q.answerable and q.lang == "ar"][:20]:
        answer = assistant.ask(q.question)
        if not answer.answerable:
            continue
        source = next(s for s in assistant.sources if s.path == answer.citations[0].source)
        for start, end in answer.citations[0].highlights:
            assert source.text[start:end].rstrip().endswith("."), (q.id, source.text[start:end])
            before = source.text[:start].rstrip(" \t")
            assert before == "" or before.endswith((".", "\n")), (q.id, before[-20:])


def test_off_topic_questions_are_refused_with_related_passages(assistant, bank):
    """A greeting, another history, nonsense (the bank's off-topic questions, in both languages):
    most are refused, and a refusal says the text is silent, cites nothing and lists passages."""
    off_topic = [q for q in bank if q.trap == "off_topic"][::4]
    refused = 0
    for q in off_topic:
        answer = assistant.ask(q.question)
        check_answer(answer, q.lang, q.id)
        refused += not answer.answerable
    assert refused >= 0.7 * len(off_topic), (refused, len(off_topic))


def test_follow_up_question_is_resolved_from_history(assistant):
    history = [{"role": "user", "content": "Who was the governor of Khujand?"},
               {"role": "assistant", "content": "Timur Malik governed Khujand [1]."}]
    answer = assistant.ask("Where did he go after leaving the city?", history=history)
    assert "Timur Malik" in answer.query
    assert answer.answerable and answer.citations[0].paragraph == 14


def test_a_question_that_stands_alone_takes_no_names_from_the_conversation(assistant, bank):
    """After a conversation about Otrar, a greeting or a question about something else is asked on
    its own terms (the follow-up model judges it), not as one about Otrar."""
    history = [{"role": "user", "content": "Who governed Otrar?"},
               {"role": "assistant", "content": "Inal Khan governed Otrar [1]."}]
    off_topic = [q for q in bank if q.trap == "off_topic"][::8]

    def searched(question, turns):
        return [query.text for query in assistant.retrieve(question, turns).queries]

    kept_apart = sum(searched(q.question, history) == searched(q.question, None) for q in off_topic)
    assert kept_apart >= 0.8 * len(off_topic), (kept_apart, len(off_topic))


def test_explicit_language_overrides_the_script(assistant):
    answer = assistant.ask("كم كان تعداد الجيش الذي تركه السلطان في سمرقند؟", language="en")
    assert answer.language == "en" and in_language(answer.text, "en")


def test_stream_yields_increments_then_the_answer(assistant):
    items = list(assistant.ask_stream("Who led the second army?"))
    *pieces, final = items
    assert isinstance(final, Answer) and len(pieces) >= 2 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == final.text
