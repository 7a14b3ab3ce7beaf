"""WAL positions: PostgreSQL's text form ('16/B374D848') and the 64-bit integer the views compare."""

from __future__ import annotations


def lsn_text(lsn: int) -> str:
    """64-bit WAL position as PostgreSQL prints it ('16/B374D848')."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def lsn_int(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)
