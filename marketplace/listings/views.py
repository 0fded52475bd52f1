from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.core import transaction
from marketplace.core.actions import perform
from marketplace.core.errors import ServiceError
from marketplace.core.pagination import page_number, paginate
from marketplace.core.redirects import back
from marketplace.discovery import matching
from marketplace.discovery import services as discovery
from marketplace.discovery.alternatives import when_nothing_found
from marketplace.extensions import db
from marketplace.listings import permissions, queries, services
from marketplace.listings.forms import ListingForm
from marketplace.listings.models import KIND_LABELS, KIND_NOUNS, STATUS_LABELS, Listing, ListingKind

bp = Blueprint("listings", __name__)


def get_listing_or_404(listing_id: int) -> Listing:
    """The listing if this user may see it; 404 otherwise, so drafts do not reveal they exist."""
    listing = db.get_or_404(Listing, listing_id)
    if not permissions.can_view(current_user, listing):
        abort(404)
    return listing


def editable_listing_or_403(listing_id: int) -> Listing:
    listing = get_listing_or_404(listing_id)
    if not permissions.can_edit(current_user, listing):
        abort(403)
    return listing


def _browse(kind: str):
    filters = queries.BrowseFilters.from_args(request.args)
    result = discovery.browse(kind, filters, current_user, page=page_number(), per_page=current_app.config["PAGE_SIZE"])
    return render_template(
        "listings/browse.html",
        kind=kind,
        page=result.page,
        result=result,
        filters=filters,
        kind_label=KIND_LABELS[ListingKind(kind)],
        alternatives=when_nothing_found(kind, filters, current_user, result),
        invalid_filters_message=queries.invalid_filters_message,
    )


@bp.route("/achievements")
def achievements():
    return _browse(ListingKind.ACHIEVEMENT)


@bp.route("/demands")
def demands():
    return _browse(ListingKind.DEMAND)


@bp.route("/listings/<int:listing_id>")
def detail(listing_id: int):
    listing = get_listing_or_404(listing_id)
    if listing.is_published and transaction.commit_best_effort(
        lambda: services.record_view(current_user, listing), what=f"view of listing {listing_id}"
    ):
        db.session.refresh(listing)  # with the count just made
    return render_template(
        "listings/detail.html",
        listing=listing,
        can_edit=permissions.can_edit(current_user, listing),
        is_favourite=services.is_favourite(current_user, listing),
        matches=matching.safe_matches_for(listing, limit=6) if listing.is_published else None,
        describe_reason=matching.describe,
    )


@bp.route("/listings/new/<kind>", methods=["GET", "POST"])
@login_required
def create(kind: str):
    if kind not in ListingKind.__members__.values():
        abort(404)
    if not permissions.can_create(current_user, kind):
        abort(403)
    form = ListingForm(kind)
    if form.validate_on_submit():
        listing = None
        try:
            listing = services.create_listing(current_user, kind, form.raw_values())
            if request.form.get("action") == "submit":
                services.submit(current_user, listing)
        except services.ListingInvalid as error:
            db.session.rollback()
            form.show_errors(error.errors)
            flash(error.message, "danger")
        except ServiceError as error:
            if listing is None:  # refused outright (e.g. e-mail not verified yet): nothing to save
                db.session.rollback()
                flash(error.message, "danger")
                return render_template(
                    "listings/form.html", form=form, kind=kind, listing=None, kind_label=KIND_NOUNS[ListingKind(kind)]
                )
            # The draft is saved even if it cannot be submitted yet (e.g. organisation not verified).
            db.session.commit()
            flash(error.message, "warning")
            return redirect(url_for(".detail", listing_id=listing.id))
        else:
            db.session.commit()
            flash(_("已提交审核") if listing.status == "submitted" else _("草稿已保存"), "success")
            return redirect(url_for(".detail", listing_id=listing.id))
    return render_template(
        "listings/form.html", form=form, kind=kind, listing=None, kind_label=KIND_NOUNS[ListingKind(kind)]
    )


@bp.route("/listings/<int:listing_id>/edit", methods=["GET", "POST"])
@login_required
def edit(listing_id: int):
    listing = editable_listing_or_403(listing_id)
    form = ListingForm(listing.kind)
    if request.method == "GET":
        form.fill_from({name: getattr(listing, name) for name in form.raw_values()})
        if listing.pending_changes:
            form.fill_from(listing.pending_changes)
    if form.validate_on_submit():
        try:
            to_review = services.update_listing(current_user, listing, form.raw_values())
        except services.ListingInvalid as error:
            db.session.rollback()
            form.show_errors(error.errors)
            flash(error.message, "danger")
        else:
            db.session.commit()
            flash(_("修改已提交审核，审核通过前公开的仍是当前版本") if to_review else _("已保存"), "success")
            return redirect(url_for(".detail", listing_id=listing.id))
    return render_template(
        "listings/form.html",
        form=form,
        kind=listing.kind,
        listing=listing,
        kind_label=KIND_NOUNS[ListingKind(listing.kind)],
    )


LIFECYCLE_ACTIONS = {
    "submit": (services.submit, lambda: _("已提交审核")),
    "withdraw": (services.withdraw, lambda: _("已撤回为草稿")),
    "archive": (services.archive, lambda: _("已下架")),
}


@bp.route("/listings/<int:listing_id>/<any(submit, withdraw, archive):action>", methods=["POST"])
@login_required
def lifecycle(listing_id: int, action: str):
    listing = editable_listing_or_403(listing_id)
    service, message = LIFECYCLE_ACTIONS[action]
    perform(lambda: service(current_user, listing), message())
    return redirect(url_for(".detail", listing_id=listing_id))


@bp.route("/listings/<int:listing_id>/delete", methods=["POST"])
@login_required
def delete(listing_id: int):
    listing = editable_listing_or_403(listing_id)
    if not perform(lambda: services.delete_draft(current_user, listing), _("草稿已删除")):
        return redirect(url_for(".detail", listing_id=listing_id))
    return redirect(url_for(".mine"))


@bp.route("/listings/<int:listing_id>/favourite", methods=["POST"])
@login_required
def favourite(listing_id: int):
    listing = get_listing_or_404(listing_id)
    now_favourite = services.toggle_favourite(current_user, listing)
    db.session.commit()
    flash(_("已加入收藏") if now_favourite else _("已取消收藏"), "success")
    return redirect(back(url_for(".detail", listing_id=listing_id)))


@bp.route("/my/listings")
@login_required
def mine():
    kind = request.args.get("kind") if request.args.get("kind") in ListingKind.__members__.values() else None
    status = request.args.get("status") if request.args.get("status") in STATUS_LABELS else None
    page = paginate(queries.owned_by(current_user, kind, status), per_page=20)
    return render_template(
        "listings/mine.html", page=page, kind=kind, status=status, status_labels=STATUS_LABELS, kind_labels=KIND_LABELS
    )


@bp.route("/my/favourites")
@login_required
def favourites():
    page = paginate(queries.favourites_of(current_user), per_page=20)
    return render_template("listings/favourites.html", page=page)


from marketplace.listings import (  # noqa: E402,F401  (routes on bp)
    attachment_views,
    challenge_views,
    import_views,  # noqa: E402,F401  (routes on bp)
)
