"""`/api/v1/stats/turnover`: the same JSON object as `flask stats turnover --json`.

Aggregate registered turnover is published statistics: no sign-in needed (no party is named).
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from marketplace.extensions import csrf
from marketplace.stats import queries

bp = Blueprint("stats_api", __name__, url_prefix="/api/v1/stats")
csrf.exempt(bp)


@bp.route("/turnover")
def turnover():
    try:
        by = queries.parse_by(request.args.get("by", "year"))
        year = queries.parse_year(request.args.get("year"))
    except queries.StatsParameterError as error:
        abort(400, str(error))
    return jsonify(queries.turnover_json(by, year))
