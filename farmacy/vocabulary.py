"""The platform's shared vocabulary: the enumerations both sides speak (commands, views, queries)."""

from __future__ import annotations

from enum import StrEnum


class MealStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    RETIRED = "retired"


class LocationKind(StrEnum):
    SMART_FRIDGE = "smart_fridge"
    KIOSK = "kiosk"
    RESTAURANT = "restaurant"


class Allergen(StrEnum):
    MILK = "milk"
    EGGS = "eggs"
    FISH = "fish"
    SHELLFISH = "shellfish"
    TREE_NUTS = "tree_nuts"
    PEANUTS = "peanuts"
    WHEAT = "wheat"
    GLUTEN = "gluten"
    SOY = "soy"
    SESAME = "sesame"
    CELERY = "celery"
    MUSTARD = "mustard"
    SULPHITES = "sulphites"


class DietaryTag(StrEnum):
    VEGAN = "vegan"
    VEGETARIAN = "vegetarian"
    PESCATARIAN = "pescatarian"
    GLUTEN_FREE = "gluten_free"
    DAIRY_FREE = "dairy_free"
    NUT_FREE = "nut_free"
    KETO = "keto"
    PALEO = "paleo"
    LOW_CARB = "low_carb"
    HIGH_PROTEIN = "high_protein"


class AdjustmentReason(StrEnum):
    """Reasons an admin or replenisher may post; 'count' and 'sale' are written by the system."""

    REPLENISH = "replenish"
    REMOVE = "remove"
    EXPIRED = "expired"
    DAMAGED = "damaged"
    CORRECTION = "correction"


class OrderStatus(StrEnum):
    PLACED = "placed"
    READY = "ready"
    PICKED_UP = "picked_up"
    CANCELLED = "cancelled"


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"
