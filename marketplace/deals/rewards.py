"""Broker rewards as data: policies (a share of 技术交易额 with caps) applied to registered contracts.

The rule (also shown on the rewards page):

1. A contract earns a reward when it is registered (status 已登记 or 已变更登记, with its current
   amounts) and linked to a deal that has a broker; the reward goes to that deal's broker.
2. The policy is the one valid on the contract's registration date (valid_from ≤ date ≤ valid_until,
   an open end running on); when several are, the one that started last (then the newest). No
   valid policy: no reward.
3. Per contract: rate × 技术交易额, rounded to the fen (half up), then at most the policy's cap per
   contract.
4. Per broker and calendar year of registration: contracts are taken in registration order (date,
   then id); each gets what is left under its policy's yearly cap after the broker's earlier rewards
   that year, never less than zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import extract, select

from marketplace.accounts.capabilities import require_capability
from marketplace.accounts.models import User
from marketplace.contracts.models import COUNTED_STATUSES, TechContract
from marketplace.core import audit
from marketplace.core.money import CENT
from marketplace.deals.models import Deal, RewardPolicy
from marketplace.extensions import db

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class ContractFacts:
    """What the computation needs of a contract (built from a TechContract, or by hand in tests)."""

    contract_id: int
    broker_id: int
    registered_on: date
    tech_amount: Decimal


@dataclass(frozen=True)
class PolicyFacts:
    policy_id: int
    rate: Decimal
    valid_from: date
    valid_until: date | None = None
    cap_per_contract: Decimal | None = None
    cap_per_broker_year: Decimal | None = None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


@dataclass(frozen=True)
class Reward:
    contract_id: int
    broker_id: int
    policy_id: int | None
    computed: Decimal  # rate × 技术交易额, rounded to the fen
    after_contract_cap: Decimal
    reward: Decimal  # after the broker's yearly cap
    capped_by: str | None  # "contract", "year" or None


def policy_for(day: date, policies: Sequence[PolicyFacts]) -> PolicyFacts | None:
    valid = [policy for policy in policies if policy.valid_on(day)]
    return max(valid, key=lambda policy: (policy.valid_from, policy.policy_id), default=None)


def compute_rewards(contracts: Iterable[ContractFacts], policies: Sequence[PolicyFacts]) -> list[Reward]:
    """Rewards for ``contracts`` under ``policies`` by the module's rule, in registration order."""
    awarded: dict[tuple[int, int], Decimal] = {}
    results = []
    for contract in sorted(contracts, key=lambda c: (c.registered_on, c.contract_id)):
        policy = policy_for(contract.registered_on, policies)
        if policy is None:
            results.append(Reward(contract.contract_id, contract.broker_id, None, ZERO, ZERO, ZERO, None))
            continue
        computed = (policy.rate * contract.tech_amount).quantize(CENT, rounding=ROUND_HALF_UP)
        capped_by = None
        after_contract = computed
        if policy.cap_per_contract is not None and computed > policy.cap_per_contract:
            after_contract, capped_by = policy.cap_per_contract, "contract"
        key = (contract.broker_id, contract.registered_on.year)
        so_far = awarded.get(key, ZERO)
        reward = after_contract
        if policy.cap_per_broker_year is not None:
            room = max(ZERO, policy.cap_per_broker_year - so_far)
            if after_contract > room:
                reward, capped_by = room, "year"
        awarded[key] = so_far + reward
        results.append(
            Reward(
                contract.contract_id, contract.broker_id, policy.policy_id, computed, after_contract, reward, capped_by
            )
        )
    return results


# Queries ------------------------------------------------------------------------------------------


@dataclass
class RewardRow:
    contract: TechContract
    broker: User
    policy: RewardPolicy | None
    reward: Reward


@dataclass
class RewardReport:
    year: int
    rows: list[RewardRow] = field(default_factory=list)
    totals: dict[int, dict[str, Any]] = field(default_factory=dict)  # broker id → contracts, tech amount, reward

    @property
    def tech_amount(self) -> Decimal:
        return sum((row.contract.tech_amount for row in self.rows), ZERO)

    @property
    def total(self) -> Decimal:
        return sum((row.reward.reward for row in self.rows), ZERO)


def _facts_of(policy: RewardPolicy) -> PolicyFacts:
    return PolicyFacts(
        policy.id,
        policy.rate,
        policy.valid_from,
        policy.valid_until,
        policy.cap_per_contract,
        policy.cap_per_broker_year,
    )


def all_policies() -> list[RewardPolicy]:
    return list(db.session.scalars(select(RewardPolicy).order_by(RewardPolicy.valid_from.desc(), RewardPolicy.id)))


def _rewarded_contracts():
    return (
        select(TechContract, Deal.broker_id)
        .join(Deal, TechContract.deal_id == Deal.id)
        .where(
            TechContract.status.in_(COUNTED_STATUSES),
            TechContract.registered_on.is_not(None),
            Deal.broker_id.is_not(None),
        )
    )


def reward_years() -> list[int]:
    """Years with a rewarded contract, newest first."""
    inner = _rewarded_contracts().subquery()
    years = db.session.scalars(select(extract("year", inner.c.registered_on)).distinct())
    return sorted({int(year) for year in years if year is not None}, reverse=True)


def broker_rewards(year: int, broker_id: int | None = None) -> RewardReport:
    """Each rewarded contract registered in ``year`` with its reward (one broker's, or everyone's)."""
    statement = _rewarded_contracts().where(
        TechContract.registered_on >= date(year, 1, 1), TechContract.registered_on <= date(year, 12, 31)
    )
    if broker_id is not None:
        statement = statement.where(Deal.broker_id == broker_id)
    found = list(db.session.execute(statement.order_by(TechContract.registered_on, TechContract.id)))
    policies = all_policies()
    by_id = {policy.id: policy for policy in policies}
    rewards = compute_rewards(
        (
            ContractFacts(contract.id, broker, contract.registered_on, contract.tech_amount)
            for contract, broker in found
        ),
        [_facts_of(policy) for policy in policies],
    )
    contracts = {contract.id: contract for contract, _broker in found}
    brokers = {user.id: user for user in db.session.scalars(select(User).where(User.id.in_({b for _c, b in found})))}
    report = RewardReport(year)
    for reward in rewards:
        contract = contracts[reward.contract_id]
        report.rows.append(RewardRow(contract, brokers[reward.broker_id], by_id.get(reward.policy_id), reward))
        totals = report.totals.setdefault(
            reward.broker_id,
            {"broker": brokers[reward.broker_id], "contracts": 0, "tech_amount": ZERO, "reward": ZERO},
        )
        totals["contracts"] += 1
        totals["tech_amount"] += contract.tech_amount
        totals["reward"] += reward.reward
    return report


EXPORT_HEADERS = (
    _l("技术经纪人"),
    _l("合同登记号"),
    _l("项目名称"),
    _l("登记日期"),
    _l("技术交易额(元)"),
    _l("适用政策"),
    _l("按比例计算(元)"),
    _l("奖励金额(元)"),
    _l("封顶"),
)


def cap_label(capped_by: str | None) -> str:
    return {"contract": str(_l("单份合同上限")), "year": str(_l("年度上限"))}.get(capped_by or "", "")


def export_rows(report: RewardReport):
    for row in report.rows:
        yield [
            row.broker.name,
            row.contract.registration_no,
            row.contract.project_name,
            row.contract.registered_on,
            row.contract.tech_amount,
            row.policy.name if row.policy else str(_l("无适用政策")),
            row.reward.computed,
            row.reward.reward,
            cap_label(row.reward.capped_by),
        ]
    yield [str(_l("合计")), "", "", "", report.tech_amount, "", "", report.total, ""]


# Policy administration ----------------------------------------------------------------------------

POLICY_FIELDS = ("name", "cap_per_contract", "cap_per_broker_year", "valid_from", "valid_until", "note")


def form_values(policy: RewardPolicy) -> Any:
    """The policy as the form shows it (the rate as a percentage)."""

    class Values:
        pass

    values = Values()
    for name in POLICY_FIELDS:
        setattr(values, name, getattr(policy, name))
    values.rate_percent = (policy.rate * 100).quantize(CENT)
    return values


def _apply(policy: RewardPolicy, data: dict[str, Any]) -> dict[str, Any]:
    changes = {}
    values = {name: data.get(name) for name in POLICY_FIELDS}
    values["name"] = (values["name"] or "").strip()
    values["note"] = (values["note"] or "").strip() or None
    values["rate"] = (Decimal(data["rate_percent"]) / 100).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    for name, value in values.items():
        if getattr(policy, name) != value:
            changes[name] = [_plain(getattr(policy, name)), _plain(value)]
            setattr(policy, name, value)
    return changes


def _plain(value):
    return str(value) if isinstance(value, Decimal | date) else value


def create_policy(user, data: dict[str, Any]) -> RewardPolicy:
    require_capability(user, "reward.manage")
    policy = RewardPolicy()
    changes = _apply(policy, data)
    db.session.add(policy)
    db.session.flush()
    audit.record(user, "reward_policy.create", policy, changes=changes)
    return policy


def update_policy(user, policy: RewardPolicy, data: dict[str, Any]) -> RewardPolicy:
    require_capability(user, "reward.manage")
    changes = _apply(policy, data)
    db.session.flush()
    if changes:
        audit.record(user, "reward_policy.update", policy, changes=changes)
    return policy
