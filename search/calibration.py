"""The 0–100 score people read beside a match: how likely the match is useful, not where it ranks.

The fused z-score ranks well but means little on its own: it is relative to the candidates, so
the best of a handful of unrelated listings scores as high as the best of a thousand. The score
therefore also weighs evidence that means the same whatever the pool: the cosine similarity of
the two listings' vectors and the share of each side's title and keyword words found in the
other. A logistic model over these estimates the chance the match is judged useful (grade 2
counts 1, grade 1 counts ½); its coefficients are fitted by `benchmarks/calibrate_scores.py` on
matching-dev in both directions, and checked there on held-out demands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Vectors are missing only while a listing waits for the encoder: count it as an unremarkable pair.
COSINE_IF_UNKNOWN = 0.85
# (intercept, relevance z, cosine − 0.85 in hundredths, coverage); see benchmarks/calibrate_scores.py.
# Held out (fit on odd demands, measured on even, and the reverse; each listing matched as the data
# set is and again without its relevant counterparts): log-loss 0.06 (z alone: 0.71–0.75); pairs
# scoring ≥ 80 average grade 1.8–1.9 of 2 (z alone: 0.4–0.5); 59–78 % of grade-2 pairs score ≥ 60;
# no unjudged pair does.
COEFFICIENTS = (-7.818, 0.994, 0.421, 1.489)


@dataclass(frozen=True)
class Evidence:
    relevance: float  # fused z-score after the structured shifts: ranks within this pool
    cosine: float | None  # of the two listings' stored vectors
    coverage: float  # mean share of each side's head words (title, keywords) found in the other

    def features(self) -> tuple[float, float, float, float]:
        cosine = COSINE_IF_UNKNOWN if self.cosine is None else self.cosine
        # In hundredths above a typical pair's cosine, so its weight is on the scale of the others.
        return 1.0, self.relevance, 100 * (cosine - COSINE_IF_UNKNOWN), self.coverage


def score(evidence: Evidence, coefficients: tuple[float, ...] = COEFFICIENTS) -> int:
    logit = sum(weight * value for weight, value in zip(coefficients, evidence.features(), strict=True))
    return round(100 / (1 + math.exp(-max(min(logit, 50.0), -50.0))))
