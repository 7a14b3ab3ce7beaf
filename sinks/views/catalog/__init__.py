"""`catalog`: one document per active meal, with its availability at each operational location.

Root: catalog.meals. A meal that is not active (draft, retired) or no longer exists has no document, so
the rebuild deletes it. Availability lists only operational locations (online / open) with units
available now, so a fridge going offline drops out of every meal it stocked.
"""

from __future__ import annotations

from sinks.view import Direct, Lookup, View

BUILD_SQL = """
SELECT m.id::text AS id,
       jsonb_build_object(
         'meal_id', m.id, 'name', m.name, 'suggest', m.name, 'description', m.description,
         'ingredients', to_jsonb(m.ingredients), 'allergens', to_jsonb(m.allergens),
         'dietary_tags', to_jsonb(m.dietary_tags), 'calories', m.calories, 'protein_g', m.protein_g,
         'carbs_g', m.carbs_g, 'fat_g', m.fat_g, 'price_cents', m.price_cents, 'status', m.status,
         'updated_at', m.updated_at,
         'availability', COALESCE(a.items, '[]'::jsonb),
         'location_ids', COALESCE(a.location_ids, '[]'::jsonb),
         'cities', COALESCE(a.cities, '[]'::jsonb),
         'points', COALESCE(a.points, '[]'::jsonb),
         'available_now', COALESCE(a.quantity, 0) > 0,
         'totals', jsonb_build_object('locations', COALESCE(a.locations, 0), 'quantity', COALESCE(a.quantity, 0))
       ) AS doc
FROM catalog.meals m
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object(
               'location_id', l.id, 'code', l.code, 'name', l.name, 'kind', l.kind, 'city', l.city,
               'geo', jsonb_build_object('lat', l.latitude, 'lon', l.longitude),
               'quantity', s.on_hand - s.reserved)
             ORDER BY l.code) AS items,
           jsonb_agg(l.id ORDER BY l.code) AS location_ids,
           jsonb_agg(DISTINCT l.city) AS cities,
           jsonb_agg(jsonb_build_object('lat', l.latitude, 'lon', l.longitude) ORDER BY l.code) AS points,
           count(*) AS locations,
           sum(s.on_hand - s.reserved) AS quantity
    FROM inventory.stock s
    JOIN inventory.locations l ON l.id = s.location_id
    WHERE s.meal_id = m.id AND l.status IN ('online', 'open') AND s.on_hand - s.reserved > 0
) a ON true
WHERE m.id = ANY(%(ids)s::uuid[]) AND m.status = 'active'
"""

VIEW = View(
    name="catalog",
    root="catalog.meals",
    sources={
        "catalog.meals": Direct("id"),
        "inventory.stock": Direct("meal_id"),
        # A location's name, status or position is embedded in every meal it stocks.
        "inventory.locations": Lookup(
            "id", "SELECT DISTINCT meal_id::text FROM inventory.stock WHERE location_id = ANY(%s::uuid[])"
        ),
    },
    build_sql=BUILD_SQL,
)
