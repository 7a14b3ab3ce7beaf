"""The local stack's identity provider, Ory Hydra: its configuration, its clients, its tokens and its keys.

Hydra issues JWT access tokens (``strategies.access_token: jwt``) signed with the keys of its
``hydra.jwt.access-token`` set and publishes their public halves at ``/.well-known/jwks.json``: what the APIs verify
against. One OAuth 2 client per role (``farmacy-customer``, ``farmacy-admin``, ``farmacy-operator``), the role in the
client's metadata. Hydra has no login page of its own: ``issue_token`` runs the authorization-code flow and accepts
the login (the subject) and the consent (the role of the client, the customer id) through Hydra's admin API, which
only the local tooling reaches, putting both in the token's claims.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import httpx
import yaml
from psycopg.conninfo import make_conninfo

from farmacy.auth import Role
from farmacy.settings import Settings, http_url

ACCESS_TOKEN_KEYS = "hydra.jwt.access-token"  # noqa: S105 - the name of Hydra's key set
# Where the authorization-code flow sends the code back: never served, the code is read from the redirect itself.
REDIRECT_URI = "http://127.0.0.1/farmacy/callback"
DATABASE = "hydra"
ACCESS_TOKEN_TTL = "1h"  # noqa: S105 - a lifetime


def client_id(role: Role) -> str:
    return f"farmacy-{role.value}"


def public_url(settings: Settings) -> str:
    return http_url(settings.identity_host, settings.identity_port)


def admin_url(settings: Settings) -> str:
    return http_url(settings.identity_host, settings.identity_admin_port)


def database_url(settings: Settings) -> str:
    """Hydra's DSN: its own database in the stack's PostgreSQL (a URL: Hydra reads no libpq key/value strings)."""
    url = httpx.URL(
        scheme="postgres",
        host=settings.pg_host,
        port=settings.pg_port,
        path=f"/{DATABASE}",
        params={"sslmode": "disable", "max_conns": "10"},
    ).copy_with(username=settings.pg_user, password=settings.pg_password.get_secret_value())
    return str(url)


def database_dsn(settings: Settings) -> str:
    return make_conninfo(settings.pg_dsn, dbname=DATABASE)


def hydra_config(settings: Settings, system_secret: str) -> dict[str, Any]:
    """hydra.yml. The issuer is the public URL the APIs expect (settings.oidc_issuer)."""
    public = public_url(settings)
    return {
        "dsn": database_url(settings),
        "serve": {
            "public": {"host": settings.identity_host, "port": settings.identity_port},
            "admin": {"host": settings.identity_host, "port": settings.identity_admin_port},
        },
        "urls": {
            "self": {"issuer": settings.oidc_issuer, "public": public},
            # Never served: the CLI accepts logins and consents through the admin API (module docstring).
            "login": f"{public}/farmacy/login",
            "consent": f"{public}/farmacy/consent",
        },
        "secrets": {"system": [system_secret]},
        "strategies": {"access_token": "jwt"},
        "oauth2": {
            # The consent's session claims, at the token's top level (where settings.oidc_*_claim look for them).
            "allowed_top_level_claims": ["role", "customer_id"],
            "mirror_top_level_claims": False,
            # The clients are public (no secret to hash); a low cost keeps any secret hashing cheap on a small host.
            "hashers": {"algorithm": "bcrypt", "bcrypt": {"cost": 4}},
        },
        "ttl": {"access_token": ACCESS_TOKEN_TTL},
        "log": {"level": "warn", "format": "json"},
    }


def system_secret(conf_dir: Path) -> str:
    """Hydra's system secret (encrypts what it stores): made once per stack, kept beside its config."""
    path = conf_dir / "system-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def render(settings: Settings, conf_dir: Path) -> Path:
    conf_dir.mkdir(parents=True, exist_ok=True)
    config = conf_dir / "hydra.yml"
    config.write_text(yaml.safe_dump(hydra_config(settings, system_secret(conf_dir)), sort_keys=False))
    config.chmod(0o600)
    return config


def ensure_clients(settings: Settings) -> None:
    """One public client per role (authorization code; the API's audience), created or brought up to date."""
    with httpx.Client(base_url=admin_url(settings), timeout=10) as admin:
        for role in Role:
            body = {
                "client_id": client_id(role),
                "client_name": f"Farmacy Food {role.value}s",
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "redirect_uris": [REDIRECT_URI],
                "scope": "openid",
                "audience": [settings.oidc_audience],
                "token_endpoint_auth_method": "none",
                "metadata": {"role": role.value},
            }
            r = admin.put(f"/admin/clients/{client_id(role)}", json=body)
            if r.status_code == 404:
                r = admin.post("/admin/clients", json=body)
            r.raise_for_status()


class IdentityError(Exception):
    pass


@dataclass(frozen=True)
class Login:
    """Who the token is for: the login's subject, and for a customer the id that goes into the token."""

    role: Role
    subject: str
    customer_id: UUID | None = None
    audience: str | None = None  # default: settings.oidc_audience


def issue_token(settings: Settings, login: Login) -> str:
    """An access token of the local provider, through the authorization-code flow (module docstring)."""
    if login.role is Role.CUSTOMER and login.customer_id is None:
        raise IdentityError("a customer's token needs a customer id")
    audience = login.audience or settings.oidc_audience
    with (
        httpx.Client(base_url=public_url(settings), timeout=10) as public,
        httpx.Client(base_url=admin_url(settings), timeout=10) as admin,
    ):
        start = public.get(
            "/oauth2/auth",
            params={
                "client_id": client_id(login.role),
                "response_type": "code",
                "scope": "openid",
                "redirect_uri": REDIRECT_URI,
                "state": secrets.token_urlsafe(16),
                "audience": audience,
            },
        )
        challenge = _redirect_param(start, "login_challenge")
        accepted = admin.put(
            "/admin/oauth2/auth/requests/login/accept",
            params={"login_challenge": challenge},
            json={"subject": login.subject, "remember": False},
        )
        consent = _redirect_param(_follow(public, accepted), "consent_challenge")
        request = _ok(admin.get("/admin/oauth2/auth/requests/consent", params={"consent_challenge": consent}))
        claims: dict[str, str] = {"role": str(request["client"]["metadata"]["role"])}
        if login.customer_id is not None:
            claims["customer_id"] = str(login.customer_id)
        granted = admin.put(
            "/admin/oauth2/auth/requests/consent/accept",
            params={"consent_challenge": consent},
            json={
                "grant_scope": request["requested_scope"],
                "grant_access_token_audience": request["requested_access_token_audience"],
                "remember": False,
                "session": {"access_token": claims},
            },
        )
        code = _redirect_param(_follow(public, granted), "code")
        token = public.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "client_id": client_id(login.role),
            },
        )
        return str(_ok(token)["access_token"])


def _ok(r: httpx.Response) -> dict[str, Any]:
    if r.is_error:
        raise IdentityError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}")
    body: dict[str, Any] = r.json()
    return body


def _follow(public: httpx.Client, accepted: httpx.Response) -> httpx.Response:
    """Follows the admin API's redirect_to on the public port (with the flow's CSRF cookies)."""
    return public.get(str(_ok(accepted)["redirect_to"]))


def _redirect_param(r: httpx.Response, name: str) -> str:
    location = r.headers.get("location")
    if r.status_code not in (302, 303) or location is None:
        raise IdentityError(f"expected a redirect carrying {name}, got {r.status_code}: {r.text[:300]}")
    values = parse_qs(urlsplit(location).query).get(name)
    if not values:
        raise IdentityError(f"redirect to {location} carries no {name}")
    return str(values[0])


def signing_keys(settings: Settings) -> list[str]:
    """The ids of the access-token keys, newest (the one new tokens are signed with) first."""
    with httpx.Client(base_url=admin_url(settings), timeout=10) as admin:
        return [str(k["kid"]) for k in _ok(admin.get(f"/admin/keys/{ACCESS_TOKEN_KEYS}"))["keys"]]


def add_signing_key(settings: Settings, alg: str = "RS256") -> str:
    """Adds a key to the access-token key set and returns its id: Hydra signs new tokens with the newest key, and
    publishes it beside the others at once."""
    kid = f"farmacy-{secrets.token_hex(6)}"
    with httpx.Client(base_url=admin_url(settings), timeout=30) as admin:
        _ok(admin.post(f"/admin/keys/{ACCESS_TOKEN_KEYS}", json={"alg": alg, "kid": kid, "use": "sig"}))
    return kid


def remove_signing_key(settings: Settings, kid: str) -> None:
    """Deletes a key: it is no longer published, so the APIs refuse the tokens signed with it once they have fetched
    the key set again (settings.oidc_jwks_max_age_s at most)."""
    with httpx.Client(base_url=admin_url(settings), timeout=10) as admin:
        r = admin.delete(f"/admin/keys/{ACCESS_TOKEN_KEYS}/{kid}")
        if r.is_error and r.status_code != 404:
            raise IdentityError(f"deleting key {kid}: {r.status_code} {r.text[:300]}")


def signing_key(settings: Settings, kid: str) -> dict[str, Any]:
    """A key of the access-token set with its private half, as the admin API gives it (tests sign tokens with it)."""
    with httpx.Client(base_url=admin_url(settings), timeout=10) as admin:
        (key,) = _ok(admin.get(f"/admin/keys/{ACCESS_TOKEN_KEYS}/{kid}"))["keys"]
        return dict(key)
