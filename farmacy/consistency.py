"""The consistency contract between the command API, the sinks and the query API (read-your-writes).

A command answers with a consistency token: a WAL position at or past its commit, in PostgreSQL's text form
('16/B374D848'), in the ``HEADER`` and in the response body's ``FIELD``. Each view's sink workers publish the
position the view has fully applied in the view's sync document (``SyncDocument`` names its fields;
sinks/watermark.py writes it). The query API reports that position with every answer and, given a token (the
``HEADER``, or the query parameter ``FIELD``), waits until the view has reached it (api/query/freshness.py).
"""

from __future__ import annotations

from typing import Final

from farmacy.lsn import lsn_int, lsn_text

HEADER: Final = "X-Consistency-Token"
# The command responses' body field, and the query API's query parameter (where a header cannot be sent).
FIELD: Final = "consistency_token"
# A token as the query parameter accepts it: two hexadecimal halves of up to 32 bits each.
PATTERN: Final = r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$"


def format_token(lsn: int) -> str:
    """A 64-bit WAL position as a token ('16/B374D848')."""
    return lsn_text(lsn)


def parse_token(token: str) -> int:
    """The WAL position a token names (surrounding blanks ignored); ValueError when it names none."""
    return lsn_int(token.strip())


class SyncDocument:
    """Field names of a view's sync document: one per view in the sync index (`<stack>-sync`), its id the view's
    name."""

    VIEW: Final = "view"
    INDEX: Final = "index"
    APPLIED_LSN: Final = "applied_lsn"  # the view's published position, as a token; unset until it has one
    APPLIED_LSN_INT: Final = "applied_lsn_int"  # the same position as a 64-bit integer (what is compared)
    APPLIED_AT: Final = "applied_at"  # when the view reached it (ISO 8601, UTC)
    PARTITIONS: Final = "partitions"  # "topic[partition]" -> the position that partition has reached
    HOLDS: Final = "holds"  # unresolved dead letters: [{HOLD_AT: "topic[partition]@offset", HOLD_LSN: position}]
    HOLD_AT: Final = "at"
    HOLD_LSN: Final = "lsn"
    WORKERS: Final = "workers"  # worker -> its counters (EVENTS, DEAD_LETTERS)
    EVENTS: Final = "events"
    DEAD_LETTERS: Final = "dead_letters"
    # Operator requests the view's workers carry out themselves (replay, pause, worker count): sinks/control.py
    CONTROL: Final = "control"
