"""Hybrid matching: a demand's achievements (or an achievement's demands), scored 0–100 with reasons.

Two rankings are fused on z-scores — BM25 over the source's most informative words (title,
keywords, text) and cosine similarity of sentence vectors (the source's stored vector when it has
one, so a listing's page encodes nothing), asked again after moving the vector toward the best
fused hits (pseudo-relevance feedback) — then structured signals shift the fused score: an
achievement below the demand's minimum TRL ranks below mature ones of similar relevance, and
industry, cooperation mode, price against budget and locality break near-ties. Last, each of the
best candidates' scores is blended with those of its nearest fellow candidates (score
regularisation): a listing that shares the source's words but resembles none of the other good
candidates drops below one that sits among them. Reasons are
returned as codes with parameters; the application words them in the user's language.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from search import analysis
from search.backends.base import SearchBackend
from search.calibration import Evidence
from search.calibration import score as calibrated_score
from search.encoders import Encoder, encode_listings, passage_text, vector_key

CANDIDATES = 100
# Rankings are fused on z-scores (each ranking's scores standardised over its candidates), which
# measured better on matching-dev than reciprocal-rank fusion. Short sources (a title) carry few
# words for BM25 to work with, so the semantic side weighs more for them. These and the feedback
# constants: 2-fold cross-validation over demands (benchmarks/matching_eval.py --cv); both folds
# picked 0.4 for long sources, 0.7–0.8 for short ones, 2–3 feedback documents at weight 0.5–1.0.
# Within those ranges nDCG@10 is flat on matching-dev (±0.002); 0.7 / 2 / 1.0 keeps the min_trl
# trap share (0.8 / 3 / 0.5 loses three title-only traps).
SEMANTIC_WEIGHT_LONG = 0.4
SEMANTIC_WEIGHT_SHORT = 0.7
SHORT_SOURCE_CHARS = 60
# Pseudo-relevance feedback in vector space (Rocchio): the query vector moves toward the mean of the
# best fused hits' vectors, then the semantic side is asked again. A title says little; the best
# hits, found mostly by their shared words, say what it means. Costs one more knn, no encoding.
FEEDBACK_DOCS = 2
FEEDBACK_WEIGHT = 1.0
# The lexical query keeps at most this many words of a long source: BM25 over any word costs the
# sum of the words' posting lists, and the words dropped are the most common ones (lowest IDF),
# which cost most and weigh least. Measured on matching-dev: all ~78 words of a demand or the
# best 64 rank alike; 40 lose about 0.01 nDCG@10, 32 about 0.02. At 100k listings the lexical
# query still dominates match latency; lower this when latency matters more than the last 0.01.
MAX_QUERY_TERMS = 64
# Words of the title and keywords say what the listing is about; they count double when choosing.
HEAD_TERM_WEIGHT = 2.0
# Score regularisation (the cluster hypothesis: listings that resemble each other tend to answer
# the same need; Diaz, "Regularizing ad hoc retrieval scores", 2005). Each of the best
# SMOOTHING_POOL candidates keeps (1 - SMOOTHING_WEIGHT) of its score and takes the rest from its
# SMOOTHING_NEIGHBOURS most similar fellow candidates, weighted by exp((cosine - 1) / SMOOTHING_TEMPERATURE).
# Hard negatives — a listing that shares a demand's prominent words but solves another problem —
# are what it moves down; on matching-dev it gains about 0.01 nDCG@10 for full demands and 0.005
# for titles, held out by 2-fold CV (matching_eval.py --cv). Costs one stored-vector lookup.
SMOOTHING_WEIGHT = 0.5
SMOOTHING_POOL = 50
SMOOTHING_NEIGHBOURS = 5
SMOOTHING_TEMPERATURE = 0.05
MISSING_Z = -0.5  # a candidate absent from one ranking counts as below that ranking's average
# Structured signals shift the fused z-score. Immature listings stay relevant (they are "partly
# relevant" to a plant), but move below mature ones of similar relevance.
# The penalty is in fused z units: with the semantic side weighing more (feedback, title-only
# sources), -0.35 no longer kept immature hits below mature ones as often as before. On
# matching-dev -0.5 just misses the old min_trl trap share for titles, -0.55 just meets it in both
# full and title-only matching; -0.6 keeps a margin for unseen demands, at about 0.005 nDCG@10
# (relevant immature hits are graded 1, so ranking them lower is partly wrong).
BELOW_MIN_TRL = -0.6
UNKNOWN_TRL = -0.05
SAME_INDUSTRY = 0.08
MODE_OVERLAP = 0.04
OVER_BUDGET = -0.08


@dataclass
class Reason:
    code: str  # shared_terms | semantic | industry_same | industry_other | trl_ok | trl_below | …
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Match:
    id: str
    score: int  # 0–100
    document: dict[str, Any]
    reasons: list[Reason]
    similarity: float | None = None
    evidence: Evidence | None = None


def _query_texts(source: dict[str, Any]) -> tuple[str, str, str]:
    """(title and keywords, the lexical query, the text the source's vector encodes)."""
    title = source.get("title") or ""
    keywords = " ".join(source.get("keywords") or [])
    body = source.get("description") or source.get("summary") or ""
    head = f"{title} {keywords}".strip()
    return head, _lexical_text(head, body), passage_text(source)


def _is_number(token: str) -> bool:
    # Bare numbers (3, 2.5) name no topic and sit in most listings; 304l or d-2 are kept.
    return token.replace(".", "").replace("-", "").isdigit()


def _lexical_text(head: str, body: str) -> str:
    """The source's words for an any-word BM25 query, at most MAX_QUERY_TERMS of them.

    Like Elasticsearch's more_like_this (max_query_terms): words ranked by weighted term frequency
    times IDF. The index's own IDF is not available to the engine, so the IDF is a cheap proxy from
    general-language word frequencies (jieba's dictionary, already loaded for segmentation):
    function words and everyday words (中, 方法, 问题) go first, technical words stay.
    """
    full = f"{head} {body}".strip()
    weights: dict[str, float] = {}
    for text, weight in ((head, HEAD_TERM_WEIGHT), (body, 1.0)):
        for token in analysis.tokenize(text):
            weights[token] = weights.get(token, 0.0) + weight
    if len(weights) <= MAX_QUERY_TERMS:
        return full
    scored = {
        token: (1 + math.log(weight)) * (0.0 if _is_number(token) else analysis.general_idf(token))
        for token, weight in weights.items()
    }
    kept = set(sorted(scored, key=lambda token: (-scored[token], token))[:MAX_QUERY_TERMS])
    return " ".join(token for token in weights if token in kept)


def _standardised(ranking: list[tuple[str, float, dict]]) -> dict[str, float]:
    if not ranking:
        return {}
    scores = [score for _, score, _ in ranking]
    mean = sum(scores) / len(scores)
    spread = (sum((score - mean) ** 2 for score in scores) / len(scores)) ** 0.5 or 1.0
    return {doc_id: (score - mean) / spread for doc_id, score, _ in ranking}


def _fuse(lexical: list, semantic: list, semantic_weight: float) -> tuple[dict[str, float], dict[str, dict]]:
    documents = {doc_id: document for doc_id, _, document in lexical + semantic}
    z_lexical, z_semantic = _standardised(lexical), _standardised(semantic)
    if not z_semantic:
        semantic_weight = 0.0
    fused = {
        doc_id: (1 - semantic_weight) * z_lexical.get(doc_id, MISSING_Z)
        + semantic_weight * z_semantic.get(doc_id, MISSING_Z)
        for doc_id in documents
    }
    return fused, documents


def _structured(source: dict, target: dict) -> tuple[float, list[Reason]]:
    """A z-score shift and the reasons for it."""
    factor, reasons = 0.0, []
    demand, offer = (source, target) if source.get("kind") == "demand" else (target, source)
    if source.get("industry") and target.get("industry"):
        if source["industry"] == target["industry"]:
            factor += SAME_INDUSTRY
            reasons.append(Reason("industry_same", {"industry": target["industry"]}))
        else:
            reasons.append(Reason("industry_other", {"industry": target["industry"]}))
    min_trl, trl = demand.get("min_trl"), offer.get("trl")
    if min_trl:
        if trl is None:
            factor += UNKNOWN_TRL
            reasons.append(Reason("trl_unknown", {"min_trl": min_trl}))
        elif trl < min_trl:
            factor += BELOW_MIN_TRL
            reasons.append(Reason("trl_below", {"trl": trl, "min_trl": min_trl}))
        else:
            reasons.append(Reason("trl_ok", {"trl": trl, "min_trl": min_trl}))
    target_modes = target.get("cooperation_modes") or []
    shared_modes = [mode for mode in source.get("cooperation_modes") or [] if mode in target_modes]
    if shared_modes:
        factor += MODE_OVERLAP
        reasons.append(Reason("modes", {"modes": shared_modes}))
    price, budget_max = offer.get("price_cents"), demand.get("budget_max_cents")
    if price is not None and budget_max is not None:
        if price <= budget_max:
            reasons.append(Reason("price_within_budget", {"price_cents": price, "budget_max_cents": budget_max}))
        else:
            factor += OVER_BUDGET
            reasons.append(Reason("price_over_budget", {"price_cents": price, "budget_max_cents": budget_max}))
    if source.get("district") and source.get("district") == target.get("district") and source["district"] != "outside":
        reasons.append(Reason("same_district", {"district": source["district"]}))
    return factor, reasons


def _meaningful(token: str) -> bool:
    return len(token) > 1 and not any(char.isdigit() for char in token)


@dataclass(frozen=True)
class _Words:
    """A listing's meaningful words: those of its title and keywords (in order), and all of them."""

    head: tuple[str, ...]
    every: frozenset[str]

    @classmethod
    def of(cls, document: dict) -> _Words:
        return _words(
            document.get("title") or "",
            tuple(document.get("keywords") or ()),
            document.get("summary") or "",
            document.get("description") or "",
        )


# The same achievements come back for many demands: their words are segmented once per process.
@lru_cache(maxsize=4096)
def _words(title: str, keywords: tuple[str, ...], summary: str, description: str) -> _Words:
    head = tuple(t for t in analysis.tokenize(f"{title} {' '.join(keywords)}") if _meaningful(t))
    body = {t for t in analysis.tokenize(f"{summary} {description}") if _meaningful(t)}
    return _Words(head, frozenset(head) | body)


def _coverage(source: _Words, target: _Words) -> float:
    """How much of what each side says it is about (title, keywords) the other side mentions."""
    shares = [
        sum(token in other.every for token in side.head) / len(side.head)
        for side, other in ((source, target), (target, source))
        if side.head
    ]
    return sum(shares) / len(shares) if shares else 0.0


def _shared_terms(source: _Words, target: _Words, limit: int = 5) -> list[str]:
    """Words the two listings share, as a reader would pick them: what either side puts in its
    title or keywords, not incidental words of two long descriptions ("完成", "利用")."""
    shared = [token for token in source.head if token in target.every]
    shared += [token for token in target.head if token in source.every]
    return list(dict.fromkeys(shared))[:limit]


_QUERY_VECTORS: OrderedDict[tuple[str, str], Any] = OrderedDict()
QUERY_VECTOR_CACHE = 1024


def _query_vector(encoder: Encoder, source: dict[str, Any]):
    """The source's vector when none is stored (an ad-hoc query, a listing not yet embedded),
    encoded as its stored vector would be. Encoding is the slow step; repeated asks are cached."""
    key = (encoder.name, vector_key(source))
    vector = _QUERY_VECTORS.get(key)
    if vector is None:
        vector = _QUERY_VECTORS[key] = encode_listings(encoder, [source])[0]
        if len(_QUERY_VECTORS) > QUERY_VECTOR_CACHE:
            _QUERY_VECTORS.popitem(last=False)
    else:
        _QUERY_VECTORS.move_to_end(key)
    return vector


VectorLookup = Callable[[list[str]], dict[str, Any]]


def _adjusted(source: dict, fused: dict[str, float], documents: dict[str, dict], exclude: set[str] | None):
    finals, structured = {}, {}
    for doc_id, raw in fused.items():
        if doc_id == source.get("id") or (exclude and doc_id in exclude):
            continue
        shift, structured[doc_id] = _structured(source, documents[doc_id])
        finals[doc_id] = raw + shift
    return finals, structured


def _best(finals: dict[str, float], count: int) -> list[str]:
    return sorted(finals, key=lambda doc_id: (-finals[doc_id], doc_id))[:count]


def _with_feedback(vector, feedback: list) -> np.ndarray:
    moved = np.asarray(vector, dtype=np.float32) + FEEDBACK_WEIGHT * np.mean(np.asarray(feedback, dtype=np.float32), 0)
    return moved / (np.linalg.norm(moved) or 1.0)


def _smoothed(finals: dict[str, float], vectors_of: VectorLookup) -> dict[str, float]:
    """``finals`` with the best SMOOTHING_POOL scores blended with their nearest fellow candidates'.

    Each blend is a weighted mean of pool scores, so the pool stays above every candidate outside
    it. Candidates without a stored vector keep their score; so does everything when fewer than
    two candidates have vectors.
    """
    pool = _best(finals, SMOOTHING_POOL)
    stored = vectors_of(pool)
    ids = [doc_id for doc_id in pool if doc_id in stored]
    if len(ids) < 2:
        return finals
    matrix = np.asarray([stored[doc_id] for doc_id in ids], dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True).clip(min=1e-12)
    weights = np.exp((matrix @ matrix.T - 1.0) / SMOOTHING_TEMPERATURE)
    np.fill_diagonal(weights, 0.0)
    neighbours = min(SMOOTHING_NEIGHBOURS, len(ids) - 1)
    nearest_cut = -np.sort(-weights, axis=1)[:, neighbours - 1 : neighbours]
    weights = np.where(weights >= nearest_cut, weights, 0.0)
    weights /= weights.sum(axis=1, keepdims=True).clip(min=1e-30)
    scores = np.asarray([finals[doc_id] for doc_id in ids])
    blended = (1 - SMOOTHING_WEIGHT) * scores + SMOOTHING_WEIGHT * (weights @ scores)
    return {**finals, **{doc_id: float(value) for doc_id, value in zip(ids, blended, strict=True)}}


def match(
    backend: SearchBackend,
    encoder: Encoder | None,
    source: dict[str, Any],
    target_kind: str,
    limit: int = 10,
    exclude: set[str] | None = None,
    source_vector=None,
    vectors_of: VectorLookup | None = None,
) -> list[Match]:
    """The best ``target_kind`` documents for ``source`` (a document dict), best first.

    ``source_vector`` is the source's stored vector, if it has a current one (then nothing is
    encoded); ``vectors_of`` returns stored vectors of target documents by id, for feedback.
    """
    _, lexical_text, semantic_text = _query_texts(source)
    lexical = backend.lexical(lexical_text, target_kind, CANDIDATES)
    vector = source_vector
    if vector is None and encoder is not None and semantic_text:
        vector = _query_vector(encoder, source)
    semantic: list = []
    if vector is not None:
        semantic = backend.knn(vector, target_kind, CANDIDATES)
    similarity = {doc_id: score for doc_id, score, _ in semantic}
    weight = SEMANTIC_WEIGHT_SHORT if len(lexical_text) < SHORT_SOURCE_CHARS else SEMANTIC_WEIGHT_LONG
    fused, documents = _fuse(lexical, semantic, weight)
    finals, structured = _adjusted(source, fused, documents, exclude)
    if semantic and vectors_of is not None and FEEDBACK_DOCS:
        feedback = list(vectors_of(_best(finals, FEEDBACK_DOCS)).values())
        if feedback:
            semantic = backend.knn(_with_feedback(vector, feedback), target_kind, CANDIDATES)
            fused, documents = _fuse(lexical, semantic, weight)
            finals, structured = _adjusted(source, fused, documents, exclude)
            # A reason shows the similarity to the source itself where the first ask found the
            # document; only documents the moved query alone brought in show their score for it.
            for doc_id, score, _ in semantic:
                similarity.setdefault(doc_id, score)
    shifts = {doc_id: finals[doc_id] - fused[doc_id] for doc_id in finals}
    if vectors_of is not None and SMOOTHING_WEIGHT:
        finals = _smoothed(finals, vectors_of)
    best = _best(finals, limit)
    # Wording the reasons costs a tokenisation per hit: only for the hits returned, the source once.
    source_words = _Words.of(source)
    matches = []
    for doc_id in best:
        document = documents[doc_id]
        target_words = _Words.of(document)
        reasons = []
        shared = _shared_terms(source_words, target_words)
        if shared:
            reasons.append(Reason("shared_terms", {"terms": shared}))
        if doc_id in similarity:
            reasons.append(Reason("semantic", {"similarity": round(similarity[doc_id], 3)}))
        evidence = Evidence(
            finals[doc_id], similarity.get(doc_id), _coverage(source_words, target_words), adjustment=shifts[doc_id]
        )
        matches.append(
            Match(
                doc_id,
                calibrated_score(evidence),
                document,
                reasons + structured[doc_id],
                similarity.get(doc_id),
                evidence,
            )
        )
    return matches
