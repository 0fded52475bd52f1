"""Contract pages: the admins' register of contracts and its imports, and brokers' link proposals."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.accounts.capabilities import capability_required, has_capability
from marketplace.contracts import import_runs, queries, services
from marketplace.contracts import proposals as proposal_service
from marketplace.contracts.forms import (
    AmendForm,
    CancelForm,
    ContractForm,
    ImportForm,
    PerformanceForm,
    RegisterForm,
    show_error,
)
from marketplace.contracts.models import CONTRACT_STATUS_LABELS, ContractLinkProposal, TechContract
from marketplace.core.actions import perform
from marketplace.core.errors import ServiceError
from marketplace.core.money import MoneyError, parse_money
from marketplace.core.pagination import paginate
from marketplace.extensions import db
from marketplace.uploads.checks import check_upload

bp = Blueprint("contracts", __name__)


def _contract(contract_id: int) -> TechContract:
    contract = db.session.get(TechContract, contract_id)
    if contract is None:
        abort(404)
    return contract


def _save(form, action):
    """Run a service for a form; a rule it breaks goes back beside the field it names."""
    try:
        result = action()
    except ServiceError as error:
        db.session.rollback()
        if error.status_code in (401, 403):
            raise
        show_error(form, getattr(error, "field", None), error.message)
        return None
    db.session.commit()
    return result


@bp.route("/admin/contracts/")
@capability_required("contract.manage")
def index():
    filters = queries.ContractFilters.from_args(request.args)
    page = paginate(queries.contract_select(filters))
    return render_template("contracts/list.html", page=page, filters=filters, status_labels=CONTRACT_STATUS_LABELS)


@bp.route("/admin/contracts/new", methods=["GET", "POST"])
@capability_required("contract.manage")
def create():
    form = ContractForm()
    if form.validate_on_submit():
        contract = _save(form, lambda: services.create_draft(current_user, form.values()))
        if contract is not None:
            return redirect(url_for("contracts.detail", contract_id=contract.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("contracts/form.html", form=form, contract=None), status


@bp.route("/admin/contracts/<int:contract_id>")
@capability_required("contract.manage")
def detail(contract_id: int):
    contract = _contract(contract_id)
    return render_template(
        "contracts/detail.html",
        contract=contract,
        history=queries.history(contract),
        register_form=RegisterForm(),
        cancel_form=CancelForm(),
        performance_form=PerformanceForm(performed_amount=contract.performed_amount),
    )


@bp.route("/admin/contracts/<int:contract_id>/edit", methods=["GET", "POST"])
@capability_required("contract.manage")
def edit(contract_id: int):
    contract = _contract(contract_id)
    if contract.status != "draft":
        return redirect(url_for("contracts.amend", contract_id=contract.id))
    form = ContractForm(obj=contract)
    if form.validate_on_submit():
        if _save(form, lambda: services.update_draft(current_user, contract, form.values())) is not None:
            return redirect(url_for("contracts.detail", contract_id=contract.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("contracts/form.html", form=form, contract=contract), status


@bp.route("/admin/contracts/<int:contract_id>/amend", methods=["GET", "POST"])
@capability_required("contract.manage")
def amend(contract_id: int):
    contract = _contract(contract_id)
    form = AmendForm(obj=contract)
    if request.method == "GET":
        form.reason.data = ""
    if form.validate_on_submit():
        if _save(form, lambda: services.amend(current_user, contract, form.values(), form.reason.data)) is not None:
            return redirect(url_for("contracts.detail", contract_id=contract.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("contracts/form.html", form=form, contract=contract, amending=True), status


def _post_form(form_class, contract_id: int, action, success: str):
    contract = _contract(contract_id)
    form = form_class()
    if not form.validate_on_submit():
        messages = [message for errors in form.errors.values() for message in errors]
        raise ServiceError("；".join(str(m) for m in messages) or _("请检查填写的内容"))
    perform(lambda: action(contract, form), success)
    return redirect(url_for("contracts.detail", contract_id=contract.id))


@bp.route("/admin/contracts/<int:contract_id>/register", methods=["POST"])
@capability_required("contract.manage")
def register(contract_id: int):
    return _post_form(
        RegisterForm,
        contract_id,
        lambda contract, form: services.register(
            current_user, contract, form.registration_no.data, form.registered_on.data
        ),
        _("合同已登记"),
    )


@bp.route("/admin/contracts/<int:contract_id>/cancel", methods=["POST"])
@capability_required("contract.manage")
def cancel(contract_id: int):
    return _post_form(
        CancelForm,
        contract_id,
        lambda contract, form: services.cancel(current_user, contract, form.cancelled_on.data, form.reason.data),
        _("合同已注销，不再计入统计"),
    )


@bp.route("/admin/contracts/<int:contract_id>/performance", methods=["POST"])
@capability_required("contract.manage")
def performance(contract_id: int):
    return _post_form(
        PerformanceForm,
        contract_id,
        lambda contract, form: services.record_performance(current_user, contract, form.performed_amount.data),
        _("履约金额已更新"),
    )


@bp.route("/contracts/from-deal/<int:deal_id>", methods=["POST"])
@login_required
def from_deal(deal_id: int):
    from marketplace.deals.models import Deal

    deal = db.session.get(Deal, deal_id)
    if deal is None:
        abort(404)
    try:  # optional: the amount, when the deal has no expected value yet
        data = {"contract_amount": parse_money(request.form.get("contract_amount")) or None}
    except MoneyError as error:
        raise ServiceError(str(error)) from None
    contract = perform(lambda: services.create_from_deal(current_user, deal, data), _("已根据撮合创建合同草稿"))
    if contract is None or not hasattr(contract, "id"):
        return redirect(request.referrer or url_for("portal.home"))
    if has_capability(current_user, "contract.manage"):
        return redirect(url_for("contracts.edit", contract_id=contract.id))
    return redirect(request.referrer or url_for("portal.home"))


# --- imports -------------------------------------------------------------------------------------


@bp.route("/admin/contracts/import", methods=["GET", "POST"])
@capability_required("contract.import")
def bulk_import():
    form = ImportForm()
    if form.validate_on_submit():
        try:
            upload = check_upload(form.file.data, import_runs.ACCEPTED, current_app.config["UPLOAD_MAX_BYTES"])
        except ServiceError as error:
            show_error(form, "file", error.message)
        else:
            run = import_runs.queue_run(current_user, upload, dry_run=form.dry_run.data)
            db.session.commit()
            return redirect(url_for("contracts.import_run", run_id=run.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("contracts/import.html", form=form, runs=import_runs.recent_runs()), status


def _run(run_id: int):
    run = queries.import_run(run_id)
    if run is None:
        abort(404)
    return run


@bp.route("/admin/contracts/import/runs/<int:run_id>")
@capability_required("contract.import")
def import_run(run_id: int):
    run = _run(run_id)
    return render_template("contracts/import_run.html", run=run, report=import_runs.report_of(run))


@bp.route("/admin/contracts/import/runs/<int:run_id>/progress.json")
@capability_required("contract.import")
def import_run_progress(run_id: int):
    run = _run(run_id)
    return jsonify(
        status=run.status,
        status_label=run.status_label,
        lines_done=run.rows_done,
        lines_total=run.rows_done,
        finished=run.finished,
    )


# --- link proposals ------------------------------------------------------------------------------


@bp.route("/contracts/proposals")
@login_required
def proposals():
    return render_template("contracts/proposals.html", proposals=proposal_service.visible_proposals(current_user))


def _proposal(proposal_id: int) -> ContractLinkProposal:
    proposal = db.session.get(ContractLinkProposal, proposal_id)
    if proposal is None or not proposal_service.can_decide(current_user, proposal):
        abort(404)  # another broker's proposal: not even its existence is shown
    return proposal


@bp.route("/contracts/proposals/<int:proposal_id>/accept", methods=["POST"])
@login_required
def accept_proposal(proposal_id: int):
    proposal = _proposal(proposal_id)
    perform(lambda: proposal_service.accept_proposal(current_user, proposal), _("已关联合同与撮合"))
    return redirect(url_for("contracts.proposals"))


@bp.route("/contracts/proposals/<int:proposal_id>/decline", methods=["POST"])
@login_required
def decline_proposal(proposal_id: int):
    proposal = _proposal(proposal_id)
    perform(lambda: proposal_service.decline_proposal(current_user, proposal), _("已忽略该关联建议"))
    return redirect(url_for("contracts.proposals"))
