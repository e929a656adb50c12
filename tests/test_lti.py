"""The LTI 1.3 tool against a real platform implementation (tests/lti_platform.py, on lti1p3platform):
launches, per-user and per-course conversations, deep linking, and every way a launch is refused.

Browser-driven launches are in test_browser.py; these drive the same HTTP exchanges with httpx.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import sqlite3
import stat
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rag.lti import STATE_DB, register_platform
from ui.lti import create_lti_router

from .lti_platform import CLIENT_ID, TEACHER, form_fields, launch_with, login_query, new_key


@pytest.fixture
def client():
    with httpx.Client(follow_redirects=False, timeout=60) as c:
        yield c


def config_of(page: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="config">(.*?)</script>', page, re.S).group(1))


def ask(client, server, token: str, question: str) -> httpx.Response:
    return client.post(f"{server}/lti/api/ask", json={"question": question}, headers={"Authorization": f"Bearer {token}"})


def launches(settings) -> int:
    with sqlite3.connect(settings.lti_config.parent / STATE_DB) as db:
        return db.execute("SELECT COUNT(*) FROM launches").fetchone()[0]


def test_a_launch_opens_the_chat_in_the_language_the_platform_asks_for(client, platform):
    arabic = launch_with(client, platform, user="s-lang", locale="ar-SA")
    assert arabic.status_code == 200
    config = config_of(arabic.text)
    assert config["language"] == "ar" and config["api"] == "/lti/api/ask" and len(config["token"]) >= 40
    assert config["title"] == "Activity link-1"
    assert config_of(launch_with(client, platform, user="s-lang", locale="en-GB").text)["language"] == "en"


def test_each_student_in_each_course_has_a_conversation_of_their_own(client, platform, server):
    first = config_of(launch_with(client, platform, user="amira", course="history-101").text)
    answer = ask(client, server, first["token"], "How long did the siege of Otrar last?")
    assert answer.status_code == 200 and "five months" in answer.json()["text"]
    # the same student, relaunching: the conversation is still there, and a follow-up leans on it
    again = config_of(launch_with(client, platform, user="amira", course="history-101").text)
    assert [t["question"] for t in again["turns"]] == ["How long did the siege of Otrar last?"]
    # another student in the same course, and the same student in another course: nothing shared
    other_student = config_of(launch_with(client, platform, user="bilal", course="history-101").text)
    other_course = config_of(launch_with(client, platform, user="amira", course="history-202").text)
    assert other_student["turns"] == [] and other_course["turns"] == []
    ask(client, server, other_student["token"], "Who governed Otrar?")
    assert [t["question"] for t in config_of(launch_with(client, platform, user="amira", course="history-101").text)
            ["turns"]] == ["How long did the siege of Otrar last?"]


def test_questions_need_a_live_launch_token(client, server):
    refused = client.post(f"{server}/lti/api/ask", json={"question": "كم استمر حصار اوترار؟"},
                          headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401 and "انتهت جلستك" in refused.json()["error"]


def test_the_tool_publishes_its_keys_and_registration_data(client, server, settings, platform):
    keys = client.get(f"{server}/lti/jwks").json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]
    assert "d" not in keys[0]  # the public half only
    config = client.get(f"{server}/lti/config").json()
    assert config["oidc_initiation_url"] == f"{server}/lti/login"
    assert config["redirect_uris"] == [f"{server}/lti/launch"] and config["public_jwk_url"] == f"{server}/lti/jwks"
    assert {m["type"] for m in config["messages"]} == {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}
    private = settings.lti_config.parent / "lti-private.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and stat.S_IMODE(settings.lti_config.stat().st_mode) == 0o600


def test_deep_linking_round_trip(client, platform, server):
    """A teacher picks "ask the assistant" with a starting question and a passage; the platform
    verifies the signed response; launching each placed item opens exactly that."""
    picker = launch_with(client, platform, user="teacher-1", roles=(TEACHER,), deep_link=True)
    assert picker.status_code == 200 and 'action="/lti/deep-link"' in picker.text
    token = re.search(r'name="token" value="([^"]+)"', picker.text).group(1)
    nothing = client.post(f"{server}/lti/deep-link", data={"token": token})
    assert nothing.status_code == 400 and "at least one item" in nothing.text
    response = client.post(f"{server}/lti/deep-link", data={"token": token, "ask": "1",
                                                            "question": "Who governed Otrar?",
                                                            "passage": "khwarazm_campaign:11"})
    action, fields = form_fields(response.text)
    assert action == f"{platform.url}/deep-link-return"
    returned = client.post(action, data=fields)
    assert returned.status_code == 200, returned.text
    items = platform.returned[-2:]
    assert [i["custom"] for i in items] == [{"question": "Who governed Otrar?"}, {"passage": "khwarazm_campaign:11"}]
    assert all(i["type"] == "ltiResourceLink" and i["url"] == f"{server}/lti/launch" for i in items)
    # the placed items, launched by a student
    asked = launch_with(client, platform, user="s-dl", link="item-ask", custom=items[0]["custom"])
    assert config_of(asked.text)["start"] == {"question": "Who governed Otrar?"}
    opened = launch_with(client, platform, user="s-dl", link="item-passage", custom=items[1]["custom"])
    passage = re.search(r'<section class="passage" id="start-passage">(.*?)</section>', opened.text, re.S).group(1)
    assert "/passage/khwarazm_campaign/11" in passage and "five months" in passage
    # a student's resource launch cannot sign deep-linking responses
    student = config_of(asked.text)["token"]
    assert client.post(f"{server}/lti/deep-link", data={"token": student, "ask": "1"}).status_code == 403


# ------------------------------------------------------------------------------ refused launches
def login(client, server, platform, user="s-neg") -> dict:
    """The tool's half of the OIDC login: its redirect to the platform carries state and nonce."""
    response = client.get(f"{server}/lti/login?{login_query(platform, user)}")
    assert response.status_code == 302, response.text
    query = parse_qs(urlparse(response.headers["location"]).query)
    assert query["client_id"] == [CLIENT_ID] and query["redirect_uri"] == [f"{server}/lti/launch"]
    return {"state": query["state"][0], "nonce": query["nonce"][0]}


def spoil(platform, claims: dict, flaw: str) -> str:
    CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
    if flaw == "bad signature":
        return platform.forge(claims, key=new_key()[0])  # another key, claiming the platform's kid
    if flaw == "expired":
        claims.update(iat=claims["iat"] - 3600, exp=claims["iat"] - 1800)
    elif flaw == "unknown issuer":
        claims["iss"] = "https://lms.example.org"
    elif flaw == "unknown deployment":
        claims[CLAIM + "deployment_id"] = "deployment-nobody-made"
    elif flaw == "wrong audience":
        claims.update(aud="another-tool", azp="another-tool")
    elif flaw == "several audiences, azp not the tool":
        claims.update(aud=[CLIENT_ID, "another-tool"], azp="another-tool")
    elif flaw == "no user":
        del claims["sub"]
    elif flaw == "no roles":
        del claims[CLAIM + "roles"]
    elif flaw == "no resource link":
        del claims[CLAIM + "resource_link"]
    elif flaw == "no expiry":
        del claims["exp"]
    elif flaw == "wrong version":
        claims[CLAIM + "version"] = "1.1"
    elif flaw == "wrong message type":
        claims[CLAIM + "message_type"] = "LtiSubmissionReviewRequest-ish"
    elif flaw == "unknown nonce":
        claims["nonce"] = "a-nonce-the-tool-never-issued"
    return platform.forge(claims)


REFUSALS = {  # flaw -> (HTTP status, what the English page says)
    "bad signature": (400, "signature does not match"),
    "expired": (400, "has expired"),
    "unknown issuer": (400, "not registered"),
    "unknown deployment": (400, "deployment"),
    "wrong audience": (400, "wrong audience"),
    "several audiences, azp not the tool": (400, "wrong audience"),
    "no user": (400, "missing information"),
    "no roles": (400, "missing information"),
    "no resource link": (400, "missing information"),
    "no expiry": (400, "missing information"),
    "wrong version": (400, "missing information"),
    "wrong message type": (400, "kind of launch"),
    "unknown nonce": (400, "already used"),
}


@pytest.mark.parametrize("flaw", REFUSALS)
def test_a_flawed_launch_is_refused_with_its_reason_and_opens_no_session(client, platform, server, settings, caplog, flaw):
    issued = login(client, server, platform)
    token = spoil(platform, platform.claims(issued["nonce"], user="s-neg"), flaw)
    before = launches(settings)
    with caplog.at_level(logging.WARNING, logger="lti"):
        response = client.post(f"{server}/lti/launch", data={"id_token": token, "state": issued["state"]},
                               headers={"Accept-Language": "en-US,en;q=0.9"})
    status, says = REFUSALS[flaw]
    assert response.status_code == status and says in response.text, response.text
    assert 'id="config"' not in response.text and launches(settings) == before
    assert any("LTI refused" in r.getMessage() for r in caplog.records)


def test_a_refusal_speaks_the_users_language(client, platform, server):
    issued = login(client, server, platform)
    expired = spoil(platform, platform.claims(issued["nonce"]), "expired")
    response = client.post(f"{server}/lti/launch", data={"id_token": expired, "state": issued["state"]},
                           headers={"Accept-Language": "ar,en;q=0.5"})
    assert response.status_code == 400 and "انتهت صلاحية الإطلاق" in response.text and 'dir="rtl"' in response.text


def test_a_replayed_launch_is_refused(client, platform, server, settings):
    response = client.get(platform.launch_url(user="s-replay"))
    response = client.get(client.get(response.headers["location"] + "&lti1p3_new_window=1").headers["location"])
    action, fields = form_fields(response.text)
    assert client.post(action, data=fields).status_code == 200
    before = launches(settings)
    again = client.post(action, data=fields)
    assert again.status_code == 400 and "already used" in again.text and launches(settings) == before


def test_a_launch_without_the_browsers_state_is_refused(client, platform, server):
    issued = login(client, server, platform)
    token = platform.forge(platform.claims(issued["nonce"]))
    client.cookies.clear()  # another browser: no state cookie
    response = client.post(f"{server}/lti/launch", data={"id_token": token, "state": issued["state"]})
    assert response.status_code == 400 and "state or cookie" in response.text


@pytest.mark.parametrize("data", [{}, {"id_token": "not.a.jwt", "state": "state-x"}, {"id_token": "a.b", "state": ""},
                                  {"state": "state-only"}])
def test_malformed_launches_are_refused(client, server, data):
    response = client.post(f"{server}/lti/launch", data=data)
    assert 400 <= response.status_code < 500


def test_login_needs_a_known_platform_and_a_login_hint(client, server, platform):
    assert client.get(f"{server}/lti/login?iss={platform.issuer}").status_code == 400
    unknown = client.get(f"{server}/lti/login?iss=https://lms.example.org&login_hint=u&lti1p3_new_window=1"
                         f"&target_link_uri={server}/lti/launch")
    assert unknown.status_code == 400 and "not registered" in unknown.text


def test_a_tool_without_registrations_says_how_to_set_it_up(assistant, tmp_path):
    unset = copy.copy(assistant)
    unset.settings = assistant.settings.replace(lti_config=tmp_path / "lti.json")
    app = FastAPI()
    app.include_router(create_lti_router(unset))
    with TestClient(app) as test:
        response = test.get("/lti/login?iss=https://lms.example.org&login_hint=u", headers={"Accept-Language": "ar"})
    assert response.status_code == 503 and "rag lti register" in response.text and 'lang="ar"' in response.text


def test_register_replaces_a_platforms_entry_and_keeps_the_key(tmp_path):
    config = tmp_path / "lti.json"
    register_platform(config, "https://lms.example.org", "c1", "https://lms.example.org/auth",
                      "https://lms.example.org/jwks", ["d1"])
    key = (tmp_path / "lti-private.pem").read_bytes()
    register_platform(config, "https://lms.example.org", "c1", "https://lms.example.org/auth2",
                      "https://lms.example.org/jwks", ["d1", "d2"])
    entries = json.loads(config.read_text())["https://lms.example.org"]
    assert len(entries) == 1 and entries[0]["deployment_ids"] == ["d1", "d2"]
    assert entries[0]["auth_login_url"].endswith("/auth2") and (tmp_path / "lti-private.pem").read_bytes() == key


def test_behind_tls_the_login_cookies_work_in_a_third_party_iframe(assistant, settings, platform):
    """With an https public address, the state cookie is SameSite=None; Secure; Partitioned (CHIPS)."""
    public = copy.copy(assistant)
    public.settings = settings.replace(public_url="https://assistant.example.edu")
    app = FastAPI()
    app.include_router(create_lti_router(public))
    with TestClient(app, base_url="https://assistant.example.edu") as test:
        query = login_query(platform, target_link_uri="https://assistant.example.edu/lti/launch")
        response = test.get(f"/lti/login?{query}", follow_redirects=False)
        nonce = parse_qs(urlparse(response.headers["location"]).query)["nonce"][0]
        test.cookies.clear()  # a browser that blocks third-party cookies
        blocked = test.post("/lti/launch", data={"id_token": platform.forge(platform.claims(nonce)), "state": "state-x"})
    assert blocked.status_code == 400 and "cookie" in blocked.text
    assert response.status_code == 302
    assert parse_qs(urlparse(response.headers["location"]).query)["redirect_uri"] == ["https://assistant.example.edu/lti/launch"]
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("lti1p3-state-"))
    assert all(part in cookie for part in ("SameSite=none", "Secure", "Partitioned", "HttpOnly"))
