"""The admins' turnover dashboard, the public summary, exports, and the targets' admin pages."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.accounts.capabilities import capability_required, has_capability
from marketplace.core.actions import perform
from marketplace.core.params import int_in
from marketplace.extensions import db, login_manager
from marketplace.stats import exports, queries, services, targets
from marketplace.stats.forms import YI, FigureForm, TargetForm
from marketplace.stats.models import PublishedFigure, Target

bp = Blueprint("stats", __name__, url_prefix="/stats")

DASHBOARD_SECTIONS = exports.SECTIONS


def _chosen_year() -> tuple[int, list[int]]:
    """The year asked for (bad values fall back), the latest with contracts by default; and the selector's years."""
    years = queries.years_with_data()
    this_year = date.today().year
    options = sorted(set(years) | {this_year}, reverse=True)
    asked = int_in(request.args.get("year"), queries.MIN_YEAR, queries.MAX_YEAR)
    return asked or (years[-1] if years else this_year), options


@bp.route("/")
@capability_required("stats.view")
def dashboard():
    year, options = _chosen_year()
    sections = [exports.section(name, year) for name in DASHBOARD_SECTIONS]
    return render_template(
        "stats/dashboard.html",
        year=year,
        year_options=options,
        sections={item.name: item for item in sections},
        chart_data=exports.chart_data(sections),
        cards=targets.target_cards(),
        platform_contracts=queries.platform_contracts(year),
    )


@bp.route("/summary")
def summary():
    """Published aggregate figures for everyone: yearly totals and the targets, no party named."""
    sections = [exports.section(name, None) for name in exports.PUBLIC_SECTIONS]
    return render_template(
        "stats/summary.html",
        sections={item.name: item for item in sections},
        chart_data=exports.chart_data(sections),
        cards=targets.target_cards(),
    )


@bp.route("/export/<name>.<fmt>")
def export(name: str, fmt: str):
    if name not in exports.SECTIONS or fmt not in ("xlsx", "csv"):
        abort(404)
    if name not in exports.PUBLIC_SECTIONS:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not has_capability(current_user, "stats.view"):
            abort(403)
    year, _options = _chosen_year()
    item = exports.section(name, year)
    filename = f"turnover-{name}{'' if item.year is None else f'-{item.year}'}.{fmt}"
    if fmt == "csv":
        body, mimetype = exports.to_csv(item), "text/csv; charset=utf-8"
    else:
        body, mimetype = exports.to_xlsx(item), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={filename}"})


# --- targets and published figures -------------------------------------------------------------------


@bp.route("/targets")
@capability_required("stats.manage")
def manage_targets():
    figures = db.session.scalars(
        db.select(PublishedFigure).order_by(PublishedFigure.scope, PublishedFigure.metric, PublishedFigure.year)
    )
    return render_template("stats/targets.html", targets=targets.all_targets(), figures=list(figures))


def _edit(model, form_class, object_id, save, template):
    obj = None
    if object_id is not None:
        obj = db.session.get(model, object_id) or abort(404)
    form = form_class(obj=obj)
    if obj is not None and request.method == "GET":
        form.value_yi.data = obj.value / YI
        if isinstance(obj, Target) and obj.baseline_value is not None:
            form.baseline_yi.data = obj.baseline_value / YI
    if form.validate_on_submit() and perform(lambda: save(current_user, obj, form.data_for_model()), _("已保存")):
        return redirect(url_for(".manage_targets"))
    return render_template(template, form=form, obj=obj)


@bp.route("/targets/new", methods=["GET", "POST"])
@bp.route("/targets/<int:target_id>/edit", methods=["GET", "POST"])
@capability_required("stats.manage")
def edit_target(target_id: int | None = None):
    return _edit(Target, TargetForm, target_id, services.save_target, "stats/target_form.html")


@bp.route("/figures/new", methods=["GET", "POST"])
@bp.route("/figures/<int:figure_id>/edit", methods=["GET", "POST"])
@capability_required("stats.manage")
def edit_figure(figure_id: int | None = None):
    return _edit(PublishedFigure, FigureForm, figure_id, services.save_figure, "stats/figure_form.html")


@bp.route("/targets/<int:target_id>/delete", methods=["POST"])
@capability_required("stats.manage")
def delete_target(target_id: int):
    target = db.session.get(Target, target_id) or abort(404)
    perform(lambda: services.delete_target(current_user, target), _("已删除"))
    return redirect(url_for(".manage_targets"))


@bp.route("/figures/<int:figure_id>/delete", methods=["POST"])
@capability_required("stats.manage")
def delete_figure(figure_id: int):
    figure = db.session.get(PublishedFigure, figure_id) or abort(404)
    perform(lambda: services.delete_figure(current_user, figure), _("已删除"))
    return redirect(url_for(".manage_targets"))
