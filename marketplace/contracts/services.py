"""The write paths of technology contracts: draft, register, amend (变更登记), cancel (注销), perform, link.

Every function flushes and never commits; it writes its audit row, and keeps the monthly roll-ups
right through ``rollup.record_change(before, after)`` whenever a change can move a total (the facts
of a draft or a cancelled contract are None, so registering adds and cancelling subtracts).
``check_fields`` is the one validation the form, the importer and (later) the API share.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from marketplace.accounts.capabilities import has_capability, require_capability
from marketplace.accounts.roles import OrgKind
from marketplace.contracts.models import (
    ContractListing,
    ContractSource,
    ContractStatus,
    TechContract,
)
from marketplace.core import audit, taxonomy
from marketplace.core.errors import PermissionDenied, ServiceError
from marketplace.core.models import utcnow
from marketplace.core.money import CENT
from marketplace.deals import permissions as deal_permissions
from marketplace.deals import services as deal_services
from marketplace.deals import stages as deal_stages
from marketplace.deals.models import DealStage
from marketplace.extensions import db
from marketplace.stats import rollup

# The fields a user (or a registration file) gives; everything else is the life cycle's.
FIELDS = (
    "registration_no",
    "registered_on",
    "project_name",
    "contract_type",
    "tech_field",
    "contract_amount",
    "tech_amount",
    "performed_amount",
    "signed_on",
    "valid_from",
    "valid_until",
    "seller_name",
    "seller_kind",
    "seller_district",
    "buyer_name",
    "buyer_kind",
    "buyer_district",
    "note",
)
# What an amendment (变更登记) may change.
AMENDABLE = tuple(name for name in FIELDS if name not in ("registration_no", "performed_amount", "note"))
DEAL_STAGES_WITH_CONTRACT = ("negotiating", "signed", "registered", "performing", "won")


class ContractInvalid(ServiceError):
    """A contract's fields break a rule of the registration form; ``field`` names the culprit."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def check_fields(fields: Mapping[str, Any], *, contract_id: int | None = None, unique: bool = True) -> None:
    """Raise ContractInvalid for the first broken rule; ``unique=False`` when the caller checked
    registration numbers itself (the importer, against a batch it pre-loaded)."""
    get = fields.get
    # Messages are translated only when raised: the importer checks thousands of rows a second.
    for name, message in (
        ("project_name", lambda: _("请填写项目名称")),
        ("seller_name", lambda: _("请填写卖方名称")),
        ("buyer_name", lambda: _("请填写买方名称")),
    ):
        if not (get(name) or "").strip():
            raise ContractInvalid(message(), name)
    amount, tech = get("contract_amount"), get("tech_amount")
    if amount is None or Decimal(amount) <= 0:
        raise ContractInvalid(_("合同成交额必须大于 0"), "contract_amount")
    if tech is None or Decimal(tech) < 0:
        raise ContractInvalid(_("技术交易额不能为负数"), "tech_amount")
    if Decimal(tech) > Decimal(amount):
        raise ContractInvalid(_("技术交易额不能大于合同成交额"), "tech_amount")
    performed = get("performed_amount")
    if performed is not None and not Decimal(0) <= Decimal(performed) <= Decimal(amount):
        raise ContractInvalid(_("履约金额应在 0 与合同成交额之间"), "performed_amount")
    signed, registered = get("signed_on"), get("registered_on")
    if signed and registered and registered < signed:
        raise ContractInvalid(_("登记日期不能早于签订日期"), "registered_on")
    if get("valid_from") and get("valid_until") and get("valid_until") < get("valid_from"):
        raise ContractInvalid(_("有效期止不能早于有效期起"), "valid_until")
    if get("contract_type") not in taxonomy.CONTRACT_TYPES:
        raise ContractInvalid(_("未知的合同类型：%(value)s", value=get("contract_type") or ""), "contract_type")
    if get("tech_field") and get("tech_field") not in taxonomy.TECH_FIELDS:
        raise ContractInvalid(_("未知的技术领域：%(value)s", value=get("tech_field")), "tech_field")
    for side in ("seller", "buyer"):
        if get(f"{side}_kind") not in taxonomy.PARTY_KINDS:
            raise ContractInvalid(_("未知的单位性质：%(value)s", value=get(f"{side}_kind") or ""), f"{side}_kind")
        if get(f"{side}_district") not in taxonomy.DISTRICTS:
            raise ContractInvalid(_("未知的区市：%(value)s", value=get(f"{side}_district") or ""), f"{side}_district")
    number = (get("registration_no") or "").strip()
    if number and unique:
        statement = select(TechContract.id).where(TechContract.registration_no == number)
        if contract_id is not None:
            statement = statement.where(TechContract.id != contract_id)
        if db.session.scalar(statement.limit(1)) is not None:
            raise ContractInvalid(_("合同登记号 %(no)s 已存在", no=number), "registration_no")


def _normalised(fields: dict[str, Any]) -> dict[str, Any]:
    """Amounts to the fen, as NUMERIC(18,2) stores them (so the audit's old/new read the same)."""
    for name in ("contract_amount", "tech_amount", "performed_amount"):
        if fields.get(name) is not None:
            fields[name] = Decimal(fields[name]).quantize(CENT, rounding=ROUND_HALF_UP)
    return fields


def _values(contract: TechContract) -> dict[str, Any]:
    return {name: getattr(contract, name) for name in FIELDS}


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal | date) else value


def _require_status(contract: TechContract, *statuses: str, message: str) -> None:
    if contract.status not in statuses:
        raise ServiceError(message, 409)


def create_draft(user, data: Mapping[str, Any]) -> TechContract:
    require_capability(user, "contract.manage")
    return _new_draft(user, data)


def _new_draft(user, data: Mapping[str, Any]) -> TechContract:
    fields = {name: data.get(name) for name in FIELDS if name in data}
    fields.setdefault("tech_amount", fields.get("contract_amount"))
    fields["performed_amount"] = fields.get("performed_amount") or Decimal("0.00")
    fields["registration_no"] = (fields.get("registration_no") or "").strip() or None
    check_fields(_normalised(fields))
    contract = TechContract(
        **fields,
        status=ContractStatus.DRAFT,
        source=data.get("source", ContractSource.MANUAL),
        deal_id=data.get("deal_id"),
        seller_org_id=data.get("seller_org_id"),
        buyer_org_id=data.get("buyer_org_id"),
        created_by_id=getattr(user, "id", None),
    )
    db.session.add(contract)
    db.session.flush()
    audit.record(user, "contract.create", contract, source=contract.source)
    return contract


def update_draft(user, contract: TechContract, data: Mapping[str, Any]) -> TechContract:
    require_capability(user, "contract.manage")
    _require_status(contract, ContractStatus.DRAFT, message=_("只有草稿可以直接修改，已登记的合同请办理变更登记"))
    fields = {**_values(contract), **{name: data[name] for name in FIELDS if name in data}}
    fields["registration_no"] = (fields.get("registration_no") or "").strip() or None
    check_fields(_normalised(fields), contract_id=contract.id)
    for name, value in fields.items():
        setattr(contract, name, value)
    db.session.flush()
    audit.record(user, "contract.update", contract)
    return contract


def register(user, contract: TechContract, registration_no: str, registered_on: date) -> TechContract:
    """认定登记: the draft gets its registration number and date, and from now on counts."""
    require_capability(user, "contract.manage")
    _require_status(contract, ContractStatus.DRAFT, message=_("该合同已登记"))
    number = (registration_no or "").strip()
    if not number:
        raise ContractInvalid(_("请填写合同登记号"), "registration_no")
    if registered_on is None:
        raise ContractInvalid(_("请填写登记日期"), "registered_on")
    check_fields(
        {**_values(contract), "registration_no": number, "registered_on": registered_on}, contract_id=contract.id
    )
    before = rollup.facts_of(contract)
    contract.registration_no, contract.registered_on = number, registered_on
    contract.status = ContractStatus.REGISTERED
    rollup.record_change(before, rollup.facts_of(contract))
    db.session.flush()
    audit.record(user, "contract.register", contract, registration_no=number, registered_on=str(registered_on))
    _advance_deal(user, contract, contract.deal)
    return contract


def amend(user, contract: TechContract, changes: Mapping[str, Any], reason: str) -> TechContract:
    """变更登记: the new values replace the old ones in every total; both are kept in the audit trail."""
    require_capability(user, "contract.manage")
    _require_status(
        contract, ContractStatus.REGISTERED, ContractStatus.AMENDED, message=_("只有已登记的合同可以变更登记")
    )
    if not (reason or "").strip():
        raise ContractInvalid(_("请填写变更原因"), "reason")
    old = _values(contract)
    new = _normalised({**old, **{name: changes[name] for name in AMENDABLE if name in changes}})
    changed = {name: (old[name], new[name]) for name in AMENDABLE if old[name] != new[name]}
    if not changed:
        raise ContractInvalid(_("没有需要变更的内容"))
    check_fields(new, contract_id=contract.id)
    before = rollup.facts_of(contract)
    for name, (_old, value) in changed.items():
        setattr(contract, name, value)
    contract.status, contract.amended_at = ContractStatus.AMENDED, utcnow()
    rollup.record_change(before, rollup.facts_of(contract))
    db.session.flush()
    audit.record(
        user,
        "contract.amend",
        contract,
        reason=reason.strip(),
        old={name: _jsonable(pair[0]) for name, pair in changed.items()},
        new={name: _jsonable(pair[1]) for name, pair in changed.items()},
    )
    return contract


def cancel(user, contract: TechContract, cancelled_on: date, reason: str) -> TechContract:
    """注销: the contract leaves every total (its facts become None)."""
    require_capability(user, "contract.manage")
    _require_status(contract, ContractStatus.REGISTERED, ContractStatus.AMENDED, message=_("只有已登记的合同可以注销"))
    if not (reason or "").strip():
        raise ContractInvalid(_("请填写注销原因"), "reason")
    if cancelled_on is None:
        raise ContractInvalid(_("请填写注销日期"), "cancelled_on")
    if contract.registered_on and cancelled_on < contract.registered_on:
        raise ContractInvalid(_("注销日期不能早于登记日期"), "cancelled_on")
    before = rollup.facts_of(contract)
    contract.status, contract.cancelled_on = ContractStatus.CANCELLED, cancelled_on
    rollup.record_change(before, None)
    db.session.flush()
    audit.record(user, "contract.cancel", contract, reason=reason.strip(), cancelled_on=str(cancelled_on))
    return contract


def record_performance(user, contract: TechContract, amount: Decimal) -> TechContract:
    """履约金额: the payments received to date (replaces the previous figure)."""
    require_capability(user, "contract.manage")
    if contract.status == ContractStatus.CANCELLED:
        raise ServiceError(_("已注销的合同不能登记履约"), 409)
    if amount is None or amount < 0 or amount > contract.contract_amount:
        raise ContractInvalid(_("履约金额应在 0 与合同成交额之间"), "performed_amount")
    amount = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    old = contract.performed_amount
    contract.performed_amount = amount
    db.session.flush()
    audit.record(user, "contract.performance", contract, old=str(old), new=str(amount))
    return contract


# --- deals ---------------------------------------------------------------------------------------


def party_kind_of(organisation) -> str:
    if organisation is None:
        return "other"
    if organisation.kind == OrgKind.INSTITUTION:
        return "university" if ("大学" in organisation.name or "学院" in organisation.name) else "institute"
    if organisation.kind == OrgKind.ENTERPRISE:
        return "enterprise"
    return "other"


def can_act_on_deal(user, deal) -> bool:
    return bool(user.is_authenticated and (deal.broker_id == user.id or has_capability(user, "contract.manage")))


def create_from_deal(user, deal, data: Mapping[str, Any] | None = None) -> TechContract:
    """A draft that copies what the deal knows: parties, listings, title, expected value."""
    if not can_act_on_deal(user, deal):
        raise PermissionDenied(_("只有该撮合的经纪人或管理员可以创建合同"))
    if deal.stage not in DEAL_STAGES_WITH_CONTRACT:
        raise ServiceError(_("撮合进入洽谈或签约阶段后才能创建合同"), 409)
    data = dict(data or {})
    amount = data.get("contract_amount") or deal.expected_value
    if not amount:
        raise ContractInvalid(_("撮合没有预计成交额，请先填写成交额"), "contract_amount")
    fields: dict[str, Any] = {
        "project_name": deal.title,
        "contract_type": "development",
        "contract_amount": amount,
        "tech_amount": data.get("tech_amount") or amount,
        "source": ContractSource.DEAL,
        "deal_id": deal.id,
    }
    for side, organisation in (("seller", deal.seller_org), ("buyer", deal.buyer_org)):
        fields[f"{side}_name"] = organisation.name if organisation else ""
        fields[f"{side}_org_id"] = organisation.id if organisation else None
        fields[f"{side}_kind"] = party_kind_of(organisation)
        district = organisation.district if organisation else None
        fields[f"{side}_district"] = district if district in taxonomy.DISTRICTS else "outside"
    fields.update({name: value for name, value in data.items() if value is not None})
    # A deal's broker may start the contract of their own deal without holding contract.manage.
    contract = _new_draft(user, fields)
    listings = ([deal.demand] if deal.demand else []) + list(deal.achievements)
    for listing in listings:
        contract.listing_links.append(ContractListing(listing_id=listing.id))
    _deal_event(user, deal, contract, "created")
    db.session.flush()
    return contract


def _deal_event(user, deal, contract: TechContract, what: str) -> None:
    from marketplace.deals.models import DealEvent, DealEventKind

    db.session.add(
        DealEvent(
            deal_id=deal.id,
            actor_id=getattr(user, "id", None),
            kind=DealEventKind.CONTRACT,
            detail={"contract_id": contract.id, "registration_no": contract.registration_no, "what": what},
        )
    )


def link_deal(user, contract: TechContract, deal) -> TechContract:
    """Credit a platform deal with the contract: its totals move to ``via_platform = "deal"``."""
    if not can_act_on_deal(user, deal):
        raise PermissionDenied(_("只有该撮合的经纪人或管理员可以关联合同"))
    if contract.deal_id == deal.id:
        return contract
    if contract.deal_id is not None:
        raise ServiceError(_("该合同已关联其他撮合"), 409)
    before = rollup.facts_of(contract)
    contract.deal_id = deal.id
    rollup.record_change(before, rollup.facts_of(contract))
    _deal_event(user, deal, contract, "linked")
    db.session.flush()
    audit.record(user, "contract.link_deal", contract, deal_id=deal.id)
    _advance_deal(user, contract, deal)
    return contract


def _advance_deal(user, contract: TechContract, deal) -> None:
    """A signed deal whose contract is registered is 已登记: the registration says so, the broker need not.

    Done as ``user`` through the deal's own stage table, so only someone who may make that move makes it;
    anyone else (or a deal at another stage) leaves the stage to the broker.
    """
    if deal is None or not contract.counted or deal.stage != DealStage.SIGNED:
        return
    if not (deal_permissions.can_work(user, deal) and deal_stages.move(deal.stage, DealStage.REGISTERED)):
        return
    db.session.expire(deal, ["contracts"])  # the link made above is not in the loaded collection yet
    deal_services.change_stage(
        user, deal, DealStage.REGISTERED, note=_("合同已认定登记（登记号 %(no)s）", no=contract.registration_no)
    )


def unlink_deal(user, contract: TechContract) -> TechContract:
    require_capability(user, "contract.manage")
    if contract.deal_id is None:
        return contract
    before, deal_id = rollup.facts_of(contract), contract.deal_id
    contract.deal_id = None
    rollup.record_change(before, rollup.facts_of(contract))
    db.session.flush()
    audit.record(user, "contract.unlink_deal", contract, deal_id=deal_id)
    return contract
