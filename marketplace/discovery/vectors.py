"""Listing vectors: computed once per text by the worker, stored in the database, reused by every reindex."""

from __future__ import annotations

import hashlib

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.discovery.models import ListingVector
from marketplace.extensions import db
from search.encoders import Encoder, encode_listings, vector_from_bytes, vector_key, vector_to_bytes

ENCODE_BATCH = 32


def text_hash(document: dict) -> str:
    return hashlib.sha256(vector_key(document).encode("utf-8")).hexdigest()


def attach(documents: list[dict], encoder: Encoder | None, session: Session | None = None) -> set[int]:
    """Put each document's stored vector on it, computing missing or stale ones when an encoder
    is given. Returns the listing ids still waiting for a vector."""
    session = session if session is not None else db.session()
    stale = attach_stored(documents, encoder.name if encoder else None, session)
    if encoder is None:
        return {int(doc["id"]) for doc in stale}
    save(session, encode(stale, encoder))
    return set()


def attach_stored(documents: list[dict], encoder_name: str | None, session: Session) -> list[dict]:
    """Put each document's current stored vector on it; returns the documents whose vector is
    missing or stale (made from other text, or by another encoder when ``encoder_name`` is given)."""
    if not documents:
        return []
    stored = {
        vector.listing_id: vector
        for vector in session.scalars(
            select(ListingVector).where(ListingVector.listing_id.in_([int(doc["id"]) for doc in documents]))
        )
    }
    stale: list[dict] = []
    for doc in documents:
        vector = stored.get(int(doc["id"]))
        if _current(vector, doc, encoder_name):
            doc["vector"], doc["vector_model"] = vector_from_bytes(vector.vector).tolist(), vector.encoder
        else:
            stale.append(doc)
    return stale


def encode(documents: list[dict], encoder: Encoder) -> list[dict]:
    """Encode these documents (the slow part: it touches no database) and put the vectors on them;
    returns the rows for ``save``."""
    rows = []
    for start in range(0, len(documents), ENCODE_BATCH):
        batch = documents[start : start + ENCODE_BATCH]
        matrix = encode_listings(encoder, batch)
        for doc, row in zip(batch, matrix, strict=True):
            doc["vector"], doc["vector_model"] = row.tolist(), encoder.name
            rows.append(
                {
                    "listing_id": int(doc["id"]),
                    "encoder": encoder.name,
                    "text_hash": text_hash(doc),
                    "vector": vector_to_bytes(row),
                }
            )
    return rows


def save(session: Session, rows: list[dict]) -> None:
    """Store computed vectors (one per listing, replacing an older one)."""
    for row in rows:
        vector = session.get(ListingVector, row["listing_id"]) or ListingVector(listing_id=row["listing_id"])
        vector.encoder, vector.text_hash, vector.vector = row["encoder"], row["text_hash"], row["vector"]
        session.add(vector)


def _current(vector: ListingVector | None, document: dict, encoder_name: str | None) -> bool:
    """Made from the document's present text (and mode), by ``encoder_name`` unless that is None."""
    return (
        vector is not None
        and vector.text_hash == text_hash(document)
        and (encoder_name is None or vector.encoder == encoder_name)
    )


def stored_vector(document: dict, encoder_name: str) -> np.ndarray | None:
    """The document's stored vector if it is current (same text, mode and encoder), else None."""
    if not str(document.get("id") or "").isdigit():
        return None
    vector = db.session.get(ListingVector, int(document["id"]))
    return vector_from_bytes(vector.vector) if _current(vector, document, encoder_name) else None


def stored_vectors(ids: list[str], encoder_name: str) -> dict[str, np.ndarray]:
    """Stored vectors of these listings by id (as strings), for those the encoder made."""
    wanted = [int(listing_id) for listing_id in ids if str(listing_id).isdigit()]
    if not wanted:
        return {}
    rows = db.session.scalars(
        select(ListingVector).where(ListingVector.listing_id.in_(wanted), ListingVector.encoder == encoder_name)
    )
    return {str(row.listing_id): vector_from_bytes(row.vector) for row in rows}
