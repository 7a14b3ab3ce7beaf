"""What can go wrong in a sink. Leaf code raises; the runner decides between waiting, dead-lettering and exiting.

The taxonomy the runner decides on:
- outage (RetryableError): a dependency cannot take the work now (PostgreSQL, Kafka or Elasticsearch unavailable,
  overloaded, write-blocked, unauthorized, hanging). Waited out with capped backoff, reported as degraded, never
  dead-lettered.
- deploy error (DeployError, a kind of outage): the code and what it talks to disagree (index missing, mapping
  version behind the code, schema or privileges not as expected). Waited out the same way, reported as paused for
  a deploy error until someone fixes the deploy.
- poison (PoisonEventError): the event itself is wrong (malformed, names no root, claims a WAL position the
  database never reached, its document is refused). Dead-lettered, once, after which the view moves on.
"""


class SinkError(Exception):
    """Base of every sink failure."""


class RetryableError(SinkError):
    """Outage: the same work may succeed later (database or Elasticsearch unavailable, refusing writes, lagging)."""


class DeployError(RetryableError):
    """The deploy is inconsistent (missing index, mapping version behind the code, schema not migrated)."""


class RequestTooLarge(SinkError):
    """Elasticsearch refused a request as too large: the batch is split (bounded failure), never waited on."""


class PoisonEventError(SinkError):
    """The event itself cannot be applied (malformed, or its document is rejected) and never will be."""
