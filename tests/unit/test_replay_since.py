"""`farmacy replay --since`: durations back from now and ISO times, both in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ops.replay import parse_since

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1h", NOW - timedelta(hours=1)),
        ("30m", NOW - timedelta(minutes=30)),
        ("90s", NOW - timedelta(seconds=90)),
        ("2d", NOW - timedelta(days=2)),
        ("1.5h", NOW - timedelta(minutes=90)),
        ("2026-11-25T10:00Z", datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        ("2026-11-25T10:00:30+01:00", datetime(2026, 11, 25, 9, 0, 30, tzinfo=UTC)),
        ("2026-11-25T10:00", datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),  # no zone means UTC
    ],
)
def test_since_is_a_point_in_time(spec: str, expected: datetime) -> None:
    assert parse_since(spec, now=NOW) == expected


@pytest.mark.parametrize("spec", ["", "yesterday", "1w", "-1h", "2026-13-01T00:00Z"])
def test_since_refuses_what_it_cannot_read(spec: str) -> None:
    with pytest.raises(ValueError, match="--since"):
        parse_since(spec, now=NOW)


def test_since_refuses_the_future() -> None:
    with pytest.raises(ValueError, match="future"):
        parse_since("2026-11-25T13:00Z", now=NOW)
