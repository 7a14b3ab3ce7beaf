"""Operator tooling: the farmacy CLI, watchdog, reconciliation, replay, rebuild, dead letters, status."""
