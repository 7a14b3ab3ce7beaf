"""Freshness under a steady write load: commit -> visible, per write.

W writers each post stock adjustments at a fixed rate for D seconds. For every write two times are
measured from the moment the command API answered:
- document: until the inventory document (realtime get) shows the new on_hand;
- view: until the inventory view has published an applied position at or past the write's consistency
  token (what a query carrying the token waits for; searches see the write from then on).

    .venv/bin/python -m benchmarks.freshness --rate 20 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
from elasticsearch import AsyncElasticsearch, NotFoundError

from farmacy.auth import Role
from farmacy.lsn import lsn_int
from farmacy.settings import Settings
from stack.identity import Login, issue_token


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[max(0, round(p * len(values)) - 1)]


async def main(args: argparse.Namespace) -> None:
    settings = Settings()
    token = issue_token(settings, Login(Role.ADMIN, "bench"))
    es = AsyncElasticsearch(settings.elasticsearch_url)
    doc_lags: list[float] = []
    view_lags: list[float] = []
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.command_port}", timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        meal = (
            await http.post("/catalog/meals", json={"name": "Freshness probe", "calories": 1, "price_cents": 1})
        ).json()
        locs = []
        for i in range(args.writers):
            r = await http.post(
                "/locations",
                json={
                    "code": f"FRESH-{int(time.time())}-{i}",
                    "name": "Fresh",
                    "kind": "kiosk",
                    "city": "Fresh",
                    "latitude": 1,
                    "longitude": 1,
                },
            )
            locs.append(r.json()["id"])

        async def watch(loc: str, on_hand: int, answered: float, lsn: int) -> None:
            doc_at = view_at = None
            while doc_at is None or view_at is None:
                now = time.perf_counter()
                if doc_at is None:
                    try:
                        src = (await es.get(index="inventory", id=loc))["_source"]
                        if any(s["on_hand"] >= on_hand for s in src["stock"]):
                            doc_at = now
                    except NotFoundError:
                        pass
                if view_at is None:
                    sync = (await es.get(index=settings.sync_index, id="inventory"))["_source"]
                    if sync["applied_lsn_int"] >= lsn:
                        view_at = now
                if now - answered > 30:
                    raise TimeoutError("write not visible after 30 s")
                await asyncio.sleep(0.005)
            doc_lags.append((doc_at - answered) * 1000)
            view_lags.append((view_at - answered) * 1000)

        async def writer(loc: str) -> None:
            watchers = []
            interval = args.writers / args.rate
            on_hand = 0
            deadline = time.perf_counter() + args.seconds
            while time.perf_counter() < deadline:
                tick = time.perf_counter()
                on_hand += 1
                r = await http.post(
                    "/inventory/adjustments",
                    json={"location_id": loc, "meal_id": meal["id"], "delta": 1, "reason": "replenish"},
                )
                answered = time.perf_counter()
                watchers.append(
                    asyncio.create_task(watch(loc, on_hand, answered, lsn_int(r.headers["X-Consistency-Token"])))
                )
                await asyncio.sleep(max(0.0, interval - (time.perf_counter() - tick)))
            await asyncio.gather(*watchers)

        started = time.perf_counter()
        await asyncio.gather(*(writer(loc) for loc in locs))
        elapsed = time.perf_counter() - started
    await es.close()
    print(f"writes={len(doc_lags)} over {elapsed:.1f}s ({len(doc_lags) / elapsed:.1f}/s, {args.writers} writers)")
    for name, lags in (("document visible", doc_lags), ("view applied (token satisfied)", view_lags)):
        print(
            f"{name:32s} median {statistics.median(lags):6.0f} ms   p99 {pct(lags, 0.99):6.0f} ms   "
            f"max {max(lags):6.0f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20, help="writes per second, all writers together")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30)
    asyncio.run(main(parser.parse_args()))
