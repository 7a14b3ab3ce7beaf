"""The one list of views.

A view is one folder, ``sinks/views/<name>/`` (its declaration in ``__init__.py`` as ``VIEW``, its index mapping
in ``mapping.json``), plus its name here. Everything else per view derives from this list through ``Settings.views``:
the sink worker's port, its supervised program, its compose service, its Prometheus target, its consumer group.
"""

from __future__ import annotations

VIEW_NAMES: tuple[str, ...] = ("inventory", "catalog", "orders", "subscriptions")


def worker_program(view: str) -> str:
    """The name of a view's sink worker as a supervised program and as a compose service."""
    return f"sink-{view}"
