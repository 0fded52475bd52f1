from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.core.models import utcnow
from marketplace.extensions import db
from marketplace.listings.models import Listing


class InquiryThread(db.Model):
    __tablename__ = "inquiry_threads"
    __table_args__ = (UniqueConstraint("listing_id", "asker_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    asker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    last_message_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    asker_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    owner_read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    listing: Mapped[Listing] = relationship()
    asker: Mapped[User] = relationship(foreign_keys=[asker_id])
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    messages: Mapped[list[InquiryMessage]] = relationship(
        back_populates="thread", cascade="all, delete-orphan", order_by="InquiryMessage.id"
    )

    def other_party(self, user: User) -> User:
        return self.owner if user.id == self.asker_id else self.asker

    def involves(self, user: User) -> bool:
        return user.id in (self.asker_id, self.owner_id)


class InquiryMessage(db.Model):
    __tablename__ = "inquiry_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("inquiry_threads.id", ondelete="CASCADE"), index=True)
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    thread: Mapped[InquiryThread] = relationship(back_populates="messages")
    sender: Mapped[User] = relationship()
