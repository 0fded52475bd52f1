"""三方对接: the broker introduces a person from each side and opens the deal's one conversation.

Messages are DealEvents of kind "message", seen by the broker, the participants and admins; unread
tracking uses DealParticipant.last_read_at. Contact details (phone, e-mail) of one side are shown to
the other only once both sides have accepted sharing them.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.accounts.permissions import require
from marketplace.core import audit
from marketplace.core.errors import ServiceError
from marketplace.core.models import utcnow
from marketplace.deals import permissions, services
from marketplace.deals.models import Deal, DealEvent, DealEventKind, DealParticipant, DealStage, ParticipantSide
from marketplace.extensions import db
from marketplace.messaging.services import EXCERPT_LENGTH, clean_body
from marketplace.notifications.services import notify


def default_participants(deal: Deal) -> dict[str, User | None]:
    """Who to introduce by default: the demand's owner for the buyer, the achievement's (or the
    winning team's, or the inquirer's) for the seller, when they belong to that side's organisation."""
    buyer = deal.demand.owner if deal.demand is not None else None
    seller = next((listing.owner for listing in deal.achievements if listing.owner is not None), None)
    if deal.source == "challenge" and deal.source_id:
        from marketplace.listings.models import ChallengeApplication

        application = db.session.get(ChallengeApplication, deal.source_id)
        seller = seller or (application.applicant if application else None)
    if deal.source == "inquiry" and deal.source_id:
        from marketplace.messaging.models import InquiryThread

        thread = db.session.get(InquiryThread, deal.source_id)
        if thread is not None:
            buyer = buyer or (thread.asker if thread.listing.kind == "achievement" else thread.owner)
            seller = seller or (thread.owner if thread.listing.kind == "achievement" else thread.asker)
    return {ParticipantSide.BUYER: buyer, ParticipantSide.SELLER: seller}


def candidates(deal: Deal, side: str) -> list[User]:
    """People the broker may introduce for ``side``: active members of that side's organisation,
    plus the default person (an inquirer may have no organisation on file)."""
    org_id = deal.buyer_org_id if side == ParticipantSide.BUYER else deal.seller_org_id
    people = []
    if org_id is not None:
        people = list(
            db.session.scalars(
                select(User).where(User.organisation_id == org_id, User.active.is_(True)).order_by(User.id)
            )
        )
    default = default_participants(deal)[side]
    if default is not None and default not in people:
        people.insert(0, default)
    return people


def introduce(user, deal: Deal, buyer: User | None, seller: User | None, body: str | None = None) -> None:
    """Add the two sides' people and open the conversation; a lead becomes 已对接."""
    require(permissions.can_work(user, deal), _("只有本撮合的经纪人或管理员可以发起三方对接"))
    if not deal.is_open:
        raise ServiceError(_("该撮合已结束"), 409)
    if buyer is None or seller is None:
        raise ServiceError(_("请为需求方和供给方各选择一位对接人"))
    if buyer.id == seller.id:
        raise ServiceError(_("需求方和供给方的对接人不能是同一人"))
    for person, side in ((buyer, ParticipantSide.BUYER), (seller, ParticipantSide.SELLER)):
        if person not in candidates(deal, side):
            raise ServiceError(_("对接人须是该方机构的成员"))
        _add_participant(deal, person, side)
    db.session.flush()
    text = (body or "").strip()
    if text:
        _add_message(user, deal, clean_body(text))
    audit.record(user, "deal.introduced", deal, buyer_id=buyer.id, seller_id=seller.id)
    for person in (buyer, seller):
        notify(person, "deal_introduced", link=services.deal_link(deal), title=deal.title, broker=user.name)
    if deal.stage == DealStage.LEAD:
        services.change_stage(user, deal, DealStage.INTRODUCED)


def _add_participant(deal: Deal, person: User, side: str) -> DealParticipant:
    for participant in deal.participants:
        if participant.user_id == person.id:
            return participant
    participant = DealParticipant(user=person, side=side)
    deal.participants.append(participant)
    services.add_event(deal, None, DealEventKind.CONTACT, joined=person.id, side=side)
    return participant


def participant_of(user, deal: Deal) -> DealParticipant | None:
    return next((p for p in deal.participants if p.user_id == getattr(user, "id", None)), None)


def post_message(user, deal: Deal, body: str) -> DealEvent:
    require(permissions.can_talk(user, deal), _("您不在这个撮合的对接中"))
    if not deal.participants:
        raise ServiceError(_("经纪人发起三方对接后才能发送消息"), 409)
    event = _add_message(user, deal, clean_body(body))
    services.notify_others(deal, user, "deal_message", sender=user.name, excerpt=event.body[:EXCERPT_LENGTH])
    return event


def _add_message(user, deal: Deal, body: str) -> DealEvent:
    now = utcnow()
    event = services.add_event(deal, user, DealEventKind.MESSAGE, body)
    event.created_at = now
    deal.updated_at = now
    own = participant_of(user, deal)
    if own is not None:
        own.last_read_at = now
    return event


def messages(deal: Deal) -> list[DealEvent]:
    return [event for event in deal.events if event.kind == DealEventKind.MESSAGE]


def mark_read(user, deal: Deal) -> None:
    own = participant_of(user, deal)
    if own is not None:
        own.last_read_at = utcnow()


def unread_count(user, deal: Deal) -> int:
    own = participant_of(user, deal)
    if own is None:
        return 0
    statement = select(func.count()).where(
        DealEvent.deal_id == deal.id, DealEvent.kind == DealEventKind.MESSAGE, DealEvent.actor_id != user.id
    )
    if own.last_read_at is not None:
        statement = statement.where(DealEvent.created_at > own.last_read_at)
    return db.session.scalar(statement) or 0


def accept_contact(user, deal: Deal) -> None:
    """This participant agrees to share contact details with the other side."""
    own = participant_of(user, deal)
    require(own is not None, _("只有对接双方可以同意交换联系方式"))
    if own.contact_accepted_at is not None:
        return
    own.contact_accepted_at = utcnow()
    services.add_event(deal, user, DealEventKind.CONTACT, accepted=True, side=own.side)
    audit.record(user, "deal.contact_accepted", deal, side=own.side)


def both_sides_accepted(deal: Deal) -> bool:
    """Every participant of each side has accepted, and each side has someone."""
    sides = {ParticipantSide.BUYER: [], ParticipantSide.SELLER: []}
    for participant in deal.participants:
        sides.setdefault(participant.side, []).append(participant.contact_accepted_at is not None)
    return all(accepted and all(accepted) for accepted in sides.values())


def may_see_contact(viewer, deal: Deal, person: DealParticipant) -> bool:
    """The broker and admins always; a participant sees their own side, and the other side once both accepted."""
    if permissions.can_work(viewer, deal):
        return True
    own = participant_of(viewer, deal)
    if own is None:
        return False
    return own.side == person.side or both_sides_accepted(deal)
