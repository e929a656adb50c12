"""The LTI 1.3 tool's own state: its key pair, the platforms registered with it, and what each launch may see.

Everything lives in the folder of `Settings.lti_config` (by default `~/.config/khwarazm-rag/`),
which the operator owns and git never sees:

    lti.json            platform registrations, in pylti1p3's JSON format (`rag lti register`)
    lti-private.pem     the tool's RSA key (`rag lti keys`), mode 0600: it never leaves the server
    lti-public.pem      its public half, published as JWKS at /lti/jwks
    lti-state.sqlite3   launches: which user in which course a browser tab speaks for, their
                        conversations, and the nonces already used

The web side (OIDC login, launch validation, deep linking) is `ui/lti.py`, on pylti1p3.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path

TITLE = "Khwarazm study assistant"
DESCRIPTION = ("Cited answers, in Arabic or English, from an Arabic history of the Mongol campaign "
               "against the Khwarazmian Empire (1218-1222).")
PRIVATE_KEY = "lti-private.pem"
PUBLIC_KEY = "lti-public.pem"
STATE_DB = "lti-state.sqlite3"
SESSION_SECONDS = 8 * 3600  # how long a launched tab may keep asking
NONCE_SECONDS = 24 * 3600  # id_tokens live minutes; a nonce is remembered far longer


class LtiSetupError(Exception):
    """The tool is not set up (no key pair, no registration) or its files are unreadable."""


def _write_private(path: Path, data: bytes, mode: int) -> None:
    """Write a file that only its owner may read, atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def create_keys(config: Path, replace: bool = False) -> Path:
    """Create the tool's RSA key pair beside the registrations file (private key mode 0600).
    An existing pair is kept unless `replace`: platforms hold its public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = config.parent / PRIVATE_KEY
    if private.exists() and not replace:
        return private
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_private(private, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()), 0o600)
    _write_private(config.parent / PUBLIC_KEY, key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo), 0o644)
    return private


def public_jwks(config: Path) -> dict:
    """The tool's public key as a JWK set (what /lti/jwks serves), with the kid pylti1p3 signs with."""
    from pylti1p3.registration import Registration

    path = config.parent / PUBLIC_KEY
    if not path.exists():
        return {"keys": []}
    return {"keys": [dict(Registration.get_jwk(path.read_text(encoding="utf-8")))]}


def read_registrations(config: Path) -> dict:
    if not config.exists():
        return {}
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LtiSetupError(f"{config} is not readable JSON: {error}") from None
    if not isinstance(data, dict):
        raise LtiSetupError(f"{config} must hold a JSON object of issuers")
    return data


def register_platform(config: Path, issuer: str, client_id: str, login_url: str, jwks_url: str,
                      deployment_ids: list[str], token_url: str = "") -> dict:
    """Add a platform (or replace the registration with the same issuer and client id), creating
    the key pair first if there is none. Returns the registration as written."""
    for name, value in (("issuer", issuer), ("client id", client_id), ("login URL", login_url),
                        ("JWKS URL", jwks_url)):
        if not value or not value.strip():
            raise LtiSetupError(f"the platform's {name} is required")
    for name, value in (("login URL", login_url), ("JWKS URL", jwks_url), ("token URL", token_url)):
        if value and not value.startswith(("https://", "http://")):
            raise LtiSetupError(f"the platform's {name} must be an http(s) URL, not {value!r}")
    if not deployment_ids:
        raise LtiSetupError("at least one deployment id is required")
    create_keys(config)
    registrations = read_registrations(config)
    entries = registrations.get(issuer, [])
    entries = [entries] if isinstance(entries, dict) else list(entries)
    entry = {"default": not any(e.get("client_id") != client_id for e in entries), "client_id": client_id,
             "auth_login_url": login_url, "auth_token_url": token_url or login_url, "auth_audience": None,
             "key_set_url": jwks_url, "key_set": None, "private_key_file": PRIVATE_KEY,
             "public_key_file": PUBLIC_KEY, "deployment_ids": list(dict.fromkeys(deployment_ids))}
    registrations[issuer] = [e for e in entries if e.get("client_id") != client_id] + [entry]
    _write_private(config, (json.dumps(registrations, indent=2) + "\n").encode(), 0o600)
    return entry


def tool_configuration(base_url: str, title: str, description: str) -> dict:
    """What a platform administrator needs to register the tool: the IMS fields by name, and the
    same in the JSON a Canvas developer key accepts by URL."""
    base = base_url.rstrip("/")
    urls = {"login": f"{base}/lti/login", "launch": f"{base}/lti/launch", "jwks": f"{base}/lti/jwks",
            "icon": f"{base}/lti/icon.svg"}
    return {
        "title": title, "description": description,
        "oidc_initiation_url": urls["login"], "target_link_uri": urls["launch"],
        "redirect_uris": [urls["launch"]], "public_jwk_url": urls["jwks"],
        "deep_linking_url": urls["launch"], "icon_url": urls["icon"],
        "scopes": [], "privacy_level": "public",
        "messages": [{"type": "LtiResourceLinkRequest", "target_link_uri": urls["launch"]},
                     {"type": "LtiDeepLinkingRequest", "target_link_uri": urls["launch"],
                      "placements": ["link_selection", "assignment_selection", "editor_button"]}],
        "extensions": [{"platform": "canvas.instructure.com", "privacy_level": "public", "settings": {
            "placements": [{"placement": p, "message_type": "LtiDeepLinkingRequest",
                            "target_link_uri": urls["launch"], "icon_url": urls["icon"]}
                           for p in ("link_selection", "assignment_selection", "editor_button")]}}],
    }


# ------------------------------------------------------------------------------------ launches
@dataclass
class Launch:
    """What a validated launch lets its browser tab do: ask as this user in this placement, or
    (a teacher's deep-linking launch) choose items to place in the course."""

    conversation: str  # the key of the conversation: one per platform, course, placement and user
    kind: str  # "resource" | "deep_link"
    language: str  # the interface language the platform asked for ("ar" | "en")
    start: dict = field(default_factory=dict)  # {"question": ...} or {"passage": "stem:12"}
    title: str = ""  # the course or placement title, shown in the page
    # a deep-linking launch: {"iss", "client_id", "deployment_id", "settings"} to sign the response with
    deep_link: dict = field(default_factory=dict)


def conversation_key(claims: dict) -> str:
    """One conversation per platform, client, deployment, course, placement and user: two
    students, or one student in two courses, never share one."""
    context = claims.get("https://purl.imsglobal.org/spec/lti/claim/context") or {}
    link = claims.get("https://purl.imsglobal.org/spec/lti/claim/resource_link") or {}
    aud = claims.get("aud")
    parts = [claims.get("iss"), aud[0] if isinstance(aud, list) else aud,
             claims.get("https://purl.imsglobal.org/spec/lti/claim/deployment_id"),
             context.get("id"), link.get("id"), claims.get("sub")]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


class LaunchStore:
    """Launches, conversations and used nonces in one SQLite file: they survive a restart, and
    several server workers see the same state."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with closing(self._connect()) as db:
            db.executescript("""
                CREATE TABLE IF NOT EXISTS launches (token TEXT PRIMARY KEY, launch TEXT NOT NULL, expires REAL NOT NULL);
                CREATE TABLE IF NOT EXISTS turns (conversation TEXT NOT NULL, at REAL NOT NULL, question TEXT NOT NULL,
                                                  answer TEXT NOT NULL);
                CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns (conversation, at);
                CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires REAL NOT NULL);""")
        os.chmod(path, 0o600)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def use_nonce(self, nonce: str) -> bool:
        """True the first time a nonce is seen; False ever after (a replayed launch)."""
        now = time.time()
        with closing(self._connect()) as db:
            db.execute("DELETE FROM nonces WHERE expires < ?", (now,))
            try:
                db.execute("INSERT INTO nonces VALUES (?, ?)", (nonce, now + NONCE_SECONDS))
            except sqlite3.IntegrityError:
                return False
        return True

    def open(self, launch: Launch) -> str:
        """A secret token for the launched tab (sent with each question, never in a URL)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with closing(self._connect()) as db:
            db.execute("DELETE FROM launches WHERE expires < ?", (now,))
            db.execute("INSERT INTO launches VALUES (?, ?, ?)", (token, json.dumps(asdict(launch)), now + SESSION_SECONDS))
        return token

    def launch(self, token: object) -> Launch | None:
        if not isinstance(token, str) or not token:
            return None
        with closing(self._connect()) as db:
            row = db.execute("SELECT launch FROM launches WHERE token = ? AND expires >= ?", (token, time.time())).fetchone()
        return Launch(**json.loads(row[0])) if row else None

    def add_turn(self, conversation: str, question: str, answer: dict) -> None:
        with closing(self._connect()) as db:
            db.execute("INSERT INTO turns VALUES (?, ?, ?, ?)",
                       (conversation, time.time(), question, json.dumps(answer, ensure_ascii=False)))

    def turns(self, conversation: str) -> list[tuple[str, dict]]:
        """The conversation so far, oldest first: (question, answer dict)."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT question, answer FROM turns WHERE conversation = ? ORDER BY at, rowid",
                              (conversation,)).fetchall()
        return [(question, json.loads(answer)) for question, answer in rows]
