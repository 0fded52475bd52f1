"""Turnover dashboard at scale: bulk-insert N synthetic contracts with their roll-ups, then time every
query the dashboard runs (and the page itself) and print p50/p95 in ms.

    .venv/bin/python benchmarks/stats_bench.py --contracts 1000000
    .venv/bin/python benchmarks/stats_bench.py --contracts 1000000 \
        --database-url postgresql://postgres@127.0.0.1:5432/wt_stats

The database is rebuilt from the models (a scratch SQLite file by default; the PostgreSQL database given
is emptied). ``insert_contracts`` is the one place rows go in, so the contracts importer can be timed
through the same harness by swapping it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from marketplace import create_app  # noqa: E402
from marketplace.accounts.models import User  # noqa: E402
from marketplace.accounts.roles import Role  # noqa: E402
from marketplace.contracts.importer import insert_contracts as bulk_insert  # noqa: E402
from marketplace.core import taxonomy  # noqa: E402
from marketplace.deals.models import Deal  # noqa: E402
from marketplace.extensions import db  # noqa: E402
from marketplace.stats import exports, queries, targets  # noqa: E402

FIRST_YEAR, LAST_YEAR = 2016, 2026
# Rough shape of Qingdao's registrations: most output from Laoshan, Shinan and the West Coast.
DISTRICT_WEIGHTS = {
    "shinan": 14,
    "shibei": 8,
    "licang": 5,
    "laoshan": 22,
    "chengyang": 9,
    "huangdao": 16,
    "jimo": 6,
    "jiaozhou": 4,
    "pingdu": 2,
    "laixi": 2,
    "outside": 12,
}
TYPE_WEIGHTS = {"development": 30, "transfer": 6, "license": 4, "consulting": 10, "service": 50}
KIND_WEIGHTS = {"enterprise": 70, "university": 14, "institute": 10, "other": 6}


def _weighted(weights: dict[str, int], rng: random.Random, n: int) -> list[str]:
    return rng.choices(list(weights), weights=list(weights.values()), k=n)


def synthetic_contracts(n: int, deal_ids: list[int], seed: int = 16) -> list[dict]:
    """N counted contracts over ten years (growing ~15 % a year), amounts log-normal around 30 万元."""
    rng = random.Random(seed)
    years = list(range(FIRST_YEAR, LAST_YEAR + 1))
    year_weights = [1.15 ** (year - FIRST_YEAR) for year in years]
    sellers = [f"卖方机构{i:05d}" for i in range(3000)]
    buyers = [f"买方企业{i:05d}" for i in range(8000)]
    fields = list(taxonomy.TECH_FIELDS)
    seller_districts = _weighted(DISTRICT_WEIGHTS, rng, n)
    buyer_districts = _weighted(DISTRICT_WEIGHTS, rng, n)
    types = _weighted(TYPE_WEIGHTS, rng, n)
    kinds = _weighted(KIND_WEIGHTS, rng, n)
    chosen_years = rng.choices(years, weights=year_weights, k=n)
    last_day = date(LAST_YEAR, 12, 7)
    rows = []
    for i in range(n):
        year = chosen_years[i]
        registered = date(year, 1, 1) + timedelta(days=rng.randrange(366 if year % 4 == 0 else 365))
        registered = min(registered, last_day)
        amount = Decimal(min(max(rng.lognormvariate(12.6, 1.4), 1000), 5e9)).quantize(Decimal("0.01"))
        tech = (amount * Decimal(rng.uniform(0.5, 1.0))).quantize(Decimal("0.01"))
        rows.append(
            {
                "registration_no": f"3702{year}{i:010d}",
                "registered_on": registered,
                "signed_on": registered - timedelta(days=rng.randrange(1, 90)),
                "project_name": f"合成技术合同{i}",
                "contract_type": types[i],
                "tech_field": rng.choice(fields),
                "contract_amount": amount,
                "tech_amount": tech,
                "performed_amount": Decimal("0.00"),
                "seller_name": rng.choice(sellers),
                "seller_kind": kinds[i],
                "seller_district": seller_districts[i],
                "buyer_name": rng.choice(buyers),
                "buyer_kind": "enterprise",
                "buyer_district": buyer_districts[i],
                "status": "registered",
                "source": "import",
                "deal_id": rng.choice(deal_ids) if deal_ids and rng.random() < 0.02 else None,
            }
        )
    return rows


SPLIT = {"contracts and roll-ups": 0.0, "commit": 0.0}


def insert_contracts(rows: list[dict]) -> None:
    """One batch through the importer's bulk path (contracts plus their roll-ups), committed as it commits."""
    started = time.perf_counter()
    bulk_insert(rows)
    SPLIT["contracts and roll-ups"] += time.perf_counter() - started
    started = time.perf_counter()
    db.session.commit()
    SPLIT["commit"] += time.perf_counter() - started


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _time(label: str, function: Callable[[], object], repeat: int) -> float:
    function()  # warm the caches once, as a dashboard that is visited is
    samples = []
    for _ in range(repeat):
        db.session.expire_all()
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
        db.session.rollback()
    p95 = _percentile(samples, 0.95)
    print(f"  {label:<42} p50 {statistics.median(samples):8.1f} ms   p95 {p95:8.1f} ms", flush=True)
    return p95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contracts", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (emptied!); default a scratch SQLite file")
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="stats-bench-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    app = create_app({"ENV": "testing", "DATABASE_URL": url, "INSTANCE_PATH": str(workdir), "SERVER_NAME": "localhost"})
    app.config["WTF_CSRF_ENABLED"] = False
    with app.app_context():
        dialect = db.engine.dialect.name
        print(f"database: {dialect} ({url.split('@')[-1]}), contracts: {args.contracts:,}", flush=True)
        db.drop_all()
        db.create_all()
        targets.seed_defaults()
        deals = [Deal(title=f"合成撮合{i}") for i in range(200)]
        db.session.add_all(deals)
        db.session.commit()

        started = time.perf_counter()
        rows = synthetic_contracts(args.contracts, [deal.id for deal in deals])
        print(f"generated in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        for start in range(0, len(rows), args.batch):
            insert_contracts(rows[start : start + args.batch])
        elapsed = time.perf_counter() - started
        print(f"inserted {len(rows):,} contracts with roll-ups in {elapsed:.1f} s: {len(rows) / elapsed:,.0f} rows/s")
        print("  time spent: " + ", ".join(f"{part} {seconds:.1f} s" for part, seconds in SPLIT.items()))
        del rows
        if dialect == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
        else:
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()

        year = queries.years_with_data()[-1] - 1  # the latest full year: the heaviest of the year views
        print(f"dashboard queries ({args.repeat} runs each, year {year}):", flush=True)
        worst = 0.0
        timed = {
            "by_year (all years)": lambda: queries.turnover("year"),
            "by_month": lambda: queries.turnover("month", year),
            "output_district": lambda: queries.turnover("output_district", year),
            "absorption_district": lambda: queries.turnover("absorption_district", year),
            "contract_type": lambda: queries.turnover("contract_type", year),
            "tech_field": lambda: queries.turnover("tech_field", year),
            "seller_group": lambda: queries.turnover("seller_group", year),
            "via_platform": lambda: queries.turnover("via_platform", year),
            "top_parties seller": lambda: queries.top_parties("seller", year),
            "top_parties buyer": lambda: queries.top_parties("buyer", year),
            "platform_contracts": lambda: queries.platform_contracts(year),
            "target_cards": lambda: targets.target_cards(),
            "section year (with published)": lambda: exports.section("year", None),
            "export top_sellers xlsx": lambda: exports.to_xlsx(exports.section("top_sellers", year)),
        }
        for label, function in timed.items():
            worst = max(worst, _time(label, function, args.repeat))

        admin = User(email="bench@example.cn", name="bench", role=Role.ADMIN, password_hash="x", email_verified=True)
        db.session.add(admin)
        db.session.commit()
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = admin.get_id()
            session["_fresh"] = True
            if hasattr(admin, "session_token"):
                session["_session_token"] = admin.session_token

        def page(path: str) -> None:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)

        print("pages through the test client:", flush=True)
        page_p95 = _time(f"GET /stats/?year={year}", lambda: page(f"/stats/?year={year}"), args.repeat)
        _time("GET /stats/summary", lambda: page("/stats/summary"), args.repeat)
        _time(f"GET /api/v1/stats/turnover?by=output_district&year={year}", lambda: page(
            f"/api/v1/stats/turnover?by=output_district&year={year}"), args.repeat)  # fmt: skip
        print(f"worst query p95: {worst:.1f} ms (target ≤ 200 ms); dashboard page p95: {page_p95:.1f} ms")
        db.session.remove()
        db.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
