"""Generates a large catalog directly in the master (set-based SQL, not through the API): MEALS meals,
LOCATIONS locations in a dozen cities, and a stock row (with its ledger entry) for DENSITY of all
(location, meal) pairs. Debezium captures every row like any other write.

    .venv/bin/python -m benchmarks.generate_dataset --meals 10000 --locations 200 --density 0.025

Prints the WAL position after the load, to wait for: the views have caught up when every view's
applied position reaches it (benchmarks.backfill waits for that and reports the time).
"""

from __future__ import annotations

import argparse
import time

import psycopg
from psycopg.types.json import Jsonb

from farmacy.settings import Settings

WORDS = [
    "quinoa",
    "kale",
    "avocado",
    "lentil",
    "salmon",
    "chicken",
    "tofu",
    "tempeh",
    "chickpea",
    "miso",
    "sesame",
    "ginger",
    "turmeric",
    "basil",
    "mango",
    "spinach",
    "broccoli",
    "farro",
    "barley",
    "beet",
    "carrot",
    "pumpkin",
    "walnut",
    "almond",
    "coconut",
    "lime",
    "chili",
    "garlic",
    "mushroom",
    "eggplant",
    "zucchini",
    "tomato",
    "pepper",
    "rice",
    "noodle",
    "wrap",
    "bowl",
    "salad",
    "soup",
    "curry",
    "stew",
    "plate",
]
CITIES = [
    ("Springfield", 39.80, -89.64),
    ("Peoria", 40.69, -89.59),
    ("Chicago", 41.88, -87.63),
    ("Madison", 43.07, -89.40),
    ("St. Louis", 38.63, -90.20),
    ("Indianapolis", 39.77, -86.16),
    ("Milwaukee", 43.04, -87.91),
    ("Des Moines", 41.59, -93.62),
    ("Champaign", 40.12, -88.24),
    ("Bloomington", 40.48, -88.99),
    ("Rockford", 42.27, -89.09),
    ("Decatur", 39.84, -88.95),
]
TAGS = ["vegan", "vegetarian", "gluten_free", "dairy_free", "nut_free", "keto", "low_carb", "high_protein"]
ALLERGENS = ["milk", "eggs", "fish", "soy", "wheat", "gluten", "sesame", "peanuts", "tree_nuts"]


def generate(settings: Settings, meals: int, locations: int, density: float, run: str) -> str:
    with psycopg.connect(settings.pg_dsn) as conn:
        words, cities = list(WORDS), [list(c) for c in CITIES]
        conn.execute(
            """INSERT INTO catalog.meals (name, description, ingredients, allergens, dietary_tags, calories,
                                          protein_g, carbs_g, fat_g, price_cents, status)
               SELECT initcap(w1 || ' ' || w2 || ' ' || w3), 'A ' || w1 || ' and ' || w2 || ' ' || w3 ||
                      ' made fresh every morning (' || %(run)s || ' #' || g || ').',
                      ARRAY[w1, w2, w4],
                      (SELECT coalesce(array_agg(a), '{}') FROM unnest(%(allergens)s::text[]) a
                        WHERE random() < 0.15 + g * 0),
                      (SELECT coalesce(array_agg(t), '{}') FROM unnest(%(tags)s::text[]) t
                        WHERE random() < 0.2 + g * 0),
                      200 + (g * 37) %% 700, (g * 7) %% 60, (g * 11) %% 90, (g * 13) %% 40, 600 + (g * 53) %% 1400,
                      'active'
               FROM (SELECT g, (%(words)s::text[])[1 + (g * 7) %% %(n)s] w1,
                            (%(words)s::text[])[1 + (g * 13) %% %(n)s] w2,
                            (%(words)s::text[])[1 + (g * 31) %% %(n)s] w3,
                            (%(words)s::text[])[1 + (g * 17) %% %(n)s] w4
                     FROM generate_series(1, %(meals)s) g) s""",
            {"run": run, "allergens": ALLERGENS, "tags": TAGS, "words": words, "n": len(words), "meals": meals},
        )
        conn.execute(
            """INSERT INTO inventory.locations (code, name, kind, address, city, latitude, longitude, status)
               SELECT 'GEN-' || upper(%(run)s) || '-' || g, 'Generated fridge ' || g, 'smart_fridge',
                      g || ' Generated Ave', c.city, c.lat + (random() - 0.5) * 0.2, c.lon + (random() - 0.5) * 0.2,
                      CASE WHEN g %% 10 = 0 THEN 'maintenance' ELSE 'online' END
               FROM generate_series(1, %(locations)s) g
               JOIN LATERAL (SELECT (x->>0) city, (x->>1)::float lat, (x->>2)::float lon
                             FROM jsonb_array_elements(%(cities)s::jsonb) WITH ORDINALITY e(x, i)
                             WHERE i = 1 + g %% jsonb_array_length(%(cities)s::jsonb)) c ON true""",
            {"run": run, "locations": locations, "cities": Jsonb(cities)},
        )
        conn.execute(
            """CREATE TEMP TABLE gen_stock AS
               SELECT l.id location_id, m.id meal_id, 1 + floor(random() * 20)::int on_hand
               FROM inventory.locations l CROSS JOIN catalog.meals m
               WHERE l.code LIKE 'GEN-' || upper(%(run)s) || '-%%' AND m.description LIKE %(pattern)s
                 AND random() < %(density)s""",
            {"run": run, "pattern": f"%({run} #%", "density": density},
        )
        # In location order, as a fridge's restock arrives: consecutive events touch the same location.
        conn.execute(
            "INSERT INTO inventory.stock (location_id, meal_id, on_hand) "
            "SELECT * FROM gen_stock ORDER BY location_id, meal_id"
        )
        conn.execute("""INSERT INTO inventory.adjustments (location_id, meal_id, delta, reason, actor, note)
                        SELECT location_id, meal_id, on_hand, 'replenish', 'dataset-generator', 'generated'
                        FROM gen_stock""")
        counts = conn.execute("SELECT count(*) FROM gen_stock").fetchone()
        conn.commit()
        lsn = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
    assert counts and lsn
    print(
        f"generated run {run}: {meals} meals, {locations} locations, {counts[0]} stock rows (+ ledger); "
        f"WAL position {lsn[0]}"
    )
    return str(lsn[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meals", type=int, default=10_000)
    parser.add_argument("--locations", type=int, default=200)
    parser.add_argument("--density", type=float, default=0.025, help="share of (location, meal) pairs stocked")
    args = parser.parse_args()
    started = time.perf_counter()
    generate(Settings(), args.meals, args.locations, args.density, run=hex(int(time.time()))[2:])
    print(f"loaded in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
