"""`inventory`: one document per location with its stock per meal. Root: inventory.locations."""

from __future__ import annotations

from sinks.view import Direct, Lookup, View

# A meal is low on stock at a location when this many or fewer units are available.
LOW_STOCK_AT = 2

BUILD_SQL = f"""
SELECT l.id::text AS id,
       jsonb_build_object(
         'location_id', l.id, 'code', l.code, 'name', l.name, 'kind', l.kind, 'status', l.status,
         'operational', l.status IN ('online', 'open'),
         'address', l.address, 'city', l.city,
         'geo', jsonb_build_object('lat', l.latitude, 'lon', l.longitude),
         'updated_at', l.updated_at,
         'stock', COALESCE(s.items, '[]'::jsonb),
         'totals', jsonb_build_object(
             'meals', COALESCE(s.meals, 0), 'on_hand', COALESCE(s.on_hand, 0),
             'reserved', COALESCE(s.reserved, 0), 'available', COALESCE(s.available, 0),
             'low_stock_meals', COALESCE(s.low_stock_meals, 0))
       ) AS doc
FROM inventory.locations l
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object(
               'meal_id', m.id, 'meal_name', m.name, 'meal_status', m.status, 'price_cents', m.price_cents,
               'on_hand', st.on_hand, 'reserved', st.reserved, 'available', st.on_hand - st.reserved,
               'low_stock', st.on_hand - st.reserved <= {LOW_STOCK_AT}, 'updated_at', st.updated_at)
             ORDER BY m.name, m.id) AS items,
           count(*) AS meals,
           sum(st.on_hand) AS on_hand,
           sum(st.reserved) AS reserved,
           sum(st.on_hand - st.reserved) AS available,
           count(*) FILTER (WHERE st.on_hand - st.reserved <= {LOW_STOCK_AT}) AS low_stock_meals
    FROM inventory.stock st
    JOIN catalog.meals m ON m.id = st.meal_id
    WHERE st.location_id = l.id
) s ON true
WHERE l.id = ANY(%(ids)s::uuid[])
"""

VIEW = View(
    name="inventory",
    root="inventory.locations",
    sources={
        "inventory.locations": Direct("id"),
        "inventory.stock": Direct("location_id"),
        # A meal's name, status or price is embedded in every location that stocks it.
        "catalog.meals": Lookup(
            "id", "SELECT DISTINCT location_id::text FROM inventory.stock WHERE meal_id = ANY(%s::uuid[])"
        ),
    },
    build_sql=BUILD_SQL,
)
