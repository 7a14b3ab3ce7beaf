"""Response models of the query API."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field


class Freshness(BaseModel):
    source_lsn: str = Field(description="WAL position of the master snapshot the document was built from")
    indexed_at: datetime = Field(description="When the sink wrote the document")


class GeoPoint(BaseModel):
    lat: float
    lon: float


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


class LocationInventory(BaseModel):
    location_id: UUID
    code: str
    name: str
    kind: str
    status: str
    operational: bool
    address: str
    city: str
    geo: GeoPoint
    stock: list[StockItem]
    totals: StockTotals
    freshness: Freshness
