"""`subscriptions`: one document per subscription with its customer, plan and pick-up location.

Root: subscription.subscriptions.
"""

from __future__ import annotations

from sinks.view import Direct, Lookup, View

BUILD_SQL = """
SELECT s.id::text AS id,
       jsonb_build_object(
         'subscription_id', s.id, 'status', s.status, 'paused_until', s.paused_until,
         'next_delivery_on', s.next_delivery_on, 'created_at', s.created_at, 'updated_at', s.updated_at,
         'customer', jsonb_build_object('customer_id', c.id, 'name', c.name, 'email', c.email),
         'plan', jsonb_build_object('plan_id', p.id, 'code', p.code, 'name', p.name,
                                    'meals_per_week', p.meals_per_week, 'price_cents', p.price_cents,
                                    'status', p.status),
         'location', jsonb_build_object('location_id', l.id, 'code', l.code, 'name', l.name, 'kind', l.kind,
                                        'city', l.city, 'status', l.status)
       ) AS doc
FROM subscription.subscriptions s
JOIN ordering.customers c ON c.id = s.customer_id
JOIN subscription.plans p ON p.id = s.plan_id
JOIN inventory.locations l ON l.id = s.location_id
WHERE s.id = ANY(%(ids)s::uuid[])
"""

VIEW = View(
    name="subscriptions",
    root="subscription.subscriptions",
    sources={
        "subscription.subscriptions": Direct("id"),
        "ordering.customers": Lookup(
            "id", "SELECT id::text FROM subscription.subscriptions WHERE customer_id = ANY(%s::uuid[])"
        ),
        "subscription.plans": Lookup(
            "id", "SELECT id::text FROM subscription.subscriptions WHERE plan_id = ANY(%s::uuid[])"
        ),
        "inventory.locations": Lookup(
            "id", "SELECT id::text FROM subscription.subscriptions WHERE location_id = ANY(%s::uuid[])"
        ),
    },
    build_sql=BUILD_SQL,
)
