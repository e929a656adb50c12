"""The question bank of the shipped text: its schema, its labels against the text, its coverage."""

import json
from collections import Counter

import pytest

from rag.bank import BankError, bank_path, read_bank, span_text
from rag.evaluation import has_keywords, question_from_row, read_qa
from rag.sources import load_sources
from rag.textnorm import normalize

from .conftest import PROJECT, SHIPPED


@pytest.fixture(scope="module")
def source():
    return load_sources(SHIPPED, PROJECT)[0]


@pytest.fixture(scope="module")
def bank(source):
    return read_bank(bank_path(source, PROJECT), source)


def test_the_bank_is_as_large_and_as_varied_as_the_issue_asks(bank, source):
    languages = Counter(q.lang for q in bank)
    assert len(bank) >= 2400 and languages["ar"] >= 1000 and languages["en"] >= 1000
    per_paragraph = Counter(p for q in bank for p in q.paragraphs)
    assert set(per_paragraph) == set(range(1, len(source.paragraphs) + 1))
    assert min(per_paragraph.values()) >= 60
    unanswerable = [q for q in bank if not q.answerable]
    assert len(unanswerable) >= 0.25 * len(bank)
    traps = Counter(q.trap for q in unanswerable)
    assert traps["false_premise"] >= 100 and traps["not_stated"] >= 200
    assert len({q.writer for q in bank}) >= 6 and sum(1 for q in bank if q.history) >= 50
    kinds = Counter(q.kind for q in bank)
    assert all(kinds[k] >= 20 for k in ("yesno", "quote", "multi", "reason", "manner", "number", "date", "person"))


def test_every_label_holds_in_the_text(bank, source):
    """Spans lie in the paragraphs they name; every keyword is in the text of the spans, in the
    question's language (the original for Arabic, the aligned translation for English)."""
    for q in bank:
        for start, end in q.spans:
            assert any(source.paragraph(p).start <= start < end <= source.paragraph(p).end for p in q.paragraphs), q.id
        if not q.answerable:
            assert not q.spans and q.trap in ("false_premise", "not_stated", "off_topic"), q.id
            continue
        text = normalize(span_text(q.spans, source, q.lang))
        assert has_keywords(question_from_row(q.as_eval_row()), text), q.id
        for part in q.parts:
            assert any(normalize(k).replace(",", "") in normalize(span_text(part.spans, source, q.lang)).replace(",", "")
                       for k in part.any), (q.id, part.any)
        if q.kind == "yesno":
            assert q.verdict in ("yes", "no"), q.id


def test_the_bank_reads_as_an_evaluation_set(bank):
    rows = read_qa(SHIPPED / "khwarazm_campaign.questions.jsonl")
    assert len(rows) == len(bank)
    verdicts = [r for r in rows if r.verdict]
    assert verdicts and all(r.verdict in ("yes", "no") for r in verdicts)
    assert all(r.gold for r in rows if r.answerable) and not any(r.gold for r in rows if not r.answerable)


@pytest.mark.parametrize("change, message", [
    (lambda r: r.update(lang="fr"), "lang"),
    (lambda r: r.update(spans=[[0, 10 ** 7]]), "outside the text"),
    (lambda r: r.update(kind="yesno"), "verdict"),
    (lambda r: r.pop("any"), "keywords"),
    (lambda r: r.update(answerable=False), "trap"),
])
def test_a_malformed_line_is_named(tmp_path, source, change, message):
    good = {"id": "x1", "lang": "en", "question": "How long did the siege last?", "answerable": True,
            "kind": "duration", "paragraphs": [11], "spans": [[source.paragraph(11).start, source.paragraph(11).start + 20]],
            "answer": "five months", "any": ["five months"], "style": "en-plain", "writer": "w"}
    change(good)
    path = tmp_path / "bad.questions.jsonl"
    path.write_text(json.dumps(good) + "\n", encoding="utf-8")
    with pytest.raises(BankError, match=message):
        read_bank(path, source)
