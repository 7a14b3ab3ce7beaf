"""The farmacy CLI's conventions (cli/common.py), without a stack: a wrong choice is one `Error:` line naming the valid
values and exit code 2; destructive commands ask first and do nothing on a no; --json prints one JSON document.
What a command would act on is stubbed, so a test that reached it by mistake fails instead of touching anything."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from farmacy.auth import Role, verify
from farmacy.settings import Settings
from farmacy.views import VIEW_NAMES
from ops.bluegreen import RebuildResult
from ops.dead_letters import DeadLetter

pytestmark = pytest.mark.usefixtures("clean_env")
VIEWS = ", ".join(VIEW_NAMES)


def _run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=stdin, prog_name="farmacy")


def _error_line(result: Result) -> str:
    """The one line that says what was wrong (Click prints usage lines before it)."""
    assert "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    return line


class Tripwire:
    """Stands in for an action a test must not reach."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{self.name} was called")


def test_an_unknown_role_is_refused_with_the_roles() -> None:
    result = _run("token", "--role", "superuser")
    assert result.exit_code == 2
    line = _error_line(result)
    assert "'--role'" in line and "'superuser' is not one of 'customer', 'admin', 'operator'" in line


def test_a_known_role_mints_its_development_token() -> None:
    result = _run("token", "--role", "operator", "--subject", "someone", "--hs256")
    assert result.exit_code == 0, result.output
    principal = verify(Settings().jwt_secret.get_secret_value(), result.output.strip())
    assert principal.role is Role.OPERATOR and principal.subject == "someone"


def test_a_customer_token_needs_a_customer_id() -> None:
    result = _run("token", "--role", "customer")
    assert result.exit_code == 2
    assert "needs --customer-id" in _error_line(result)


@pytest.mark.parametrize(
    "args",
    [
        ("rebuild", "nope", "--yes"),
        ("rollout", "nope", "--yes"),
        ("rollback", "nope", "--yes"),
        ("replay", "nope", "--from-beginning"),
        ("scale", "nope", "2"),
        ("dlq", "list", "nope"),
        ("dlq", "redrive", "nope"),
        ("dlq", "discard", "nope", "--yes"),
        ("reconcile", "--view", "catalog", "--view", "nope"),
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_an_unknown_view_is_refused_with_the_views(monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]) -> None:
    for target in (
        "ops.bluegreen.rebuild_view",
        "ops.rollout.rollout_view",
        "ops.rollout.rollback_view",
        "ops.replay.replay_view",
        "stack.lifecycle.scale_workers",
        "stack.lifecycle.wait_scaled",
        "ops.control.set_worker_count",
        "ops.dead_letters.list_dead_letters",
        "ops.dead_letters.redrive",
        "ops.dead_letters.discard",
        "ops.reconcile.reconcile",
    ):
        monkeypatch.setattr(target, Tripwire(target))
    result = _run(*args)
    assert result.exit_code == 2, result.output
    line = _error_line(result)
    assert f"'nope' is not a view; the views are {VIEWS}" in line


def test_a_table_the_connector_does_not_capture_is_refused_with_the_captured_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ops.snapshots.request_incremental_snapshot", Tripwire("snapshot"))
    result = _run("snapshot", "catalog.meals", "catalog.nope")
    assert result.exit_code == 2
    line = _error_line(result)
    assert "not captured by the connector: catalog.nope; the captured tables are " in line
    assert "catalog.meals" in line.split("the captured tables are ")[1]


def test_a_malformed_offset_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ops.replay.replay_view", Tripwire("replay"))
    result = _run("replay", "catalog", "--from-offset", "topic-without-partition")
    assert result.exit_code == 2
    assert "give TOPIC:PARTITION:OFFSET" in _error_line(result)


@pytest.fixture
def discarded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def discard(_settings: Settings, view: str) -> int:
        calls.append(view)
        return 3

    monkeypatch.setattr("ops.dead_letters.discard", discard)
    return calls


@pytest.mark.parametrize("answer", ["n\n", "\n", ""], ids=["no", "default", "no terminal"])
def test_dlq_discard_declined_discards_nothing(discarded: list[str], answer: str) -> None:
    result = _run("dlq", "discard", "inventory", stdin=answer)
    assert "Discard every unresolved dead letter of inventory" in result.output
    assert result.exit_code == 1 and "Aborted" in result.output
    assert discarded == []


@pytest.mark.parametrize("args", [("--yes",), ("-y",)])
def test_dlq_discard_with_yes_does_not_ask(discarded: list[str], args: tuple[str, ...]) -> None:
    result = _run("dlq", "discard", "inventory", *args)
    assert result.exit_code == 0, result.output
    assert "[y/N]" not in result.output and "discarded 3 dead letter(s) of inventory" in result.output
    assert discarded == ["inventory"]


def test_dlq_discard_confirmed_discards(discarded: list[str]) -> None:
    result = _run("dlq", "discard", "inventory", stdin="y\n")
    assert result.exit_code == 0, result.output
    assert discarded == ["inventory"]


@pytest.fixture
def rebuilt(monkeypatch: pytest.MonkeyPatch, rebuild_collaborators: None) -> list[dict[str, Any]]:
    """rebuild's collaborators stubbed (the pool, the workers' pause) and the rebuild itself (records its calls)."""
    calls: list[dict[str, Any]] = []

    def rebuild_view(_pool: Any, _es: Any, view: Any, *_args: Any, **kwargs: Any) -> RebuildResult:
        calls.append({"view": view.name, **kwargs})
        return RebuildResult(old_index=f"{view.name}-v1", new_index=f"{view.name}-v2", documents=7, seconds=0.1)

    monkeypatch.setattr("ops.bluegreen.rebuild_view", rebuild_view)
    return calls


def test_rebuild_declined_does_nothing(monkeypatch: pytest.MonkeyPatch, rebuilt: list[dict[str, Any]]) -> None:
    monkeypatch.setattr("ops.control.WorkersPause", Tripwire("WorkersPause"))
    monkeypatch.setattr("sinks.bootstrap.read_pool", Tripwire("read_pool"))
    result = _run("rebuild", "catalog", stdin="n\n")
    assert "Rebuild catalog into a new index and delete its current index?" in result.output
    assert result.exit_code == 1 and "Aborted" in result.output
    assert rebuilt == []


@pytest.mark.parametrize(("args", "deletes"), [(("--yes",), True), (("--keep-old",), False)])
def test_rebuild_asks_nothing_with_yes_or_when_it_keeps_the_old_index(
    rebuilt: list[dict[str, Any]], args: tuple[str, ...], deletes: bool
) -> None:
    result = _run("rebuild", "catalog", *args)
    assert result.exit_code == 0, result.output
    assert "[y/N]" not in result.output and "alias swapped from catalog-v1" in result.output
    assert [(c["view"], c["delete_old"]) for c in rebuilt] == [("catalog", deletes)]


def test_rollout_refused_by_the_preflight_names_the_field_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, rebuild_collaborators: None
) -> None:
    from ops.rollout import PreflightError

    def refuse(_pool: Any, _es: Any, view: Any) -> None:
        raise PreflightError(view.name, ["field 'price_cents': type integer in the live index, keyword in the new"])

    monkeypatch.setattr("ops.rollout.ready_to_roll_out", refuse)
    monkeypatch.setattr("ops.rollout.rollout_view", Tripwire("rollout_view"))
    result = _run("rollout", "catalog", "--yes")
    assert result.exit_code == 1, result.output
    assert "refused: catalog: the change is refused" in result.output and "'price_cents'" in result.output


def test_rollout_passed_rolls_out_and_says_what_it_kept(
    monkeypatch: pytest.MonkeyPatch, rebuild_collaborators: None
) -> None:
    from ops.rollout import Rollout

    calls: list[str] = []
    monkeypatch.setattr("ops.rollout.ready_to_roll_out", lambda _pool, _es, view: calls.append(f"check {view.name}"))

    def rollout_view(_pool: Any, _es: Any, view: Any, *_args: Any, **kwargs: Any) -> Rollout:
        calls.append(f"rollout {view.name} checked={kwargs['checked']}")
        return Rollout(view.name, "catalog-v2", "catalog-v3-1", 7, 0.1, None)

    monkeypatch.setattr("ops.rollout.rollout_view", rollout_view)
    result = _run("rollout", "catalog", "--yes")
    assert result.exit_code == 0, result.output
    assert calls == ["check catalog", "rollout catalog checked=True"]
    assert "alias swapped from catalog-v2, kept for `farmacy rollback catalog`" in result.output


def test_rollback_declined_does_nothing(monkeypatch: pytest.MonkeyPatch, rebuild_collaborators: None) -> None:
    monkeypatch.setattr("ops.rollout.rollback_view", Tripwire("rollback_view"))
    result = _run("rollback", "catalog", stdin="n\n")
    assert "Swap catalog back to its previous version?" in result.output
    assert result.exit_code == 1 and "Aborted" in result.output


def test_status_json_is_one_document_with_every_component(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [
        {"component": "postgres", "process": "RUNNING", "pid": "10", "healthy": "yes", "detail": "ok"},
        {"component": "sink-catalog", "process": "STOPPED", "pid": "-", "healthy": "no", "detail": "-"},
    ]
    monkeypatch.setattr("stack.lifecycle.status", lambda _settings: rows)
    result = _run("status", "--json")
    assert result.exit_code == 1  # a component is unhealthy, as without --json
    data = json.loads(result.stdout)
    assert data["components"] == rows and data["healthy"] is False
    assert data["stack"] == Settings().stack_name
    assert data["links"]["ops console"].endswith("/console")


def test_status_table_is_unchanged_in_form(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"component": "postgres", "process": "RUNNING", "pid": "10", "healthy": "yes", "detail": "ok"}]
    monkeypatch.setattr("stack.lifecycle.status", lambda _settings: rows)
    result = _run("status")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["COMPONENT", "PROCESS", "PID", "HEALTHY", "DETAIL"]
    assert lines[1].split() == ["postgres", "RUNNING", "10", "yes", "ok"]
    assert f"stack        {Settings().stack_name}" in lines
    assert any(line.startswith("elasticsearch http://") for line in lines)


def test_dlq_list_json_parses_with_every_dead_letter(monkeypatch: pytest.MonkeyPatch) -> None:
    letters = [
        DeadLetter(0, 5, b'{"id": 1}', b'{"op": "u"}', {"dlq.error": "boom", "dlq.topic": "t"}),
        DeadLetter(2, 9, None, None, {}),
    ]
    seen: list[tuple[str, int]] = []

    def list_dead_letters(_settings: Settings, view: str, limit: int) -> list[DeadLetter]:
        seen.append((view, limit))
        return letters

    monkeypatch.setattr("ops.dead_letters.list_dead_letters", list_dead_letters)
    monkeypatch.setattr("ops.dead_letters.holds", lambda _settings, _view, _es=None: {"t[0]@0"})
    result = _run("dlq", "list", "orders", "--limit", "7", "--json")
    assert result.exit_code == 0, result.output
    assert seen == [("orders", 7)]
    assert json.loads(result.stdout) == [
        {
            "partition": 0,
            "offset": 5,
            "key": '{"id": 1}',
            "value": '{"op": "u"}',
            "headers": letters[0].headers,
            "current": True,  # its change (t[0]@0) still holds the view
        },
        {"partition": 2, "offset": 9, "key": None, "value": None, "headers": {}, "current": False},
    ]


def test_dlq_acts_on_one_letter_with_at(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int, int, bool]] = []

    def resolve_one(_settings: Settings, view: str, partition: int, offset: int, discard: bool) -> DeadLetter:
        calls.append((view, partition, offset, discard))
        return DeadLetter(partition, offset, b"k", b"{}", {"dlq.topic": "t", "dlq.partition": "1", "dlq.offset": "4"})

    monkeypatch.setattr("ops.dead_letters.resolve_one", resolve_one)
    monkeypatch.setattr("ops.dead_letters.redrive", Tripwire("redrive of every letter"))
    monkeypatch.setattr("ops.dead_letters.discard", Tripwire("discard of every letter"))
    result = _run("dlq", "redrive", "orders", "--at", "0:5", "--at", "1:2")
    assert result.exit_code == 0, result.output
    assert "re-drove dead letter #0:5 (t[1]@4) of orders" in result.output
    result = _run("dlq", "discard", "orders", "--at", "0:7", stdin="y\n")
    assert result.exit_code == 0, result.output
    assert "Discard dead letter(s) #0:7 of orders without applying them?" in result.output
    assert calls == [("orders", 0, 5, False), ("orders", 1, 2, False), ("orders", 0, 7, True)]


def test_dlq_at_must_name_a_partition_and_an_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ops.dead_letters.resolve_one", Tripwire("resolve_one"))
    result = _run("dlq", "redrive", "orders", "--at", "five")
    assert result.exit_code == 2
    assert "'five': give PARTITION:OFFSET of a dead letter" in _error_line(result)
