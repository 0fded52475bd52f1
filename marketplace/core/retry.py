"""When background work that failed (an index write, a match scan) is tried again."""

from __future__ import annotations

from datetime import datetime, timedelta

from marketplace.core.models import utcnow

MAX_BACKOFF_SECONDS = 300


def next_attempt_after(attempts: int, now: datetime | None = None) -> datetime:
    """Exponential back-off: 2, 4, 8 … seconds after the n-th failure, at most five minutes."""
    return (now or utcnow()) + timedelta(seconds=min(2**attempts, MAX_BACKOFF_SECONDS))
