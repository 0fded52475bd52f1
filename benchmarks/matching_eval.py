"""Measure demand→achievement matching on a labelled data set in the interchange format.

    .venv/bin/python benchmarks/matching_eval.py ../shared/datasets/matching-dev

Imports achievements.jsonl and demands.jsonl into a scratch instance (temporary SQLite database
and search index, migrated with Alembic), computes vectors as the worker does, then ranks each
demand's achievements through the same code path the demand's page uses, twice: with the full
demand, and with its title alone. Prints nDCG@10 and recall@10 for both (graded qrels.tsv: 2 =
solves, 1 = partly), and the share of demands whose min_trl trap is ranked correctly (every
achievement below the demand's min_trl that is relevant ranks below every relevant mature one).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from marketplace import create_app  # noqa: E402
from marketplace.discovery import matching, outbox  # noqa: E402
from marketplace.discovery import services as discovery  # noqa: E402
from marketplace.discovery.documents import listing_document  # noqa: E402
from marketplace.extensions import db  # noqa: E402
from marketplace.listings.interchange import import_lines  # noqa: E402
from marketplace.listings.models import Listing  # noqa: E402

K = 10


def dcg(gains: list[int]) -> float:
    return sum((2 ** gain - 1) / math.log2(rank + 2) for rank, gain in enumerate(gains))


def ndcg_at_k(ranked: list[str], judged: dict[str, int]) -> float:
    ideal = dcg(sorted(judged.values(), reverse=True)[:K])
    return dcg([judged.get(doc, 0) for doc in ranked[:K]]) / ideal if ideal else 0.0


def recall_at_k(ranked: list[str], judged: dict[str, int]) -> float:
    relevant = {doc for doc, grade in judged.items() if grade > 0}
    return len(relevant & set(ranked[:K])) / len(relevant) if relevant else 0.0


def trap_ok(ranked: list[str], judged: dict[str, int], min_trl: int | None, trl: dict[str, int | None]) -> bool | None:
    if not min_trl:
        return None
    relevant = [doc for doc in ranked if judged.get(doc, 0) > 0]
    immature = [doc for doc in relevant if (trl.get(doc) or 0) < min_trl]
    mature = [doc for doc in relevant if (trl.get(doc) or 0) >= min_trl]
    if not immature or not mature:
        return None
    return max(ranked.index(doc) for doc in mature) < min(ranked.index(doc) for doc in immature)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    args = parser.parse_args()
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in (args.dataset / "qrels.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip():
            demand, achievement, grade = line.split("\t")
            qrels[demand][achievement] = int(grade)

    with tempfile.TemporaryDirectory() as scratch:
        app = create_app({"INSTANCE_PATH": scratch, "DATABASE_URL": f"sqlite:///{scratch}/eval.db",
                          "MAIL_BACKEND": "memory", "SERVER_NAME": "localhost"})
        with app.app_context(), app.test_request_context():
            upgrade()
            for name in ("achievements.jsonl", "demands.jsonl"):
                with (args.dataset / name).open(encoding="utf-8") as handle:
                    report = import_lines(handle)
                if report.rejected:
                    sys.exit(f"{name}: {len(report.rejected)} lines rejected, e.g. {report.rejected[0]}")
            started = time.perf_counter()
            while outbox.backlog():
                outbox.drain(discovery.backend(), encoder=discovery.encoder())
            print(f"indexed with vectors in {time.perf_counter() - started:.1f} s")
            external = {listing.id: listing.external_id for listing in db.session.scalars(select(Listing))}
            trl = {listing.external_id: listing.trl for listing in db.session.scalars(
                select(Listing).where(Listing.kind == "achievement"))}
            demands = db.session.scalars(select(Listing).where(Listing.kind == "demand").order_by(Listing.id)).all()
            for mode in ("full", "title-only"):
                ndcgs, recalls, traps = [], [], []
                started = time.perf_counter()
                for demand in demands:
                    document = listing_document(demand)
                    if mode == "title-only":
                        document = {**document, "description": None, "summary": None, "keywords": []}
                    ranked = [external[int(item.id)] for item in matching.match_document(document, limit=K)]
                    judged = qrels.get(demand.external_id, {})
                    ndcgs.append(ndcg_at_k(ranked, judged))
                    recalls.append(recall_at_k(ranked, judged))
                    traps.append(trap_ok(ranked, judged, demand.min_trl, trl))
                elapsed = (time.perf_counter() - started) / len(demands) * 1000
                judged_traps = [ok for ok in traps if ok is not None]
                print(f"{mode:>10}: nDCG@10 {sum(ndcgs) / len(ndcgs):.3f}  recall@10 {sum(recalls) / len(recalls):.3f}  "
                      f"min_trl trap ranked right {sum(judged_traps)}/{len(judged_traps)}  "
                      f"({elapsed:.0f} ms per demand, {len(demands)} demands)")


if __name__ == "__main__":
    main()
