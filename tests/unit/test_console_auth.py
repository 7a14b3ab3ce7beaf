"""The console's login and session, without services: a token goes in a form body and becomes an HttpOnly,
SameSite=Strict cookie that is not itself a bearer token; actions need the cookie and htmx's header."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from api.ops.app import create_app
from farmacy.auth import Role, mint
from farmacy.settings import Settings

SETTINGS = Settings(_env_file=None, auth_hs256=True)  # HS256 tokens: no identity provider runs here


def _client() -> TestClient:
    return TestClient(create_app(SETTINGS), follow_redirects=False)  # no lifespan: nothing is connected


def _token(role: Role) -> str:
    return mint(SETTINGS.jwt_secret.get_secret_value(), "someone", role)


def test_console_without_a_session_goes_to_login() -> None:
    client = _client()
    r = client.get("/console")
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert client.get("/console/part/alerts", headers={"HX-Request": "true"}).headers["HX-Redirect"] == "/console/login"
    login = client.get("/console/login")
    assert login.status_code == 200 and 'name="token"' in login.text


def test_login_sets_a_strict_http_only_cookie_that_is_no_bearer_token() -> None:
    client = _client()
    r = client.post("/console/login", data={"token": _token(Role.OPERATOR)})
    assert r.status_code == 303 and r.headers["location"] == "/console"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    session = r.cookies["farmacy_console"]
    ops = client.get("/ops/views", headers={"Authorization": f"Bearer {session}"})
    assert ops.status_code == 401


def test_customers_and_bad_tokens_cannot_log_in() -> None:
    client = _client()
    customer = mint(SETTINGS.jwt_secret.get_secret_value(), "c", Role.CUSTOMER, customer_id=uuid.uuid4())
    for token in (customer, "not-a-token", mint("another-secret-of-enough-length-0123456789", "x", Role.OPERATOR)):
        r = client.post("/console/login", data={"token": token})
        assert r.status_code == 200 and "farmacy_console" not in r.headers.get("set-cookie", "")


def test_actions_need_the_htmx_header() -> None:
    client = _client()
    client.post("/console/login", data={"token": _token(Role.OPERATOR)})
    r = client.post("/console/connectors/farmacy-postgres-source/resume")
    assert r.status_code == 403


def test_the_alert_receiver_needs_its_secret() -> None:
    client = _client()
    assert client.post("/ops/alerts/webhook", json={"alerts": []}).status_code == 401
    wrong = client.post("/ops/alerts/webhook", json={"alerts": []}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_htmx_is_vendored() -> None:
    r = _client().get("/console/static/htmx.min.js")
    assert r.status_code == 200 and "htmx" in r.text[:200]


def test_every_template_compiles() -> None:
    from api.ops.console import HERE, templates

    names = sorted(p.name for p in (HERE / "templates").glob("*.html"))
    assert "index.html" in names
    for name in names:
        templates.env.get_template(name)
