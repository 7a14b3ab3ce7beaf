"""Relevance of the catalog search: recall@5 of the queries in benchmarks/relevance/queries.toml.

Loads the meals of benchmarks/relevance/meals.toml through the command API at a new location of their own (so
the figures do not depend on what else the catalog holds), waits with the consistency token until the catalog
has them, then sends each query to each query API given (``--api NAME=URL``, e.g. an older build beside the new
one) restricted to that location, and reports recall@5 per query and its mean.

    .venv/bin/python -m benchmarks.search_relevance --api before=http://127.0.0.1:8102 --api after=http://127.0.0.1:8002
"""

from __future__ import annotations

import argparse
import statistics
import time
import tomllib
import uuid
from pathlib import Path

import httpx

from farmacy.auth import Role
from farmacy.settings import Settings
from stack.identity import Login, issue_token

HERE = Path(__file__).parent / "relevance"
K = 5


def load(settings: Settings) -> tuple[str, str]:
    """Creates the meals at a new location; returns (location id, consistency token of the last command)."""
    meals = tomllib.loads((HERE / "meals.toml").read_text())["meals"]
    token = issue_token(settings, Login(Role.ADMIN, "relevance"))
    with httpx.Client(
        base_url=f"http://127.0.0.1:{settings.command_port}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        loc = (
            http.post(
                "/locations",
                json={
                    "code": f"REL-{uuid.uuid4().hex[:8].upper()}",
                    "name": "Relevance Fridge",
                    "kind": "smart_fridge",
                    "status": "online",
                    "city": "Relevance",
                    "latitude": 0.5,
                    "longitude": 0.5,
                },
            )
            .raise_for_status()
            .json()["id"]
        )
        last = ""
        for name, (description, ingredients, tags) in meals.items():
            meal = (
                http.post(
                    "/catalog/meals",
                    json={
                        "name": name,
                        "description": description,
                        "ingredients": ingredients,
                        "dietary_tags": tags,
                        "calories": 500,
                        "price_cents": 1000,
                    },
                )
                .raise_for_status()
                .json()["id"]
            )
            http.post(f"/catalog/meals/{meal}/publish").raise_for_status()
            r = http.post(
                "/inventory/adjustments", json={"location_id": loc, "meal_id": meal, "delta": 5, "reason": "replenish"}
            )
            last = r.raise_for_status().json()["consistency_token"]
    return loc, last


def _search(url: str, params: dict[str, object], headers: dict[str, str]) -> httpx.Response:
    """One search; a 503 (view behind the token, or the view store away) is retried for up to two minutes."""
    deadline = time.monotonic() + 120
    while True:
        r = httpx.get(f"{url}/catalog/meals", params=params, headers=headers, timeout=60)  # type: ignore[arg-type]
        if r.status_code != 503 or time.monotonic() > deadline:
            return r.raise_for_status()
        time.sleep(1)


def recall(found: list[str], expected: list[str]) -> float:
    return len(set(found[:K]) & set(expected)) / min(K, len(expected))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api", action="append", default=[], metavar="NAME=URL")
    parser.add_argument("--location", help="use meals already loaded at this location")
    args = parser.parse_args()
    settings = Settings()
    apis = dict(a.split("=", 1) for a in args.api) or {"query-api": f"http://127.0.0.1:{settings.query_port}"}
    queries: dict[str, list[str]] = tomllib.loads((HERE / "queries.toml").read_text())["queries"]
    loc, token = (args.location, "") if args.location else load(settings)
    scores: dict[str, list[float]] = {name: [] for name in apis}
    rows = []
    for q, expected in queries.items():
        row = [q]
        for name, url in apis.items():
            headers = {"X-Consistency-Token": token} if token else {}
            r = _search(url, {"q": q, "location_id": loc, "size": K}, headers)
            score = recall([m["name"] for m in r.json()["items"]], expected)
            scores[name].append(score)
            row.append(f"{score:.2f}")
        rows.append(row)
    print(f"location {loc}; {len(queries)} queries, recall@{K}\n")
    print("| query | " + " | ".join(apis) + " |")
    print("| --- |" + " --- |" * len(apis))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("| **mean** | " + " | ".join(f"**{statistics.mean(s):.3f}**" for s in scores.values()) + " |")


if __name__ == "__main__":
    main()
