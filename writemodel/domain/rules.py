"""Rules every context shares: state-machine transitions, optimistic versions and the customer scope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, TypeVar
from uuid import UUID

from farmacy.errors import InvalidTransition, NotFound, VersionMismatch


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


class Owned(Versioned, Protocol):
    @property
    def customer_id(self) -> UUID: ...


V = TypeVar("V", bound=Versioned)
W = TypeVar("W", bound=Owned)
S = TypeVar("S", bound=str)


def transition_error(kind: str, current: S, target: S, table: Mapping[S, frozenset[S]]) -> str | None:
    """Returns why ``current -> target`` is not allowed, or None when it is."""
    allowed = table.get(current, frozenset())
    if target in allowed:
        return None
    options = ", ".join(sorted(allowed)) or "none (final state)"
    return f"a {kind} cannot go from '{current}' to '{target}'; allowed from '{current}': {options}"


def check_transition(kind: str, current: S, target: S, table: Mapping[S, frozenset[S]]) -> None:
    """Raises InvalidTransition (on field ``status``) unless the table allows ``current -> target``."""
    if (why := transition_error(kind, current, target, table)) is not None:
        raise InvalidTransition(why, field="status", rule=f"valid {kind} status transition")


def check_version(what: str, current: int, expected: int | None) -> None:
    """Optimistic concurrency: a change based on another version than the current one is refused."""
    if expected is not None and current != expected:
        raise VersionMismatch(
            f"{what} is at version {current}, the request was based on version {expected}",
            field="If-Match",
            rule="must match the current version (ETag)",
            extra={"current_version": current},
        )


def loaded(entity: V | None, what: str, row_id: UUID, expected_version: int | None) -> V:
    """The entity a command changes: NotFound when missing, VersionMismatch when at another version."""
    if entity is None:
        raise NotFound(f"{what} {row_id} does not exist")
    check_version(what, entity.version, expected_version)
    return entity


def loaded_for(entity: W | None, what: str, row_id: UUID, expected_version: int | None, scope: UUID | None) -> W:
    """Like ``loaded`` for a customer's entity. With ``scope`` (a customer acting), another customer's entity
    is NotFound, checked before the version, so nothing about it (not even its existence) reaches them."""
    if entity is None or (scope is not None and entity.customer_id != scope):
        raise NotFound(f"{what} {row_id} does not exist")
    check_version(what, entity.version, expected_version)
    return entity
