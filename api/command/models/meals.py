from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import ConfigDict, Field, StringConstraints

from api.command.models.common import CommandBody, CommandResult, UpdateBody
from farmacy.vocabulary import SPICE_LEVEL_MAX, Allergen, DietaryTag, MealStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Ingredient = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class MealBase(CommandBody):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: str = Field("", max_length=20000)
    ingredients: list[Ingredient] = Field(default_factory=list, max_length=100)
    allergens: list[Allergen] = Field(default_factory=list, max_length=20)
    dietary_tags: list[DietaryTag] = Field(default_factory=list, max_length=20)
    calories: int = Field(ge=0, le=5000)
    protein_g: int = Field(0, ge=0, le=500)
    carbs_g: int = Field(0, ge=0, le=500)
    fat_g: int = Field(0, ge=0, le=500)
    price_cents: int = Field(ge=0, le=1_000_000, description="Price in integer cents")
    spice_level: int | None = Field(
        None, ge=0, le=SPICE_LEVEL_MAX, description=f"0 (not spicy) to {SPICE_LEVEL_MAX} (fiery); omitted: not rated"
    )


class MealCreate(MealBase):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Green Goddess Bowl",
                    "description": "Quinoa, kale and avocado with a herb dressing.",
                    "ingredients": ["quinoa", "kale", "avocado", "basil"],
                    "allergens": ["sesame"],
                    "dietary_tags": ["vegan", "gluten_free"],
                    "calories": 540,
                    "protein_g": 18,
                    "carbs_g": 62,
                    "fat_g": 22,
                    "price_cents": 1195,
                    "spice_level": 1,
                }
            ]
        },
    )


class MealPublic(MealBase, CommandResult):
    id: UUID
    status: MealStatus
    version: int
    created_at: datetime
    updated_at: datetime


class MealUpdate(UpdateBody):
    """Fields to change; omitted fields keep their value. Needs If-Match."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"price_cents": 1245, "description": "Now with toasted seeds.", "spice_level": 2}]
        },
    )

    name: Name | None = None
    description: str | None = Field(None, max_length=20000)
    ingredients: list[Ingredient] | None = Field(None, max_length=100)
    allergens: list[Allergen] | None = Field(None, max_length=20)
    dietary_tags: list[DietaryTag] | None = Field(None, max_length=20)
    calories: int | None = Field(None, ge=0, le=5000)
    protein_g: int | None = Field(None, ge=0, le=500)
    carbs_g: int | None = Field(None, ge=0, le=500)
    fat_g: int | None = Field(None, ge=0, le=500)
    price_cents: int | None = Field(None, ge=0, le=1_000_000)
    spice_level: int | None = Field(None, ge=0, le=SPICE_LEVEL_MAX)
