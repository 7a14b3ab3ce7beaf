"""`farmacy connectors`: the Kafka Connect connectors (Debezium)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import PLAIN, json_option, print_json, settings

app = typer.Typer(help="Kafka Connect connectors (Debezium).", no_args_is_help=True, rich_markup_mode=PLAIN)
Name = Annotated[str | None, typer.Option(help="Connector; default: this stack's (FARMACY_CONNECTOR_NAME)")]


@app.command("status")
def connectors_status(json_output: Annotated[bool, json_option()] = False) -> None:
    """Connector and task states as Kafka Connect reports them (--json: one document, by connector name)."""
    import json

    from farmacy.connect import ConnectClient, load_specs

    current = settings()
    client = ConnectClient(current.connect_urls)
    try:
        states = {spec.name: client.status(spec.name) for spec in load_specs(current)}
    finally:
        client.close()
    if json_output:
        print_json(states)
        return
    for state in states.values():
        print(json.dumps(state, indent=2))


@app.command("apply")
def connectors_apply() -> None:
    """PUT every connectors/*.json config (idempotent) and wait for RUNNING."""
    from farmacy.connect import ConnectClient, load_specs

    current = settings()
    client = ConnectClient(current.connect_urls)
    try:
        for spec in load_specs(current):
            client.apply(spec)
            client.wait_running(spec.name)
            print(f"{spec.name}: RUNNING")
    finally:
        client.close()


@app.command("restart")
def connectors_restart(name: Name = None, only_failed: bool = False) -> None:
    """Restart a connector and its tasks."""
    from farmacy.connect import ConnectClient

    current = settings()
    name = name or current.connector_name
    client = ConnectClient(current.connect_urls)
    try:
        client.restart(name, include_tasks=True, only_failed=only_failed)
        print(client.wait_running(name))
    finally:
        client.close()


@app.command("pause")
def connectors_pause(name: Name = None) -> None:
    """Pause a connector (capture stops; the slot keeps WAL until it resumes)."""
    from ops.connectors import act

    current = settings()
    status = act(current, name or current.connector_name, "pause")
    print(status["connector"]["state"] if status else "not registered")


@app.command("resume")
def connectors_resume(name: Name = None) -> None:
    """Resume a paused connector."""
    from ops.connectors import act

    current = settings()
    status = act(current, name or current.connector_name, "resume")
    print(status["connector"]["state"] if status else "not registered")
