"""Response models of the query API."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field

from api.query.freshness import ViewFreshness
from farmacy.vocabulary import LOW_STOCK_AT, SPICE_LEVEL_MAX, StockLevel


class DocFreshness(BaseModel):
    source_lsn: str = Field(description="WAL position of the master snapshot the document was built from")
    indexed_at: datetime = Field(description="When the sink wrote the document")


class GeoPoint(BaseModel):
    lat: float
    lon: float


# -- inventory --------------------------------------------------------------------------------------
class StockItem(BaseModel):
    meal_id: UUID
    meal_name: str
    meal_status: str
    price_cents: int
    on_hand: int
    reserved: int
    available: int
    low_stock: bool


class StockTotals(BaseModel):
    meals: int
    on_hand: int
    reserved: int
    available: int
    low_stock_meals: int


class LocationSummary(BaseModel):
    location_id: UUID
    code: str
    name: str
    kind: str
    status: str
    operational: bool
    address: str
    city: str
    geo: GeoPoint
    totals: StockTotals
    distance_km: float | None = None
    low_stock_meals: list[str] = Field(default_factory=list, description="Names of meals low on stock here")


class LocationInventory(LocationSummary):
    stock: list[StockItem]
    freshness: DocFreshness
    view: ViewFreshness


class LocationList(BaseModel):
    items: list[LocationSummary]
    view: ViewFreshness


# -- catalog ----------------------------------------------------------------------------------------
class Availability(BaseModel):
    location_id: UUID
    code: str
    name: str
    kind: str
    city: str
    geo: GeoPoint
    level: StockLevel = Field(
        description=f"available, or low ({LOW_STOCK_AT} units or fewer left); exact counts are in the inventory"
    )
    distance_km: float | None = None


class CatalogTotals(BaseModel):
    locations: int = Field(description="Operational locations with units now")
    well_stocked: int = Field(description="Of those, the ones where it is not low")


class CatalogMeal(BaseModel):
    meal_id: UUID
    name: str
    description: str
    ingredients: list[str]
    allergens: list[str]
    dietary_tags: list[str]
    calories: int
    protein_g: int
    carbs_g: int
    fat_g: int
    price_cents: int
    spice_level: int | None = Field(None, description=f"0 (not spicy) to {SPICE_LEVEL_MAX} (fiery); null: not rated")
    available_now: bool
    totals: CatalogTotals
    availability: list[Availability]
    distance_km: float | None = Field(None, description="To the nearest location that has it, when near is given")
    freshness: DocFreshness


class FacetBucket(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    dietary_tags: list[FacetBucket]
    cities: list[FacetBucket]
    price_bands: list[FacetBucket]


class CatalogPage(BaseModel):
    items: list[CatalogMeal]
    total: int
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last page")
    facets: Facets
    view: ViewFreshness


class CatalogMealDetail(CatalogMeal):
    view: ViewFreshness


class Suggestions(BaseModel):
    suggestions: list[str]
    view: ViewFreshness


class MealAvailability(BaseModel):
    meal_id: UUID
    name: str
    locations: list[Availability] = Field(description="Operational locations with units now; nearest first")
    freshness: DocFreshness
    view: ViewFreshness


# -- orders and subscriptions ------------------------------------------------------------------------
class EmbeddedCustomer(BaseModel):
    customer_id: UUID
    name: str
    email: str


class EmbeddedLocation(BaseModel):
    location_id: UUID
    code: str
    name: str
    kind: str
    city: str
    status: str


class OrderLineView(BaseModel):
    line_no: int
    meal_id: UUID
    meal_name: str
    quantity: int
    unit_price_cents: int


class OrderView(BaseModel):
    order_id: UUID
    status: str
    pickup_from: datetime
    pickup_until: datetime
    total_cents: int
    item_count: int
    created_at: datetime
    updated_at: datetime
    customer: EmbeddedCustomer
    location: EmbeddedLocation
    lines: list[OrderLineView]
    freshness: DocFreshness


class OrderDetail(OrderView):
    view: ViewFreshness


class OrderPage(BaseModel):
    items: list[OrderView]
    total: int
    next_cursor: str | None
    view: ViewFreshness


class EmbeddedPlan(BaseModel):
    plan_id: UUID
    code: str
    name: str
    meals_per_week: int
    price_cents: int
    status: str


class SubscriptionView(BaseModel):
    subscription_id: UUID
    status: str
    paused_until: date | None
    next_delivery_on: date | None
    created_at: datetime
    updated_at: datetime
    customer: EmbeddedCustomer
    plan: EmbeddedPlan
    location: EmbeddedLocation
    freshness: DocFreshness


class SubscriptionDetail(SubscriptionView):
    view: ViewFreshness


class SubscriptionPage(BaseModel):
    items: list[SubscriptionView]
    total: int
    next_cursor: str | None
    view: ViewFreshness
