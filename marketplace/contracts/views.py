"""Contract pages: the admins' register of contracts, imports, and brokers' link proposals."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from marketplace.contracts import proposals as proposal_service

bp = Blueprint("contracts", __name__)


@bp.route("/contracts/proposals")
@login_required
def proposals():
    items = proposal_service.visible_proposals(current_user)
    return render_template("contracts/proposals.html", proposals=items)
