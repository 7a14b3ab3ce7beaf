"""The views, by name. Each module declares one view: its sources, root mapping and document builder."""

from __future__ import annotations

from sinks.view import View
from sinks.views.catalog import CATALOG
from sinks.views.inventory import INVENTORY
from sinks.views.orders import ORDERS
from sinks.views.subscriptions import SUBSCRIPTIONS

VIEWS: dict[str, View] = {v.name: v for v in (INVENTORY, CATALOG, ORDERS, SUBSCRIPTIONS)}
