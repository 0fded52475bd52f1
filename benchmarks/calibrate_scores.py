"""Fit and check the displayed match score (search/calibration.py) on a labelled data set.

    .venv/bin/python benchmarks/calibrate_scores.py ../shared/datasets/matching-dev

Collects matches in both directions through the pages' code path — each demand's best 20
achievements and each achievement's best 10 demands — with their evidence (cosine, head-word
coverage, structured shift) and their judged grade (2 → 1, 1 → ½, unjudged → 0); each listing twice,
as the data set is and without its relevant counterparts. Fits a logistic model (L2-regularised,
Newton steps) on odd demands and reports it on even ones and the reverse, beside the z-score-only
score it replaced, then prints the coefficients fitted on everything.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select  # noqa: E402

from benchmarks.dataset import fold_of, load_qrels, scratch_marketplace  # noqa: E402
from marketplace.discovery import matching  # noqa: E402
from marketplace.discovery.documents import listing_document  # noqa: E402
from marketplace.extensions import db  # noqa: E402
from marketplace.listings.models import Listing  # noqa: E402

L2 = 1.0


@dataclass
class Example:
    fold: str  # the demand's parity: odd or even
    direction: str
    features: tuple[float, ...]
    label: float
    relevance: float  # the fused z-score, for the comparison with the score it replaced
    offset: float  # the structured signals' fixed share of the logit (not fitted)


def collect(qrels) -> list[Example]:
    listings = db.session.scalars(select(Listing).order_by(Listing.id)).all()
    external = {str(listing.id): listing.external_id for listing in listings}
    ids = {external_id: listing_id for listing_id, external_id in external.items()}
    judged_for: dict[str, set[str]] = defaultdict(set)  # a listing's judged counterparts (either side)
    for demand, grades in qrels.items():
        for achievement, grade in grades.items():
            if grade > 0:
                judged_for[demand].add(ids[achievement])
                judged_for[achievement].add(ids[demand])
    examples = []
    for listing in listings:
        limit = 20 if listing.kind == "demand" else 10
        document = listing_document(listing)
        # Twice: as the data set is, and without the listings judged relevant to it. Every listing
        # here has a relevant counterpart, which real ones often lack; the second pass shows the
        # model the best of a pool that holds nothing relevant, so a high rank alone cannot pass.
        for exclude in (None, judged_for[listing.external_id]):
            for found in matching.match_document(document, limit=limit, exclude=exclude):
                demand, achievement = (
                    (listing.external_id, external[found.id])
                    if listing.kind == "demand"
                    else (external[found.id], listing.external_id)
                )
                grade = qrels.get(demand, {}).get(achievement, 0)
                examples.append(
                    Example(
                        fold_of(demand),
                        listing.kind,
                        found.evidence.features(),
                        grade / 2,
                        found.evidence.relevance,
                        found.evidence.offset,
                    )
                )
    return examples


def fit(examples: list[Example]) -> np.ndarray:
    x = np.array([example.features for example in examples])
    y = np.array([example.label for example in examples])
    offset = np.array([example.offset for example in examples])
    weights = np.zeros(x.shape[1])
    penalty = L2 * np.eye(x.shape[1])
    penalty[0, 0] = 0.0  # the intercept is not shrunk
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ weights + offset)))
        gradient = x.T @ (p - y) + penalty @ weights
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-8:
            break
    return weights


def probability(weights, example: Example) -> int:
    return round(100 / (1 + np.exp(-(np.dot(weights, example.features) + example.offset))))


def z_only(example: Example) -> int:
    """The score shown before calibration: a logistic of the fused z-score alone."""
    return round(100 / (1 + np.exp(-1.6 * (example.relevance - 1.0))))


def report(name: str, examples: list[Example], scores: list[int]) -> str:
    labels = np.array([example.label for example in examples])
    p = np.clip(np.array(scores) / 100, 1e-3, 1 - 1e-3)
    log_loss = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    brier = np.mean((p - labels) ** 2)
    strong = labels[np.array(scores) >= 80]
    useful = labels > 0
    solving = labels == 1
    kept = np.mean(np.array(scores)[solving] >= 60) if solving.any() else 0.0
    noise = np.mean(np.array(scores)[~useful] >= 60) if (~useful).any() else 0.0
    return (
        f"{name:<28} log-loss {log_loss:.3f}  Brier {brier:.3f}  "
        f"mean grade/2 at ≥80: {strong.mean() if strong.size else float('nan'):.2f} ({strong.size} pairs)  "
        f"grade-2 pairs ≥60: {kept:.0%}  unjudged pairs ≥60: {noise:.0%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    args = parser.parse_args()
    qrels = load_qrels(args.dataset)
    with scratch_marketplace(args.dataset):
        examples = collect(qrels)
    print(f"{len(examples)} matches ({sum(e.direction == 'demand' for e in examples)} demand→achievement)")
    for train, test in (("odd", "even"), ("even", "odd")):
        weights = fit([example for example in examples if example.fold == train])
        held_out = [example for example in examples if example.fold == test]
        fitted = [probability(weights, example) for example in held_out]
        print(f"fit on {train} demands, measured on {test}:")
        print("  " + report("z-score only (before)", held_out, [z_only(example) for example in held_out]))
        print("  " + report("fitted on the other fold", held_out, fitted))
        for direction in ("demand", "achievement"):
            subset = [i for i, example in enumerate(held_out) if example.direction == direction]
            print("    " + report(f"  {direction}→…", [held_out[i] for i in subset], [fitted[i] for i in subset]))
    weights = fit(examples)
    print("COEFFICIENTS =", "(" + ", ".join(f"{weight:.3f}" for weight in weights) + ")")


if __name__ == "__main__":
    main()
