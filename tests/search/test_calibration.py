"""The displayed match score: rises with each kind of evidence, ignores the rank, stays in 0–100."""

from __future__ import annotations

import pytest

from search.calibration import Evidence, score

TYPICAL = Evidence(relevance=1.0, cosine=0.92, coverage=0.4)


@pytest.mark.parametrize(
    "stronger",
    [
        Evidence(relevance=1.0, cosine=0.95, coverage=0.4),
        Evidence(relevance=1.0, cosine=0.92, coverage=0.8),
        Evidence(relevance=1.0, cosine=0.92, coverage=0.4, adjustment=0.12),  # same industry, shared modes
    ],
)
def test_more_evidence_of_any_kind_scores_higher(stronger):
    assert score(stronger) > score(TYPICAL)


def test_below_min_trl_weighs_the_score_down():
    mature = Evidence(relevance=2.0, cosine=0.95, coverage=0.6)
    immature = Evidence(relevance=2.0, cosine=0.95, coverage=0.6, adjustment=-0.6)
    assert score(mature) >= 80 > score(immature)


def test_the_rank_within_the_pool_does_not_move_the_score():
    # First of a few unrelated listings, or alone and apt: the score reads the pair, not the pool.
    assert score(Evidence(relevance=3.5, cosine=0.88, coverage=0.0)) < 10
    assert (
        score(Evidence(relevance=0.0, cosine=0.95, coverage=0.6))
        == score(Evidence(relevance=3.0, cosine=0.95, coverage=0.6))
        >= 80
    )


def test_scores_stay_within_bounds_and_tolerate_a_missing_vector():
    assert score(Evidence(relevance=0.0, cosine=1.0, coverage=1.0)) == 100
    assert score(Evidence(relevance=0.0, cosine=0.0, coverage=0.0)) == 0
    assert 0 <= score(Evidence(relevance=1.0, cosine=None, coverage=0.5)) <= 100
