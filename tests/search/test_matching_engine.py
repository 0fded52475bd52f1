"""search.matching without an application: the lexical query, stored source vectors, feedback,
score regularisation."""

from __future__ import annotations

import numpy as np
import pytest

from search import matching
from search.encoders import encode_listings, is_query, passage_text, vector_key

DIM = 4


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


class FakeBackend:
    """Achievements with fixed vectors; lexical hits every document equally, so knn decides."""

    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors = vectors
        self.documents = {
            doc_id: {"id": doc_id, "kind": "achievement", "title": doc_id, "industry": "x"} for doc_id in vectors
        }
        self.lexical_texts: list[str] = []
        self.knn_vectors: list[np.ndarray] = []

    def lexical(self, text, kind, k=100):
        self.lexical_texts.append(text)
        return [(doc_id, 1.0, document) for doc_id, document in self.documents.items()][:k]

    def knn(self, vector, kind, k=100):
        query = np.asarray(vector, dtype=np.float32)
        self.knn_vectors.append(query)
        scored = sorted(((float(self.vectors[doc_id] @ query), doc_id) for doc_id in self.vectors), reverse=True)
        return [(doc_id, score, self.documents[doc_id]) for score, doc_id in scored[:k]]


class RefusingEncoder:
    name, dim = "refusing", DIM

    def encode_queries(self, texts):
        raise AssertionError("a source with a stored vector must not be encoded")

    encode_passages = encode_queries


class RecordingEncoder:
    name, dim = "recording", DIM

    def __init__(self):
        self.calls: list[tuple[str, list[str]]] = []

    def encode_queries(self, texts):
        self.calls.append(("query", list(texts)))
        return np.tile(unit(1, 0, 0, 0), (len(texts), 1))

    def encode_passages(self, texts):
        self.calls.append(("passage", list(texts)))
        return np.tile(unit(0, 1, 0, 0), (len(texts), 1))


def demand(**fields) -> dict:
    return {"id": "d1", "kind": "demand", "title": "冷链车厢保温", "industry": "x", **fields}


def test_short_source_keeps_every_word_for_lexical_query():
    head, lexical_text, _ = matching._query_texts(demand(keywords=["冷链"], description="车厢隔热"))
    assert lexical_text == f"{head} 车厢隔热"


def test_long_source_keeps_its_most_informative_words(monkeypatch):
    monkeypatch.setattr(matching, "MAX_QUERY_TERMS", 4)
    source = demand(title="压载水处理", description="在这个过程中，方法和问题很多：盐度 3 PSU，电解 产氯 不足。")
    words = matching._query_texts(source)[1].split()
    assert len(words) == 4
    assert {"压载水", "电解", "psu"} <= set(words)  # technical words stay …
    assert not {"中", "方法", "问题", "很多", "3"} & set(words)  # … everyday words and bare numbers go first


def test_stored_source_vector_is_used_as_is():
    backend = FakeBackend({"a": unit(1, 0, 0, 0), "b": unit(0, 1, 0, 0)})
    found = matching.match(backend, RefusingEncoder(), demand(), "achievement", source_vector=unit(0, 1, 0, 0))
    assert [item.id for item in found][:1] == ["b"]
    assert np.allclose(backend.knn_vectors[0], unit(0, 1, 0, 0))


def test_source_without_stored_vector_is_encoded_in_its_sides_mode():
    encoder = RecordingEncoder()
    backend = FakeBackend({"a": unit(1, 0, 0, 0)})
    matching._QUERY_VECTORS.clear()
    matching.match(backend, encoder, demand(description="夏季车厢温度波动大"), "achievement")
    matching.match(
        backend, encoder, {"id": "a9", "kind": "achievement", "title": "气凝胶隔热板", "industry": "x"}, "demand"
    )
    assert encoder.calls == [("query", ["冷链车厢保温。夏季车厢温度波动大"]), ("passage", ["气凝胶隔热板"])]


def test_feedback_moves_the_query_toward_the_best_hits_vectors():
    vectors = {"a": unit(1, 0.2, 0, 0), "b": unit(1, 0, 0.3, 0), "c": unit(0, 0, 0, 1)}
    backend = FakeBackend(vectors)
    asked: list[list[str]] = []

    def vectors_of(ids):
        asked.append(list(ids))
        return {doc_id: vectors[doc_id] for doc_id in ids}

    matching.match(
        backend, RefusingEncoder(), demand(), "achievement", source_vector=unit(1, 0, 0, 0), vectors_of=vectors_of
    )
    assert asked[0] == ["a", "b"][: matching.FEEDBACK_DOCS]
    assert len(backend.knn_vectors) == 2
    moved = backend.knn_vectors[1]
    assert moved @ unit(0, 0.2, 0.3, 0) > 0 and np.isclose(np.linalg.norm(moved), 1.0)


@pytest.mark.parametrize(("kind", "query_side"), [("demand", True), ("achievement", False)])
def test_each_side_is_stored_in_its_own_mode(kind, query_side):
    document = {"kind": kind, "title": "标题", "summary": "摘要", "description": "说明"}
    assert is_query(document) is query_side
    encoder = RecordingEncoder()
    encode_listings(encoder, [document])
    assert encoder.calls == [("query" if query_side else "passage", [passage_text(document)])]
    assert vector_key(document).startswith("query: " if query_side else "passage: ")


def test_achievement_vector_encodes_its_description_and_demand_only_its_opening():
    achievement = {"kind": "achievement", "title": "T", "summary": "S。", "description": "D。"}
    assert passage_text(achievement) == "T。S。D。"
    opening = {"kind": "demand", "title": "T", "description": "x" * 1000}
    assert len(passage_text(opening)) < 400


# Two groups of candidates: a, c, d resemble each other; b resembles only the weak e and f, as a
# hard negative that shares the source's words but answers another need.
CLUSTERED = {
    "a": unit(1, 0.1, 0, 0),
    "c": unit(1, 0, 0.1, 0),
    "d": unit(1, 0.1, 0.1, 0),
    "b": unit(0, 1, 0, 0.1),
    "e": unit(0, 1, 0.1, 0),
    "f": unit(0.1, 1, 0, 0),
}
SCORES = {"a": 3.0, "b": 2.8, "c": 2.7, "d": 2.6, "e": 1.0, "f": 0.9}


def stored(vectors):
    return lambda ids: {doc_id: vectors[doc_id] for doc_id in ids if doc_id in vectors}


def ranked(scores):
    return sorted(scores, key=lambda doc_id: -scores[doc_id])


def test_smoothing_moves_a_candidate_unlike_the_other_good_ones_down():
    smoothed = matching._smoothed(SCORES, stored(CLUSTERED))
    assert ranked(SCORES)[:4] == ["a", "b", "c", "d"]
    assert ranked(smoothed)[:4] == ["a", "c", "d", "b"]


def test_smoothing_leaves_candidates_outside_the_pool_below_it(monkeypatch):
    monkeypatch.setattr(matching, "SMOOTHING_POOL", 4)
    smoothed = matching._smoothed(SCORES, stored(CLUSTERED))
    assert smoothed["e"] == SCORES["e"] and smoothed["f"] == SCORES["f"]
    assert min(smoothed[doc_id] for doc_id in "abcd") > max(smoothed["e"], smoothed["f"])


def test_candidates_without_a_stored_vector_keep_their_score():
    partial = {doc_id: vector for doc_id, vector in CLUSTERED.items() if doc_id != "b"}
    smoothed = matching._smoothed(SCORES, stored(partial))
    assert smoothed["b"] == SCORES["b"] and smoothed["c"] != SCORES["c"]
    assert matching._smoothed(SCORES, stored({"a": CLUSTERED["a"]})) == SCORES


def test_match_ranks_with_smoothing_but_scores_the_pair_without_it(monkeypatch):
    backend = FakeBackend(CLUSTERED)
    source_vector = unit(0.75, 0.6, 0.05, 0.05)
    monkeypatch.setattr(matching, "FEEDBACK_DOCS", 0)
    plain = {
        item.id: item
        for item in matching.match(backend, RefusingEncoder(), demand(), "achievement", source_vector=source_vector)
    }
    smoothed = {
        item.id: item
        for item in matching.match(
            backend,
            RefusingEncoder(),
            demand(),
            "achievement",
            source_vector=source_vector,
            vectors_of=stored(CLUSTERED),
        )
    }
    assert list(plain) != list(smoothed)
    for doc_id, item in smoothed.items():
        assert item.score == plain[doc_id].score
        assert item.evidence.adjustment == pytest.approx(plain[doc_id].evidence.adjustment)
