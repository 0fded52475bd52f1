"""Deal pages: my deals, the pool, a new deal, a deal's page and its actions, 发起撮合 buttons."""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from marketplace.accounts.capabilities import capability_required
from marketplace.accounts.models import Organisation, User
from marketplace.core.actions import perform
from marketplace.core.pagination import paginate
from marketplace.core.params import int_in
from marketplace.deals import conversation, documents, permissions, services
from marketplace.deals.blueprint import bp
from marketplace.deals.forms import (
    ActivityForm,
    DealForm,
    DocumentForm,
    ExpectationsForm,
    MessageForm,
    NextStepForm,
    StageForm,
)
from marketplace.deals.models import (
    DEAL_STAGE_LABELS,
    LEAD_SOURCE_LABELS,
    LOSS_REASON_LABELS,
    OPEN_STAGES,
    Deal,
    DealEvent,
    DealStage,
    ParticipantSide,
)
from marketplace.extensions import db
from marketplace.listings.models import Achievement, ChallengeApplication, Demand, Listing
from marketplace.uploads.download import send_upload

MAX_ID = 2**31 - 1


def _deal_or_404(deal_id: int) -> Deal:
    deal = db.get_or_404(Deal, deal_id)
    if not permissions.can_view(current_user, deal):
        abort(404)
    return deal


def _back(deal: Deal, anchor: str | None = None):
    return redirect(url_for("deals.detail", deal_id=deal.id, _anchor=anchor))


def _flash_form_errors(form) -> None:
    for name, errors in form.errors.items():
        label = getattr(form, name).label.text if hasattr(form, name) else ""
        for message in errors:
            flash(f"{label}：{message}" if label else message, "danger")


@bp.app_template_global()
def deal_stage_label(code: str | None) -> str:
    return str(DEAL_STAGE_LABELS.get(code, code or ""))


@bp.route("/deals/mine")
@login_required
def mine():
    scopes = []
    if permissions.is_admin(current_user):
        scopes.append(("all", _("全部撮合")))
    if permissions.is_active_broker(current_user):
        scopes.append(("broker", _("我负责的")))
    scopes.append(("participant", _("我参与的")))
    codes = [code for code, _label in scopes]
    scope = request.args.get("scope") if request.args.get("scope") in codes else codes[0]
    statement = {
        "all": services.all_deals,
        "broker": lambda: services.deals_of_broker(current_user),
        "participant": lambda: services.deals_participating(current_user),
    }[scope]()
    return render_template("deals/list.html", page=paginate(statement), scopes=scopes, scope=scope, pool=False)


@bp.route("/deals/pool")
@login_required
def pool():
    if not (permissions.is_active_broker(current_user) or permissions.is_admin(current_user)):
        abort(403)
    return render_template("deals/list.html", page=paginate(services.pool()), scopes=[], scope=None, pool=True)


def _listing(raw, model) -> Listing | None:
    listing_id = int_in(raw, 1, MAX_ID)
    return db.session.get(model, listing_id) if listing_id else None


def _organisation(name: str | None) -> Organisation | None:
    name = (name or "").strip()
    return db.session.scalar(select(Organisation).where(Organisation.name == name)) if name else None


@bp.route("/deals/new", methods=["GET", "POST"])
@capability_required("deal.create")
def new():
    if not permissions.can_create(current_user):
        abort(403)
    form = DealForm()
    if form.validate_on_submit():
        data = {
            "title": form.title.data,
            "demand": _listing(form.demand_id.data, Demand),
            "achievements": [a for a in [_listing(form.achievement_id.data, Achievement)] if a is not None],
            "buyer_org": _organisation(form.buyer_org.data),
            "seller_org": _organisation(form.seller_org.data),
            "expected_value": form.expected_value.data,
            "expected_commission": form.expected_commission.data,
            "next_step": form.next_step.data,
            "next_step_on": form.next_step_on.data,
        }
        missing = [
            (field, _("没有找到这条信息，请检查编号"))
            for field, key in ((form.demand_id, "demand"), (form.achievement_id, "achievements"))
            if field.data and not data[key]
        ] + [
            (field, _("平台上没有这家机构，请填写全称"))
            for field, key in ((form.buyer_org, "buyer_org"), (form.seller_org, "seller_org"))
            if field.data and not data[key]
        ]
        for field, message in missing:
            field.errors = [*field.errors, message]
        if not missing:
            deal = perform(lambda: services.create_manual(current_user, data), _("已创建撮合"))
            if deal:
                return _back(deal)
    return render_template("deals/new.html", form=form), 400 if form.errors else 200


@bp.route("/deals/<int:deal_id>")
@login_required
def detail(deal_id: int):
    deal = _deal_or_404(deal_id)
    unread = conversation.unread_count(current_user, deal)
    if unread:
        conversation.mark_read(current_user, deal)
        db.session.commit()
    stage_form = StageForm()
    targets = services.allowed_targets(current_user, deal)
    stage_form.stage.choices = [(code, DEAL_STAGE_LABELS[DealStage(code)]) for code in targets]
    may_work = permissions.can_work(current_user, deal)
    defaults = conversation.default_participants(deal)
    return render_template(
        "deals/detail.html",
        deal=deal,
        today=date.today(),
        unread=unread,
        pipeline=OPEN_STAGES + (DealStage.WON,),
        source_labels=LEAD_SOURCE_LABELS,
        loss_labels=LOSS_REASON_LABELS,
        stage_form=stage_form if targets else None,
        activity_form=ActivityForm(formdata=None) if may_work else None,
        next_form=NextStepForm(formdata=None, obj=deal) if may_work else None,
        money_form=ExpectationsForm(formdata=None, obj=deal) if may_work else None,
        document_form=DocumentForm(formdata=None) if permissions.can_talk(current_user, deal) else None,
        message_form=MessageForm(formdata=None) if permissions.can_talk(current_user, deal) else None,
        may_work=may_work,
        may_claim=permissions.can_claim(current_user, deal),
        may_assign=permissions.is_admin(current_user),
        brokers=_certified_brokers() if permissions.is_admin(current_user) else [],
        candidates={side: conversation.candidates(deal, side) for side in ParticipantSide} if may_work else {},
        defaults=defaults,
        own=conversation.participant_of(current_user, deal),
        both_accepted=conversation.both_sides_accepted(deal),
        may_see_contact=lambda person: conversation.may_see_contact(current_user, deal, person),
        messages=conversation.messages(deal),
        documents=documents.documents(deal) if permissions.can_talk(current_user, deal) else [],
        timeline=[event for event in deal.events if event.kind not in ("message",)],
        users={user.id: user for user in _actors(deal)},
    )


def _actors(deal: Deal) -> list[User]:
    ids = {event.actor_id for event in deal.events if event.actor_id}
    return list(db.session.scalars(select(User).where(User.id.in_(ids)))) if ids else []


def _certified_brokers() -> list[User]:
    brokers = db.session.scalars(select(User).where(User.role == "broker", User.active.is_(True)).order_by(User.name))
    return [user for user in brokers if permissions.is_active_broker(user)]


@bp.route("/deals/<int:deal_id>/claim", methods=["POST"])
@login_required
def claim(deal_id: int):
    deal = _deal_or_404(deal_id)
    perform(lambda: services.claim(current_user, deal), _("已认领，这条线索现在由您负责"))
    return _back(deal)


@bp.route("/deals/<int:deal_id>/assign", methods=["POST"])
@capability_required("deal.assign")
def assign(deal_id: int):
    deal = _deal_or_404(deal_id)
    broker_id = int_in(request.form.get("broker_id"), 1, MAX_ID)
    broker = db.session.get(User, broker_id) if broker_id else None
    if request.form.get("broker_id") and broker is None:
        abort(400)
    perform(lambda: services.reassign(current_user, deal, broker), _("已更新负责经纪人"))
    return _back(deal)


@bp.route("/deals/<int:deal_id>/stage", methods=["POST"])
@login_required
def change_stage(deal_id: int):
    deal = _deal_or_404(deal_id)
    form = StageForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return _back(deal)
    perform(
        lambda: services.change_stage(
            current_user,
            deal,
            form.stage.data,
            reason=form.reason.data or None,
            note=form.note.data,
            expected_value=form.expected_value.data,
        ),
        lambda _event: _("撮合已进入「%(stage)s」阶段", stage=deal.stage_label),
    )
    return _back(deal)


@bp.route("/deals/<int:deal_id>/activity", methods=["POST"])
@login_required
def add_activity(deal_id: int):
    deal = _deal_or_404(deal_id)
    form = ActivityForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return _back(deal, "timeline")
    perform(
        lambda: services.add_activity(current_user, deal, form.kind.data, form.body.data, form.happened_on.data),
        _("已记录"),
    )
    return _back(deal, "timeline")


@bp.route("/deals/<int:deal_id>/next-step", methods=["POST"])
@login_required
def next_step(deal_id: int):
    deal = _deal_or_404(deal_id)
    form = NextStepForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return _back(deal)
    perform(
        lambda: services.set_next_step(current_user, deal, form.next_step.data, form.next_step_on.data),
        _("已更新下一步"),
    )
    return _back(deal)


@bp.route("/deals/<int:deal_id>/expectations", methods=["POST"])
@login_required
def expectations(deal_id: int):
    deal = _deal_or_404(deal_id)
    form = ExpectationsForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return _back(deal)
    perform(
        lambda: services.set_expectations(current_user, deal, form.expected_value.data, form.expected_commission.data),
        _("已更新预计金额"),
    )
    return _back(deal)


@bp.route("/deals/<int:deal_id>/documents", methods=["POST"])
@login_required
def upload_document(deal_id: int):
    deal = _deal_or_404(deal_id)
    form = DocumentForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return _back(deal, "documents")
    perform(
        lambda: documents.add_document(current_user, deal, form.file.data),
        lambda event: _("已上传文件「%(name)s」", name=event.filename),
    )
    return _back(deal, "documents")


@bp.route("/deals/documents/<int:event_id>")
@login_required
def download_document(event_id: int):
    event = documents.document_for_download(current_user, db.get_or_404(DealEvent, event_id))
    return send_upload(
        event.upload_key,
        event.filename or "document",
        (event.detail or {}).get("content_type", "application/octet-stream"),
        missing_message=_("文件已丢失，请联系上传者重新上传"),
    )


@bp.route("/deals/<int:deal_id>/introduce", methods=["POST"])
@login_required
def introduce(deal_id: int):
    deal = _deal_or_404(deal_id)
    people = {}
    for side in ParticipantSide:
        user_id = int_in(request.form.get(f"{side}_id"), 1, MAX_ID)
        people[side] = db.session.get(User, user_id) if user_id else None
    perform(
        lambda: conversation.introduce(
            current_user,
            deal,
            people[ParticipantSide.BUYER],
            people[ParticipantSide.SELLER],
            request.form.get("body"),
        ),
        _("已发起三方对接，双方会收到通知"),
    )
    return _back(deal, "conversation")


@bp.route("/deals/<int:deal_id>/messages", methods=["POST"])
@login_required
def post_message(deal_id: int):
    deal = _deal_or_404(deal_id)
    perform(lambda: conversation.post_message(current_user, deal, request.form.get("body", "")))
    return _back(deal, "conversation")


@bp.route("/deals/<int:deal_id>/contact", methods=["POST"])
@login_required
def accept_contact(deal_id: int):
    deal = _deal_or_404(deal_id)
    perform(lambda: conversation.accept_contact(current_user, deal), _("您已同意与对方交换联系方式"))
    return _back(deal, "participants")


# --- 发起撮合 from other features' pages ---------------------------------------------------------


def _opened(deal: Deal | None):
    if deal is None:
        return redirect(request.referrer or url_for("deals.mine"))
    return _back(deal)


@bp.route("/deals/from-pair/<int:pair_id>", methods=["POST"])
@login_required
def from_pair(pair_id: int):
    from marketplace.matchmaking.models import MatchPair

    pair = db.get_or_404(MatchPair, pair_id)
    if not (pair.demand.is_published and pair.achievement.is_published):
        abort(404)
    return _opened(perform(lambda: services.create_from_pair(current_user, pair), _("已发起撮合")))


@bp.route("/deals/from-inquiry/<int:thread_id>", methods=["POST"])
@login_required
def from_inquiry(thread_id: int):
    from marketplace.messaging.models import InquiryThread

    thread = db.get_or_404(InquiryThread, thread_id)
    if not (thread.involves(current_user) or permissions.can_create(current_user)):
        abort(404)
    deal = perform(lambda: services.create_from_inquiry(current_user, thread), _("已发起撮合"))
    if deal and not permissions.can_view(current_user, deal):
        flash(_("已提交撮合请求，平台技术经纪人认领后会与您联系"), "info")
        return redirect(url_for("messaging.thread", thread_id=thread.id))
    return _opened(deal)


@bp.route("/deals/from-challenge/<int:application_id>", methods=["POST"])
@login_required
def from_challenge(application_id: int):
    application = db.get_or_404(ChallengeApplication, application_id)
    deal = perform(lambda: services.start_from_challenge(current_user, application), _("已发起撮合"))
    if deal and not permissions.can_view(current_user, deal):
        flash(_("已提交撮合请求，平台技术经纪人认领后会与您联系"), "info")
        return redirect(url_for("listings.detail", listing_id=application.demand_id, _anchor="challenge"))
    return _opened(deal)
