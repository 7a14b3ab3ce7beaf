"""The views' declarations, loaded by name from their folders (``sinks/views/<name>/``)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from farmacy.views import VIEW_NAMES
from sinks.view import View


def load_view(name: str) -> View:
    """The ``VIEW`` declared in ``sinks/views/<name>/__init__.py``."""
    view = importlib.import_module(f"sinks.views.{name}").VIEW
    if not isinstance(view, View) or view.name != name:
        raise TypeError(f"sinks/views/{name}/ must declare VIEW = View(name={name!r}, ...)")
    return view


def load_views(names: Iterable[str] = VIEW_NAMES) -> dict[str, View]:
    return {name: load_view(name) for name in names}


VIEWS: dict[str, View] = load_views()
