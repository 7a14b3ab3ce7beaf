"""Locations: their details and the status machines of fridges and of storefronts (kiosks, restaurants)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from farmacy.errors import Conflict, InvalidInput
from farmacy.vocabulary import LocationKind, LocationStatus
from writemodel.domain.rules import check_transition

L = LocationStatus
FRIDGE_TRANSITIONS: dict[LocationStatus, frozenset[LocationStatus]] = {
    L.INSTALLED_OFF: frozenset({L.ONLINE, L.DECOMMISSIONED}),
    L.ONLINE: frozenset({L.OFFLINE, L.OUT_OF_ORDER, L.MAINTENANCE, L.DECOMMISSIONED}),
    L.OFFLINE: frozenset({L.ONLINE, L.OUT_OF_ORDER, L.MAINTENANCE, L.DECOMMISSIONED}),
    L.OUT_OF_ORDER: frozenset({L.MAINTENANCE, L.ONLINE, L.DECOMMISSIONED}),
    L.MAINTENANCE: frozenset({L.ONLINE, L.OFFLINE, L.DECOMMISSIONED}),
    L.DECOMMISSIONED: frozenset(),
}
STOREFRONT_TRANSITIONS: dict[LocationStatus, frozenset[LocationStatus]] = {  # kiosks and restaurants
    L.OPEN: frozenset({L.CLOSED_TEMPORARILY, L.CLOSED}),
    L.CLOSED_TEMPORARILY: frozenset({L.OPEN, L.CLOSED}),
    L.CLOSED: frozenset(),
}
INITIAL_STATUS = {
    LocationKind.SMART_FRIDGE: L.INSTALLED_OFF,
    LocationKind.KIOSK: L.OPEN,
    LocationKind.RESTAURANT: L.OPEN,
}
# Taking orders needs an operational location; a retired one takes no stock and no subscribers either.
OPERATIONAL_STATUSES = frozenset({L.ONLINE, L.OPEN})
RETIRED_STATUSES = frozenset({L.DECOMMISSIONED, L.CLOSED})


@dataclass(frozen=True)
class NewLocation:
    code: str
    name: str
    kind: LocationKind
    address: str
    city: str
    latitude: float
    longitude: float
    status: LocationStatus


@dataclass(frozen=True)
class Location:
    id: UUID
    code: str
    name: str
    kind: LocationKind
    address: str
    city: str
    latitude: float
    longitude: float
    status: LocationStatus
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class LocationPatch:
    """Details an edit changes; a field left None keeps its value. The status has its own command."""

    name: str | None = None
    address: str | None = None
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def transitions_for(kind: LocationKind) -> dict[LocationStatus, frozenset[LocationStatus]]:
    return FRIDGE_TRANSITIONS if kind == LocationKind.SMART_FRIDGE else STOREFRONT_TRANSITIONS


def statuses_for(kind: LocationKind) -> list[str]:
    """The kind's statuses as plain sorted strings (as error messages list them)."""
    return sorted(s.value for s in transitions_for(kind))


def is_operational(status: LocationStatus) -> bool:
    return status in OPERATIONAL_STATUSES


def is_retired(status: LocationStatus) -> bool:
    return status in RETIRED_STATUSES


def initial_status(kind: LocationKind, requested: str | None) -> LocationStatus:
    """The status a new location starts in: the requested one if it is one of its kind's, else the default."""
    status = requested or INITIAL_STATUS[kind].value
    if status not in transitions_for(kind):
        raise InvalidInput(
            f"status '{status}' does not exist for a {kind}; allowed: {statuses_for(kind)}",
            field="status",
            rule=f"must be a {kind} status",
        )
    return LocationStatus(status)


def new_location(
    code: str,
    name: str,
    kind: LocationKind,
    address: str,
    city: str,
    latitude: float,
    longitude: float,
    status: str | None,
) -> NewLocation:
    return NewLocation(code, name, kind, address, city, latitude, longitude, initial_status(kind, status))


def duplicate_code(code: str) -> Conflict:
    return Conflict(f"a location with code '{code}' already exists", field="code", rule="must be unique")


def edit(location: Location, patch: LocationPatch) -> Location | None:
    """The location with the patch applied; None when the patch changes nothing. A retired one is frozen."""
    if is_retired(location.status):
        raise Conflict(f"a {location.status} location cannot be edited", rule="location must not be retired")
    values = patch.values()
    return replace(location, **values) if values else None


def change_status(location: Location, target: str) -> Location:
    """Moves along the kind's status machine; a status of another kind is invalid input, not a transition."""
    kind = location.kind
    if target not in transitions_for(kind):
        raise InvalidInput(
            f"'{target}' is not a status of a {kind}; statuses: {statuses_for(kind)}",
            field="status",
            rule=f"must be a {kind} status",
        )
    status = LocationStatus(target)
    check_transition(kind, location.status, status, transitions_for(kind))
    return replace(location, status=status)
