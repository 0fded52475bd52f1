"""Measure demand→achievement matching on a labelled data set in the interchange format.

    .venv/bin/python benchmarks/matching_eval.py ../shared/datasets/matching-dev [--cv]

Imports achievements.jsonl and demands.jsonl into a scratch instance (temporary SQLite database
and search index, migrated with Alembic), computes vectors as the worker does, then ranks each
demand's achievements through the same code path the demand's page uses, twice: with the full
demand, and with its title alone. Prints nDCG@10 and recall@10 for both (graded qrels.tsv: 2 =
solves, 1 = partly), and the share of demands whose min_trl trap is ranked correctly (every
achievement below the demand's min_trl that is relevant ranks below every relevant mature one),
overall and for the odd- and even-numbered demands. A full demand is matched with its stored vector
(as its page is); a title alone is an ad-hoc query and is encoded. With --cv it also tunes the fusion
constants of search.matching on one fold of demands and reports them on the other (CV_GRID).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from benchmarks.dataset import fold_of, load_qrels, scratch_marketplace  # noqa: E402
from marketplace.discovery import matching  # noqa: E402
from marketplace.discovery.documents import listing_document  # noqa: E402
from marketplace.extensions import db  # noqa: E402
from marketplace.listings.models import Listing  # noqa: E402
from search import matching as search_matching  # noqa: E402

K = 10


def dcg(gains: list[int]) -> float:
    return sum((2**gain - 1) / math.log2(rank + 2) for rank, gain in enumerate(gains))


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


# --cv: the fusion constants of search.matching tried on one fold of demands (odd / even DD numbers),
# the best setting reported on the other fold. Small on purpose: every value here is a general knob.
CV_GRID = {
    "SEMANTIC_WEIGHT_LONG": (0.3, 0.4),
    "SEMANTIC_WEIGHT_SHORT": (0.55, 0.7, 0.8),
    "SMOOTHING_WEIGHT": (0.0, 0.3, 0.5),
    "SMOOTHING_POOL": (30, 50),
}
MODES = ("full", "title-only")


@dataclass
class Row:
    demand: str
    ndcg: float
    recall: float
    trap: bool | None
    ranked: tuple[str, ...] = ()
    judged: tuple[tuple[str, int], ...] = ()

    def explain(self) -> str:
        """The top 10 with their grades, and the relevant listings that missed it."""
        grades = dict(self.judged)
        shown = " ".join(f"{doc}:{grades.get(doc, 0)}" for doc in self.ranked[:K])
        missed = [f"{doc}:{grade}" for doc, grade in self.judged if grade and doc not in self.ranked[:K]]
        return f"{self.demand} nDCG {self.ndcg:.3f}  top: {shown}" + (f"  missed: {' '.join(missed)}" if missed else "")


def run(demands, qrels, external, trl) -> dict[str, list[Row]]:
    return {mode: [row for demand in demands for row in run_one(demand, mode, qrels, external, trl)] for mode in MODES}


def figures(rows: list[Row]) -> str:
    traps = [row.trap for row in rows if row.trap is not None]
    return (
        f"nDCG@10 {sum(row.ndcg for row in rows) / len(rows):.3f}  "
        f"recall@10 {sum(row.recall for row in rows) / len(rows):.3f}  "
        f"min_trl trap ranked right {sum(traps)}/{len(traps)}"
    )


def mean_ndcg(rows: dict[str, list[Row]], fold: str | None = None) -> float:
    """Full and title-only nDCG@10 averaged, over one fold's demands or all."""
    values = [row.ndcg for mode in MODES for row in rows[mode] if fold is None or fold_of(row.demand) == fold]
    return sum(values) / len(values)


def cross_validate(demands, qrels, external, trl) -> None:
    names = list(CV_GRID)
    shipped = {name: getattr(search_matching, name) for name in names}
    settings = [dict(zip(names, values, strict=True)) for values in itertools.product(*CV_GRID.values())]
    results = []
    try:
        for setting in settings:
            for name, value in setting.items():
                setattr(search_matching, name, value)
            results.append((setting, run(demands, qrels, external, trl)))
    finally:
        for name, value in shipped.items():
            setattr(search_matching, name, value)
    print(
        f"\n2-fold cross-validation over demands (odd / even numbers), {len(settings)} settings of {', '.join(names)}"
    )
    for train, test in (("odd", "even"), ("even", "odd")):
        setting, rows = max(results, key=lambda result: mean_ndcg(result[1], train))
        print(f"  tuned on {train}: {setting}")
        for mode in MODES:
            trained = [row for row in rows[mode] if fold_of(row.demand) == train]
            held_out = [row for row in rows[mode] if fold_of(row.demand) == test]
            print(f"    {mode:>10} in-sample ({train}) {figures(trained)}")
            print(f"    {mode:>10} held out ({test})  {figures(held_out)}")
    setting, rows = max(results, key=lambda result: mean_ndcg(result[1]))
    print(f"  best on all demands (in-sample): {setting}; shipped: {shipped}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument(
        "--cv",
        action="store_true",
        help="also tune the fusion constants on odd / even demands and report the other fold",
    )
    parser.add_argument(
        "--worst",
        type=int,
        default=0,
        metavar="N",
        help="show the N demands ranked worst, with their top 10 and grades",
    )
    args = parser.parse_args()
    qrels = load_qrels(args.dataset)
    started = time.perf_counter()
    with scratch_marketplace(args.dataset):
        print(f"loaded and indexed with vectors in {time.perf_counter() - started:.1f} s")
        external = {listing.id: listing.external_id for listing in db.session.scalars(select(Listing))}
        trl = {
            listing.external_id: listing.trl
            for listing in db.session.scalars(select(Listing).where(Listing.kind == "achievement"))
        }
        demands = db.session.scalars(select(Listing).where(Listing.kind == "demand").order_by(Listing.id)).all()
        for mode in MODES:
            latencies, rows = [], []
            for demand in demands:
                started = time.perf_counter()
                rows += run_one(demand, mode, qrels, external, trl)
                latencies.append((time.perf_counter() - started) * 1000)
            latencies.sort()
            p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
            print(
                f"{mode:>10}: {figures(rows)}  ({sum(latencies) / len(latencies):.0f} ms per demand, "
                f"p95 {p95:.0f} ms, {len(demands)} demands)"
            )
            for fold in ("odd", "even"):
                in_fold = [row for row in rows if fold_of(row.demand) == fold]
                print(f"{'':>10}  {fold:>4} demands: {figures(in_fold)}")
            for row in sorted(rows, key=lambda row: row.ndcg)[: args.worst]:
                print(f"{'':>10}  worst: {row.explain()}")
        if args.cv:
            cross_validate(demands, qrels, external, trl)


def run_one(demand, mode, qrels, external, trl) -> list[Row]:
    document = listing_document(demand)
    if mode == "title-only":
        document = {**document, "description": None, "summary": None, "keywords": []}
    ranked = [external[int(item.id)] for item in matching.match_document(document, limit=K)]
    judged = qrels.get(demand.external_id, {})
    return [
        Row(
            demand.external_id,
            ndcg_at_k(ranked, judged),
            recall_at_k(ranked, judged),
            trap_ok(ranked, judged, demand.min_trl, trl),
            tuple(ranked),
            tuple(sorted(judged.items())),
        )
    ]


if __name__ == "__main__":
    main()
