"""Fault: Elasticsearch refuses writes (index.blocks.write) on the inventory and catalog indices under writes.

A write block is an outage of the view store, not something wrong with the events: nothing may be dead-lettered,
a read carrying a write's consistency token must either see that write or get 503 (never a stale 200), and once
the block is lifted the views must catch up by themselves and equal the master.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest
from elasticsearch import Elasticsearch

from farmacy.settings import Settings
from farmacy.vocabulary import stock_level
from tests.faults.support import dead_letter_counts, drift
from tests.support.api import query_client
from tests.support.commands import active_meal, adjust, client, stocked_location
from tests.support.views import current_lsn, es_client, wait_applied

pytestmark = pytest.mark.faults

BLOCKED = ("inventory", "catalog")
BLOCK_S = float(os.environ.get("FARMACY_FAULT_BLOCK_S", "12"))


@pytest.fixture
def es(stack: Settings) -> Iterator[Elasticsearch]:
    client = es_client(stack)
    yield client
    client.indices.put_settings(index=",".join(BLOCKED), settings={"index.blocks.write": None})
    client.close()


def _on_hand(query: httpx.Client, location_id: str, meal_id: str, token: str) -> tuple[int, int | None]:
    """(HTTP status, on_hand of the meal at the location as the inventory view answers it)."""
    r = query.get(f"/inventory/locations/{location_id}", headers={"X-Consistency-Token": token})
    if r.status_code != 200:
        return r.status_code, None
    line = next((s for s in r.json()["stock"] if s["meal_id"] == meal_id), None)
    return 200, line["on_hand"] if line else 0


def _catalog_level(query: httpx.Client, meal_id: str, location_id: str, token: str) -> tuple[int, str | None]:
    r = query.get(f"/catalog/meals/{meal_id}", headers={"X-Consistency-Token": token})
    if r.status_code != 200:
        return r.status_code, None
    line = next((a for a in r.json()["availability"] if a["location_id"] == location_id), None)
    return 200, line["level"] if line else None


def test_write_block_dead_letters_nothing_and_never_answers_a_token_stale(
    stack: Settings, admin_token: str, es: Elasticsearch
) -> None:
    with client(stack, admin_token) as admin, query_client(stack, admin_token) as query:
        meal = active_meal(admin)
        loc = stocked_location(admin, {meal["id"]: 5})
        expected = 5
        wait_applied(es, stack, current_lsn(stack), list(BLOCKED))
        dead_before = dead_letter_counts(stack)

        es.indices.put_settings(index=",".join(BLOCKED), settings={"index.blocks.write": True})
        stale: list[str] = []
        answered: dict[int, int] = {}
        last_token = ""
        blocked_until = time.monotonic() + BLOCK_S
        while time.monotonic() < blocked_until:
            # 5 <-> 2 units: every change moves the catalog's level too (available <-> low)
            delta = -3 if expected == 5 else 3
            result = adjust(admin, loc["id"], meal["id"], delta, "remove" if delta < 0 else "replenish")
            expected += delta
            last_token = result["consistency_token"]
            status, on_hand = _on_hand(query, loc["id"], meal["id"], last_token)
            answered[status] = answered.get(status, 0) + 1
            if status == 200 and on_hand != expected:
                stale.append(f"inventory answered on_hand={on_hand} for a token whose write made it {expected}")
            status, level = _catalog_level(query, meal["id"], loc["id"], last_token)
            answered[status] = answered.get(status, 0) + 1
            if status == 200 and level != stock_level(expected):
                stale.append(f"catalog answered level={level} for a token whose write made it {expected} units")
        lifted_at = time.monotonic()
        es.indices.put_settings(index=",".join(BLOCKED), settings={"index.blocks.write": None})

        wait_applied(es, stack, last_token, list(BLOCKED), timeout=60)
        recovered_s = time.monotonic() - lifted_at
        status, on_hand = _on_hand(query, loc["id"], meal["id"], last_token)
        print(f"\nwrite block {BLOCK_S:.0f}s: answers during the block {answered}; fresh {recovered_s:.1f}s after lift")

    assert stale == [], stale[:5]
    assert (status, on_hand) == (200, expected)
    assert dead_letter_counts(stack) == dead_before, "a write block is an outage: nothing may be dead-lettered"
    assert recovered_s <= 10, f"views fresh only {recovered_s:.1f}s after the block was lifted"
    assert drift(stack, es, list(BLOCKED)) == dict.fromkeys(BLOCKED, 0)
