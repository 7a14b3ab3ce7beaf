"""Every fault test also fails when a supervised process exits that it did not kill or stop
(tests/faults/support.py, watch_exits)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from farmacy.settings import Settings
from tests.faults.support import watch_exits
from tests.support.supervisor_log import ExitWatch


@pytest.fixture(autouse=True)
def exits(stack: Settings) -> Iterator[ExitWatch]:
    yield from watch_exits(stack)
