"""The Elasticsearch backend, on the official client (8.x), for 8.x and 9.x clusters.

An 8.x client sends ``compatible-with=8`` headers, which 9.x clusters accept, and only APIs
present in both are used. Documents live in versioned indices ``<prefix>-listings-v<N>-<time>``
behind the alias ``<prefix>-listings``; every read and live write goes through the alias, and a
rebuild fills a fresh index while the old one keeps serving, then swaps the alias in one atomic
``update_aliases`` call (see ``reindexing``). Writes made meanwhile, by any process, reach the new
index too: the rebuild marks it with a second alias, ``<prefix>-listings-rebuild``, and every
live write looks for that alias and sends its actions to both indices. Request bodies live in
``es_queries``.

Failures: the client retries connection errors, timeouts and 429/502/503/504 (``max_retries``);
the bulk helper also retries rejected documents with exponential back-off. What is still failing
after that raises ``BackendUnavailable``, so the app's outbox keeps the work for later; a document
Elasticsearch refuses (a mapping error) raises ``BulkDocumentError`` naming its id.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers
from elasticsearch.dsl import Q

from search import analysis
from search.backends import es_queries as esq
from search.backends.base import BackendUnavailable, Scored, SearchBackend
from search.documents import DocumentError, check_document
from search.query import ANONYMOUS, Filters, SearchQuery, SearchResult, Viewer

log = logging.getLogger(__name__)

RETRY_ON_STATUS = (429, 502, 503, 504)
_PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")  # index names: lowercase, no wildcards or separators


class BulkDocumentError(DocumentError):
    """Elasticsearch refused some documents for themselves (mapping, parsing); the rest were written."""

    def __init__(self, failures: list[tuple[str, dict[str, Any]]]):
        self.failures = failures
        self.ids = [str(info.get("_id")) for _, info in failures]
        details = "; ".join(f"{op} {info.get('_id')}: {_reason(info)}" for op, info in failures[:10])
        more = f" (and {len(failures) - 10} more)" if len(failures) > 10 else ""
        super().__init__(f"Elasticsearch refused {len(failures)} document(s) {', '.join(self.ids)}: {details}{more}")


def _describe(error: Exception) -> str:
    # A transport error's str() can be just "Connection error": the cause is in its message.
    if isinstance(error, TransportError) and str(error.message) not in str(error):
        return f"{error} ({error.message})"
    return str(error)


def _retryable(status: int) -> bool:
    return status in RETRY_ON_STATUS or status >= 500


def _expand(action: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One bulk action line (and source). An action naming its own index targets an index being
    rebuilt, a concrete index, so it lifts the request's ``require_alias`` for itself."""
    meta: dict[str, Any] = {"_id": action["_id"]}
    if "_index" in action:
        meta.update(_index=action["_index"], require_alias=False)
    return {action["_op_type"]: meta}, action.get("_source")


def _harmless(op: str, info: dict[str, Any], rebuilding: bool) -> bool:
    """Deleting what is not there; a rebuild's ``create`` of a listing already written live."""
    status = info.get("status")
    return (op == "delete" and status == 404) or (rebuilding and op == "create" and status == 409)


def _reason(info: dict[str, Any]) -> str:
    error = info.get("error")
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('reason')}"
    return str(error or f"status {info.get('status')}")


class ElasticsearchBackend(SearchBackend):
    name = "elasticsearch"

    def __init__(
        self,
        url: str | None = None,
        index_prefix: str = "marketplace",
        *,
        client: Elasticsearch | None = None,
        refresh: bool | str = "wait_for",
        vector_dims: int | None = None,
        max_retries: int = 3,
        initial_backoff: float = 1.0,
        max_backoff: float = 30.0,
        request_timeout: float = 10.0,
        chunk_size: int = 500,
        **client_options: Any,
    ):
        """``refresh="wait_for"`` makes a write visible to searches before it returns (what users
        expect after saving a listing); ``False`` is faster for bulk work. ``vector_dims`` fixes the
        dense_vector size up front (the encoder's dimension); otherwise it comes from the vectors.
        ``client_options`` go to ``Elasticsearch(...)`` (api_key, basic_auth, ca_certs, ...)."""
        if not _PREFIX_RE.match(index_prefix):
            raise ValueError(f"index_prefix {index_prefix!r} must be lowercase letters, digits, '-', '_' or '.'")
        if client is None:
            if not url:
                raise ValueError("the elasticsearch backend needs url= (or client=)")
            client = Elasticsearch(
                url,
                request_timeout=request_timeout,
                max_retries=max_retries,
                retry_on_status=RETRY_ON_STATUS,
                retry_on_timeout=True,
                **client_options,
            )
        self.client = client
        self.alias = f"{index_prefix}-listings"
        self.rebuild_alias = f"{self.alias}-rebuild"  # on an index being rebuilt, while it is
        self.refresh = refresh
        self.vector_dims = vector_dims
        self.max_retries, self.initial_backoff, self.max_backoff = max_retries, initial_backoff, max_backoff
        self.chunk_size = chunk_size
        self._alias_ready = False

    # ---- errors -------------------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Any transport or API failure means the index cannot be used now: callers keep their work."""
        try:
            yield
        except (TransportError, ApiError) as error:
            raise BackendUnavailable(f"elasticsearch {action} ({self.alias}): {_describe(error)}") from error

    def _read(self, action: str, call: Callable[..., Any], **kwargs: Any) -> dict[str, Any] | None:
        """A read through the alias; None when no index exists yet (nothing indexed, nothing found)."""
        with self._errors(action):
            try:
                return call(**kwargs).body
            except NotFoundError:
                return None

    # ---- index lifecycle ----------------------------------------------------------------------------

    def _new_index_name(self) -> str:
        return f"{self.alias}-v{esq.MAPPING_VERSION}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"

    def _ensure_alias(self, documents: Sequence[dict[str, Any]] = ()) -> None:
        """Create the first index, with the alias, in one request. Two processes doing this at
        the same moment could leave the alias on two indices; a reindex (or clear) repairs it."""
        if self._alias_ready:
            return
        with self._errors("create index"):
            if not self.client.indices.exists_alias(name=self.alias):
                dims = self.vector_dims or next((len(d["vector"]) for d in documents if d.get("vector")), None)
                self.client.indices.create(index=self._new_index_name(), **esq.index_body(dims, alias=self.alias))
        self._alias_ready = True

    def _aliased_indices(self) -> list[str]:
        with self._errors("read alias"):
            try:
                return sorted(self.client.indices.get_alias(name=self.alias).body)
            except NotFoundError:
                return []

    def begin_reindex(self) -> str:
        """Create an empty index beside the live one and return its name, for ``index(docs, into=name)``.

        The new index carries the rebuild alias from its creation on, so from then on live writes
        from every process go to it as well (``_rebuild_targets``)."""
        name = self._new_index_name()
        with self._errors("create index"):
            self.client.indices.create(index=name, **esq.index_body(self.vector_dims, alias=self.rebuild_alias))
        return name

    def finish_reindex(self, new_index: str) -> None:
        """Point the alias at ``new_index`` (remove old + add new in one atomic call), then delete
        the old indices: searches see the old documents or the new ones, never an empty index.

        Deletions made during the rebuild left tombstones in the new index (so the rebuild could
        not bring those listings back); they are dropped before the swap, and once more after it
        for a write that raced the swap."""
        with self._errors("swap alias"):
            self.client.indices.refresh(index=new_index)
            self._drop_tombstones(new_index)
            old = [name for name in self._aliased_indices() if name != new_index]
            actions = [{"remove": {"index": name, "alias": self.alias}} for name in old]
            actions.append({"add": {"index": new_index, "alias": self.alias}})
            actions.append({"remove": {"index": new_index, "alias": self.rebuild_alias}})
            self.client.indices.update_aliases(actions=actions)
        self._alias_ready = True
        try:
            self._drop_tombstones(new_index)
        except (TransportError, ApiError) as error:  # the swap is done; a tombstone is invisible to searches
            log.warning("could not drop tombstones in search index %s: %s", new_index, error)
        for name in old:
            try:
                self.client.indices.delete(index=name)
            except (TransportError, ApiError) as error:  # the swap is done; a leftover only costs disk
                log.warning("could not delete old search index %s: %s", name, error)

    def _drop_tombstones(self, index: str) -> None:
        self.client.delete_by_query(index=index, query=esq.TOMBSTONE_QUERY, refresh=True, conflicts="proceed")

    def abort_reindex(self, new_index: str) -> None:
        with self._errors("delete index"):
            self.client.options(ignore_status=404).indices.delete(index=new_index)

    def _rebuild_targets(self) -> list[str]:
        """Indices being rebuilt right now (by this process or another), which live writes also reach."""
        with self._errors("read rebuild alias"):
            response = self.client.options(ignore_status=404).indices.get_alias(name=self.rebuild_alias)
        if response.meta.status == 404:
            return []
        return sorted(response.body)

    @contextmanager
    def reindexing(self) -> Iterator[Callable[[Iterable[dict[str, Any]]], int]]:
        """``with backend.reindexing() as write: write(batch)...`` rebuilds into a fresh index and
        swaps it in at the end; if the block raises, the new index is dropped and nothing changes.

        The rebuild writes with ``create``: a listing written live during the rebuild (newer than
        the copy the rebuild read) or deleted meanwhile (a tombstone) is not overwritten."""
        new_index = self.begin_reindex()
        try:
            yield lambda documents: self.index(documents, into=new_index)
        except BaseException:
            self.abort_reindex(new_index)
            raise
        self.finish_reindex(new_index)

    def clear(self) -> None:
        """Swap in a new empty index (so a mapping change takes effect too) and drop the old one."""
        self.finish_reindex(self.begin_reindex())

    def drop(self) -> None:
        """Delete every index of this prefix, alias included (tests, decommissioning)."""
        with self._errors("drop indices"):
            names = sorted(self.client.indices.get(index=f"{self.alias}-v*").body)
            if names:
                # Concrete names: clusters refuse wildcard deletes (action.destructive_requires_name).
                self.client.indices.delete(index=",".join(names))
        self._alias_ready = False

    # ---- writing ------------------------------------------------------------------------------------

    def index(self, documents: Iterable[dict[str, Any]], *, into: str | None = None) -> int:
        # Check every document first so a bad one stops the batch before anything is sent (as sqlite).
        docs = [check_document(doc) for doc in documents]
        if not docs:
            return 0
        if into is not None:  # a rebuild's copy: never over a live write or a tombstone
            actions = [
                {"_op_type": "create", "_id": str(doc["id"]), "_source": esq.document_source(doc)} for doc in docs
            ]
            self._bulk(actions, into)
            return len(docs)
        self._ensure_alias(docs)
        rebuilding = self._rebuild_targets()
        actions = []
        for doc in docs:
            source = esq.document_source(doc)
            actions += [
                {"_op_type": "index", "_index": name, "_id": str(doc["id"]), "_source": source} for name in rebuilding
            ]
            actions.append({"_op_type": "index", "_id": str(doc["id"]), "_source": source})
        self._bulk(actions, None)
        return len(docs)

    def delete(self, ids: Iterable[str]) -> None:
        ids = [str(doc_id) for doc_id in ids]
        if not ids:
            return
        self._ensure_alias()
        rebuilding = self._rebuild_targets()
        actions = []
        for doc_id in ids:
            # In an index being rebuilt, a tombstone rather than a deletion: the rebuild may still
            # send a copy it read before the listing was deleted, and ``create`` refuses it.
            actions += [
                {"_op_type": "index", "_index": name, "_id": doc_id, "_source": esq.tombstone(doc_id)}
                for name in rebuilding
            ]
            actions.append({"_op_type": "delete", "_id": doc_id})
        self._bulk(actions, None)

    def _bulk(self, actions: list[dict[str, Any]], into: str | None) -> None:
        """Send actions with the bulk helper and sort what failed into retry-later and refused."""
        if into is None:
            # require_alias: if the alias vanished, fail instead of auto-creating an unmapped index
            # (actions naming an index being rebuild lift it for themselves, see _expand).
            options: dict[str, Any] = {"index": self.alias, "require_alias": True}
            if self.refresh:
                options["refresh"] = self.refresh
        else:
            options = {"index": into}  # a rebuild: finish_reindex refreshes once at the end
        failures: list[tuple[str, dict[str, Any]]] = []
        with self._errors("bulk write"):
            for ok, item in helpers.streaming_bulk(
                self.client,
                actions,
                chunk_size=self.chunk_size,
                raise_on_error=False,
                yield_ok=False,
                max_retries=self.max_retries,
                initial_backoff=self.initial_backoff,
                max_backoff=self.max_backoff,
                retry_on_status=RETRY_ON_STATUS,
                expand_action_callback=_expand,
                **options,
            ):
                op, info = next(iter(item.items()))
                if not ok and not _harmless(op, info, rebuilding=into is not None):
                    failures.append((op, info))
        # Overload or shard trouble outlasting the retries is the cluster's state, not the documents'.
        busy = [info for _, info in failures if _retryable(info.get("status", 500))]
        if busy:
            ids = ", ".join(str(info.get("_id")) for info in busy[:10])
            raise BackendUnavailable(
                f"elasticsearch bulk write ({self.alias}): {len(busy)} action(s) still "
                f"rejected after retries ({_reason(busy[0])}); ids {ids}"
            )
        if failures:
            raise BulkDocumentError(failures)

    # ---- reading ------------------------------------------------------------------------------------

    def count(self) -> int:
        # A tombstone left by a delete that raced the end of a rebuild is no listing.
        response = self._read(
            "count", self.client.count, index=self.alias, query={"bool": {"must_not": [esq.TOMBSTONE_QUERY]}}
        )
        return 0 if response is None else int(response["count"])

    def health(self) -> dict[str, Any]:
        try:
            # Quick and without retries: a health probe must answer, not wait out a dead cluster.
            cluster = self.client.options(request_timeout=5, max_retries=0).cluster.health().body
            if cluster.get("status") == "red":
                return {
                    "status": "error",
                    "backend": self.name,
                    "error": "cluster health is red",
                    "cluster_status": "red",
                }
            return {"status": "ok", "backend": self.name, "documents": self.count()}
        except Exception as error:  # a health probe reports every failure instead of raising
            return {"status": "error", "backend": self.name, "error": _describe(error)[:200]}

    def search(self, query: SearchQuery) -> SearchResult:
        groups = esq.term_groups(query.text)
        if query.match_any:  # more-like-this ranking: any word counts from the start
            return self._search(query, groups, relaxed=True)
        result = self._search(query, groups, relaxed=False)
        if result.total == 0 and len(groups) > 1:
            # Nothing matches every word: show what matches some of them, and say so.
            result = self._search(query, groups, relaxed=True)
            result.relaxed = True
        return result

    def _search(self, query: SearchQuery, groups: list[list[str]], relaxed: bool) -> SearchResult:
        body = esq.search_body(query, groups, relaxed)
        response = self._read("search", self.client.search, index=self.alias, **esq.as_params(body))
        if response is None:
            return SearchResult(
                hits=[],
                total=0,
                facets=esq.parse_facets(None) if query.facets else {},
                query_terms=[group[0] for group in groups],
            )
        return esq.parse_search(response, groups, query.facets)

    def suggest(self, prefix: str, kind: str | None = None, limit: int = 8) -> list[str]:
        tokens = analysis.tokenize(prefix)
        if not tokens:
            return []
        # Fetch extra hits: listings may share a title and the list shows each title once.
        body = esq.suggest_body(tokens, kind, size=limit * 3)
        response = self._read("suggest", self.client.search, index=self.alias, **esq.as_params(body))
        titles: list[str] = []
        for hit in (response or {}).get("hits", {}).get("hits", []):
            title = hit["_source"]["stored"]["title"]
            if title not in titles:
                titles.append(title)
        return titles[:limit]

    def knn(
        self,
        vector: Sequence[float],
        kind: str,
        k: int = 100,
        filters: Filters | None = None,
        *,
        viewer: Viewer = ANONYMOUS,
        vector_model: str | None = None,
    ) -> list[Scored]:
        """Published listings of ``kind`` nearest to ``vector``, best first, scored by cosine as sqlite
        scores them. ``filters``/``viewer`` narrow or widen the candidates; pass ``vector_model`` so
        vectors of another encoder, which are not comparable, are left out."""
        filters = replace(filters or Filters(), kind=kind)
        clauses = esq.base_filters(filters, viewer) + list(esq.facet_filters(filters).values())
        if vector_model:
            clauses.append(Q("term", vector_model=vector_model))
        body = esq.knn_body(vector, k, clauses)
        response = self._read("knn search", self.client.search, index=self.alias, **esq.as_params(body))
        hits = (response or {}).get("hits", {}).get("hits", [])
        return [(hit["_id"], esq.cosine(hit["_score"]), hit["_source"]["stored"]) for hit in hits]
