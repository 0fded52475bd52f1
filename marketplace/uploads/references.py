"""Which database columns hold upload keys: a file no such column names is an orphan."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

_columns: dict[str, InstrumentedAttribute] = {}


def track(column: InstrumentedAttribute) -> None:
    """Declare ``column`` (``Attachment.stored_name``) as holding keys of stored uploads."""
    _columns[f"{column.class_.__name__}.{column.key}"] = column


def referenced_keys(session: Session) -> set[str]:
    keys: set[str] = set()
    for column in _columns.values():
        keys.update(session.scalars(select(column).where(column.is_not(None))))
    return keys
