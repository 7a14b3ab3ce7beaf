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


class LocationStatus(StrEnum):
    """Statuses of a location; which apply depends on its kind (fridges vs kiosks and restaurants)."""

    INSTALLED_OFF = "installed_off"
    ONLINE = "online"
    OFFLINE = "offline"
    OUT_OF_ORDER = "out_of_order"
    MAINTENANCE = "maintenance"
    DECOMMISSIONED = "decommissioned"
    OPEN = "open"
    CLOSED_TEMPORARILY = "closed_temporarily"
    CLOSED = "closed"


class PlanStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class LedgerReason(StrEnum):
    """Reasons on the stock ledger: the adjustment reasons plus the two the system writes itself."""

    REPLENISH = "replenish"
    REMOVE = "remove"
    EXPIRED = "expired"
    DAMAGED = "damaged"
    CORRECTION = "correction"
    COUNT = "count"
    SALE = "sale"


# A meal is low on stock at a location when this many or fewer units are available (on hand minus reserved).
LOW_STOCK_AT = 2


class StockLevel(StrEnum):
    """What a customer sees of a meal's stock at a location; exact counts are for staff (the inventory view)."""

    AVAILABLE = "available"
    LOW = "low"


def stock_level(available: int) -> StockLevel | None:
    """The level of ``available`` units; None when there is none to sell."""
    if available <= 0:
        return None
    return StockLevel.LOW if available <= LOW_STOCK_AT else StockLevel.AVAILABLE


# A meal's spice level: 0 (not spicy) to SPICE_LEVEL_MAX (fiery); a meal without one is not rated. The master's CHECK
# constraint (migration 0005) holds the same bounds.
SPICE_LEVEL_MAX = 5
