"""What the Elasticsearch backend sends and how it reads the answers: the index definition,
documents as indexed, search bodies, and search responses turned into ``SearchResult``.

Pure functions with no client, so every body can be asserted as JSON in tests. The semantics
follow the SQLite backend (search/backends/sqlite.py): the same term groups, field weights,
filters, multi-select facets and sorts, and highlights from ``document_highlights``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch.dsl import Q, Search
from elasticsearch.dsl.query import Query

from search import analysis
from search import filters as spec
from search.documents import TEXT_FIELDS, stored_view
from search.highlight import document_highlights
from search.query import ANONYMOUS, Filters, Hit, SearchQuery, SearchResult, Viewer

# Bump when the mapping changes: a new version only takes effect through a reindex into a new index.
MAPPING_VERSION = 1
FIELD_BOOSTS = {"title": 10, "keywords": 6, "summary": 3, "description": 1, "org_name": 2}
# A bigram-only match is weak evidence (the same 0.5 as sqlite's grams column): it rescues recall.
BIGRAM_BOOST = 0.5
WORD_FIELDS = [f"{name}^{boost}" for name, boost in FIELD_BOOSTS.items()]
BIGRAM_FIELDS = [f"{name}.cjk" for name in TEXT_FIELDS]
KEYWORD_FIELDS = (
    "id",
    "kind",
    "status",
    "industry",
    "district",
    "ip_type",
    "cooperation_modes",
    "org_name_exact",
    "vector_model",
)
# Facet -> the filter it leaves out of its own counts (trl and min_trl share the TRL range filter).
FACETS = {
    "industry": "industry",
    "district": "district",
    "ip_type": "ip_type",
    "cooperation_modes": "cooperation_modes",
    "trl": "trl",
    "min_trl": "trl",
    "challenge": "challenge",
    "org_name": "org_name",
}
FACET_SIZE = 200  # facet values are taxonomy codes: a few dozen at most
FACET_FIELDS = {"org_name": "org_name_exact"}  # facets aggregated on a field of another name
ORG_FACET_SIZE = 30  # organisations are many: the busiest, as sqlite's facet
SORT_FIELDS = {
    "newest": ("published_at", "desc"),
    "price_asc": ("price_cents", "asc"),
    "price_desc": ("price_cents", "desc"),
    "budget_desc": ("budget_max_cents", "desc"),
    "deadline": ("deadline", "asc"),
}


# ---- index definition and documents -----------------------------------------------------------


def index_body(vector_dims: int | None = None, alias: str | None = None) -> dict[str, Any]:
    """Settings and a strict mapping for a new index (and the alias, when it is the first index).

    Text arrives segmented by ``search.analysis`` so the ``segmented`` analyzer only splits on
    spaces and lowercases: Elasticsearch sees the very tokens SQLite's FTS5 sees. The ``cjk``
    sub-fields bigram that same text for recall where a query word sits inside a longer indexed
    word (隔热 in 隔热材料). Lucene's cjk_bigram does not pair characters across the spaces
    between segmented words, so unlike sqlite's grams column it cannot bridge a word boundary.
    """
    text = {"type": "text", "analyzer": "segmented", "fields": {"cjk": {"type": "text", "analyzer": "bigrams"}}}
    properties: dict[str, Any] = {name: dict(text) for name in TEXT_FIELDS}
    properties.update({name: {"type": "keyword"} for name in KEYWORD_FIELDS})
    properties.update(
        {
            "owner_id": {"type": "long"},
            "organisation_id": {"type": "long"},
            "trl": {"type": "integer"},
            "min_trl": {"type": "integer"},
            "price_cents": {"type": "long"},
            "budget_min_cents": {"type": "long"},
            "budget_max_cents": {"type": "long"},
            "challenge": {"type": "boolean"},
            "published_at": {"type": "date"},
            "deadline": {"type": "date"},
            # What a hit shows, returned as written; never searched, so not indexed at all.
            "stored": {"type": "object", "enabled": False},
        }
    )
    vector: dict[str, Any] = {"type": "dense_vector", "index": True, "similarity": "cosine"}
    if vector_dims:
        vector["dims"] = vector_dims
    # Without dims, Elasticsearch >= 8.11 takes them from the first vector indexed.
    properties["vector"] = vector
    body: dict[str, Any] = {
        "settings": {
            "analysis": {
                "analyzer": {
                    "segmented": {"type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]},
                    "bigrams": {
                        "type": "custom",
                        "tokenizer": "standard",
                        "filter": ["cjk_width", "lowercase", "cjk_bigram"],
                    },
                }
            }
        },
        "mappings": {"dynamic": "strict", "_meta": {"mapping_version": MAPPING_VERSION}, "properties": properties},
    }
    if alias:
        body["aliases"] = {alias: {}}
    return body


# What a deletion during a rebuild leaves in the index being rebuilt (see ElasticsearchBackend.delete):
# a document no search finds (status and kind match no filter), removed before that index goes live.
TOMBSTONE_STATUS = "deleted-during-rebuild"
TOMBSTONE_QUERY = {"term": {"status": TOMBSTONE_STATUS}}


def tombstone(doc_id: str) -> dict[str, Any]:
    return {"id": doc_id, "kind": TOMBSTONE_STATUS, "status": TOMBSTONE_STATUS, "stored": {}}


def document_source(doc: dict[str, Any]) -> dict[str, Any]:
    """The ``_source`` indexed for a checked document (see search.documents)."""
    source: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = doc.get(name)
        if isinstance(value, list):
            # Separate values, so a phrase never runs from one keyword into the next.
            source[name] = [text for item in value if (text := analysis.segmented(item or ""))]
        else:
            source[name] = analysis.segmented(value or "") or None
    source.update(
        {
            "id": str(doc["id"]),
            "kind": doc["kind"],
            "status": doc["status"],
            "owner_id": doc.get("owner_id"),
            "organisation_id": doc.get("organisation_id"),
            "industry": doc.get("industry"),
            "district": doc.get("district"),
            "ip_type": doc.get("ip_type"),
            "cooperation_modes": list(doc.get("cooperation_modes") or []),
            "org_name_exact": doc.get("org_name"),
            "trl": doc.get("trl"),
            "min_trl": doc.get("min_trl"),
            "price_cents": doc.get("price_cents"),
            "budget_min_cents": doc.get("budget_min_cents"),
            "budget_max_cents": doc.get("budget_max_cents"),
            # Always a boolean, as sqlite stores 0/1: the challenge facet then counts both values alike.
            "challenge": bool(doc.get("challenge")),
            "published_at": doc.get("published_at"),
            "deadline": doc.get("deadline"),
            "vector_model": doc.get("vector_model"),
            "stored": stored_view(doc),
        }
    )
    if doc.get("vector") is not None:
        source["vector"] = [float(x) for x in doc["vector"]]
    return source


# ---- queries -------------------------------------------------------------------------------------


def term_groups(text: str) -> list[list[str]]:
    """One group per distinct query word: the word and its synonyms (as sqlite's _term_groups)."""
    groups: list[list[str]] = []
    seen: set[str] = set()
    for token in analysis.tokenize(text or ""):
        if token not in seen:
            seen.add(token)
            groups.append(analysis.expand_synonyms([token]))
    return groups


def _bigrams_help(term: str) -> bool:
    # The condition sqlite uses before adding a grams phrase: a word of two characters or more.
    return len(term) >= 2 and any(len(gram) == 2 for gram in analysis.bigrams(term))


def group_query(group: list[str]) -> Query:
    """Any word of the group, as a whole token in the weighted fields or as a bigram phrase."""
    clauses = [Q("multi_match", query=term, type="most_fields", fields=WORD_FIELDS) for term in group]
    clauses += [
        Q("multi_match", query=term, type="phrase", fields=BIGRAM_FIELDS, boost=BIGRAM_BOOST)
        for term in group
        if _bigrams_help(term)
    ]
    return Q("bool", should=clauses, minimum_should_match=1)


def text_clauses(groups: list[list[str]], relaxed: bool) -> list[Query]:
    """The ``must`` clauses: every group (AND), or when relaxed any one of them (OR)."""
    if relaxed and groups:
        return [Q("bool", should=[group_query(g) for g in groups], minimum_should_match=1)]
    return [group_query(g) for g in groups]


# Document fields indexed under another name (the rest keep theirs).
FILTER_FIELDS = {"org_name": "org_name_exact"}


def compile_condition(condition: spec.Condition) -> list[Query]:
    """One condition of search/filters.py as filter clauses that must all hold."""
    if isinstance(condition, spec.AllOf):
        return [clause for part in condition.parts for clause in compile_condition(part)]
    if isinstance(condition, spec.AnyOf):
        return [Q("bool", should=[_all(compile_condition(part)) for part in condition.parts], minimum_should_match=1)]
    field = FILTER_FIELDS.get(condition.field, condition.field)
    if condition.op in (spec.EQUALS, spec.CONTAINS):  # a term query matches any element of an array field
        return [Q("term", **{field: condition.value})]
    if condition.op == spec.ANY_OF:
        return [Q("terms", **{field: list(condition.values)})]
    if condition.op == spec.RANGE:
        bounds = {key: value for key, value in (("gte", condition.low), ("lte", condition.high)) if value is not None}
        return [Q("range", **{field: bounds})]
    if condition.op == spec.OVERLAP:
        high_field = FILTER_FIELDS.get(condition.field_high, condition.field_high)
        clauses = []
        if condition.low is not None:
            clauses.append(Q("range", **{high_field: {"gte": condition.low}}))
        if condition.high is not None:
            clauses.append(Q("range", **{field: {"lte": condition.high}}))
        return clauses
    raise ValueError(f"unknown filter op {condition.op!r}")


def _all(clauses: list[Query]) -> Query:
    return clauses[0] if len(clauses) == 1 else Q("bool", filter=clauses)


def base_filters(filters: Filters, viewer: Viewer) -> list[Query]:
    """Filters every count obeys: visibility, kind, amounts (search/filters.py)."""
    return spec.compiled(filters, viewer, compile_condition)[0]


def facet_filters(filters: Filters) -> dict[str, Query]:
    """The filters users toggle beside facets, keyed by the name in FACETS.values()."""
    return {facet: _all(clauses) for facet, clauses in spec.compiled(filters, ANONYMOUS, compile_condition)[1].items()}


def sort_clauses(sort: str, has_text: bool) -> list[Any]:
    if sort not in SORT_FIELDS:
        sort = "relevance" if has_text else "newest"
    if sort == "relevance":
        return ["_score", {"id": "desc"}]
    field, order = SORT_FIELDS[sort]
    # Negotiable prices, open budgets and undated listings go last in either direction.
    return [{field: {"order": order, "missing": "_last"}}, {"id": "desc"}]


def search_body(query: SearchQuery, groups: list[list[str]], relaxed: bool = False) -> dict[str, Any]:
    """The request body for one page of results, with facets when the query asks for them.

    Facet filters go to ``post_filter`` so the hits obey them while each facet's aggregation
    applies all of them but its own: the multi-select facet pattern, as sqlite's _facets.
    """
    search = Search().query(
        Q("bool", must=text_clauses(groups, relaxed), filter=base_filters(query.filters, query.viewer))
    )
    toggles = facet_filters(query.filters)
    if toggles:
        search = search.post_filter(Q("bool", filter=list(toggles.values())))
    if query.facets:
        for facet, skips in FACETS.items():
            others = [clause for name, clause in toggles.items() if name != skips]
            bucket = search.aggs.bucket(facet, "filter", filter=Q("bool", filter=others))
            bucket.bucket(
                "values",
                "terms",
                field=FACET_FIELDS.get(facet, facet),
                size=ORG_FACET_SIZE if facet == "org_name" else FACET_SIZE,
            )
    search = search.sort(*sort_clauses(query.sort, bool(groups)))
    search = search.extra(from_=query.offset, size=query.per_page, track_total_hits=True).source(["stored"])
    return search.to_dict()


def suggest_body(tokens: list[str], kind: str | None, size: int) -> dict[str, Any]:
    """Published listings whose title or keywords hold a word starting with the last token,
    and every earlier token as a whole word (sqlite: ``a AND {title keywords}: b*``)."""
    must = [Q("multi_match", query=token, type="most_fields", fields=WORD_FIELDS) for token in tokens[:-1]]
    must.append(Q("multi_match", query=tokens[-1], type="phrase_prefix", fields=["title^10", "keywords^6"]))
    filters = [Q("term", status="published")] + ([Q("term", kind=kind)] if kind else [])
    search = Search().query(Q("bool", must=must, filter=filters)).extra(size=size).source(["stored.title"])
    return search.to_dict()


def knn_body(
    vector: Sequence[float], k: int, filters: list[Query], num_candidates: int | None = None
) -> dict[str, Any]:
    """Top-level kNN (search API, Elasticsearch >= 8.4) filtered during the graph search, so the
    k neighbours are k visible listings rather than k listings of which some are then dropped."""
    knn = {
        "field": "vector",
        "query_vector": [float(x) for x in vector],
        "k": k,
        "num_candidates": max(k, num_candidates or min(max(10 * k, 100), 10_000)),
        "filter": [clause.to_dict() for clause in filters],
    }
    return {"knn": knn, "size": k, "_source": ["stored"]}


def cosine(score: float) -> float:
    """Elasticsearch scores a cosine kNN hit (1 + cosine) / 2 to keep it positive; sqlite reports
    the cosine itself, and callers show it as a similarity, so it is turned back."""
    return 2.0 * float(score) - 1.0


def as_params(body: dict[str, Any]) -> dict[str, Any]:
    """A body as keyword arguments of ``Elasticsearch.search`` (``from`` and ``_source`` are renamed)."""
    renames = {"from": "from_", "_source": "source"}
    return {renames.get(key, key): value for key, value in body.items()}


# ---- responses -----------------------------------------------------------------------------------


def parse_facets(aggregations: dict[str, Any] | None) -> dict[str, dict[str, int]]:
    """{"industry": {"new_materials": 2}, "trl": {"7": 1}, "challenge": {"1": 1, "0": 3}}.

    Keys are strings as sqlite gives them: a boolean bucket's key is 1 or 0, a number's its value.
    """
    facets: dict[str, dict[str, int]] = {}
    for facet in FACETS:
        buckets = ((aggregations or {}).get(facet) or {}).get("values", {}).get("buckets", [])
        facets[facet] = {str(bucket["key"]): bucket["doc_count"] for bucket in buckets}
    return facets


def parse_search(response: dict[str, Any], groups: list[list[str]], facets: bool) -> SearchResult:
    marked_terms = [term for group in groups for term in group]
    hits = []
    for raw in response["hits"]["hits"]:
        document = raw["_source"]["stored"]
        hits.append(
            Hit(
                id=raw["_id"],
                score=float(raw.get("_score") or 0.0),
                document=document,
                highlights=document_highlights(document, marked_terms),
            )
        )
    return SearchResult(
        hits=hits,
        total=response["hits"]["total"]["value"],
        facets=parse_facets(response.get("aggregations")) if facets else {},
        query_terms=[group[0] for group in groups],
    )
