"""Domain errors. Each names the rule it enforces and, where one is to blame, the input field.

Routes translate them to problem+json (api/common/problems.py); handlers never speak HTTP.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "domain-error"
    title = "Domain rule violated"

    def __init__(
        self, detail: str, *, field: str | None = None, rule: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.rule = rule
        self.extra = extra or {}


class NotFound(DomainError):
    code = "not-found"
    title = "Resource not found"


class ReferenceNotFound(DomainError):
    """A body field names an entity that does not exist."""

    code = "unknown-reference"
    title = "Referenced resource does not exist"


class InvalidInput(DomainError):
    """Well-formed input that breaks a rule checkable without the database state."""

    code = "invalid-input"
    title = "Input breaks a rule"


class Conflict(DomainError):
    """The command is valid but the current state forbids it."""

    code = "conflict"
    title = "Conflicts with the current state"


class InsufficientStock(Conflict):
    code = "insufficient-stock"
    title = "Not enough stock"


class InvalidTransition(Conflict):
    code = "invalid-transition"
    title = "State transition not allowed"


class VersionMismatch(DomainError):
    code = "version-mismatch"
    title = "The resource changed since it was read"


class PreconditionRequired(DomainError):
    code = "precondition-required"
    title = "This update needs the version it is based on"


class Forbidden(DomainError):
    code = "forbidden"
    title = "Not allowed for this principal"
