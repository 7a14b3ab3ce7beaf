"""The "view" member of a search answered with no token (api/query/freshness.py): built once per position read,
the same as the model gives, and built again once a newer read replaces it."""

from __future__ import annotations

from typing import Any, cast

from api.query.freshness import Published, ViewFreshness, Watermarks, _published


def _doc(lsn: str, lsn_int: int) -> dict[str, Any]:
    return {"applied_lsn": lsn, "applied_lsn_int": lsn_int, "applied_at": "2026-12-07T12:00:00+00:00"}


def _watermarks() -> Watermarks:
    return Watermarks(cast(Any, None), "sync", ("catalog",), 0.5)


def test_one_position_read_gives_one_body_equal_to_the_models() -> None:
    marks = _watermarks()
    published = _published(_doc("0/10", 16), read_at=1.0)
    first = marks.body("catalog", published)
    assert marks.body("catalog", published) is first
    assert first == ViewFreshness(
        view="catalog", applied_lsn="0/10", applied_at=cast(Any, "2026-12-07T12:00:00+00:00"), waited_ms=0
    ).model_dump(mode="json")


def test_a_newer_read_gives_a_new_body() -> None:
    marks = _watermarks()
    old = marks.body("catalog", _published(_doc("0/10", 16), read_at=1.0))
    newer: Published = _published(_doc("0/20", 32), read_at=2.0)
    body = marks.body("catalog", newer)
    assert body is not old and body["applied_lsn"] == "0/20" and old["applied_lsn"] == "0/10"
