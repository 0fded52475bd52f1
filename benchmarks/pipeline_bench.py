"""Speed of the brokers' pipeline: stats strip, table page and board over many deals.

Usage: python benchmarks/pipeline_bench.py [--deals 10000] [--database-url postgresql://…]

Builds a scratch schema (SQLite file by default; a PostgreSQL URL is emptied first, so give it a
scratch database) with ``--deals`` deals spread over the stages and brokers, each with a stage
event per step it went through, then reports the p50/p95 time of what one page view computes: the
stats strip (aggregates, conversion and time in stage from the events), a table page and the board,
for an admin (every deal) and a broker (own deals + pool).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from marketplace import create_app  # noqa: E402
from marketplace.accounts.models import User  # noqa: E402
from marketplace.core.models import utcnow  # noqa: E402
from marketplace.deals import pipeline  # noqa: E402
from marketplace.deals.models import OPEN_STAGES, BrokerProfile, Deal, DealEvent  # noqa: E402
from marketplace.extensions import db  # noqa: E402

INDUSTRIES = ["marine_equipment", "new_materials", "intelligent_manufacturing", "biomedicine"]
DISTRICTS = ["huangdao", "laoshan", "shinan", "jimo", "chengyang"]


def build(count: int, brokers: int = 20) -> tuple[User, User]:
    db.drop_all()
    db.create_all()
    users = [
        User(email=f"b{n}@example.cn", name=f"经纪人{n}", role="broker", password_hash="-") for n in range(brokers)
    ]
    admin = User(email="admin@example.cn", name="管理员", role="admin", password_hash="x")
    db.session.add_all([*users, admin])
    db.session.flush()
    db.session.add_all(BrokerProfile(user_id=u.id, certificate_no=str(u.id), status="certified") for u in users)
    db.session.commit()
    rng, now = random.Random(16), utcnow()
    order = [*OPEN_STAGES, "won"]
    deals, events = [], []
    for n in range(1, count + 1):
        created = now - timedelta(days=rng.uniform(1, 400))
        reached = rng.randint(0, len(order) - 1)
        stage = order[reached] if rng.random() > 0.25 else "lost"
        deals.append(
            {
                "id": n,
                "title": f"撮合项目{n}",
                "stage": stage,
                "source": "manual",
                "broker_id": None if rng.random() < 0.1 else rng.choice(users).id,
                "industry": rng.choice(INDUSTRIES),
                "district": rng.choice(DISTRICTS),
                "expected_value": Decimal(rng.randint(10, 5000) * 10_000),
                "expected_commission": Decimal(rng.randint(1, 200) * 1_000),
                "loss_reason": "price" if stage == "lost" else None,
                "created_at": created,
                "updated_at": created,
                "stage_changed_at": created,
            }
        )
        at, path = created, order[: reached + 1] + (["lost"] if stage == "lost" else [])
        for old, new in zip(path, path[1:], strict=False):
            at += timedelta(days=rng.uniform(0.5, 30))
            events.append({"deal_id": n, "kind": "stage", "detail": {"from": old, "to": new}, "created_at": at})
    for start in range(0, len(deals), 5000):
        db.session.execute(insert(Deal), deals[start : start + 5000])
    for start in range(0, len(events), 5000):
        db.session.execute(insert(DealEvent), events[start : start + 5000])
    db.session.commit()
    return admin, users[0]


def timed(function, repeat: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        runs.append((time.perf_counter() - start) * 1000)
        db.session.rollback()
    runs.sort()
    return statistics.median(runs), runs[max(0, round(0.95 * len(runs)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/pipeline-bench.db"
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    app = create_app({"DATABASE_URL": url, "SERVER_NAME": "localhost", "ENV": "testing"})
    with app.app_context(), app.test_request_context("/deals/pipeline/table"):
        start = time.perf_counter()
        admin, broker = build(args.deals)
        print(f"{args.deals:,} deals built in {time.perf_counter() - start:.1f} s on {db.engine.dialect.name}")
        filters = pipeline.Filters()
        for name, user in (("admin", admin), ("broker", broker)):
            checks = {
                "stats strip": lambda user=user: pipeline.pipeline_stats(user, filters),
                "table page": lambda user=user: db.paginate(pipeline.deal_query(user, filters), page=1, per_page=12),
                "board": lambda user=user: pipeline.board(user, filters),
            }
            for label, function in checks.items():
                p50, p95 = timed(function, args.repeat)
                print(f"{name:7} {label:12} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")


if __name__ == "__main__":
    main()
