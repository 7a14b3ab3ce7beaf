"""What can go wrong in a sink. Leaf code raises; the runner decides between retry, dead-letter and exit."""


class SinkError(Exception):
    """Base of every sink failure."""


class RetryableError(SinkError):
    """Transient: the same work may succeed later (database or Elasticsearch unavailable, replica lag)."""


class PoisonEventError(SinkError):
    """The event itself cannot be applied (malformed, or its document is rejected) and never will be."""
