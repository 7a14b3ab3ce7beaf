"""`catalog`: one document per active meal, with where it can be had now and how much is left there, as a level.

Root: catalog.meals. A meal that is not active (draft, retired) or no longer exists has no document, so
the rebuild deletes it. Availability lists only operational locations (online / open) with units
available now, each with its level ("available", or "low" at LOW_STOCK_AT units or fewer): what a customer
needs to choose where to go. Exact counts are for staff and live in the inventory view, so a stock change that
leaves its line's level as it was (12 units to 11) touches no catalog document: the stock source reads only the
level (``reads``), and the sink skips an update whose old and new rows have the same one.
"""

from __future__ import annotations

from typing import Any

from farmacy.vocabulary import LOW_STOCK_AT, StockLevel, stock_level
from sinks.view import Direct, Lookup, View

BUILD_SQL = f"""
SELECT m.id::text AS id,
       jsonb_build_object(
         'meal_id', m.id, 'name', m.name, 'suggest', m.name, 'description', m.description,
         'ingredients', to_jsonb(m.ingredients), 'allergens', to_jsonb(m.allergens),
         'dietary_tags', to_jsonb(m.dietary_tags), 'calories', m.calories, 'protein_g', m.protein_g,
         'carbs_g', m.carbs_g, 'fat_g', m.fat_g, 'price_cents', m.price_cents, 'status', m.status,
         'spice_level', m.spice_level, 'updated_at', m.updated_at,
         'availability', COALESCE(a.items, '[]'::jsonb),
         'location_ids', COALESCE(a.location_ids, '[]'::jsonb),
         'cities', COALESCE(a.cities, '[]'::jsonb),
         'points', COALESCE(a.points, '[]'::jsonb),
         'available_now', COALESCE(a.locations, 0) > 0,
         'totals', jsonb_build_object('locations', COALESCE(a.locations, 0),
                                      'well_stocked', COALESCE(a.well_stocked, 0))
       ) AS doc
FROM catalog.meals m
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object(
               'location_id', l.id, 'code', l.code, 'name', l.name, 'kind', l.kind, 'city', l.city,
               'geo', jsonb_build_object('lat', l.latitude, 'lon', l.longitude),
               'level', CASE WHEN s.on_hand - s.reserved <= {LOW_STOCK_AT} THEN '{StockLevel.LOW}'
                             ELSE '{StockLevel.AVAILABLE}' END)
             ORDER BY l.code) AS items,
           jsonb_agg(l.id ORDER BY l.code) AS location_ids,
           jsonb_agg(DISTINCT l.city) AS cities,
           jsonb_agg(jsonb_build_object('lat', l.latitude, 'lon', l.longitude) ORDER BY l.code) AS points,
           count(*) AS locations,
           count(*) FILTER (WHERE s.on_hand - s.reserved > {LOW_STOCK_AT}) AS well_stocked
    FROM inventory.stock s
    JOIN inventory.locations l ON l.id = s.location_id
    WHERE s.meal_id = m.id AND l.status IN ('online', 'open') AND s.on_hand - s.reserved > 0
) a ON true
WHERE m.id = ANY(%(ids)s::uuid[]) AND m.status = 'active'
"""


def stock_line_level(row: dict[str, Any]) -> StockLevel | None:
    """All a catalog document reads of a stock row: its level (None: nothing to sell there)."""
    return stock_level(int(row["on_hand"]) - int(row["reserved"]))


VIEW = View(
    name="catalog",
    root="catalog.meals",
    sources={
        "catalog.meals": Direct("id"),
        "inventory.stock": Direct("meal_id", reads=stock_line_level),
        # A location's name, status or position is embedded in every meal it stocks.
        "inventory.locations": Lookup(
            "id", "SELECT DISTINCT meal_id::text FROM inventory.stock WHERE location_id = ANY(%s::uuid[])"
        ),
    },
    build_sql=BUILD_SQL,
)
