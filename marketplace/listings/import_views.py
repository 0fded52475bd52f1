"""The bulk-import page for platform admins and organisation admins, and the progress of big imports."""

from __future__ import annotations

import io

from flask import Response, abort, current_app, jsonify, redirect, render_template, url_for
from flask_login import current_user, login_required

from marketplace.accounts.capabilities import capability_required
from marketplace.extensions import db
from marketplace.listings import import_runs
from marketplace.listings.forms import ImportForm
from marketplace.listings.interchange import import_lines
from marketplace.listings.models import ImportRun, ListingStatus
from marketplace.listings.views import bp


@bp.route("/listings/import", methods=["GET", "POST"])
@capability_required("listing.import")
def bulk_import():
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        data = form.file.data.read()
        # Organisation admins' rows always go through review (services.import_listing); the choice is the admins'.
        status = ListingStatus.SUBMITTED if form.to_review.data else ListingStatus.PUBLISHED
        options = {"dry_run": form.dry_run.data, "all_or_nothing": form.all_or_nothing.data, "status": status}
        if import_runs.count_lines(data) > current_app.config["IMPORT_INLINE_MAX_LINES"]:
            run = import_runs.queue_run(current_user, data, form.file.data.filename, options)
            db.session.commit()
            return redirect(url_for("listings.import_run", run_id=run.id))
        report = import_lines(io.BytesIO(data), actor=current_user, **options)
        if report.saved:
            db.session.commit()
        else:
            db.session.rollback()
    runs = import_runs.recent_runs(current_user)
    return render_template("listings/import.html", form=form, report=report, runs=runs), 400 if form.errors else 200


def _visible_run(run_id: int) -> ImportRun:
    run = db.session.get(ImportRun, run_id)
    if run is None or not import_runs.can_see(current_user, run):
        abort(404)  # someone else's import: not even its existence is shown
    return run


@bp.route("/listings/import/runs/<int:run_id>")
@login_required
def import_run(run_id: int):
    run = _visible_run(run_id)
    return render_template("listings/import_run.html", run=run, report=import_runs.report_of(run))


@bp.route("/listings/import/runs/<int:run_id>/progress.json")
@login_required
def import_run_progress(run_id: int):
    run = _visible_run(run_id)
    return jsonify(
        status=run.status,
        status_label=run.status_label,
        lines_done=run.lines_done,
        lines_total=run.lines_total,
        finished=run.finished,
    )


@bp.route("/listings/import/runs/<int:run_id>/report.csv")
@login_required
def import_run_report(run_id: int):
    run = _visible_run(run_id)
    return Response(
        import_runs.report_csv(run).encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{run.id}-report.csv"'},
    )
