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
    if not documents:
        return set()
    session = session if session is not None else db.session()
    stored = {
        vector.listing_id: vector
        for vector in session.scalars(
            select(ListingVector).where(ListingVector.listing_id.in_([int(doc["id"]) for doc in documents]))
        )
    }
    stale: list[dict] = []
    for doc in documents:
        vector = stored.get(int(doc["id"]))
        if _current(vector, doc, encoder.name if encoder else None):
            doc["vector"], doc["vector_model"] = vector_from_bytes(vector.vector).tolist(), vector.encoder
        else:
            stale.append(doc)
    if encoder is None:
        return {int(doc["id"]) for doc in stale}
    for start in range(0, len(stale), ENCODE_BATCH):
        batch = stale[start : start + ENCODE_BATCH]
        matrix = encode_listings(encoder, batch)
        for doc, row in zip(batch, matrix, strict=True):
            listing_id = int(doc["id"])
            vector = stored.get(listing_id) or ListingVector(listing_id=listing_id)
            vector.encoder, vector.text_hash, vector.vector = encoder.name, text_hash(doc), vector_to_bytes(row)
            session.add(vector)
            doc["vector"], doc["vector_model"] = row.tolist(), encoder.name
    return set()


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
