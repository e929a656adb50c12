"""The assistant as an LTI 1.3 tool (Core + Deep Linking 2.0), on pylti1p3 (the maintained fork, pylti1p3next).

    GET|POST /lti/login    OIDC login initiation: the platform names the user; we answer with a
                           redirect to its authorisation endpoint carrying a state (cookie) and a nonce
    POST     /lti/launch   the platform's signed id_token: signature (platform JWKS), issuer,
                           audience, deployment, nonce (once only), state, expiry, claims; then the chat
                           (or, for a teacher's deep-linking launch, the picker)
    POST     /lti/deep-link  the picker's choice, returned to the platform as a signed response
    GET      /lti/jwks, /lti/config, /lti/icon.svg
    POST     /lti/api/ask  a question from a launched tab (its token in the Authorization header);
                           the conversation is kept per platform, course, placement and user

A refused launch is a 4xx page in the user's language, logged with its reason; it never opens a
session. Registrations and keys: `rag lti keys`, `rag lti register` (rag/lti.py).
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
import time
from pathlib import Path

import requests
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pylti1p3.cookie import CookieService
from pylti1p3.cookies_allowed_check import CookiesAllowedCheckPage
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException, OIDCException, ToolConfException
from pylti1p3.launch_data_storage.cache import CacheDataStorage
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.oidc_login import OIDCLogin
from pylti1p3.redirect import Redirect
from pylti1p3.request import Request as LtiRequest
from pylti1p3.session import SessionService
from pylti1p3.tool_config import ToolConfJsonFile

from rag import Assistant, QuestionError
from rag.citations import annotate
from rag.lti import DESCRIPTION, STATE_DB, TITLE, Launch, LaunchStore, LtiSetupError, conversation_key, \
    public_jwks, read_registrations, tool_configuration
from rag.messages import message
from rag.textnorm import detect_language

from .pages import base_url_of, chat_page, page, passage_of, picker_page, request_language

log = logging.getLogger("lti")
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
LOGIN_SECONDS = 600  # a login's state and nonce wait this long for the platform's launch
FETCH_TIMEOUT = (3.05, 10)  # connect, read: a platform's JWKS that does not answer never hangs a launch
ICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" '
        'fill="#1d4ed8"/><text x="32" y="44" font-size="34" text-anchor="middle" fill="#fff" '
        'font-family="serif">خ</text></svg>')
# pylti1p3's and PyJWT's reasons for refusing a launch, mapped to what the user is told
REASONS = [
    (r"expired", "lti_expired"),
    (r"[Ss]ignature|public key|KID|ALG|PEM", "lti_bad_signature"),
    (r"Client id not registered|audience|azp|client_id=", "lti_bad_audience"),
    (r"Registration not found|Could not find registration|issuer|not found in settings", "lti_unknown_platform"),
    (r"deployment", "lti_unknown_deployment"),
    (r"[Nn]once", "lti_replayed"),
    (r"message type|Unrecognized|Validator conflict", "lti_bad_message_type"),
    (r"[Ss]tate|cookie", "lti_bad_state"),
    (r"Must have|Missing|missing|is empty|not set|version|JWT format|3 parts|claim", "lti_missing_claims"),
]


class Refused(Exception):
    """A launch or login refused: `reason` is a message key, `detail` what the log records."""

    def __init__(self, reason: str, detail: str, status: int = 400):
        super().__init__(detail)
        self.reason, self.detail, self.status = reason, detail, status


def reason_of(error: Exception) -> str:
    text = str(error)
    return next((key for pattern, key in REASONS if re.search(pattern, text)), "lti_invalid")


# ------------------------------------------------------------------------ pylti1p3 on Starlette
class MemoryCache:
    """pylti1p3's launch data (states, nonces issued at login, platform keys), in this process
    (so `rag serve` runs one worker). Thread-safe; entries expire, and a flood of logins that never
    launch cannot grow it past `limit` entries (the soonest to expire go first)."""

    def __init__(self, limit: int = 50_000):
        self._items: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()
        self.limit = limit

    def get(self, key: str):
        with self._lock:
            expires, value = self._items.get(key, (0.0, None))
            return value if expires >= time.time() else None

    def set(self, key: str, value, exp: int | None = None) -> None:
        with self._lock:
            now = time.time()
            if len(self._items) >= self.limit:
                live = sorted((v[0], k) for k, v in self._items.items() if v[0] >= now)
                self._items = {k: self._items[k] for _, k in live[len(live) - self.limit // 2:]}
            self._items[key] = (now + (exp or LOGIN_SECONDS), value)


class LaunchData(CacheDataStorage):
    def __init__(self, cache: MemoryCache):
        super().__init__()
        self._cache = cache


class Params(LtiRequest):
    """A request as pylti1p3 reads it: query and form parameters (read once), cookies, scheme."""

    def __init__(self, params: dict[str, str], cookies: dict[str, str], secure: bool):
        self._params, self._cookies, self._secure = params, cookies, secure
        self._session: dict = {}

    @property
    def session(self):
        return self._session

    def get_param(self, key: str):
        return self._params.get(key)

    def get_cookie(self, key: str):
        return self._cookies.get(key)

    def is_secure(self) -> bool:
        return self._secure


class Cookies(CookieService):
    """Cookies pylti1p3 sets (the login's state, its session id), put on the response. Behind TLS
    they are SameSite=None; Secure; Partitioned, so they reach the launch inside the platform's iframe."""

    def __init__(self, request: Params):
        self._request = request
        self._pending: dict[str, tuple[str, int | None]] = {}

    def _name(self, key: str) -> str:
        return f"{self._cookie_prefix}-{key}"

    def get_cookie(self, name: str):
        return self._request.get_cookie(self._name(name))

    def set_cookie(self, name: str, value, exp: int | None = 3600):
        self._pending[self._name(name)] = (str(value), exp)

    def apply(self, response: Response) -> Response:
        secure = self._request.is_secure()
        for key, (value, exp) in self._pending.items():
            response.set_cookie(key, value, max_age=exp, path="/", httponly=True, secure=secure,
                                samesite="none" if secure else "lax")
            if secure:  # partitioned (CHIPS), as Chrome requires of cookies in third-party iframes; written
                # here because Python's http.cookies knows the attribute only from 3.14
                name, header = response.raw_headers[-1]
                response.raw_headers[-1] = (name, header + b"; Partitioned")
        return response


class RedirectTo(Redirect[Response]):
    def __init__(self, url: str, cookies: Cookies):
        self._url, self._cookies = url, cookies

    def do_redirect(self) -> Response:
        return self._cookies.apply(RedirectResponse(self._url, status_code=302))

    def do_js_redirect(self) -> Response:
        return self._cookies.apply(HTMLResponse(f"<script>window.location.href={json.dumps(self._url)};</script>"))

    def set_redirect_url(self, location: str):
        self._url = location

    def get_redirect_url(self) -> str:
        return self._url


class Login(OIDCLogin):
    def __init__(self, request: Params, config: ToolConfJsonFile, storage: LaunchData, language: str):
        super().__init__(request, config, session_service=SessionService(request), cookie_service=Cookies(request),
                         launch_data_storage=storage)
        self.set_launch_data_storage(storage).set_launch_data_lifetime(LOGIN_SECONDS)
        self.language = language

    def get_redirect(self, url: str) -> RedirectTo:
        return RedirectTo(url, self._cookie_service)

    def get_cookies_allowed_js_check(self) -> Response:
        """pylti1p3's page that checks cookies work in the iframe and, if not, offers a new window."""
        protocol, params = self.get_cookies_allowed_js_check_params()
        check = CookiesAllowedCheckPage(params, protocol, message("lti_cookies_blocked", self.language),
                                        message("lti_open_new_window", self.language), message("loading", self.language))
        page_html = check.get_html().replace('<html lang="en">', f'<html lang="{self.language}" '
                                             f'dir="{"rtl" if self.language == "ar" else "ltr"}">')
        return HTMLResponse(page_html)


class TimeoutSession(requests.Session):
    """Fetching a platform's keys never waits longer than FETCH_TIMEOUT."""

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", FETCH_TIMEOUT)
        return super().request(*args, **kwargs)


class Launcher(MessageLaunch):
    """pylti1p3's launch validation, plus: exp and iat required, azp checked when aud has several
    values, and every nonce accepted once only (across restarts: LaunchStore)."""

    def __init__(self, request: Params, config: ToolConfJsonFile, storage: LaunchData, store: LaunchStore,
                 keys: LaunchData):
        super().__init__(request, config, session_service=SessionService(request), cookie_service=Cookies(request),
                         launch_data_storage=storage, requests_session=TimeoutSession())
        self.set_launch_data_lifetime(LOGIN_SECONDS)
        self.set_jwt_verify_options({"verify_aud": False, "require": ["exp", "iat"]})
        self.set_public_key_caching(keys, cache_lifetime=600)
        self.store = store

    def _get_request_param(self, key: str):
        return self._request.get_param(key)

    def validate_registration(self):
        super().validate_registration()
        body = self._get_jwt_body()
        aud = body.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and body.get("azp") != self.get_client_id():
            raise LtiException("azp does not name this tool among several audiences")
        return self

    def validate(self):
        super().validate()
        if not self.store.use_nonce(str(self._get_jwt_body().get("nonce"))):
            raise LtiException("Nonce already used: a replayed launch")
        return self


# ------------------------------------------------------------------------------------ the routes
class LtiTool:
    """The tool's web side: registrations read per request (so `rag lti register` takes effect
    without a restart), one launch store, one cache of pylti1p3's login state."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        self.settings = assistant.settings
        self.config_path = Path(self.settings.lti_config)
        self.cache = MemoryCache()
        self.keys_cache = MemoryCache()
        self._store: LaunchStore | None = None

    @property
    def store(self) -> LaunchStore:
        if self._store is None:
            self._store = LaunchStore(self.config_path.parent / STATE_DB)
        return self._store

    def tool_config(self) -> ToolConfJsonFile:
        try:
            if not read_registrations(self.config_path):
                raise LtiSetupError("no platform is registered")
            return ToolConfJsonFile(str(self.config_path))
        except (LtiSetupError, LtiException, OSError) as error:
            raise Refused("lti_not_configured", f"tool not configured: {error}", status=503) from None

    async def params(self, request: Request) -> Params:
        values = dict(request.query_params)
        if request.method == "POST":
            try:
                form = await request.form()
            except Exception:  # an unreadable body is a bad launch, not a server error
                raise Refused("lti_missing_claims", "unreadable form body") from None
            values.update({k: v for k, v in form.items() if isinstance(v, str)})
        # behind a TLS proxy that does not forward the scheme, the configured public address tells
        secure = request.url.scheme == "https" or self.settings.public_url.startswith("https://")
        return Params(values, dict(request.cookies), secure)

    # ---- login
    async def login(self, request: Request) -> Response:
        language = request_language(request)
        params = await self.params(request)
        launch_url = f"{base_url_of(request, self.settings)}/lti/launch"
        if not params.get_param("iss") or not params.get_param("login_hint"):
            raise Refused("lti_bad_login", "login without iss or login_hint")
        target = params.get_param("target_link_uri")
        if target and not target.startswith(launch_url.split("/lti/")[0]):
            raise Refused("lti_bad_login", f"target_link_uri {target!r} is not this tool")
        login = Login(params, self.tool_config(), LaunchData(self.cache), language)
        try:
            return login.enable_check_cookies().redirect(launch_url)
        except (OIDCException, LtiException, ToolConfException) as error:
            reason = reason_of(error)
            raise Refused("lti_bad_login" if reason == "lti_invalid" else reason, f"login refused: {error}") from None

    # ---- launch
    async def launch(self, request: Request) -> Response:
        params = await self.params(request)
        config = self.tool_config()
        try:  # behind TLS the launch data is keyed by a session cookie: a browser that blocked it fails here
            launcher = Launcher(params, config, LaunchData(self.cache), self.store, LaunchData(self.keys_cache))
            launcher.validate()
        except Exception as error:  # noqa: BLE001 - whatever pylti1p3, PyJWT or requests raise, the launch is refused
            raise Refused(reason_of(error), f"launch refused: {type(error).__name__}: {error}") from None
        claims = launcher.get_launch_data()
        launch = self.launch_of(claims, launcher)
        token = self.store.open(launch)
        log.info("LTI %s launch: iss=%s deployment=%s context=%s", launch.kind, claims.get("iss"),
                 claims.get(CLAIM + "deployment_id"), (claims.get(CLAIM + "context") or {}).get("id"))
        base = base_url_of(request, self.settings)
        if launch.kind == "deep_link":
            return HTMLResponse(picker_page(self.assistant, launch, token))
        turns = self.store.turns(launch.conversation)
        return HTMLResponse(chat_page(self.assistant, launch.language, base, token=token, start=launch.start,
                                      turns=turns, title=launch.title))

    def launch_of(self, claims: dict, launcher: Launcher) -> Launch:
        presentation = claims.get(CLAIM + "launch_presentation") or {}
        locale = str(presentation.get("locale") or claims.get("locale") or "")
        language = "ar" if locale.lower().startswith("ar") else "en"
        custom = claims.get(CLAIM + "custom") or {}
        start = {k: str(custom[k])[:self.settings.max_question_chars] for k in ("question", "passage")
                 if isinstance(custom, dict) and custom.get(k)}
        context = claims.get(CLAIM + "context") or {}
        link = claims.get(CLAIM + "resource_link") or {}
        title = str(link.get("title") or context.get("title") or "")
        if launcher.is_deep_link_launch():
            aud = claims.get("aud")
            deep_link = {"iss": claims["iss"], "client_id": aud[0] if isinstance(aud, list) else aud,
                         "deployment_id": claims.get(CLAIM + "deployment_id"),
                         "settings": claims.get(DEEP_LINKING_SETTINGS) or {}}
            return Launch(conversation_key(claims), "deep_link", language, start, title, deep_link)
        return Launch(conversation_key(claims), "resource", language, start, title)

    # ---- deep linking
    async def deep_link(self, request: Request) -> Response:
        try:
            form = await request.form()
        except Exception:  # an unreadable body is a bad request, not a server error
            raise Refused("lti_nothing_chosen", "unreadable deep-linking form") from None
        launch = self.store.launch(form.get("token"))
        if launch is None:
            raise Refused("lti_session_expired", "deep-link response without a live launch", status=401)
        if launch.kind != "deep_link" or not launch.deep_link.get("settings", {}).get("deep_link_return_url"):
            raise Refused("lti_not_deep_link", "deep-link response from a resource launch", status=403)
        launch_url = f"{base_url_of(request, self.settings)}/lti/launch"
        resources = self.chosen_items(form, launch, launch_url)
        if not resources:
            return HTMLResponse(picker_page(self.assistant, launch, str(form.get("token")),
                                            error=message("lti_nothing_chosen", launch.language)), status_code=400)
        registration = self.tool_config().find_registration_by_params(launch.deep_link["iss"], launch.deep_link["client_id"])
        deep_link = DeepLink(registration, launch.deep_link["deployment_id"], launch.deep_link["settings"])
        signed = deep_link.get_response_jwt(resources)
        return_url = launch.deep_link["settings"]["deep_link_return_url"]
        log.info("LTI deep-linking response: %d item(s) to %s", len(resources), return_url)
        return HTMLResponse(
            f'<!doctype html><html><body><form id="return" action="{html.escape(return_url)}" method="POST">'
            f'<input type="hidden" name="JWT" value="{html.escape(signed)}"></form>'
            f'<script>document.getElementById("return").submit();</script></body></html>')

    def chosen_items(self, form, launch: Launch, launch_url: str) -> list[DeepLinkResource]:
        """The picker's choice as LTI resource links: "ask the assistant" (with its starting
        question, if any) and each chosen passage (opened in the reader when launched)."""
        items = []
        language = launch.language
        if form.get("ask"):
            question = str(form.get("question") or "").strip()[:self.settings.max_question_chars]
            title = message("lti_ask_title", language)
            items.append(DeepLinkResource().set_url(launch_url).set_title(f"{title}: {question}" if question else title)
                         .set_custom_params({"question": question} if question else {}))
        for value in form.getlist("passage"):
            found = passage_of(self.assistant, value)
            if found is None:
                continue
            source, number = found
            title = f"{source.title.get(language) or source.stem} · {message('page_paragraph', language)} {number}"
            items.append(DeepLinkResource().set_url(launch_url).set_title(title)
                         .set_custom_params({"passage": f"{source.stem}:{number}"}))
        accepted = launch.deep_link["settings"].get("accept_types") or ["ltiResourceLink"]
        if "ltiResourceLink" not in accepted:
            return []
        return items if launch.deep_link["settings"].get("accept_multiple", True) not in (False, "false") else items[:1]

    # ---- the launched tab's questions
    async def ask(self, request: Request) -> JSONResponse:
        launch = self.store.launch(request.headers.get("authorization", "").removeprefix("Bearer ").strip())
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        question = body.get("question") if isinstance(body, dict) else None
        language = detect_language(question) if isinstance(question, str) else (launch.language if launch else "en")
        if launch is None:
            return JSONResponse({"error": message("lti_session_expired", language), "language": language}, 401)
        if launch.kind != "resource":
            return JSONResponse({"error": message("lti_not_deep_link", language), "language": language}, 403)
        if not isinstance(body, dict):
            return JSONResponse({"error": message("bad_json", language), "language": language}, 400)
        history = [turn for q, a in self.store.turns(launch.conversation)
                   for turn in ({"role": "user", "content": q}, {"role": "assistant", "content": a.get("text", "")})]
        try:  # the assistant keeps the most recent turns of the history, and reads "auto" as the question's language
            answer = self.assistant.ask(question, history=history, language=body.get("language"))
        except QuestionError as error:
            return JSONResponse({"error": str(error), "language": error.language}, 400)
        result = annotate(answer.to_dict(), self.assistant.sources, base_url_of(request, self.settings))
        self.store.add_turn(launch.conversation, question, result)
        return JSONResponse(result)

    def configuration(self, request: Request) -> dict:
        return tool_configuration(base_url_of(request, self.settings), TITLE, DESCRIPTION)


def create_lti_router(assistant: Assistant) -> APIRouter:
    tool = LtiTool(assistant)
    router = APIRouter(prefix="/lti")

    def refused(request: Request, error: Refused) -> HTMLResponse:
        language = request_language(request)
        log.warning("LTI refused (%s, HTTP %d): %s", error.reason, error.status, error.detail)
        return HTMLResponse(page(message(error.reason, language), language, title=TITLE, error=True),
                            status_code=error.status)

    async def guarded(request: Request, handler) -> Response:
        try:
            return await handler(request)
        except Refused as error:
            return refused(request, error)

    @router.api_route("/login", methods=["GET", "POST"], include_in_schema=False)
    async def lti_login(request: Request) -> Response:
        return await guarded(request, tool.login)

    @router.post("/launch", include_in_schema=False)
    async def lti_launch(request: Request) -> Response:
        return await guarded(request, tool.launch)

    @router.get("/launch", include_in_schema=False)
    async def lti_launch_get(request: Request) -> Response:
        return refused(request, Refused("lti_invalid", "GET on the launch URL (a launch is a form POST)", status=405))

    @router.post("/deep-link", include_in_schema=False)
    async def lti_deep_link(request: Request) -> Response:
        return await guarded(request, tool.deep_link)

    @router.post("/api/ask", summary="Ask from a launched LTI tab (Authorization: Bearer <token>)")
    async def lti_ask(request: Request) -> JSONResponse:
        return await tool.ask(request)

    @router.get("/jwks", summary="The tool's public keys (JWKS)")
    def lti_jwks() -> dict:
        return public_jwks(tool.config_path)

    @router.get("/config", summary="The tool's registration data for a platform administrator")
    def lti_config(request: Request) -> dict:
        return tool.configuration(request)

    @router.get("/icon.svg", include_in_schema=False)
    def lti_icon() -> Response:
        return Response(ICON, media_type="image/svg+xml")

    return router
