"""Location rules: initial status per kind, unique codes, the fridge and storefront machines, edits."""

from __future__ import annotations

import itertools

import pytest

from farmacy.errors import Conflict, InvalidInput, InvalidTransition, VersionMismatch
from farmacy.vocabulary import LocationKind, LocationStatus
from tests.unit.writemodel.fakes import FakeUnitOfWork, run
from tests.unit.writemodel.rules import refused
from writemodel.commands import ChangeLocationStatus, CreateLocation, LocationPatch, UpdateLocation
from writemodel.domain.locations import FRIDGE_TRANSITIONS, STOREFRONT_TRANSITIONS, transitions_for
from writemodel.handlers import locations

FRIDGE = LocationKind.SMART_FRIDGE


def _create(kind: LocationKind, status: str | None = None, code: str = "LOC-1") -> CreateLocation:
    return CreateLocation(code, "Place", kind, "", "Town", 1.0, 2.0, status)


@pytest.mark.parametrize(
    ("kind", "default"),
    [(FRIDGE, LocationStatus.INSTALLED_OFF), (LocationKind.KIOSK, "open"), (LocationKind.RESTAURANT, "open")],
)
def test_a_new_location_without_status_starts_in_its_kinds_default(kind: LocationKind, default: str) -> None:
    loc = run(locations.create_location(_create(kind), FakeUnitOfWork()))
    assert (loc.status, loc.version) == (default, 1)


def test_a_new_location_may_start_in_any_status_of_its_kind() -> None:
    loc = run(locations.create_location(_create(FRIDGE, "online"), FakeUnitOfWork()))
    assert loc.status == LocationStatus.ONLINE


@pytest.mark.parametrize(
    ("kind", "status"), [(LocationKind.KIOSK, "online"), (FRIDGE, "open"), (LocationKind.RESTAURANT, "bogus")]
)
def test_a_new_location_with_a_status_foreign_to_its_kind_is_invalid_input(kind: LocationKind, status: str) -> None:
    uow = FakeUnitOfWork()
    refused(
        InvalidInput,
        lambda: locations.create_location(_create(kind, status), uow),
        "status",
        f"must be a {kind} status",
        uow,
    )


def test_a_duplicate_location_code_is_conflict_and_writes_nothing() -> None:
    uow = FakeUnitOfWork()
    run(locations.create_location(_create(LocationKind.KIOSK, code="SAME-1"), uow))
    cmd = _create(FRIDGE, code="SAME-1")
    refused(Conflict, lambda: locations.create_location(cmd, uow), "code", "must be unique", uow)
    assert len(uow.store.locations) == 1


def _all_pairs(kind: LocationKind) -> list[tuple[LocationKind, LocationStatus, LocationStatus]]:
    statuses = list(transitions_for(kind))
    return [(kind, a, b) for a, b in itertools.product(statuses, statuses)]


@pytest.mark.parametrize(
    ("kind", "current", "target"),
    _all_pairs(FRIDGE) + _all_pairs(LocationKind.KIOSK) + _all_pairs(LocationKind.RESTAURANT),
)
def test_location_status_changes_follow_the_kinds_machine(
    kind: LocationKind, current: LocationStatus, target: LocationStatus
) -> None:
    uow = FakeUnitOfWork()
    loc = uow.store.location(kind, current)
    cmd = ChangeLocationStatus(loc.id, target.value)
    if target in transitions_for(kind)[current]:
        moved = run(locations.change_location_status(cmd, uow))
        assert (moved.status, moved.version) == (target, 2)
    else:
        rule = f"valid {kind} status transition"
        refused(InvalidTransition, lambda: locations.change_location_status(cmd, uow), "status", rule, uow)


def test_decommissioned_fridges_and_closed_storefronts_are_final() -> None:
    assert FRIDGE_TRANSITIONS[LocationStatus.DECOMMISSIONED] == frozenset()
    assert STOREFRONT_TRANSITIONS[LocationStatus.CLOSED] == frozenset()


@pytest.mark.parametrize(("kind", "target"), [(LocationKind.KIOSK, "online"), (FRIDGE, "closed"), (FRIDGE, "bogus")])
def test_a_status_of_another_kind_is_invalid_input_not_a_transition(kind: LocationKind, target: str) -> None:
    uow = FakeUnitOfWork()
    loc = uow.store.location(kind, LocationStatus.OPEN if kind is LocationKind.KIOSK else LocationStatus.ONLINE)
    cmd = ChangeLocationStatus(loc.id, target)
    refused(InvalidInput, lambda: locations.change_location_status(cmd, uow), "status", f"must be a {kind} status", uow)


def test_a_status_change_with_a_stale_version_is_version_mismatch() -> None:
    uow = FakeUnitOfWork()
    loc = uow.store.location(FRIDGE, LocationStatus.INSTALLED_OFF)
    cmd = ChangeLocationStatus(loc.id, "online", expected_version=7)
    refused(VersionMismatch, lambda: locations.change_location_status(cmd, uow), "If-Match", uow=uow)


def test_editing_a_location_applies_the_patch_and_bumps_the_version() -> None:
    uow = FakeUnitOfWork()
    loc = uow.store.location(LocationKind.KIOSK, LocationStatus.OPEN)
    edited = run(locations.update_location(UpdateLocation(loc.id, 1, LocationPatch(name="Renamed", latitude=5.0)), uow))
    assert (edited.name, edited.latitude, edited.city, edited.version) == ("Renamed", 5.0, loc.city, 2)


def test_editing_a_location_with_an_empty_patch_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    loc = uow.store.location()
    assert run(locations.update_location(UpdateLocation(loc.id, 1, LocationPatch()), uow)) == loc


def test_editing_a_location_with_a_stale_version_is_version_mismatch() -> None:
    uow = FakeUnitOfWork()
    loc = uow.store.location()
    cmd = UpdateLocation(loc.id, 2, LocationPatch(name="x"))
    refused(VersionMismatch, lambda: locations.update_location(cmd, uow), "If-Match", "must match", uow)


@pytest.mark.parametrize(
    ("kind", "status"), [(FRIDGE, LocationStatus.DECOMMISSIONED), (LocationKind.RESTAURANT, LocationStatus.CLOSED)]
)
def test_editing_a_retired_location_is_conflict(kind: LocationKind, status: LocationStatus) -> None:
    uow = FakeUnitOfWork()
    loc = uow.store.location(kind, status)
    cmd = UpdateLocation(loc.id, 1, LocationPatch(name="x"))
    refused(Conflict, lambda: locations.update_location(cmd, uow), None, "location must not be retired", uow)
