"""Brokers' pipeline (board, table, stats, exports) and broker rewards (list, exports, policies)."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from marketplace.accounts.capabilities import capability_required, has_capability
from marketplace.core import taxonomy
from marketplace.core.actions import perform
from marketplace.core.models import as_utc, utcnow
from marketplace.core.pagination import paginate
from marketplace.core.spreadsheet import download
from marketplace.deals import pipeline, rewards
from marketplace.deals.blueprint import bp
from marketplace.deals.models import (
    CLOSED_STAGES,
    DEAL_STAGE_LABELS,
    LOSS_REASON_LABELS,
    OPEN_STAGES,
    RewardPolicy,
)
from marketplace.deals.reward_forms import RewardPolicyForm
from marketplace.extensions import db

EXPORT_LIMIT = 50_000  # rows in one export: far past any broker's pipeline, short of a runaway query


def _page_context(filters: pipeline.Filters) -> dict:
    is_admin = current_user.role == "admin"
    return {
        "filters": filters,
        "stats": pipeline.pipeline_stats(current_user, filters),
        "stage_labels": DEAL_STAGE_LABELS,
        "loss_labels": LOSS_REASON_LABELS,
        "open_stages": OPEN_STAGES,
        "closed_stages": CLOSED_STAGES,
        "age_buckets": _age_labels(),
        "brokers": pipeline.broker_choices() if is_admin else [],
        "is_admin": is_admin,
        "certified": is_admin or pipeline.broker_is_certified(current_user),
        "now": utcnow(),
        "days_in_stage": pipeline.days_in_stage,
        "is_overdue": pipeline.is_overdue,
    }


def _age_labels() -> dict[str, str]:
    return {
        "7d": _("近 7 天创建"),
        "30d": _("近 30 天创建"),
        "over30": _("创建超过 30 天"),
        "over90": _("创建超过 90 天"),
    }


@bp.route("/deals/pipeline")
@capability_required("deal.pipeline")
def pipeline_board():
    filters = pipeline.Filters.from_args(request.args, current_user)
    return render_template(
        "deals/pipeline_board.html", columns=pipeline.board(current_user, filters), **_page_context(filters)
    )


@bp.route("/deals/pipeline/table")
@capability_required("deal.pipeline")
def pipeline_table():
    filters = pipeline.Filters.from_args(request.args, current_user)
    page = paginate(pipeline.deal_query(current_user, filters))
    return render_template("deals/pipeline_table.html", page=page, **_page_context(filters))


def pipeline_rows(deals, now):
    for deal in deals:
        yield [
            deal.id,
            deal.title,
            deal.stage_label,
            deal.buyer_org.name if deal.buyer_org else "",
            deal.seller_org.name if deal.seller_org else "",
            taxonomy.label(taxonomy.INDUSTRIES, deal.industry) if deal.industry else "",
            taxonomy.label(taxonomy.DISTRICTS, deal.district) if deal.district else "",
            deal.broker.name if deal.broker else _("待认领"),
            deal.expected_value,
            deal.expected_commission,
            deal.next_step_on,
            pipeline.days_in_stage(deal, now),
            pipeline.loss_reason_label(deal.loss_reason) if deal.stage == "lost" else "",
            as_utc(deal.created_at).date(),
        ]


PIPELINE_HEADERS = (
    "ID",
    _l("标题"),
    _l("阶段"),
    _l("买方"),
    _l("卖方"),
    _l("产业领域"),
    _l("区市"),
    _l("技术经纪人"),
    _l("预计成交额(元)"),
    _l("预计佣金(元)"),
    _l("下一步日期"),
    _l("本阶段天数"),
    _l("终止原因"),
    _l("创建日期"),
)


@bp.route("/deals/pipeline/export.xlsx", defaults={"fmt": "xlsx"})
@bp.route("/deals/pipeline/export.csv", defaults={"fmt": "csv"})
@capability_required("deal.pipeline")
def pipeline_export(fmt: str):
    filters = pipeline.Filters.from_args(request.args, current_user)
    deals = db.session.scalars(pipeline.deal_query(current_user, filters).limit(EXPORT_LIMIT))
    headers = [str(header) for header in PIPELINE_HEADERS]
    return download(fmt, "pipeline", headers, pipeline_rows(deals, utcnow()), title="pipeline")


# Broker rewards ------------------------------------------------------------------------------------


def _reward_scope():
    """(year, broker id or None for every broker) from the request; a broker sees only their own."""
    years = rewards.reward_years()
    year = request.args.get("year", type=int)
    if year not in years:
        year = years[0] if years else utcnow().year
    if has_capability(current_user, "reward.manage"):
        broker_id = request.args.get("broker", type=int)
    else:
        broker_id = current_user.id
    return year, broker_id, years


@bp.route("/deals/rewards")
@capability_required("deal.pipeline")
def rewards_list():
    year, broker_id, years = _reward_scope()
    report = rewards.broker_rewards(year, broker_id)
    return render_template(
        "deals/rewards.html",
        report=report,
        year=year,
        years=years,
        broker_id=broker_id,
        brokers=pipeline.broker_choices() if has_capability(current_user, "reward.manage") else [],
        cap_label=rewards.cap_label,
    )


@bp.route("/deals/rewards/export.xlsx", defaults={"fmt": "xlsx"})
@bp.route("/deals/rewards/export.csv", defaults={"fmt": "csv"})
@capability_required("deal.pipeline")
def rewards_export(fmt: str):
    year, broker_id, _years = _reward_scope()
    report = rewards.broker_rewards(year, broker_id)
    headers = [str(header) for header in rewards.EXPORT_HEADERS]
    return download(fmt, f"rewards-{year}", headers, rewards.export_rows(report), title=str(year))


@bp.route("/deals/rewards/policies")
@capability_required("reward.manage")
def reward_policies():
    return render_template("deals/rewards_policies.html", policies=rewards.all_policies())


@bp.route("/deals/rewards/policies/new", methods=["GET", "POST"])
@bp.route("/deals/rewards/policies/<int:policy_id>/edit", methods=["GET", "POST"])
@capability_required("reward.manage")
def reward_policy_form(policy_id: int | None = None):
    policy = db.get_or_404(RewardPolicy, policy_id) if policy_id is not None else None
    form = RewardPolicyForm(obj=rewards.form_values(policy) if policy else None)
    if form.validate_on_submit():
        if policy is None:
            done = perform(lambda: rewards.create_policy(current_user, form.data), _("奖励政策已添加"))
        else:
            done = perform(lambda: rewards.update_policy(current_user, policy, form.data), _("奖励政策已保存"))
        if done:
            return redirect(url_for("deals.reward_policies"))
    return render_template("deals/rewards_policy_form.html", form=form, policy=policy)
