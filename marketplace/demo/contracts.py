"""Demo technology contracts: about 2,000 registered contracts a year, 2021 to this month of 2026.

Yearly totals follow the city's published series (taxonomy.md: 2021 320.1 亿, 2024 709.58 亿 …;
2022, 2023, 2025 and 2026 are interpolated/projected), so the dashboard shows the city target as
passed long ago, while the West Coast New Area (huangdao) — about 11 % of the city's output — stays
clearly below its 100 亿 target. Amounts are heavy-tailed: most contracts between 10 万 and 500 万,
and a few very large ones carry the rest of the year's total. Deterministic (a seeded generator),
idempotent (nothing happens once demo contracts exist) and fast: the importer's bulk path
(``importer.insert_contracts``: one insert and one roll-up update per batch).

Call ``seed_contracts(echo)`` from ``flask demo seed`` after the organisations exist.
"""

from __future__ import annotations

import json
import random
from calendar import monthrange
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from sqlalchemy import select

from marketplace.contracts.importer import insert_contracts
from marketplace.contracts.models import ContractSource, ContractStatus, TechContract
from marketplace.core import taxonomy
from marketplace.extensions import db

DATA = Path(__file__).parent / "data"
SEED = 16
PER_YEAR = 2000
BATCH = 5000
DEMO_NOTE = "demo"
YI = Decimal(100_000_000)
WAN = Decimal(10_000)
CENT = Decimal("0.01")
# 亿元 per registration year (2026: the annual run rate; only the months up to today are generated).
YEAR_TOTALS = {
    2021: Decimal("320.1"),
    2022: Decimal("450"),
    2023: Decimal("632.4"),
    2024: Decimal("709.58"),
    2025: Decimal("780"),
    2026: Decimal("850"),
}
HUANGDAO_OUTPUT_SHARE = Decimal("0.11")
# Seller districts other than huangdao, by weight (the rest of Qingdao, and 青岛市外).
SELLER_DISTRICTS = {
    "laoshan": 30,
    "shinan": 22,
    "shibei": 8,
    "licang": 5,
    "chengyang": 6,
    "jimo": 5,
    "jiaozhou": 3,
    "pingdu": 2,
    "laixi": 2,
    "outside": 17,
}
BUYER_DISTRICTS = {
    "huangdao": 18,
    "laoshan": 14,
    "shinan": 12,
    "shibei": 8,
    "licang": 5,
    "chengyang": 9,
    "jimo": 6,
    "jiaozhou": 6,
    "pingdu": 4,
    "laixi": 3,
    "outside": 15,
}
SELLER_KINDS = {"university": 45, "institute": 33, "enterprise": 18, "other": 4}
BUYER_KINDS = {"enterprise": 85, "institute": 5, "university": 3, "other": 7}
TYPE_WEIGHTS = {"development": 40, "service": 30, "transfer": 12, "license": 6, "consulting": 12}
TOPICS = ["海洋监测", "智能制造", "新材料", "生物医药", "海水淡化", "轨道交通", "智能家电", "氢能储能", "工业互联网"]
WORKS = ["开发", "技术服务", "关键技术研究", "工艺优化", "检测方法", "系统集成", "专利许可", "技术咨询"]
NAME_STEMS = ["海洋", "蓝谷", "琴岛", "崂山", "胶州湾", "海创", "智造", "新材", "生物", "海工", "鲁信", "海信"]


def seed_contracts(echo=print, today: date | None = None) -> int:
    """Add the demo contracts (flushes; the caller commits). Returns how many were added."""
    exists = select(TechContract.id).where(TechContract.source == ContractSource.IMPORT, TechContract.note == DEMO_NOTE)
    if db.session.scalar(exists.limit(1)) is not None:
        echo("demo contracts already present")
        return 0
    today = today or date.today()
    rng = random.Random(SEED)
    names = _names(rng)
    added = 0
    for year, total in YEAR_TOTALS.items():
        if year > today.year:
            break
        months = 12 if year < today.year else today.month
        rows = _year(rng, names, year, months, total * YI * months / 12, today)
        for start in range(0, len(rows), BATCH):
            insert_contracts(rows[start : start + BATCH])
        added += len(rows)
        echo(f"demo contracts {year}: {len(rows)}")
    db.session.flush()
    return added


def _names(rng: random.Random) -> dict[str, list[str]]:
    """Party names by kind: the demo organisations first, then generated ones."""
    catalogue = json.loads((DATA / "organisations.json").read_text(encoding="utf-8"))
    universities = [o["name"] for o in catalogue["institutions"] if "大学" in o["name"] or "学院" in o["name"]]
    institutes = [o["name"] for o in catalogue["institutions"] if o["name"] not in universities]
    enterprises = [o["name"] for o in catalogue["enterprises"]]
    institutes += [f"青岛{stem}研究院" for stem in NAME_STEMS] + [f"青岛{stem}技术研究所" for stem in NAME_STEMS[:6]]
    enterprises += [f"青岛{stem}{suffix}有限公司" for stem in NAME_STEMS for suffix in ("科技", "装备", "智能")]
    universities += ["青岛职业技术学院", "青岛黄海学院"]
    others = ["青岛市市立医院", "青岛市科技发展战略研究院", "青岛市海洋产业协会"]
    rng.shuffle(enterprises)
    return {"university": universities, "institute": institutes, "enterprise": enterprises, "other": others}


def _amounts(rng: random.Random, count: int, total: Decimal) -> list[Decimal]:
    """Most contracts 10 万–500 万 (log-uniform); a tail of about 8 % carries the rest of ``total``."""
    body_count = int(count * 0.92)
    body = [Decimal(str(round(10 ** rng.uniform(5, 6.7), 2))) for _ in range(body_count)]
    tail_weights = [rng.paretovariate(2.2) for _ in range(count - body_count)]
    remaining = total - sum(body)
    scale = remaining / Decimal(str(sum(tail_weights)))
    tail = [(Decimal(str(weight)) * scale).quantize(CENT, rounding=ROUND_HALF_UP) for weight in tail_weights]
    tail[-1] += total.quantize(CENT) - sum(body) - sum(tail)  # the year's total to the fen
    amounts = body + tail
    rng.shuffle(amounts)
    return amounts


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _year(rng, names, year: int, months: int, total: Decimal, today: date) -> list[dict]:
    count = max(1, PER_YEAR * months // 12)
    amounts = _amounts(rng, count, total.quantize(CENT))
    # Huangdao's output: contracts in random order until its share of the year's total is reached.
    huangdao_target, huangdao = total * HUANGDAO_OUTPUT_SHARE, Decimal(0)
    order = list(range(count))
    rng.shuffle(order)
    sellers_in_huangdao = set()
    for index in order:
        if huangdao + amounts[index] <= huangdao_target:
            sellers_in_huangdao.add(index)
            huangdao += amounts[index]
    types, fields = list(taxonomy.CONTRACT_TYPES), list(taxonomy.TECH_FIELDS)
    rows = []
    for index, amount in enumerate(amounts):
        month = 1 + index * months // count
        last_day = monthrange(year, month)[1]
        if year == today.year and month == today.month:
            last_day = today.day
        registered_on = date(year, month, rng.randint(1, last_day))
        signed_on = registered_on - timedelta(days=rng.randint(3, 120))
        seller_kind, buyer_kind = _pick(rng, SELLER_KINDS), _pick(rng, BUYER_KINDS)
        # Every type and field appears: the first contracts of the year walk through them.
        contract_type = types[index] if index < len(types) else _pick(rng, TYPE_WEIGHTS)
        tech_field = fields[index] if index < len(fields) else rng.choice(fields[:-1])
        tech_ratio = Decimal(rng.randint(70, 100)) / 100
        seller_district = "huangdao" if index in sellers_in_huangdao else _pick(rng, SELLER_DISTRICTS)
        rows.append(
            {
                "registration_no": f"{year}3702{index + 1:08d}",
                "registered_on": registered_on,
                "signed_on": signed_on,
                "valid_from": signed_on,
                "valid_until": signed_on + timedelta(days=365 * rng.randint(1, 3)),
                "project_name": f"{rng.choice(TOPICS)}{rng.choice(WORKS)}",
                "contract_type": contract_type,
                "tech_field": tech_field,
                "contract_amount": amount,
                "tech_amount": (amount * tech_ratio).quantize(CENT, rounding=ROUND_HALF_UP),
                "performed_amount": (amount * Decimal(rng.randint(0, 100)) / 100).quantize(CENT),
                "seller_name": rng.choice(names[seller_kind]),
                "seller_kind": seller_kind,
                "seller_district": seller_district,
                "buyer_name": rng.choice(names[buyer_kind]),
                "buyer_kind": buyer_kind,
                "buyer_district": _pick(rng, BUYER_DISTRICTS),
                "status": ContractStatus.REGISTERED.value,
                "source": ContractSource.IMPORT.value,
                "note": DEMO_NOTE,
            }
        )
    return rows
