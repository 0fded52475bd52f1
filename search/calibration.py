"""The 0–100 score people read beside a match: how likely the match is useful, not where it ranks.

The fused z-score ranks well but means nothing on its own: it is relative to the candidates, so the
best of a handful of unrelated listings scores like the best of a thousand, and a lone candidate,
however apt, scores zero. The score therefore weighs only evidence that means the same whatever the
pool: the cosine similarity of the two listings' vectors, the share of each side's title and keyword
words found in the other. A logistic model over these estimates the chance the match is judged
useful (grade 2 counts 1, grade 1 counts ½); `benchmarks/calibrate_scores.py` fits it on matching-dev
in both directions and checks it on held-out demands. The structured signals (TRL against min_trl,
industry, modes, budget) then move the estimate by a fixed weight: they are the platform's policy
(an immature technology is a weaker offer), which the data set, grading immature items as partly
relevant, cannot teach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Vectors are missing only while a listing waits for the encoder: count it as an unremarkable pair.
COSINE_IF_UNKNOWN = 0.85
# (intercept, cosine − 0.85 in hundredths, coverage); see benchmarks/calibrate_scores.py. Held out
# (fit on odd demands, measured on even, and the reverse; each listing matched as the data set is and
# again without its relevant counterparts): log-loss 0.08–0.09 (the z-score logistic it replaced:
# 0.69–0.73); pairs scoring ≥ 80 average grade 1.8–2.0 of 2; 56–73 % of grade-2 pairs score ≥ 60, no
# unjudged pair does.
COEFFICIENTS = (-8.907, 0.958, 4.443)
# Logit units per unit of structured shift: below min_trl (−0.6) takes a 97 down to about 80, a 90 to 60.
ADJUSTMENT_WEIGHT = 4.0


@dataclass(frozen=True)
class Evidence:
    relevance: float  # fused z-score after the structured shifts: ranks within this pool (not scored)
    cosine: float | None  # of the two listings' stored vectors
    coverage: float  # mean share of each side's head words (title, keywords) found in the other
    adjustment: float = 0.0  # the structured signals' shift (below min_trl, same industry, …)

    def features(self) -> tuple[float, float, float]:
        cosine = COSINE_IF_UNKNOWN if self.cosine is None else self.cosine
        # In hundredths above a typical pair's cosine, so its weight is on the scale of the others.
        return 1.0, 100 * (cosine - COSINE_IF_UNKNOWN), self.coverage

    @property
    def offset(self) -> float:
        return ADJUSTMENT_WEIGHT * self.adjustment


def score(evidence: Evidence, coefficients: tuple[float, ...] = COEFFICIENTS) -> int:
    logit = sum(weight * value for weight, value in zip(coefficients, evidence.features(), strict=True))
    logit += evidence.offset
    return round(100 / (1 + math.exp(-max(min(logit, 50.0), -50.0))))
