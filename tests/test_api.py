"""The Python API contract that the CLI, the UI, the HTTP API and outside tools rely on."""

import json

import pytest

from rag import QuestionError


def test_answer_contract(assistant):
    answer = assistant.ask("Who governed Otrar?")
    d = answer.to_dict()
    assert {"text", "language", "answerable", "citations", "passages"} <= set(d)
    assert answer.language == "en" and answer.answerable is True
    assert "[1]" in answer.text and answer.citations[0].n == 1
    assert len(answer.passages) >= 10
    assert [c.n for c in answer.passages] == list(range(1, len(answer.passages) + 1))
    source_text = (assistant.settings.project_dir / answer.passages[0].source).read_text(encoding="utf-8")
    for c in answer.passages + answer.citations:
        assert c.source == "source_texts/khwarazm_campaign.ar.txt"
        assert source_text[c.start:c.end] == c.text
        assert c.translation
    json.dumps(d, ensure_ascii=False)  # JSON-ready


def test_arabic_question_gets_arabic(assistant):
    answer = assistant.ask("من كان حاكم اوترار؟")
    assert answer.language == "ar"


def test_language_override(assistant):
    assert assistant.ask("من كان حاكم اوترار؟", language="en").language == "en"


@pytest.mark.parametrize("question, language, fragment", [
    ("", "en", "Please type a question"),
    ("   \n\t ", "en", "Please type a question"),
    ("؟" * 3 + " " * 5, "en", None),
    ("x" * 5000, "en", "too long"),
    ("س" * 5000, "ar", "طويل"),
    (None, "en", "must be text"),
    (b"\xff\xfe", "en", "must be text"),
])
def test_bad_questions_get_clear_messages(assistant, question, language, fragment):
    if fragment is None:  # punctuation only is still a question; it must not crash
        assert assistant.ask(question).passages
        return
    with pytest.raises(QuestionError) as err:
        assistant.ask(question)
    assert err.value.language == language and fragment in str(err.value)


@pytest.mark.parametrize("history", [
    "not a list", [{"role": "system", "content": "x"}], [{"role": "user"}], [42]])
def test_malformed_history_is_refused(assistant, history):
    with pytest.raises(QuestionError, match="history|سجل"):
        assistant.ask("Who governed Otrar?", history=history)


def test_unknown_language_is_refused(assistant):
    with pytest.raises(QuestionError, match="fr"):
        assistant.ask("Who governed Otrar?", language="fr")
