"""Token buckets, one per key: the quotas' (api/common/quotas.py) and the slow-request log's
(api/common/observability.py)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

# Buckets kept per process and scope: the least recently used beyond this are dropped (a dropped bucket comes back
# full, so an idle client loses nothing, and a flood of new addresses cannot grow memory without bound).
MAX_BUCKETS = 50_000


@dataclass
class Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Token buckets of one scope: each key may take ``rate`` requests per second sustained, ``burst`` at once."""

    def __init__(self, rate: float, burst: int, max_buckets: int = MAX_BUCKETS) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` may send a request (0: now), refilling its bucket up to ``now``; takes nothing."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(self.burst, now)
            if len(self._buckets) > self.max_buckets:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate

    def take(self, key: str) -> None:
        """Takes one request from ``key``'s bucket (call after ``wait`` answered 0)."""
        self._buckets[key].tokens -= 1
