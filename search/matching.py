"""Hybrid matching: a demand's achievements (or an achievement's demands), scored 0–100 with reasons.

Two rankings are fused on z-scores — BM25 over the source's words (title, keywords, text) and
cosine similarity of sentence vectors — then structured signals shift the fused score: an
achievement below the demand's minimum TRL ranks below mature ones of similar relevance, and
industry, cooperation mode, price against budget and locality break near-ties. Reasons are
returned as codes with parameters; the application words them in the user's language.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from search import analysis
from search.backends.base import SearchBackend
from search.encoders import Encoder

CANDIDATES = 100
# Rankings are fused on z-scores (each ranking's scores standardised over its candidates), which
# measured better on matching-dev than reciprocal-rank fusion. Short sources (a title) carry few
# words for BM25 to work with, so the semantic side weighs more for them.
SEMANTIC_WEIGHT_LONG = 0.2
SEMANTIC_WEIGHT_SHORT = 0.45
SHORT_SOURCE_CHARS = 60
MISSING_Z = -0.5  # a candidate absent from one ranking counts as below that ranking's average
# Structured signals shift the fused z-score. Immature listings stay relevant (they are "partly
# relevant" to a plant), but move below mature ones of similar relevance.
BELOW_MIN_TRL = -0.35
UNKNOWN_TRL = -0.05
SAME_INDUSTRY = 0.08
MODE_OVERLAP = 0.04
OVER_BUDGET = -0.08
# The displayed 0–100 score: a logistic of the adjusted z-score, centred where hits start to be useful.
SCORE_CENTRE, SCORE_SLOPE = 1.0, 1.6


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


def _query_texts(source: dict[str, Any]) -> tuple[str, str, str]:
    title = source.get("title") or ""
    keywords = " ".join(source.get("keywords") or [])
    body = source.get("description") or source.get("summary") or ""
    semantic = f"{title}。{body[:300]}".strip("。")
    return f"{title} {keywords}".strip(), f"{title} {keywords} {body}".strip(), semantic


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


def _shared_terms(source: dict, target: dict, limit: int = 5) -> list[str]:
    """Words the two listings share, as a reader would pick them: what either side puts in its
    title or keywords, not incidental words of two long descriptions ("完成", "利用")."""
    def tokens(document: dict, fields: tuple[str, ...]) -> list[str]:
        text = " ".join([*(str(document.get(name) or "") for name in fields), *(document.get("keywords") or [])])
        return [token for token in analysis.tokenize(text) if _meaningful(token)]

    source_head, target_head = tokens(source, ("title",)), set(tokens(target, ("title",)))
    source_all = set(tokens(source, ("title", "summary", "description")))
    target_all = set(tokens(target, ("title", "summary", "description")))
    shared = [token for token in source_head if token in target_all]
    shared += [token for token in target_head if token in source_all]
    return list(dict.fromkeys(shared))[:limit]


_QUERY_VECTORS: OrderedDict[tuple[str, str], Any] = OrderedDict()
QUERY_VECTOR_CACHE = 1024


def _query_vector(encoder: Encoder, text: str):
    """Encoding is the slow step of a match; a listing's page asks with the same text every view."""
    key = (encoder.name, text)
    vector = _QUERY_VECTORS.get(key)
    if vector is None:
        vector = _QUERY_VECTORS[key] = encoder.encode_queries([text])[0]
        if len(_QUERY_VECTORS) > QUERY_VECTOR_CACHE:
            _QUERY_VECTORS.popitem(last=False)
    else:
        _QUERY_VECTORS.move_to_end(key)
    return vector


def match(backend: SearchBackend, encoder: Encoder | None, source: dict[str, Any], target_kind: str,
          limit: int = 10, exclude: set[str] | None = None) -> list[Match]:
    """The best ``target_kind`` documents for ``source`` (a document dict), best first."""
    title_terms, full_text, semantic_text = _query_texts(source)
    lexical = backend.lexical(full_text, target_kind, CANDIDATES)
    semantic: list = []
    if encoder is not None and semantic_text:
        semantic = backend.knn(_query_vector(encoder, semantic_text), target_kind, CANDIDATES)
    similarity = {doc_id: score for doc_id, score, _ in semantic}
    weight = SEMANTIC_WEIGHT_SHORT if len(full_text) < SHORT_SOURCE_CHARS else SEMANTIC_WEIGHT_LONG
    fused, documents = _fuse(lexical, semantic, weight)
    finals, structured = {}, {}
    for doc_id, raw in fused.items():
        if doc_id == source.get("id") or (exclude and doc_id in exclude):
            continue
        shift, structured[doc_id] = _structured(source, documents[doc_id])
        finals[doc_id] = raw + shift
    best = sorted(finals, key=lambda doc_id: (-finals[doc_id], doc_id))[:limit]
    # Wording the reasons costs a tokenisation per hit: only for the hits returned.
    matches = []
    for doc_id in best:
        document = documents[doc_id]
        reasons = []
        shared = _shared_terms(source, document)
        if shared:
            reasons.append(Reason("shared_terms", {"terms": shared}))
        if doc_id in similarity:
            reasons.append(Reason("semantic", {"similarity": round(similarity[doc_id], 3)}))
        score = round(100 / (1 + math.exp(-SCORE_SLOPE * (finals[doc_id] - SCORE_CENTRE))))
        matches.append(Match(doc_id, score, document, reasons + structured[doc_id], similarity.get(doc_id)))
    return matches
