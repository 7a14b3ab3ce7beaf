"""Small HTTP helpers for tests that drive the running services (kept in stack.api_clients, which the benchmarks
use too, so tests and benchmarks do not import each other)."""

from __future__ import annotations

from stack.api_clients import command_client, new_location, new_meal, query_client, unique_code

__all__ = ["command_client", "new_location", "new_meal", "query_client", "unique_code"]
