"""Turns view documents into response models (splitting off the sink's bookkeeping fields)."""

from __future__ import annotations

from typing import Any

from api.query.models import DocFreshness


def split_freshness(source: dict[str, Any]) -> tuple[dict[str, Any], DocFreshness]:
    doc = dict(source)
    freshness = DocFreshness(source_lsn=doc.pop("source_lsn"), indexed_at=doc.pop("indexed_at"))
    return doc, freshness
