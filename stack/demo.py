"""A small demo dataset, written through the command API (so every rule applies and every row is captured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from farmacy.auth import Role
from farmacy.settings import Settings
from stack.progress import say

MEALS: list[dict[str, Any]] = [
    {
        "name": "Green Goddess Bowl",
        "description": "Quinoa, kale and avocado with a basil-herb dressing.",
        "ingredients": ["quinoa", "kale", "avocado", "basil", "lemon"],
        "allergens": ["sesame"],
        "dietary_tags": ["vegan", "gluten_free"],
        "calories": 540,
        "protein_g": 18,
        "carbs_g": 62,
        "fat_g": 22,
        "price_cents": 1195,
    },
    {
        "name": "Grilled Chicken Caesar",
        "description": "Romaine, grilled chicken breast, parmesan, croutons.",
        "ingredients": ["romaine", "chicken", "parmesan", "croutons", "anchovy"],
        "allergens": ["milk", "wheat", "gluten", "fish", "eggs"],
        "dietary_tags": ["high_protein"],
        "calories": 610,
        "protein_g": 42,
        "carbs_g": 28,
        "fat_g": 34,
        "price_cents": 1295,
    },
    {
        "name": "Salmon Poke",
        "description": "Sushi rice, raw salmon, edamame, cucumber and ponzu.",
        "ingredients": ["rice", "salmon", "edamame", "cucumber", "ponzu"],
        "allergens": ["fish", "soy"],
        "dietary_tags": ["pescatarian", "dairy_free"],
        "calories": 580,
        "protein_g": 32,
        "carbs_g": 70,
        "fat_g": 16,
        "price_cents": 1450,
    },
    {
        "name": "Lentil Dal with Brown Rice",
        "description": "Red lentils simmered with turmeric and cumin.",
        "ingredients": ["lentils", "brown rice", "turmeric", "cumin", "coconut milk"],
        "allergens": [],
        "dietary_tags": ["vegan", "gluten_free", "nut_free"],
        "calories": 490,
        "protein_g": 21,
        "carbs_g": 78,
        "fat_g": 9,
        "price_cents": 995,
    },
    {
        "name": "Keto Steak Plate",
        "description": "Sliced sirloin, broccoli and garlic butter.",
        "ingredients": ["sirloin", "broccoli", "butter", "garlic"],
        "allergens": ["milk"],
        "dietary_tags": ["keto", "low_carb", "gluten_free", "high_protein"],
        "calories": 720,
        "protein_g": 55,
        "carbs_g": 9,
        "fat_g": 50,
        "price_cents": 1695,
    },
    {
        "name": "Mediterranean Falafel Wrap",
        "description": "Falafel, hummus, tabbouleh in a whole-wheat wrap.",
        "ingredients": ["chickpeas", "tahini", "parsley", "bulgur", "wheat tortilla"],
        "allergens": ["sesame", "wheat", "gluten"],
        "dietary_tags": ["vegan"],
        "calories": 630,
        "protein_g": 19,
        "carbs_g": 84,
        "fat_g": 24,
        "price_cents": 1050,
    },
    {
        "name": "Thai Peanut Noodles",
        "description": "Rice noodles, peanut sauce, tofu and crunchy vegetables.",
        "ingredients": ["rice noodles", "peanuts", "tofu", "carrot", "cabbage", "lime"],
        "allergens": ["peanuts", "soy"],
        "dietary_tags": ["vegan", "dairy_free"],
        "calories": 680,
        "protein_g": 24,
        "carbs_g": 88,
        "fat_g": 26,
        "price_cents": 1150,
    },
    {
        "name": "Turkey Chili",
        "description": "Slow-cooked turkey chili with black beans and peppers.",
        "ingredients": ["turkey", "black beans", "peppers", "tomato", "chili"],
        "allergens": [],
        "dietary_tags": ["gluten_free", "dairy_free", "high_protein"],
        "calories": 520,
        "protein_g": 40,
        "carbs_g": 44,
        "fat_g": 14,
        "price_cents": 1100,
    },
]

LOCATIONS: list[dict[str, Any]] = [
    {
        "code": "SF-CENTRAL-01",
        "name": "Central Station Fridge",
        "kind": "smart_fridge",
        "status": "online",
        "address": "1 Station Square",
        "city": "Springfield",
        "latitude": 39.8017,
        "longitude": -89.6436,
    },
    {
        "code": "SF-HOSPITAL-02",
        "name": "Memorial Hospital Lobby Fridge",
        "kind": "smart_fridge",
        "status": "online",
        "address": "701 N 1st St",
        "city": "Springfield",
        "latitude": 39.8106,
        "longitude": -89.6543,
    },
    {
        "code": "SF-CAMPUS-03",
        "name": "University Library Fridge",
        "kind": "smart_fridge",
        "status": "maintenance",
        "address": "1 University Plaza",
        "city": "Springfield",
        "latitude": 39.7290,
        "longitude": -89.6170,
    },
    {
        "code": "KIOSK-MALL-01",
        "name": "White Oaks Mall Kiosk",
        "kind": "kiosk",
        "status": "open",
        "address": "2501 W Wabash Ave",
        "city": "Springfield",
        "latitude": 39.7702,
        "longitude": -89.7101,
    },
    {
        "code": "REST-DOWNTOWN",
        "name": "Farmacy Kitchen Downtown",
        "kind": "restaurant",
        "status": "open",
        "address": "400 E Adams St",
        "city": "Springfield",
        "latitude": 39.8003,
        "longitude": -89.6480,
    },
    {
        "code": "SF-AIRPORT-04",
        "name": "Capital Airport Gate Fridge",
        "kind": "smart_fridge",
        "status": "online",
        "address": "1200 Capital Airport Dr",
        "city": "Peoria",
        "latitude": 40.6642,
        "longitude": -89.6933,
    },
]


PLANS: list[dict[str, Any]] = [
    {"code": "three-a-week", "name": "Three a week", "meals_per_week": 3, "price_cents": 3495},
    {"code": "five-a-week", "name": "Five a week", "meals_per_week": 5, "price_cents": 5495},
]
CUSTOMERS: list[dict[str, Any]] = [
    {"email": "ada@example.com", "name": "Ada Lovelace"},
    {"email": "grace@example.com", "name": "Grace Hopper"},
    {"email": "alan@example.com", "name": "Alan Turing"},
]


def seed_demo(settings: Settings) -> None:
    with psycopg.connect(settings.pg_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM catalog.meals").fetchone()
    if row and row[0] > 0:
        say(f"demo data already present ({row[0]} meals); not seeding again")
        return
    from stack.identity import Login, issue_token

    token = issue_token(settings, Login(Role.ADMIN, "demo-seed"))
    with httpx.Client(
        base_url=f"http://127.0.0.1:{settings.command_port}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        meals = [http.post("/catalog/meals", json=m).raise_for_status().json() for m in MEALS]
        for meal in meals[:-1]:  # the last one stays a draft: not in the catalog yet
            http.post(f"/catalog/meals/{meal['id']}/publish").raise_for_status()
        locations = [http.post("/locations", json=loc).raise_for_status().json() for loc in LOCATIONS]
        adjustments = 0
        for i, loc in enumerate(locations):
            for j, meal in enumerate(meals):
                if (i + j) % 3 == 2:
                    continue  # not every location stocks every meal
                units = 2 + (i * 3 + j * 5) % 9
                http.post(
                    "/inventory/adjustments",
                    json={
                        "location_id": loc["id"],
                        "meal_id": meal["id"],
                        "delta": units,
                        "reason": "replenish",
                        "note": "demo seed",
                    },
                ).raise_for_status()
                adjustments += 1
        plans = [http.post("/subscription/plans", json=p).raise_for_status().json() for p in PLANS]
        customers = [http.post("/customers", json=c).raise_for_status().json() for c in CUSTOMERS]
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        orders = 0
        for i, customer in enumerate(customers):
            loc = locations[i % 2]  # the two online hospital/station fridges
            http.post(
                "/subscriptions",
                json={"customer_id": customer["id"], "plan_id": plans[i % 2]["id"], "location_id": loc["id"]},
            ).raise_for_status()
            order = http.post(
                "/orders",
                json={
                    "customer_id": customer["id"],
                    "location_id": loc["id"],
                    "pickup_from": (now + timedelta(hours=2)).isoformat(),
                    "pickup_until": (now + timedelta(hours=4)).isoformat(),
                    "lines": [{"meal_id": meals[(3 * i) % 7]["id"], "quantity": 1}],  # stocked there
                },
            )
            if order.status_code == 201:
                orders += 1
    say(
        f"seeded {len(meals)} meals ({len(meals) - 1} published), {len(locations)} locations, {adjustments} stock "
        f"adjustments, {len(plans)} plans, {len(customers)} customers with a subscription, {orders} orders"
    )
