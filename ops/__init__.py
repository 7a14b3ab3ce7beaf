"""Operator tooling, one function per action, called by the CLI (cli/), the ops API and the console alike:
watchdog, reconciliation, replay, rebuild, dead letters, status, incremental snapshots, worker control."""
