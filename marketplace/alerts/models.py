from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.core.models import utcnow
from marketplace.extensions import db


class SavedSearch(db.Model):
    """A browse page's query arguments kept under a name, checked by the worker for new results."""

    __tablename__ = "saved_searches"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(80))
    # The browse page's own query arguments (q, industry, …), so the saved search opens as that page.
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    alert: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Listings published after this moment are "new" for the next check.
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_alerted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why the last check of this search failed (shown on /subscriptions/); cleared when one succeeds.
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()
