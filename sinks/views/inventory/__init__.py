"""`inventory`: what each location holds, as two kinds of document in one index.

- a **location** document (id: the location's id): the location, how many meals it stocks, how many and which of
  them are low on stock. Root: inventory.locations.
- a **stock line** document (id: "<location_id>/<meal_id>"): one meal at one location, with what is on hand,
  reserved and available, and the meal's name, status and price. Root: inventory.stock.

A stock change rewrites its line; it rewrites its location's summary only when the line comes or goes or its
low-stock flag flips (the summary reads nothing else of a line: the stock table's updates carry the old row, and the
sink skips an update whose old and new line read the same). The location's unit totals (on hand, reserved,
available) are summed over its lines when they are read (api/query/routers/inventory.py), so a sale of one unit
writes one small document. A meal renamed rewrites its lines and the summaries that name it (low on stock); a
location changed rewrites its own document only, since lines carry nothing of their location but its id.
`GET /inventory/locations/{id}` is one search that returns the location's document, its lines and their sums.
"""

from __future__ import annotations

from typing import Any

from farmacy.vocabulary import LOW_STOCK_AT
from sinks.view import Direct, Documents, Lookup, View

LOCATION_SQL = f"""
SELECT l.id::text AS id,
       jsonb_build_object(
         'doc_type', 'location',
         'location_id', l.id, 'code', l.code, 'name', l.name, 'kind', l.kind, 'status', l.status,
         'operational', l.status IN ('online', 'open'),
         'address', l.address, 'city', l.city,
         'geo', jsonb_build_object('lat', l.latitude, 'lon', l.longitude),
         'updated_at', l.updated_at,
         'low_stock_meal_names', COALESCE(low.low_names, '[]'::jsonb),
         'totals', jsonb_build_object(
             'meals', COALESCE(s.meals, 0), 'low_stock_meals', COALESCE(s.low_stock_meals, 0))
       ) AS doc
FROM inventory.locations l
LEFT JOIN LATERAL (
    SELECT count(*) AS meals,
           count(*) FILTER (WHERE st.on_hand - st.reserved <= {LOW_STOCK_AT}) AS low_stock_meals
    FROM inventory.stock st
    WHERE st.location_id = l.id
) s ON true
LEFT JOIN LATERAL (
    -- Only the few lines low on stock need their meal's name.
    SELECT jsonb_agg(m.name ORDER BY m.name, m.id) AS low_names
    FROM inventory.stock st
    JOIN catalog.meals m ON m.id = st.meal_id
    WHERE st.location_id = l.id AND st.on_hand - st.reserved <= {LOW_STOCK_AT}
) low ON true
WHERE l.id = ANY(%(ids)s::uuid[])
"""

STOCK_SQL = f"""
SELECT st.location_id::text || '/' || st.meal_id::text AS id,
       jsonb_build_object(
         'doc_type', 'stock',
         'location_id', st.location_id,
         'meal_id', m.id, 'meal_name', m.name, 'meal_status', m.status, 'price_cents', m.price_cents,
         'on_hand', st.on_hand, 'reserved', st.reserved, 'available', st.on_hand - st.reserved,
         'low_stock', st.on_hand - st.reserved <= {LOW_STOCK_AT}, 'updated_at', st.updated_at
       ) AS doc
FROM unnest(%(ids)s::text[]) AS wanted(id)
JOIN inventory.stock st
  ON st.location_id = split_part(wanted.id, '/', 1)::uuid AND st.meal_id = split_part(wanted.id, '/', 2)::uuid
JOIN catalog.meals m ON m.id = st.meal_id
"""


def line_is_low(row: dict[str, Any]) -> bool:
    """All a location's summary reads of one of its stock rows (besides its existence and its meal)."""
    return int(row["on_hand"]) - int(row["reserved"]) <= LOW_STOCK_AT


VIEW = View(
    name="inventory",
    root="inventory.locations",
    sources={
        "inventory.locations": Direct("id"),
        # A location counts its lines and those low on stock: a line's update that leaves it low, or not, as it
        # was changes nothing there.
        "inventory.stock": Direct("location_id", reads=line_is_low),
        # A meal's name is in the summaries of the locations where it is low on stock.
        "catalog.meals": Lookup(
            "id",
            "SELECT DISTINCT location_id::text FROM inventory.stock "
            f"WHERE meal_id = ANY(%s::uuid[]) AND on_hand - reserved <= {LOW_STOCK_AT}",
        ),
    },
    build_sql=LOCATION_SQL,
    more=(
        Documents(
            sources={
                "inventory.stock": Direct(("location_id", "meal_id")),
                # A meal's name, status and price are in each of its lines.
                "catalog.meals": Lookup(
                    "id",
                    "SELECT location_id::text || '/' || meal_id::text FROM inventory.stock "
                    "WHERE meal_id = ANY(%s::uuid[])",
                ),
            },
            build_sql=STOCK_SQL,
            ids_sql="SELECT location_id::text || '/' || meal_id::text FROM inventory.stock ORDER BY 1",
            parts=2,
        ),
    ),
)
