"""Uploads: content checks, storage that follows the transaction, and safe downloads.

Used by listing attachments, and meant for every other feature that takes files (deal documents,
payment proofs, delivery reports, pitch decks, registration-file imports). A feature keeps its own
row pointing at a stored key and its own permission check; this package does the rest:

- ``checks.check_upload(file, kinds, max_bytes)`` — read, size-limit and recognise an upload by its bytes;
- ``storage.store(area, data, extension)`` / ``storage.delete_after_commit(key)`` — files that follow
  the transaction (``on_rollback`` / ``on_commit``);
- ``download.send_upload(key, download_name, content_type)`` — after the caller's own object check;
- ``references.track(Model.column)`` — the column holding keys, so ``flask uploads sweep`` can tell
  orphaned files from referenced ones.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.uploads import cli
    from marketplace.uploads.storage import LocalDiskStorage

    app.extensions.setdefault("uploads", LocalDiskStorage(app.config["UPLOAD_DIR"]))
    cli.register(app)
