"""A learning platform for the LTI tests, built on `lti1p3platform` (a platform implementation from PyPI).

It has its own RSA key pair and serves its JWKS on loopback; it starts a launch the way Moodle or
Canvas does (OIDC login initiation at the tool), answers the tool's authorisation request with an
RS256-signed id_token posted by an auto-submitting form, and receives deep-linking responses
(verified against the tool's JWKS). `forge()` signs id_tokens with chosen flaws for the negative tests.

    platform = Platform(tool_url).start()
    page.goto(platform.launch_url(user="student-1", course="course-A", locale="ar"))
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import uuid
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration

from ui.app import free_port

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
CLIENT_ID = "khwarazm-tool"
DEPLOYMENT_ID = "deployment-1"
STUDENT = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
TEACHER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def new_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


class PlatformConf(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs) -> Registration:
        return self._registration


class Login(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=302)


class Launch(LTIAdvantageMessageLaunchAbstract):
    def __init__(self, request, platform_config, preflight: dict):
        super().__init__(request, platform_config)
        self._preflight = preflight

    def get_preflight_response(self) -> dict:
        return self._preflight

    def render_launch_form(self, launch_data: dict, **kwargs) -> HTMLResponse:
        """The auto-submitting form a platform returns: id_token and state posted to the tool."""
        e = html.escape
        return HTMLResponse(
            f'<!doctype html><html><body><form id="launch" method="POST" action="{e(launch_data["launch_url"])}">'
            f'<input type="hidden" name="id_token" value="{e(launch_data["id_token"])}">'
            f'<input type="hidden" name="state" value="{e(launch_data["state"])}"></form>'
            f'<script>document.getElementById("launch").submit();</script></body></html>')


class Platform:
    """The platform's web side, on its own loopback port."""

    def __init__(self, tool_url: str):
        self.tool_url = tool_url.rstrip("/")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = self.url
        self.private_key, self.public_key = new_key()
        self.hints: dict[str, dict] = {}  # lti_message_hint -> the launch it stands for
        self.returned: list[dict] = []  # content items received from deep-linking responses
        self.app = self._app()
        self._server: uvicorn.Server | None = None

    # ---- what a test asks the platform to do
    def launch_url(self, user: str = "student-1", course: str = "course-A", link: str = "link-1", locale: str = "en",
                   roles: tuple[str, ...] = (STUDENT,), custom: dict | None = None, deep_link: bool = False) -> str:
        """The address of a course activity's launch (what a student clicks in the LMS)."""
        hint = secrets.token_urlsafe(8)
        self.hints[hint] = {"user": user, "course": course, "link": link, "locale": locale, "roles": list(roles),
                            "custom": custom or {}, "deep_link": deep_link}
        return f"{self.url}/start?hint={hint}"

    def course_url(self, **launch) -> str:
        """A course page with the activity in an iframe, as an LMS shows it."""
        return self.launch_url(**launch).replace("/start?", "/course?")

    def registration(self) -> Registration:
        return (Registration().set_iss(self.issuer).set_client_id(CLIENT_ID).set_deployment_id(DEPLOYMENT_ID)
                .set_launch_url(f"{self.tool_url}/lti/launch").set_deeplink_launch_url(f"{self.tool_url}/lti/launch")
                .set_oidc_login_url(f"{self.tool_url}/lti/login").set_tool_key_set_url(f"{self.tool_url}/lti/jwks")
                .set_platform_public_key(self.public_key).set_platform_private_key(self.private_key))

    def conf(self) -> PlatformConf:
        return PlatformConf(registration=self.registration())

    def kid(self) -> str:
        return Registration.get_jwk(self.public_key)["kid"]

    def claims(self, nonce: str, user: str = "student-1", course: str = "course-A", link: str = "link-1",
               locale: str = "en", message_type: str = "LtiResourceLinkRequest") -> dict:
        """A complete, valid id_token body (for `forge` to spoil one part of)."""
        now = int(time.time())
        return {"iss": self.issuer, "aud": CLIENT_ID, "azp": CLIENT_ID, "sub": user, "nonce": nonce,
                "iat": now, "exp": now + 300, CLAIM + "message_type": message_type, CLAIM + "version": "1.3.0",
                CLAIM + "deployment_id": DEPLOYMENT_ID, CLAIM + "roles": [STUDENT],
                CLAIM + "target_link_uri": f"{self.tool_url}/lti/launch",
                CLAIM + "resource_link": {"id": link}, CLAIM + "context": {"id": course},
                CLAIM + "launch_presentation": {"locale": locale}}

    def forge(self, claims: dict, key: str | None = None, kid: str | None = None) -> str:
        return jwt.encode(claims, key or self.private_key, algorithm="RS256", headers={"kid": kid or self.kid()})

    # ---- the server
    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/jwks")
        def jwks() -> dict:
            conf = self.conf()
            conf.get_registration()
            return conf.get_jwks()

        @app.get("/course")
        def course(hint: str) -> HTMLResponse:
            return HTMLResponse(f'<!doctype html><html><body><h1>Course page</h1><iframe id="tool" '
                                f'src="/start?hint={html.escape(hint)}" style="width:100%;height:800px;border:0" '
                                f'allow="clipboard-write"></iframe></body></html>')

        @app.get("/start")
        def start(hint: str):
            """OIDC login initiation: the platform sends the browser to the tool's login URL."""
            launch = self.hints.get(hint)
            if launch is None:
                return JSONResponse({"error": "unknown launch"}, 404)
            login = Login(None, self.conf())
            login.set_lti_message_hint(hint=hint)
            if launch["deep_link"]:
                login.set_deeplinking_launch_url()
            return login.initiate_login(launch["user"])

        @app.get("/authorize")
        def authorize(request: Request):
            """The tool's authorisation request: check it, then post the signed launch to the tool."""
            preflight = dict(request.query_params)
            launch = self.hints.get(preflight.get("lti_message_hint", ""))
            if launch is None or preflight.get("login_hint") != launch["user"]:
                return JSONResponse({"error": "login_hint does not match the launch"}, 400)
            if preflight.get("redirect_uri") != f"{self.tool_url}/lti/launch":
                return JSONResponse({"error": "redirect_uri is not registered"}, 400)
            message = Launch(None, self.conf(), preflight)
            message.set_user_data(launch["user"], launch["roles"], full_name=f"User {launch['user']}")
            message.set_resource_link_claim(launch["link"], title=f"Activity {launch['link']}")
            message.set_launch_context_claim(launch["course"], context_title=f"Course {launch['course']}")
            message.set_launch_presentation_claim("iframe")
            message.lti_claim_launch_presentation[CLAIM + "launch_presentation"]["locale"] = launch["locale"]
            if launch["custom"]:
                message.set_custom_parameters_claim(launch["custom"])
            if launch["deep_link"]:
                message.set_dl(f"{self.url}/deep-link-return", title="Add content",
                               accept_types={"ltiResourceLink"}, extra_data={"opaque": "platform-data"})
            return message.lti_launch()

        @app.post("/deep-link-return")
        async def deep_link_return(request: Request):
            """The tool's signed deep-linking response: verified, its items kept and listed."""
            form = await request.form()
            conf = self.conf()
            conf.get_registration()
            try:
                items = conf.validate_deeplinking_resp({"JWT": form.get("JWT", "")})
            except Exception as error:  # shown to the test, which fails on it
                return HTMLResponse(f"<p id='dl-error'>{html.escape(str(error))}</p>", status_code=400)
            self.returned.extend(items)
            rows = "".join(f'<li class="dl-item">{html.escape(i.get("title") or "")} '
                           f'<code>{html.escape(json.dumps(i.get("custom") or {}, ensure_ascii=False))}</code></li>'
                           for i in items)
            return HTMLResponse(f"<h1>Added to the course</h1><ul id='dl-items'>{rows}</ul>")

        return app

    def start(self) -> "Platform":
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        threading.Thread(target=self._server.run, daemon=True).start()
        deadline = time.monotonic() + 20
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True


def login_query(platform: Platform, user: str = "student-1", **extra) -> str:
    """The query of an OIDC login initiation, as `Platform` sends it (for tests that drive the tool directly)."""
    return urlencode({"iss": platform.issuer, "login_hint": user, "target_link_uri": f"{platform.tool_url}/lti/launch",
                      "lti_message_hint": uuid.uuid4().hex, "client_id": CLIENT_ID,
                      "lti_deployment_id": DEPLOYMENT_ID, "lti1p3_new_window": "1", **extra})


def form_fields(page_html: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of an auto-submitting form (what a browser would post)."""
    import re

    action = html.unescape(re.search(r'action="([^"]*)"', page_html).group(1))
    fields = {html.unescape(m.group(1)): html.unescape(m.group(2))
              for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page_html)}
    return action, fields


def launch_with(client, platform: Platform, **launch):
    """A whole launch without a browser: the platform's login initiation, the tool's login (its
    cookie check passed as a browser would), the platform's signed form, posted to the tool."""
    response = client.get(platform.launch_url(**launch))
    login = response.headers["location"] + "&lti1p3_new_window=1"
    response = client.get(login)
    assert response.status_code == 302, response.text
    response = client.get(response.headers["location"])
    action, fields = form_fields(response.text)
    return client.post(action, data=fields)
