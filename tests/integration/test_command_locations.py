"""Location commands over HTTP: initial status per kind, unique codes, status state machines, If-Match."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from farmacy.settings import Settings
from tests.support.api import new_location, unique_code
from tests.support.commands import assert_problem, created, fetch_one, if_match, scalar

pytestmark = pytest.mark.integration


def _body(kind: str, **overrides: Any) -> dict[str, Any]:
    return {
        "code": unique_code("LOC"),
        "name": "Test location",
        "kind": kind,
        "city": "Testville",
        "latitude": 40.0,
        "longitude": -89.0,
        **overrides,
    }


def _row(settings: Settings, location_id: str) -> tuple[Any, ...] | None:
    return fetch_one(settings, "SELECT name, status, version FROM inventory.locations WHERE id = %s", [location_id])


def _rows_with_code(settings: Settings, code: str) -> int:
    return int(scalar(settings, "SELECT count(*) FROM inventory.locations WHERE code = %s", [code]))


@pytest.mark.parametrize(
    ("kind", "default"), [("smart_fridge", "installed_off"), ("kiosk", "open"), ("restaurant", "open")]
)
def test_create_location_without_status_gets_the_kinds_default_status(
    stack: Settings, admin: httpx.Client, kind: str, default: str
) -> None:
    r = admin.post("/locations", json=_body(kind))
    loc = created(r)
    assert loc["status"] == default and loc["version"] == 1
    assert r.headers["ETag"] == '"1"' and r.headers["Location"] == f"/locations/{loc['id']}"
    assert _row(stack, loc["id"]) == ("Test location", default, 1)


@pytest.mark.parametrize(("kind", "status"), [("kiosk", "online"), ("smart_fridge", "open"), ("restaurant", "bogus")])
def test_create_location_with_a_status_foreign_to_its_kind_is_422_on_status_and_writes_nothing(
    stack: Settings, admin: httpx.Client, kind: str, status: str
) -> None:
    body = _body(kind, status=status)
    r = admin.post("/locations", json=body)
    assert_problem(r, 422, "status", rule=f"must be a {kind} status", type_="invalid-input")
    assert _rows_with_code(stack, body["code"]) == 0


def test_create_location_with_a_duplicate_code_is_409_on_code_and_writes_nothing(
    stack: Settings, admin: httpx.Client
) -> None:
    first = created(admin.post("/locations", json=_body("kiosk")))
    r = admin.post("/locations", json=_body("smart_fridge", code=first["code"], name="Other"))
    assert_problem(r, 409, "code", rule="must be unique", type_="conflict")
    assert _rows_with_code(stack, first["code"]) == 1
    assert _row(stack, first["id"]) == ("Test location", "open", 1)


def test_fridge_status_installed_off_to_online_is_200(stack: Settings, admin: httpx.Client) -> None:
    loc = created(admin.post("/locations", json=_body("smart_fridge")))
    r = admin.post(f"/locations/{loc['id']}/status", json={"status": "online"}, headers=if_match(1))
    body = created(r, 200)
    assert body["status"] == "online" and body["version"] == 2 and r.headers["ETag"] == '"2"'
    assert _row(stack, loc["id"]) == ("Test location", "online", 2)


def test_fridge_status_decommissioned_to_online_is_409_invalid_transition(stack: Settings, admin: httpx.Client) -> None:
    loc = new_location(admin)
    created(admin.post(f"/locations/{loc['id']}/status", json={"status": "decommissioned"}), 200)
    r = admin.post(f"/locations/{loc['id']}/status", json={"status": "online"})
    assert_problem(r, 409, "status", rule="valid smart_fridge status transition", type_="invalid-transition")
    assert _row(stack, loc["id"]) == (loc["name"], "decommissioned", 2)


def test_kiosk_status_online_is_422_on_status(stack: Settings, admin: httpx.Client) -> None:
    loc = created(admin.post("/locations", json=_body("kiosk")))
    r = admin.post(f"/locations/{loc['id']}/status", json={"status": "online"})
    assert_problem(r, 422, "status", rule="must be a kiosk status", type_="invalid-input")
    assert _row(stack, loc["id"]) == ("Test location", "open", 1)


def test_location_status_change_with_stale_if_match_is_412(stack: Settings, admin: httpx.Client) -> None:
    loc = created(admin.post("/locations", json=_body("smart_fridge")))
    r = admin.post(f"/locations/{loc['id']}/status", json={"status": "online"}, headers=if_match(7))
    assert_problem(r, 412, "If-Match", type_="version-mismatch")
    assert _row(stack, loc["id"]) == ("Test location", "installed_off", 1)


def test_patch_location_with_current_if_match_is_200_and_bumps_version(stack: Settings, admin: httpx.Client) -> None:
    loc = created(admin.post("/locations", json=_body("kiosk")))
    r = admin.patch(f"/locations/{loc['id']}", json={"name": "Renamed kiosk"}, headers=if_match(1))
    body = created(r, 200)
    assert body["name"] == "Renamed kiosk" and body["version"] == 2 and r.headers["ETag"] == '"2"'
    assert _row(stack, loc["id"]) == ("Renamed kiosk", "open", 2)


def test_patch_location_without_if_match_is_428_and_changes_nothing(stack: Settings, admin: httpx.Client) -> None:
    loc = created(admin.post("/locations", json=_body("kiosk")))
    r = admin.patch(f"/locations/{loc['id']}", json={"name": "Renamed kiosk"})
    assert_problem(r, 428, "If-Match", type_="precondition-required")
    assert _row(stack, loc["id"]) == ("Test location", "open", 1)


def test_patch_location_with_stale_if_match_is_412_and_changes_nothing(stack: Settings, admin: httpx.Client) -> None:
    loc = created(admin.post("/locations", json=_body("kiosk")))
    created(admin.patch(f"/locations/{loc['id']}", json={"name": "First"}, headers=if_match(1)), 200)
    r = admin.patch(f"/locations/{loc['id']}", json={"name": "Second"}, headers=if_match(1))
    assert_problem(r, 412, "If-Match", rule="must match the current version", type_="version-mismatch")
    assert _row(stack, loc["id"]) == ("First", "open", 2)
