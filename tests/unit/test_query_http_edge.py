"""The query API's HTTP edge, without Elasticsearch: auth and validation fail before any view is read.

The app's Elasticsearch client is swapped for a tripwire, so every test here also proves that the
request was refused without touching Elasticsearch.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.query.app import create_app
from farmacy.auth import Role, mint
from farmacy.settings import Settings

PROBLEM = "application/problem+json"
MEAL = str(uuid.uuid4())


class Tripwire:
    """Stands in for AsyncElasticsearch: any use is a test failure."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Elasticsearch was touched (.{name})")


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = create_app(Settings(auth_hs256=True))  # HS256 tokens: no identity provider runs for the unit tests
    app.state.es = Tripwire()
    app.state.watermarks = Tripwire()
    # Not entered as a context manager: the lifespan never starts.
    return TestClient(app, raise_server_exceptions=True)


def _auth(role: Role = Role.ADMIN, customer_id: uuid.UUID | None = None) -> dict[str, str]:
    if role is Role.CUSTOMER and customer_id is None:
        customer_id = uuid.uuid4()
    return {"Authorization": f"Bearer {mint(Settings().jwt_secret.get_secret_value(), 'unit', role, customer_id)}"}


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


def _fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body["errors"]}


# --- auth --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/orders", f"/orders/{MEAL}", "/subscriptions", f"/subscriptions/{MEAL}"])
def test_missing_token_is_401_problem_json(client: TestClient, path: str) -> None:
    r = client.get(path)
    _problem(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-jwt",
        "Bearer " + mint("some-other-secret-of-enough-length-xyz", "x", Role.ADMIN),
        "Bearer " + mint(Settings().jwt_secret.get_secret_value(), "x", Role.ADMIN, ttl_s=-60),
        # a customer token without the customer it belongs to
        "Bearer " + mint(Settings().jwt_secret.get_secret_value(), "x", Role.CUSTOMER),
    ],
    ids=["garbage", "wrong-secret", "expired", "customer-without-id"],
)
def test_invalid_token_is_401(client: TestClient, authorization: str) -> None:
    r = client.get("/orders", headers={"Authorization": authorization})
    _problem(r, 401)
    assert "invalid_token" in r.headers["www-authenticate"]


def test_catalog_needs_no_token_but_still_validates(client: TestClient) -> None:
    _problem(client.get("/catalog/meals", params={"size": 0}), 422)


# --- near --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/catalog/meals", f"/catalog/meals/{MEAL}", f"/inventory/meals/{MEAL}/availability", "/inventory/locations"],
)
def test_overlong_near_is_422_naming_near(client: TestClient, path: str) -> None:
    body = _problem(client.get(path, params={"near": "1" * 61}, headers=_auth()), 422)
    assert _fields(body) == {"near"}


@pytest.mark.parametrize("near", ["abc", "39.8", "39.8,-89.6,1", "91,0", "0,181", "nan,x"])
def test_malformed_near_is_422_naming_near_without_reading_the_view(client: TestClient, near: str) -> None:
    body = _problem(client.get("/catalog/meals", params={"near": near}), 422)
    assert _fields(body) == {"near"}


# --- size, paging, filters ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 101, -1, "x"])
@pytest.mark.parametrize("path", ["/catalog/meals", "/orders", "/subscriptions", "/inventory/locations"])
def test_size_out_of_range_is_422(client: TestClient, path: str, size: object) -> None:
    body = _problem(client.get(path, params={"size": size}, headers=_auth()), 422)
    assert _fields(body) == {"size"}


@pytest.mark.parametrize("size", [0, 21])
def test_suggest_size_out_of_range_is_422(client: TestClient, size: int) -> None:
    body = _problem(client.get("/catalog/suggest", params={"prefix": "gr", "size": size}), 422)
    assert _fields(body) == {"size"}


@pytest.mark.parametrize("prefix", [None, "", "x" * 51])
def test_suggest_needs_a_prefix(client: TestClient, prefix: str | None) -> None:
    params = {} if prefix is None else {"prefix": prefix}
    body = _problem(client.get("/catalog/suggest", params=params), 422)
    assert _fields(body) == {"prefix"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "cheapest"}, "sort"),
        ({"dietary_tags": "carnivore"}, "dietary_tags.0"),
        ({"exclude_allergens": "gluten-ish"}, "exclude_allergens.0"),
        ({"price_min": -1}, "price_min"),
        ({"price_max": 1_000_001}, "price_max"),
        ({"calories_max": 5001}, "calories_max"),
        ({"location_id": "fridge-1"}, "location_id"),
        ({"radius_km": 0}, "radius_km"),
        ({"radius_km": 501}, "radius_km"),
        ({"available_now": "maybe"}, "available_now"),
        ({"q": "x" * 201}, "q"),
        ({"cursor": "c" * 1001}, "cursor"),
    ],
)
def test_bad_catalog_parameter_is_422_naming_it(client: TestClient, params: dict[str, Any], field: str) -> None:
    body = _problem(client.get("/catalog/meals", params=params), 422)
    assert _fields(body) == {field}


@pytest.mark.parametrize(
    "path", ["/catalog/meals/not-a-uuid", "/inventory/meals/not-a-uuid/availability", "/orders/not-a-uuid"]
)
def test_bad_path_id_is_422(client: TestClient, path: str) -> None:
    body = _problem(client.get(path, headers=_auth()), 422)
    assert {f.split(".")[-1] for f in _fields(body)} <= {"meal_id", "order_id"}


@pytest.mark.parametrize(
    ("path", "params"),
    [("/orders", {"status": "lost"}), ("/subscriptions", {"status": "lost"}), ("/orders", {"location_id": "x"})],
)
def test_bad_admin_filters_are_422(client: TestClient, path: str, params: dict[str, str]) -> None:
    _problem(client.get(path, params=params, headers=_auth()), 422)


# --- consistency token -------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["zz", "0/", "/0", "1A2B", "0/123456789", "G/0", "0/1 "])
@pytest.mark.parametrize("path", ["/catalog/meals", f"/catalog/meals/{MEAL}", "/orders", "/inventory/locations"])
def test_bad_consistency_token_query_is_422(client: TestClient, path: str, token: str) -> None:
    body = _problem(client.get(path, params={"consistency_token": token}, headers=_auth()), 422)
    assert _fields(body) == {"consistency_token"}


@pytest.mark.parametrize("token", ["zz", "1A2B", "0/xyz", "next week"])
@pytest.mark.parametrize("path", ["/catalog/meals", "/orders", "/subscriptions"])
def test_bad_consistency_token_header_is_422(client: TestClient, path: str, token: str) -> None:
    headers = {**_auth(), "X-Consistency-Token": token}
    body = _problem(client.get(path, headers=headers), 422)
    assert _fields(body) == {"X-Consistency-Token"}


# --- who sees stock details ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/inventory/locations", f"/inventory/locations/{MEAL}"])
def test_stock_details_need_a_token(client: TestClient, path: str) -> None:
    _problem(client.get(path), 401)


@pytest.mark.parametrize("path", ["/inventory/locations", f"/inventory/locations/{MEAL}"])
def test_stock_details_are_not_for_customers(client: TestClient, path: str) -> None:
    body = _problem(client.get(path, headers=_auth(Role.CUSTOMER, uuid.uuid4())), 403)
    assert "admin" in body["detail"] and "operator" in body["detail"]


def test_the_openapi_document_says_who_may_read_stock_details(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/inventory/locations", "/inventory/locations/{location_id}"):
        assert {"401", "403"} <= set(paths[path]["get"]["responses"])
    assert "403" not in paths["/inventory/meals/{meal_id}/availability"]["get"]["responses"]
