"""The deal-reminders job: a broker hears once when a deal's next step is overdue."""

from __future__ import annotations

from datetime import date

from flask_babel import format_date
from sqlalchemy import func, or_, select

from marketplace.core.models import utcnow
from marketplace.deals.models import OPEN_STAGES, Deal
from marketplace.deals.services import deal_link
from marketplace.extensions import db
from marketplace.notifications.services import notify

BATCH = 200


def overdue(today: date | None = None):
    """Open deals with a broker whose next step's date has passed and who were not reminded since."""
    today = today or date.today()
    return (
        select(Deal)
        .where(
            Deal.stage.in_(list(OPEN_STAGES)),
            Deal.broker_id.is_not(None),
            Deal.next_step_on < today,
            # Reminded on or before the due date counts as not reminded about this passing of it.
            or_(Deal.reminded_at.is_(None), func.date(Deal.reminded_at) <= Deal.next_step_on),
        )
        .order_by(Deal.next_step_on, Deal.id)
        .limit(BATCH)
    )


def send_reminders(today: date | None = None) -> str:
    """One run: notify (in-app and mail) and mark ``reminded_at``; the runner commits once."""
    now, sent = utcnow(), 0
    for deal in db.session.scalars(overdue(today)):
        if deal.broker is None or not deal.broker.active:
            continue
        notify(
            deal.broker,
            "deal_reminder",
            link=deal_link(deal),
            title=deal.title,
            step=deal.next_step or "",
            date=format_date(deal.next_step_on, format="long"),
        )
        deal.reminded_at = now
        sent += 1
    db.session.flush()
    return f"{sent} overdue deals reminded"
