"""Link proposals: an imported contract whose parties are a platform deal's, offered to its broker.

Brokers get credit for deals that were registered elsewhere: after each import batch, contracts
whose seller and buyer are the seller and buyer organisations of an open deal that has no contract
yet (matched by organisation, i.e. the exact organisation name the registration office recorded)
become proposals; the broker accepts (the contract is linked and counted as "via the platform") or
declines in one click.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.contracts import services
from marketplace.contracts.models import ContractLinkProposal, LinkProposalStatus, TechContract
from marketplace.core import audit
from marketplace.core.errors import PermissionDenied, ServiceError
from marketplace.core.links import path_for
from marketplace.core.models import utcnow
from marketplace.extensions import db

MATCHED_STAGES = ("negotiating", "signed", "registered", "performing")


def _open_deals_by_parties() -> dict[tuple[str, str], list]:
    from marketplace.deals.models import Deal

    with_contract = select(TechContract.deal_id).where(TechContract.deal_id.is_not(None))
    statement = select(Deal).where(
        Deal.stage.in_(MATCHED_STAGES),
        Deal.buyer_org_id.is_not(None),
        Deal.seller_org_id.is_not(None),
        Deal.id.not_in(with_contract),
    )
    deals: dict[tuple[str, str], list] = defaultdict(list)
    for deal in db.session.scalars(statement):
        deals[(deal.seller_org.name, deal.buyer_org.name)].append(deal)
    return deals


def propose_for_rows(rows: list[dict[str, Any]]) -> int:
    """Proposals for freshly imported contracts (column dicts); returns how many were made."""
    deals = _open_deals_by_parties()
    if not deals:
        return 0
    matched = {
        row["registration_no"]: deals[key] for row in rows if (key := (row["seller_name"], row["buyer_name"])) in deals
    }
    if not matched:
        return 0
    contracts = db.session.scalars(select(TechContract).where(TechContract.registration_no.in_(list(matched))))
    made = 0
    for contract in contracts:
        for deal in matched[contract.registration_no]:
            db.session.add(ContractLinkProposal(contract_id=contract.id, deal_id=deal.id, score=2))
            made += 1
            if deal.broker is not None:
                from marketplace.notifications.services import notify

                notify(
                    deal.broker,
                    "contract_link_proposed",
                    link=path_for("contracts.proposals"),
                    title=contract.project_name,
                    no=contract.registration_no,
                    deal=deal.title,
                )
    db.session.flush()
    return made


def can_decide(user, proposal: ContractLinkProposal) -> bool:
    return services.can_act_on_deal(user, proposal.deal)


def visible_proposals(user, status: str = LinkProposalStatus.PROPOSED) -> list[ContractLinkProposal]:
    from marketplace.accounts.capabilities import has_capability
    from marketplace.deals.models import Deal

    statement = select(ContractLinkProposal).where(ContractLinkProposal.status == status)
    if not has_capability(user, "contract.manage"):
        statement = statement.join(Deal, Deal.id == ContractLinkProposal.deal_id).where(Deal.broker_id == user.id)
    return list(db.session.scalars(statement.order_by(ContractLinkProposal.id.desc()).limit(200)))


def _decide(user, proposal: ContractLinkProposal, status: str) -> None:
    if not can_decide(user, proposal):
        raise PermissionDenied(_("只有该撮合的经纪人或管理员可以处理此建议"))
    if proposal.status != LinkProposalStatus.PROPOSED:
        raise ServiceError(_("该关联建议已处理"), 409)
    proposal.status, proposal.decided_by_id, proposal.decided_at = status, user.id, utcnow()


def accept_proposal(user, proposal: ContractLinkProposal) -> ContractLinkProposal:
    """Link the contract to the deal (roll-ups move to via_platform "deal", the deal's timeline says so);
    the contract's other proposals lapse."""
    _decide(user, proposal, LinkProposalStatus.ACCEPTED)
    services.link_deal(user, proposal.contract, proposal.deal)
    others = select(ContractLinkProposal).where(
        ContractLinkProposal.contract_id == proposal.contract_id,
        ContractLinkProposal.id != proposal.id,
        ContractLinkProposal.status == LinkProposalStatus.PROPOSED,
    )
    for other in db.session.scalars(others):
        other.status, other.decided_by_id, other.decided_at = LinkProposalStatus.DECLINED, user.id, utcnow()
    db.session.flush()
    audit.record(user, "contract.proposal_accept", proposal.contract, deal_id=proposal.deal_id)
    return proposal


def decline_proposal(user, proposal: ContractLinkProposal) -> ContractLinkProposal:
    _decide(user, proposal, LinkProposalStatus.DECLINED)
    db.session.flush()
    audit.record(user, "contract.proposal_decline", proposal.contract, deal_id=proposal.deal_id)
    return proposal
