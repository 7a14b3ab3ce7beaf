"""`orders`: one document per order with its customer, location and lines (meal names, prices).

Root: ordering.orders.
"""

from __future__ import annotations

from sinks.view import Direct, Lookup, View

BUILD_SQL = """
SELECT o.id::text AS id,
       jsonb_build_object(
         'order_id', o.id, 'status', o.status, 'pickup_from', o.pickup_from, 'pickup_until', o.pickup_until,
         'total_cents', o.total_cents, 'created_at', o.created_at, 'updated_at', o.updated_at,
         'customer', jsonb_build_object('customer_id', c.id, 'name', c.name, 'email', c.email),
         'location', jsonb_build_object('location_id', l.id, 'code', l.code, 'name', l.name, 'kind', l.kind,
                                        'city', l.city, 'status', l.status),
         'lines', COALESCE(ln.items, '[]'::jsonb),
         'meal_ids', COALESCE(ln.meal_ids, '[]'::jsonb),
         'item_count', COALESCE(ln.quantity, 0)
       ) AS doc
FROM ordering.orders o
JOIN ordering.customers c ON c.id = o.customer_id
JOIN inventory.locations l ON l.id = o.location_id
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object(
               'line_no', ol.line_no, 'meal_id', m.id, 'meal_name', m.name, 'quantity', ol.quantity,
               'unit_price_cents', ol.unit_price_cents) ORDER BY ol.line_no) AS items,
           jsonb_agg(m.id ORDER BY ol.line_no) AS meal_ids,
           sum(ol.quantity) AS quantity
    FROM ordering.order_lines ol JOIN catalog.meals m ON m.id = ol.meal_id
    WHERE ol.order_id = o.id
) ln ON true
WHERE o.id = ANY(%(ids)s::uuid[])
"""

VIEW = View(
    name="orders",
    root="ordering.orders",
    sources={
        "ordering.orders": Direct("id"),
        "ordering.order_lines": Direct("order_id"),
        "ordering.customers": Lookup("id", "SELECT id::text FROM ordering.orders WHERE customer_id = ANY(%s::uuid[])"),
        "inventory.locations": Lookup("id", "SELECT id::text FROM ordering.orders WHERE location_id = ANY(%s::uuid[])"),
        "catalog.meals": Lookup(
            "id", "SELECT DISTINCT order_id::text FROM ordering.order_lines WHERE meal_id = ANY(%s::uuid[])"
        ),
    },
    build_sql=BUILD_SQL,
)
