"""The views, by name. Each module declares one view: its sources, root mapping and document builder."""

from __future__ import annotations

from sinks.view import View
from sinks.views.inventory import INVENTORY

VIEWS: dict[str, View] = {v.name: v for v in (INVENTORY,)}
