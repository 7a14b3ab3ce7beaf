"""A blue/green fill that fails leaves the alias where it was and deletes the index it started (ops/bluegreen.py)."""

from __future__ import annotations

from typing import Any

import pytest

from ops import bluegreen
from sinks.views import VIEWS


class Indices:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def exists_alias(self, name: str) -> bool:
        return True

    def get_alias(self, name: str) -> Any:
        return type("Response", (), {"body": {f"{name}-v1": {}}})()

    def create(self, index: str, **_kwargs: Any) -> None:
        self.calls.append(("create", index))

    def delete(self, index: str, **_kwargs: Any) -> None:
        self.calls.append(("delete", index))

    def update_aliases(self, **_kwargs: Any) -> None:
        self.calls.append(("swap", ""))

    def refresh(self, index: str) -> None:
        self.calls.append(("refresh", index))


def test_a_failed_fill_deletes_the_new_index_swaps_nothing_and_restarts_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refused(*_args: Any) -> int:
        raise RuntimeError("documents refused while filling")

    monkeypatch.setattr(bluegreen, "fill", refused)
    indices = Indices()
    es: Any = type("Es", (), {"indices": indices})()
    worker: list[str] = []
    with pytest.raises(RuntimeError, match="refused"):
        bluegreen.rebuild_view(
            None,  # type: ignore[arg-type]
            es,
            VIEWS["catalog"],
            lambda: worker.append("stop"),
            lambda: worker.append("start"),
        )
    created = indices.calls[0][1]
    assert indices.calls == [("create", created), ("delete", created)]
    assert worker == ["stop", "start"]
