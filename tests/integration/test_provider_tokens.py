"""Tokens of the stack's identity provider (Ory Hydra) on the APIs: accepted as issued; after a key rotation at the
provider, new tokens are accepted without restarting anything and tokens of a removed key are refused; tokens the
provider did not issue for us (forged, expired, another audience or issuer) are 401 problem+json on every API."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from farmacy.auth import Role
from farmacy.settings import Settings
from stack.identity import Login, add_signing_key, issue_token, remove_signing_key, signing_keys
from tests.support.tokens import BAD_TOKENS, bad_token

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


def _get(settings: Settings, api: str, token: str) -> httpx.Response:
    """A read needing an admin or operator on each API. A fresh connection each time: with several API processes,
    each request may reach another one (each has its own copy of the provider's keys)."""
    port, path = {
        "query": (settings.query_port, "/inventory/locations?size=1"),
        "ops": (settings.ops_port, "/ops/views"),
        "command": (settings.command_port, "/catalog/meals/00000000-0000-0000-0000-000000000000/publish"),
    }[api]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        headers = {"Authorization": f"Bearer {token}"}
        return http.post(path, headers=headers) if api == "command" else http.get(path, headers=headers)


def _accepted(r: httpx.Response) -> bool:
    # The command reaches its handler (404: no such meal) only past authentication and the role check.
    return r.status_code in (200, 404) and r.status_code != 401


def _assert_401_problem(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["status"] == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("api", ["query", "command", "ops"])
def test_a_token_issued_by_the_provider_is_accepted(stack: Settings, api: str) -> None:
    role = Role.OPERATOR if api == "ops" else Role.ADMIN
    token = issue_token(stack, Login(role, f"provider-{api}"))
    r = _get(stack, api, token)
    assert _accepted(r), r.text


@pytest.mark.parametrize("api", ["query", "command", "ops"])
@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_tokens_the_provider_did_not_issue_for_us_are_401_problem_json(stack: Settings, api: str, kind: str) -> None:
    _assert_401_problem(_get(stack, api, bad_token(stack, kind)))


def _until(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return check()


def test_after_a_key_rotation_new_tokens_are_accepted_and_a_removed_keys_tokens_refused(stack: Settings) -> None:
    """Rotation at the provider: a key is added (Hydra signs with its newest key), a token signed with it is
    accepted by the running APIs; then another key is added and the first one removed: the new key's tokens are
    accepted, the removed key's refused (each API process sees the removal once it fetches the key set again: at
    once when it meets the newer key, at the latest after oidc_jwks_max_age_s). A newer key is fetched at most
    oidc_jwks_min_refresh_s after the previous fetch."""
    first = add_signing_key(stack)
    subject = f"rotation-{uuid.uuid4().hex[:8]}"
    old = issue_token(stack, Login(Role.ADMIN, subject))
    assert httpx_kid(old) == first
    # A process that fetched the key set in the last oidc_jwks_min_refresh_s (an earlier test's token, say) fetches
    # it again for the added key only once that interval has passed: until then, 401.
    assert _until(
        lambda: all(_accepted(_get(stack, "query", old)) for _ in range(10)), stack.oidc_jwks_min_refresh_s + 15
    )

    second = add_signing_key(stack)
    remove_signing_key(stack, first)
    assert first not in signing_keys(stack) and second == signing_keys(stack)[0]
    new = issue_token(stack, Login(Role.ADMIN, subject))
    assert httpx_kid(new) == second
    for api in ("query", "command"):
        # A process that fetched the key set in the last oidc_jwks_min_refresh_s (for the first key, just now)
        # fetches it again for the newer key only once that interval has passed: until then, 401.
        def accepted_by_every_process(api: str = api) -> bool:
            return all(_accepted(_get(stack, api, new)) for _ in range(10))

        assert _until(accepted_by_every_process, 30), api

        def refused_by_every_process(api: str = api) -> bool:
            """Ten fresh connections in a row refused (the API's processes share its socket: a connection reaches
            any of them)."""
            for _ in range(10):
                _get(stack, api, new)  # a process that has not met the new key fetches the key set then
                r = _get(stack, api, old)
                if r.status_code != 401:
                    return False
                _assert_401_problem(r)
            return True

        assert _until(refused_by_every_process, stack.oidc_jwks_max_age_s + 15), f"{api} accepts the removed key"


def httpx_kid(token: str) -> str:
    import jwt

    return str(jwt.get_unverified_header(token)["kid"])
