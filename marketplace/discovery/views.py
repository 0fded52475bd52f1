from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, request
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError

from marketplace.core import transaction
from marketplace.discovery import outbox
from marketplace.discovery import services as discovery
from marketplace.listings.models import ListingKind
from search.backends import BackendUnavailable

bp = Blueprint("discovery", __name__, url_prefix="/search")
AFTER_REQUEST_DRAIN_LIMIT = 50


@bp.after_app_request
def index_this_requests_changes(response):
    """Push the listing changes this request committed to the index right away.

    Only rows the request committed are pushed, by a drain in its own transaction: nothing the view
    left uncommitted is saved by this hook. Whatever cannot be pushed now stays in the outbox for the
    worker (or the next search); the user's change itself is already saved.
    """
    if not outbox.committed_in_this_request():
        return response
    # The view's work is committed; whatever it opened since (a write transaction, on SQLite, holding
    # the lock the drain needs) ends here, as it would at teardown.
    transaction.end_transaction()
    try:
        report = outbox.drain(discovery.backend(), limit=AFTER_REQUEST_DRAIN_LIMIT)
    except (BackendUnavailable, SQLAlchemyError):
        current_app.logger.exception("search outbox drain failed after request")
        return response
    if report.failed:
        flash(_("搜索服务暂时不可用：您的修改已保存，恢复后会自动出现在搜索结果中。"), "warning")
    return response


@bp.route("/suggest")
def suggest():
    prefix = (request.args.get("q") or "").strip()[:50]
    kind = request.args.get("kind") if request.args.get("kind") in ListingKind.__members__.values() else None
    if not prefix:
        return jsonify(suggestions=[])
    try:
        suggestions = discovery.backend().suggest(prefix, kind=kind, limit=8)
    except BackendUnavailable:
        suggestions = []
    return jsonify(suggestions=suggestions)
