"""The view's published position when several workers share its partitions (sinks/watermark.sync_document)."""

from __future__ import annotations

from typing import Any

from sinks.sync_document import sync_document

EXPECTED = ["t[0]", "t[1]", "t[2]", "t[3]"]


def step(current: dict[str, Any], **change: Any) -> dict[str, Any]:
    return sync_document(
        current, "inventory", "inventory", change.pop("expected", EXPECTED), change.pop("reached", {}), **change
    )


def test_the_position_waits_for_every_partition_then_is_the_lowest() -> None:
    doc = step({}, reached={"t[0]": 50, "t[1]": 50}, worker="0", counts={"events": 3, "dead_letters": 0})
    assert "applied_lsn_int" not in doc  # t[2] and t[3] have not been reported: nothing is known of them
    doc = step(doc, reached={"t[2]": 40, "t[3]": 40}, worker="1", counts={"events": 4, "dead_letters": 1})
    assert doc["applied_lsn_int"] == 40 and doc["applied_lsn"] == "0/28"
    assert (doc["events"], doc["dead_letters"]) == (7, 1)


def test_a_partitions_position_and_the_views_never_go_down() -> None:
    doc = step({}, reached=dict.fromkeys(EXPECTED, 100))
    doc = step(doc, reached={"t[0]": 60})  # a late publish of an older position (a revoked worker)
    assert doc["partitions"]["t[0]"] == 100 and doc["applied_lsn_int"] == 100


def test_a_hold_caps_the_position_below_it_and_its_release_lifts_the_cap() -> None:
    doc = step({}, reached=dict.fromkeys(EXPECTED, 100), hold={"at": "t[1]@7", "lsn": 120})
    assert doc["applied_lsn_int"] == 100
    doc = step(doc, hold={"at": "t[2]@9", "lsn": 130}, reached=dict.fromkeys(EXPECTED, 200))
    assert doc["applied_lsn_int"] == 119
    assert [h["at"] for h in doc["holds"]] == ["t[1]@7", "t[2]@9"]  # a second worker's hold keeps the first's
    doc = step(doc, release="t[1]@7")
    assert doc["applied_lsn_int"] == 129
    doc = step(doc, release="t[2]@9")
    assert doc["applied_lsn_int"] == 200 and doc["holds"] == []


def test_a_partition_added_to_the_topics_holds_the_position_until_reported() -> None:
    doc = step({}, reached=dict.fromkeys(EXPECTED, 100))
    more = [*EXPECTED, "t[4]"]
    doc = step(doc, reached=dict.fromkeys(EXPECTED, 300), expected=more)
    assert doc["applied_lsn_int"] == 100
    doc = step(doc, reached={"t[4]": 250}, expected=more)
    assert doc["applied_lsn_int"] == 250
