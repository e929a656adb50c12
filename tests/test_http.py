"""The HTTP API for learning platforms, against the real server."""

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from ui.app import create_api

from .conftest import PROJECT

SOURCE = (PROJECT / "source_texts" / "khwarazm_campaign.ar.txt").read_text(encoding="utf-8")


def post(server, body, **kwargs):
    return httpx.post(f"{server}/api/ask", timeout=60, **({"json": body} if body is not None else {}), **kwargs)


@pytest.mark.parametrize("question, language", [("How many soldiers defended Bukhara?", "en"),
                                                ("كم استمر حصار اوترار؟", "ar")])
def test_ask_returns_the_answer_dict(server, question, language):
    response = post(server, {"question": question})
    assert response.status_code == 200
    answer = response.json()
    assert answer["language"] == language and answer["answerable"] is True
    assert len(answer["passages"]) >= 10 and answer["citations"]
    for c in answer["citations"] + answer["passages"]:
        assert SOURCE[c["start"]:c["end"]] == c["text"]


def test_ask_with_history_and_language(server):
    history = [{"role": "user", "content": "Who governed Khujand?"},
               {"role": "assistant", "content": "Timur Malik governed Khujand [1]."}]
    answer = post(server, {"question": "Where did he go after leaving the city?", "history": history,
                           "language": "ar"}).json()
    assert answer["language"] == "ar" and "Timur Malik" in answer["query"]


@pytest.mark.parametrize("body, status, fragment", [
    ({"question": "من حكم اوترار؟", "language": "fr"}, 422, "غير معروفة"),
    ({"question": "من حكم اوترار؟", "history": "x"}, 422, "سجل المحادثة"),
    ({"question": "Who?", "history": [{"role": "user", "content": 5}]}, 422, "history"),
    ({"question": ["Who?"]}, 422, "question"),
    ({"question": "Who?" * 30_000}, 422, "too long"),
    ({"question": ""}, 400, "Please type a question"),
    ({"question": "   "}, 400, "Please type a question"),
    ({"question": "س" * 5000}, 400, "طويل"),
    ({"question": 42}, 422, "question"),
    ({}, 422, "question"),
    ({"question": "Who?", "language": "fr"}, 422, "language"),
    ({"question": "Who?", "history": [{"role": "system", "content": "x"}]}, 422, "history"),
    ({"question": "Who?", "history": "not a list"}, 422, "history"),
])
def test_bad_input_is_a_4xx_with_a_message(server, body, status, fragment):
    response = post(server, body)
    assert response.status_code == status
    error = response.json()
    assert fragment in error["error"] and error["language"] in ("ar", "en")
    question = body.get("question")
    if isinstance(question, str) and question.strip() and not question.isascii():
        assert error["language"] == "ar"  # the message is in the question's language


def test_malformed_json_is_a_400(server):
    response = post(server, None, content=b'{"question": "unterminated', headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]
    response = post(server, None, content=b"\xff\xfe\x00", headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_passage_endpoint(server):
    for name in ("khwarazm_campaign", "khwarazm_campaign.ar.txt"):
        response = httpx.get(f"{server}/api/passages/{name}/11")
        assert response.status_code == 200
        p = response.json()
        assert SOURCE[p["start"]:p["end"]] == p["text"] and "five months" in p["translation"]
        assert p["segments"] and all(SOURCE[s["start"]:s["end"]] == s["text"] for s in p["segments"])
    assert httpx.get(f"{server}/api/passages/nope/1").status_code == 404
    assert httpx.get(f"{server}/api/passages/khwarazm_campaign/25").status_code == 404
    assert httpx.get(f"{server}/api/passages/khwarazm_campaign/0").status_code == 404
    assert httpx.get(f"{server}/api/passages/khwarazm_campaign/-1").status_code == 404
    assert httpx.get(f"{server}/api/passages/khwarazm_campaign/x").status_code == 422
    unknown = httpx.get(f"{server}/api/passages/nope/1").json()
    assert "known: khwarazm_campaign" in unknown["error"]  # says which sources exist


def test_health_docs_and_embed(server):
    health = httpx.get(f"{server}/api/health").json()
    assert health["status"] == "ok" and health["passages"] == 24
    assert httpx.get(f"{server}/docs").status_code == 200
    assert "/api/ask" in httpx.get(f"{server}/openapi.json").json()["paths"]
    embed = httpx.get(f"{server}/embed")
    assert embed.status_code == 200 and "frame-ancestors 'self'" in embed.headers["content-security-policy"]
    assert "textContent" in embed.text  # answers are inserted as text, never as HTML


def test_allowed_origins_for_cors_and_framing(assistant, monkeypatch):
    monkeypatch.setenv("RAG_ALLOWED_ORIGINS", "https://lms.example.edu")
    client = TestClient(create_api(assistant))
    preflight = client.options("/api/ask", headers={"Origin": "https://lms.example.edu",
                                                    "Access-Control-Request-Method": "POST"})
    assert preflight.headers["access-control-allow-origin"] == "https://lms.example.edu"
    other = client.options("/api/ask", headers={"Origin": "https://evil.example",
                                                "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers
    assert "https://lms.example.edu" in client.get("/embed").headers["content-security-policy"]
    answer = client.post("/api/ask", json={"question": "Who governed Otrar?"}, headers={"Origin": "https://lms.example.edu"})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "https://lms.example.edu"
    # CORS is for the API only
    page = client.get("/embed", headers={"Origin": "https://lms.example.edu"})
    assert "access-control-allow-origin" not in page.headers


def test_no_extra_origins_by_default(server):
    preflight = httpx.options(f"{server}/api/ask", headers={"Origin": "https://lms.example.edu",
                                                            "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers
    assert httpx.get(f"{server}/embed").headers["content-security-policy"] == "frame-ancestors 'self'"


def test_the_app_page_is_served(server):
    page = httpx.get(server + "/")
    assert page.status_code == 200 and "Khwarazm study assistant" in page.text


def test_answers_stream_as_server_sent_events(server):
    events = []
    with httpx.stream("POST", f"{server}/api/ask/stream", json={"question": "كم استمر حصار اوترار؟"}, timeout=60) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
    deltas = [data["text"] for kind, data in events if kind == "delta"]
    assert len(deltas) >= 3 and [kind for kind, _ in events][-1] == "answer"
    answer = events[-1][1]
    assert "".join(deltas) == answer["text"] and "خمسة" in answer["text"] and answer["citations"][0]["permalink"]
    refused = httpx.post(f"{server}/api/ask/stream", json={"question": "   "}, timeout=30)
    assert refused.status_code == 400 and refused.json()["error"]


def test_health_names_the_answer_engine(server):
    health = httpx.get(f"{server}/api/health", timeout=30).json()
    assert health["engine"] == "extractive" and health["generator"] == {"engine": "extractive"}
