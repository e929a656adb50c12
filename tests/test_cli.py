"""The `rag` command as a user runs it: real processes, real exit codes."""

import json
import os
import subprocess
import sys

from .conftest import PROJECT


def rag(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], cwd=PROJECT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def test_ask_json():
    result = rag("ask", "How many soldiers defended Bukhara?", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["language"] == "en" and answer["citations"] and len(answer["passages"]) >= 10


def test_ask_text_lists_references():
    result = rag("ask", "من قتل التجار في اوترار؟")
    assert result.returncode == 0, result.stderr
    assert "[1]" in result.stdout and "source_texts/khwarazm_campaign.ar.txt" in result.stdout


def test_bad_input_exit_code_2_with_message(tmp_path):
    result = rag("ask", "   ")
    assert result.returncode == 2 and "Please type a question" in result.stderr
    assert "Traceback" not in result.stderr
    bad = tmp_path / "history.json"
    bad.write_text("{not json", encoding="utf-8")
    result = rag("ask", "Who governed Otrar?", "--history", str(bad))
    assert result.returncode == 2 and "history" in result.stderr and "Traceback" not in result.stderr


def test_eval_on_a_small_qa_set(tmp_path):
    qa = tmp_path / "qa.jsonl"
    rows = [
        {"id": "t1", "lang": "en", "question": "Which city did the Mongols attack first?", "gold": [10],
         "any": ["Otrar"], "answerable": True},
        {"id": "t2", "lang": "ar", "question": "كم استمر حصار اوترار؟", "gold": [11],
         "any": ["خمسة اشهر"], "answerable": True},
    ]
    qa.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    out = tmp_path / "result.json"
    result = rag("eval", str(qa), "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "recall@5" in result.stdout and "mrr@10" in result.stdout
    summary = json.loads(out.read_text(encoding="utf-8"))["summary"]
    assert set(summary) == {"all", "ar", "en"}
    assert summary["all"]["recall@5"] == 1.0


def test_eval_rejects_a_malformed_qa_file(tmp_path):
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"id": 1, "question": "no language"}\n', encoding="utf-8")
    result = rag("eval", str(qa))
    assert result.returncode == 2 and "malformed" in result.stderr
    result = rag("eval", str(tmp_path / "missing.jsonl"))
    assert result.returncode == 2 and "cannot read" in result.stderr
