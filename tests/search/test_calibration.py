"""The displayed match score: rises with each kind of evidence, stays in 0–100."""

from __future__ import annotations

import pytest

from search.calibration import Evidence, score

TYPICAL = Evidence(relevance=1.0, cosine=0.90, coverage=0.3)


@pytest.mark.parametrize("stronger", [
    Evidence(relevance=2.0, cosine=0.90, coverage=0.3),
    Evidence(relevance=1.0, cosine=0.95, coverage=0.3),
    Evidence(relevance=1.0, cosine=0.90, coverage=0.8),
])
def test_more_evidence_of_any_kind_scores_higher(stronger):
    assert score(stronger) > score(TYPICAL)


def test_rank_alone_does_not_make_a_strong_match():
    # The best of a small pool of unrelated listings: high z, no shared words, an everyday cosine.
    assert score(Evidence(relevance=3.5, cosine=0.88, coverage=0.0)) < 60
    assert score(Evidence(relevance=4.0, cosine=0.96, coverage=0.8)) >= 80


def test_scores_stay_within_bounds_and_tolerate_a_missing_vector():
    assert score(Evidence(relevance=1e6, cosine=1.0, coverage=1.0)) == 100
    assert score(Evidence(relevance=-1e6, cosine=0.0, coverage=0.0)) == 0
    assert 0 <= score(Evidence(relevance=1.0, cosine=None, coverage=0.5)) <= 100
