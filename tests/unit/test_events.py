from __future__ import annotations

import json

import pytest

from farmacy.lsn import lsn_int, lsn_text
from sinks.errors import PoisonEventError
from sinks.events import parse


def _value(op: str, lsn: int = 1234, **extra: object) -> bytes:
    return json.dumps(
        {
            "op": op,
            "before": None,
            "after": {"id": "x"},
            "ts_ms": 1,
            "source": {"lsn": lsn, "schema": "inventory", "table": "stock"},
            **extra,
        }
    ).encode()


def test_parse_update_event_carries_table_key_op_and_lsn() -> None:
    key = json.dumps({"location_id": "a", "meal_id": "b"}).encode()
    ev = parse("farmacy.inventory.stock", 0, 7, key, _value("u", lsn=99))
    assert (ev.table, ev.op, ev.lsn, ev.key) == ("inventory.stock", "u", 99, {"location_id": "a", "meal_id": "b"})
    assert ev.coordinates == "farmacy.inventory.stock[0]@7"


def test_parse_carries_commit_time_and_record_time_for_the_age_metric() -> None:
    value = json.dumps({"op": "u", "after": {}, "source": {"lsn": 5, "ts_ms": 1_700_000_000_123}}).encode()
    ev = parse("farmacy.inventory.stock", 0, 1, b'{"id": "s"}', value, 1_700_000_000_456)
    assert (ev.committed_ms, ev.produced_ms) == (1_700_000_000_123, 1_700_000_000_456)
    no_time = parse("farmacy.inventory.stock", 0, 2, b'{"id": "s"}', _value("u"))
    assert (no_time.committed_ms, no_time.produced_ms) == (None, None)


def test_parse_tombstone_keeps_key_and_has_no_lsn() -> None:
    ev = parse("farmacy.catalog.meals", 0, 3, b'{"id": "m1"}', None)
    assert ev.op == "tombstone" and ev.lsn is None and ev.key == {"id": "m1"}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (None, b"{}"),  # no key
        (b"not json", b"{}"),
        (b'{"id": "m"}', b"not json"),
        (b'{"id": "m"}', b'{"after": {}}'),  # no envelope
        (b'{"id": "m"}', b'{"op": "u", "source": {"lsn": "12"}}'),  # lsn not an integer
    ],
)
def test_parse_rejects_what_is_not_a_debezium_event_as_poison(key: bytes | None, value: bytes) -> None:
    with pytest.raises(PoisonEventError):
        parse("farmacy.catalog.meals", 0, 0, key, value)


def test_parse_rejects_topic_without_schema_and_table() -> None:
    with pytest.raises(PoisonEventError):
        parse("meals", 0, 0, b'{"id": "m"}', None)


@pytest.mark.parametrize("text", ["0/0", "0/19A24D8", "16/B374D848", "FFFFFFFF/FFFFFFFF"])
def test_lsn_text_and_int_round_trip(text: str) -> None:
    assert lsn_text(lsn_int(text)) == text


def test_parse_carries_the_old_and_new_rows_when_the_event_has_them() -> None:
    old, new = {"on_hand": 12, "reserved": 0}, {"on_hand": 11, "reserved": 0}
    ev = parse("farmacy.inventory.stock", 0, 1, b'{"id": "s"}', _value("u", before=old, after=new))
    assert (ev.before, ev.after) == (old, new)
    without = parse("farmacy.inventory.stock", 0, 2, b'{"id": "s"}', _value("u"))
    assert without.before is None and without.after == {"id": "x"}
