"""The bulk-import page for platform admins and organisation admins."""

from __future__ import annotations

import io

from flask import render_template
from flask_babel import gettext as _
from flask_login import current_user

from marketplace.accounts.capabilities import capability_required
from marketplace.listings.forms import ImportForm
from marketplace.listings.interchange import import_lines
from marketplace.listings.models import ListingStatus
from marketplace.listings.views import bp


@bp.route("/listings/import", methods=["GET", "POST"])
@capability_required("listing.import")
def bulk_import():
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        stream = io.TextIOWrapper(form.file.data.stream, encoding="utf-8", errors="strict", newline="")
        # Organisation admins import their own listings, and those always go through review.
        organisation = None if current_user.is_admin else current_user.organisation
        status = ListingStatus.SUBMITTED if organisation is not None or form.to_review.data else ListingStatus.PUBLISHED
        try:
            report = import_lines(
                stream,
                actor=current_user,
                status=status,
                organisation=organisation,
                all_or_nothing=form.all_or_nothing.data,
                dry_run=form.dry_run.data,
            )
        except UnicodeDecodeError:
            form.file.errors = [*form.file.errors, _("文件不是 UTF-8 编码的 JSON Lines，请另存为 UTF-8 后重试")]
    return render_template("listings/import.html", form=form, report=report), 400 if form.errors else 200
