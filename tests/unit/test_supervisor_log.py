"""The fault tests' watch over supervisord's log (tests/support/supervisor_log.py), on log text as supervisord writes
it: which lines are exits, which process a name the tests use stands for, and reading across a rotation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.supervisor_log import Exit, ExitWatch, LogTail, parse_exits, stands_for, unexpected

# Lines as supervisor/process.py words them, around the exits the watch must see.
LOG = """\
2026-12-07 04:55:38,041 INFO supervisord started with pid 3118
2026-12-07 04:55:40,001 INFO spawned: 'sink-inventory-0' with pid 3200
2026-12-07 05:00:01,100 WARN exited: sink-inventory-1 (terminated by SIGSEGV (core dumped); not expected)
2026-12-07 05:00:02,200 INFO stopped: postgres (terminated by SIGINT)
2026-12-07 05:00:03,300 WARN stopped: kafka-0 (terminated by SIGKILL)
2026-12-07 05:00:04,400 INFO exited: watchdog (exit status 0; expected)
2026-12-07 05:00:05,500 WARN exited: kafka-1 (exit status 137; not expected)
2026-12-07 05:00:06,600 INFO gave up: query-api entered FATAL state, too many start retries too quickly
2026-12-07 05:00:07,700 WARN killing 'connect-0' (4100) with SIGKILL
"""


def _exit(process: str, detail: str = "(terminated by SIGKILL; not expected)", event: str = "exited") -> Exit:
    return Exit(at="2026-12-07 05:00:00,000", event=event, process=process, detail=detail)


def test_exits_and_give_ups_are_found_and_stops_are_not() -> None:
    assert [(e.event, e.process, e.detail) for e in parse_exits(LOG)] == [
        ("exited", "sink-inventory-1", "(terminated by SIGSEGV (core dumped); not expected)"),
        ("exited", "watchdog", "(exit status 0; expected)"),  # a service is never meant to end by itself
        ("exited", "kafka-1", "(exit status 137; not expected)"),
        ("gave up", "query-api", "entered FATAL state, too many start retries too quickly"),
    ]
    assert str(parse_exits(LOG)[0]) == (
        "2026-12-07 05:00:01,100 exited: sink-inventory-1 (terminated by SIGSEGV (core dumped); not expected)"
    )


@pytest.mark.parametrize(
    ("name", "process", "covered"),
    [
        ("postgres", "postgres", True),  # a program of one process
        ("sink-inventory", "sink-inventory-0", True),  # a group: each of its processes
        ("sink-inventory", "sink-inventory-12", True),
        ("sink-inventory:sink-inventory-1", "sink-inventory-1", True),  # one process of a group
        ("sink-inventory:sink-inventory-1", "sink-inventory-0", False),
        ("sink-inventory", "sink-catalog-0", False),
        ("elasticsearch", "elasticsearch-1", True),
        ("elasticsearch", "elasticsearch-tiebreaker", False),  # another program, not a process of the group
        ("kafka", "kafka-ui", False),
        ("sink-inventory-1", "sink-inventory-10", False),
    ],
)
def test_a_name_stands_for_the_processes_supervisor_runs_under_it(name: str, process: str, covered: bool) -> None:
    assert stands_for(name, process) is covered


def test_exits_the_test_caused_are_excused_and_others_are_not() -> None:
    exits = [_exit("kafka-1"), _exit("sink-inventory-1", "(terminated by SIGSEGV; not expected)"), _exit("postgres")]
    assert unexpected(exits, ["kafka:kafka-1", "postgres"]) == [exits[1]]
    assert unexpected(exits, []) == exits


def test_a_killed_program_that_gives_up_is_never_excused() -> None:
    gave_up = _exit("postgres", "entered FATAL state, too many start retries too quickly", event="gave up")
    assert unexpected([_exit("postgres"), gave_up], ["postgres"]) == [gave_up]


def test_the_tail_reads_only_what_was_appended_after_it_was_made(tmp_path: Path) -> None:
    log = tmp_path / "supervisord.log"
    log.write_text("2026-12-07 04:00:00,000 WARN exited: reconciler (exit status 1; not expected)\n")
    tail = LogTail(log)
    assert tail.read() == ""
    with log.open("a") as f:
        f.write(LOG)
    assert tail.read() == LOG


def test_the_tail_follows_its_file_across_a_rotation(tmp_path: Path) -> None:
    """supervisord renames the full log to .1 (and .1 to .2, ...) and starts a new one."""
    log = tmp_path / "supervisord.log"
    log.write_text("old\n")
    (tmp_path / "supervisord.log.1").write_text("older\n")
    tail = LogTail(log)
    with log.open("a") as f:
        f.write("before the rotation\n")
    (tmp_path / "supervisord.log.1").rename(tmp_path / "supervisord.log.2")
    log.rename(tmp_path / "supervisord.log.1")
    log.write_text("after the rotation\n")
    assert tail.read() == "before the rotation\nafter the rotation\n"


def test_a_log_that_did_not_exist_yet_is_read_whole(tmp_path: Path) -> None:
    log = tmp_path / "supervisord.log"
    tail = LogTail(log)
    assert tail.read() == ""
    log.write_text(LOG)
    assert tail.read() == LOG


def test_the_watch_fails_naming_every_exit_the_test_did_not_cause(tmp_path: Path) -> None:
    log = tmp_path / "supervisord.log"
    log.write_text("")
    watch = ExitWatch(log)
    watch.expect("kafka")
    log.write_text(LOG)
    with pytest.raises(AssertionError) as failure:
        watch.check()
    message = str(failure.value)
    assert "it caused: kafka" in message
    assert "exited: sink-inventory-1 (terminated by SIGSEGV (core dumped); not expected)" in message
    assert "exited: watchdog (exit status 0; expected)" in message
    assert "gave up: query-api" in message
    assert "kafka-1" not in message and "postgres" not in message


def test_the_watch_passes_when_only_what_the_test_caused_exited(tmp_path: Path) -> None:
    log = tmp_path / "supervisord.log"
    log.write_text(LOG)
    watch = ExitWatch(log)
    watch.expect("sink-inventory:sink-inventory-1")
    with log.open("a") as f:
        f.write("2026-12-07 05:10:00,000 WARN exited: sink-inventory-1 (terminated by SIGKILL; not expected)\n")
        f.write("2026-12-07 05:10:00,500 INFO spawned: 'sink-inventory-1' with pid 5000\n")
        f.write("2026-12-07 05:10:01,000 INFO stopped: elasticsearch (exit status 143)\n")
    watch.check()
