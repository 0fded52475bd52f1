"""Model mixins and column types shared by every feature."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import DateTime, Numeric
from sqlalchemy.orm import Mapped, mapped_column

# NUMERIC(18,2): yuan with fen, up to 10^16 — beyond any single technology contract.
Money = Numeric(18, 2, asdecimal=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every one this application stores is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


__all__ = ["Decimal", "Money", "TimestampMixin", "as_utc", "utcnow"]
