"""A randomized, concurrent command workload across every context, and the checks that follow it:
zero drift between every view and the master, and no document version going backwards."""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan

from farmacy.settings import Settings
from ops.reconcile import reconcile
from sinks.bootstrap import read_pool
from sinks.views import VIEWS

WORKERS = 8
COMMANDS_PER_WORKER = int(os.environ.get("FARMACY_CONVERGENCE_COMMANDS", "300"))

FRIDGE_STATUSES = ["online", "online", "online", "offline", "maintenance", "out_of_order"]


class World:
    def __init__(self) -> None:
        self.meals: list[str] = []
        self.locations: list[str] = []
        self.plans: list[str] = []
        self.customers: list[str] = []
        self.orders: list[str] = []
        self.subscriptions: list[str] = []
        self.etags: dict[str, str] = {}
        self.codes: dict[int, int] = {}


async def _setup(http: httpx.AsyncClient, tag: str) -> World:
    w = World()
    for i in range(8):
        m = (
            await http.post(
                "/catalog/meals",
                json={
                    "name": f"Conv {tag} meal {i}",
                    "calories": 300 + i,
                    "price_cents": 800 + 50 * i,
                    "dietary_tags": ["vegan"],
                },
            )
        ).json()
        w.meals.append(m["id"])
        if i < 6:
            r = await http.post(f"/catalog/meals/{m['id']}/publish")
            w.etags[m["id"]] = r.headers["ETag"]
    for i in range(5):
        kind = "kiosk" if i == 4 else "smart_fridge"
        loc = (
            await http.post(
                "/locations",
                json={
                    "code": f"CV-{tag}-{i}".upper(),
                    "name": f"Conv loc {i}",
                    "kind": kind,
                    "status": "open" if i == 4 else "online",
                    "city": f"Conv{i % 2}",
                    "latitude": 45 + i / 100,
                    "longitude": 7 + i / 100,
                },
            )
        ).json()
        w.locations.append(loc["id"])
        w.etags[loc["id"]] = f'"{loc["version"]}"'
        for meal in w.meals[:6]:
            await http.post(
                "/inventory/adjustments",
                json={"location_id": loc["id"], "meal_id": meal, "delta": 20, "reason": "replenish"},
            )
    for i in range(2):
        p = (
            await http.post(
                "/subscription/plans",
                json={"code": f"cv-{tag}-{i}", "name": f"Conv plan {i}", "meals_per_week": 3 + i, "price_cents": 3000},
            )
        ).json()
        w.plans.append(p["id"])
        w.etags[p["id"]] = '"1"'
    for i in range(WORKERS):
        c = (await http.post("/customers", json={"email": f"conv-{tag}-{i}@example.com", "name": f"C{i}"})).json()
        w.customers.append(c["id"])
    return w


async def _worker(http: httpx.AsyncClient, w: World, n: int, rnd: random.Random) -> None:
    customer = w.customers[n]
    now = datetime.now(UTC)
    for _ in range(COMMANDS_PER_WORKER):
        action = rnd.choices(
            [
                "adjust",
                "count",
                "order",
                "order_move",
                "meal_patch",
                "meal_status",
                "loc_status",
                "loc_patch",
                "subscribe",
                "sub_move",
                "plan_patch",
            ],
            weights=[20, 5, 25, 15, 8, 2, 5, 4, 6, 6, 4],
        )[0]
        loc, meal = rnd.choice(w.locations), rnd.choice(w.meals)
        if action == "adjust":
            delta = rnd.choice([-3, -1, 2, 5, 8])
            r = await http.post(
                "/inventory/adjustments",
                json={"location_id": loc, "meal_id": meal, "delta": delta, "reason": "correction"},
            )
        elif action == "count":
            r = await http.post(
                "/inventory/counts", json={"location_id": loc, "meal_id": meal, "counted": rnd.randint(0, 25)}
            )
        elif action == "order":
            meals = rnd.sample(w.meals[:7], rnd.randint(1, 2))
            r = await http.post(
                "/orders",
                json={
                    "customer_id": customer,
                    "location_id": loc,
                    "pickup_from": (now + timedelta(hours=1)).isoformat(),
                    "pickup_until": (now + timedelta(hours=3)).isoformat(),
                    "lines": [{"meal_id": m, "quantity": rnd.randint(1, 3)} for m in meals],
                },
            )
            if r.status_code == 201:
                w.orders.append(r.json()["id"])
        elif action == "order_move" and w.orders:
            r = await http.post(f"/orders/{rnd.choice(w.orders)}/{rnd.choice(['cancel', 'ready', 'pickup'])}")
        elif action == "meal_patch":
            body = rnd.choice([{"price_cents": rnd.randint(500, 2000)}, {"name": f"Conv meal {uuid.uuid4().hex[:5]}"}])
            r = await http.patch(f"/catalog/meals/{meal}", json=body, headers={"If-Match": w.etags.get(meal, '"1"')})
        elif action == "meal_status":
            r = await http.post(f"/catalog/meals/{meal}/{rnd.choice(['publish', 'retire', 'publish'])}")
        elif action == "loc_status" and loc != w.locations[4]:
            r = await http.post(f"/locations/{loc}/status", json={"status": rnd.choice(FRIDGE_STATUSES)})
        elif action == "loc_patch":
            r = await http.patch(
                f"/locations/{loc}",
                json={"name": f"Conv loc {uuid.uuid4().hex[:5]}"},
                headers={"If-Match": w.etags.get(loc, '"1"')},
            )
        elif action == "subscribe":
            r = await http.post(
                "/subscriptions", json={"customer_id": customer, "plan_id": rnd.choice(w.plans), "location_id": loc}
            )
            if r.status_code == 201:
                w.subscriptions.append(r.json()["id"])
        elif action == "sub_move" and w.subscriptions:
            sub = rnd.choice(w.subscriptions)
            verb = rnd.choice(["pause", "resume", "cancel", "resume"])
            body = {"until": (now.date() + timedelta(days=rnd.randint(1, 30))).isoformat()} if verb == "pause" else None
            r = await http.post(f"/subscriptions/{sub}/{verb}", json=body)
        elif action == "plan_patch":
            plan = rnd.choice(w.plans)
            r = await http.patch(
                f"/subscription/plans/{plan}",
                json={"name": f"Conv plan {uuid.uuid4().hex[:4]}"},
                headers={"If-Match": w.etags.get(plan, '"1"')},
            )
        else:
            continue
        assert r.status_code < 500, r.text
        w.codes[r.status_code] = w.codes.get(r.status_code, 0) + 1
        if "ETag" in r.headers and (resource := _resource_id(r.request.url.path)):
            w.etags[resource] = r.headers["ETag"]


def _resource_id(path: str) -> str | None:
    """The meal, location or plan a versioned response is about (their ETags are tracked for If-Match)."""
    parts = path.strip("/").split("/")
    if parts[:2] in (["catalog", "meals"], ["subscription", "plans"]) and len(parts) > 2:
        return parts[2]
    if parts[0] == "locations" and len(parts) > 1:
        return parts[1]
    return None


async def workload(stack: Settings, token: str, seed: int) -> World:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{stack.command_port}",
        timeout=60,
        headers={"Authorization": f"Bearer {token}"},
        limits=httpx.Limits(max_connections=WORKERS + 2),
    ) as http:
        w = await _setup(http, uuid.uuid4().hex[:6])
        await asyncio.gather(*(_worker(http, w, n, random.Random(seed + n)) for n in range(WORKERS)))
    return w


def versions(es: Elasticsearch) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for view in VIEWS:
        out[view] = {
            h["_id"]: int(h["_version"])
            for h in scan(es, index=view, query={"query": {"match_all": {}}}, version=True, _source=False, size=2000)
        }
    return out


def assert_no_regression(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> int:
    compared = 0
    for view, docs in before.items():
        for doc_id, version in docs.items():
            if doc_id in after[view]:
                compared += 1
                assert after[view][doc_id] >= version, (
                    f"{view}/{doc_id} went back from {version} to {after[view][doc_id]}"
                )
    return compared


def assert_zero_drift(stack: Settings, es: Elasticsearch) -> None:
    with read_pool(stack, "convergence-test") as pool:
        for view in VIEWS.values():
            drift = reconcile(pool, es, view)
            assert (drift.missing, drift.extra, drift.different) == ([], [], []), view.name
            print(f"  {view.name}: {drift.master_documents} documents, zero drift")
