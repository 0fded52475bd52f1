"""A minimal search document for backend tests (fields a test cares about override the defaults)."""

from __future__ import annotations


def doc(doc_id, title="成果", vector=None, **fields) -> dict:
    base = {
        "id": str(doc_id),
        "kind": "achievement",
        "status": "published",
        "title": title,
        "industry": "new_materials",
        "keywords": [],
        "cooperation_modes": [],
        "published_at": "2024-01-01",
    }
    if vector is not None:
        base.update(vector=vector, vector_model="test")
    return {**base, **fields}
