"""Read paths: the public browse filters and the owner's dashboard (full-text search comes with search/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, String, and_, cast, or_, select, true

from marketplace.accounts.models import Organisation
from marketplace.core import taxonomy
from marketplace.core.money import CENT, MAX_AMOUNT, WAN
from marketplace.core.params import MAX_NUMBER_TEXT, clean_text, int_in
from marketplace.listings.models import MODEL_FOR_KIND, Favourite, Listing, ListingKind, ListingStatus

SORTS = {
    # Relevance needs the search index; the database fallback shows the newest first.
    "relevance": lambda model: (model.published_at.desc(), model.id.desc()),
    "newest": lambda model: (model.published_at.desc(), model.id.desc()),
    "price_asc": lambda model: (model.price_cny.asc().nulls_last(), model.id.desc()),
    "price_desc": lambda model: (model.price_cny.desc().nulls_last(), model.id.desc()),
    "budget_desc": lambda model: (model.budget_max_cny.desc().nulls_last(), model.id.desc()),
    "deadline": lambda model: (model.deadline.asc().nulls_last(), model.id.desc()),
}


@dataclass
class BrowseFilters:
    q: str | None = None
    industry: str | None = None
    district: str | None = None
    cooperation_mode: str | None = None
    ip_type: str | None = None
    institution: str | None = None  # the offering organisation's name, as shown on the listing
    trl_min: int | None = None
    trl_max: int | None = None
    amount_min: Decimal | None = None  # yuan; price for achievements, budget for demands
    amount_max: Decimal | None = None
    challenge_only: bool = False
    # Owners (and organisation admins, and platform admins) may find unpublished listings they look after.
    include_unpublished: bool = False
    sort: str = "newest"
    active: dict[str, str] = field(default_factory=dict)
    # Arguments given but left out because they were not valid (a saved search refuses them).
    invalid: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args) -> BrowseFilters:
        """Read filters from query arguments, ignoring values that are not valid codes or numbers
        (and listing those in ``invalid``)."""
        filters = cls()
        filters.q = clean_text(args.get("q"), 100)
        if args.get("industry") in taxonomy.INDUSTRIES:
            filters.industry = args["industry"]
        if args.get("district") in taxonomy.DISTRICTS:
            filters.district = args["district"]
        if args.get("mode") in taxonomy.COOPERATION_MODES:
            filters.cooperation_mode = args["mode"]
        if args.get("ip_type") in taxonomy.IP_TYPES:
            filters.ip_type = args["ip_type"]
        filters.institution = clean_text(args.get("institution"), 200)
        filters.trl_min = _int_in(args.get("trl_min"), 1, 9)
        filters.trl_max = _int_in(args.get("trl_max"), 1, 9)
        # The amount filters are entered in 万元, as users think about technology prices.
        filters.amount_min = _wan(args.get("amount_min"))
        filters.amount_max = _wan(args.get("amount_max"))
        filters.invalid = [
            name
            for name, value in (
                ("trl_min", filters.trl_min),
                ("trl_max", filters.trl_max),
                ("amount_min", filters.amount_min),
                ("amount_max", filters.amount_max),
            )
            if value is None and str(args.get(name) or "").strip()
        ]
        filters.challenge_only = args.get("challenge") == "1"
        filters.include_unpublished = args.get("unpublished") == "1"
        default_sort = "relevance" if filters.q else "newest"
        filters.sort = args.get("sort") if args.get("sort") in SORTS else default_sort
        return filters

    def to_args(self) -> dict[str, str]:
        """The query arguments ``from_args`` reads back into these filters (sort and page left out)."""
        args = {
            "q": self.q,
            "industry": self.industry,
            "district": self.district,
            "mode": self.cooperation_mode,
            "ip_type": self.ip_type,
            "institution": self.institution,
            "trl_min": self.trl_min,
            "trl_max": self.trl_max,
            "amount_min": _in_wan(self.amount_min),
            "amount_max": _in_wan(self.amount_max),
            "challenge": "1" if self.challenge_only else None,
            "unpublished": "1" if self.include_unpublished else None,
        }
        return {name: str(value) for name, value in args.items() if value is not None}


FILTER_LABELS = {
    "trl_min": _l("最低技术成熟度"),
    "trl_max": _l("最高技术成熟度"),
    "amount_min": _l("最低金额"),
    "amount_max": _l("最高金额"),
}


def invalid_filters_message(names: list[str]) -> str:
    """What to correct, for the arguments ``from_args`` left out."""
    return _(
        "%(fields)s 应为合理范围内的数字（技术成熟度 1–9，金额以万元计且不能为负数）",
        fields="、".join(str(FILTER_LABELS.get(name, name)) for name in names),
    )


def _int_in(raw, low: int, high: int) -> int | None:
    return int_in(raw, low, high)


# The largest amount a listing can hold (NUMERIC(18,2)), in 万元: anything above matches nothing.
MAX_WAN = MAX_AMOUNT / WAN


def _wan(raw) -> Decimal | None:
    """万元 as yuan, to the cent; None for text, NaN, infinities, negatives and amounts no listing can have."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text or len(text) > MAX_NUMBER_TEXT:
        return None
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or not 0 <= value <= MAX_WAN:
        return None
    return (value * WAN).quantize(CENT)


def _in_wan(amount: Decimal | None) -> str | None:
    return None if amount is None else format((amount / 10_000).normalize(), "f")


def browse(kind: str, filters: BrowseFilters, user=None) -> Select:
    model = MODEL_FOR_KIND[ListingKind(kind)]
    visible = model.status == ListingStatus.PUBLISHED
    if filters.include_unpublished and user is not None and user.is_authenticated:
        visible = true() if user.is_admin else or_(visible, *_looked_after_by(user))
    statement = select(model).where(visible)
    if filters.q:
        pattern = f"%{filters.q}%"
        statement = statement.where(
            or_(
                model.title.ilike(pattern),
                model.summary.ilike(pattern),
                model.description.ilike(pattern),
                model.org_name.ilike(pattern),
                cast(model.keywords, String).ilike(pattern),
            )
        )
    if filters.industry:
        statement = statement.where(model.industry == filters.industry)
    if filters.district:
        statement = statement.where(model.district == filters.district)
    if filters.cooperation_mode:
        # JSON list membership, portable across SQLite and PostgreSQL: codes are quoted in the text form.
        statement = statement.where(cast(model.cooperation_modes, String).like(f'%"{filters.cooperation_mode}"%'))
    if filters.ip_type:
        statement = statement.where(model.ip_type == filters.ip_type)
    if filters.institution:
        # What the listing shows as its organisation: the registered one's name, else the free-text name.
        registered = select(Organisation.id).where(Organisation.name == filters.institution)
        statement = statement.where(
            or_(
                model.organisation_id.in_(registered),
                and_(model.organisation_id.is_(None), model.org_name == filters.institution),
            )
        )
    trl_column = model.trl if kind == ListingKind.ACHIEVEMENT else model.min_trl
    if filters.trl_min:
        statement = statement.where(trl_column >= filters.trl_min)
    if filters.trl_max:
        statement = statement.where(trl_column <= filters.trl_max)
    if kind == ListingKind.ACHIEVEMENT:
        if filters.amount_min is not None:
            statement = statement.where(model.price_cny >= filters.amount_min)
        if filters.amount_max is not None:
            statement = statement.where(model.price_cny <= filters.amount_max)
    else:
        # A demand fits a budget range when its own range overlaps it.
        if filters.amount_min is not None:
            statement = statement.where(model.budget_max_cny >= filters.amount_min)
        if filters.amount_max is not None:
            statement = statement.where(model.budget_min_cny <= filters.amount_max)
        if filters.challenge_only:
            statement = statement.where(model.challenge.is_(True))
    return statement.order_by(*SORTS[filters.sort](model))


def _looked_after_by(user) -> list:
    conditions = [Listing.owner_id == user.id]
    if user.is_org_admin and user.organisation_id:
        conditions.append(Listing.organisation_id == user.organisation_id)
    return conditions


def owned_by(user, kind: str | None = None, status: str | None = None) -> Select:
    """The listings a user looks after: their own, and their organisation's when they administer it."""
    statement = select(Listing).where(or_(*_looked_after_by(user)))
    if kind:
        statement = statement.where(Listing.kind == kind)
    if status:
        statement = statement.where(Listing.status == status)
    return statement.order_by(Listing.updated_at.desc(), Listing.id.desc())


def review_queue(kind: str | None = None, industry: str | None = None) -> Select:
    statement = select(Listing).where(
        or_(Listing.status == ListingStatus.SUBMITTED, Listing.pending_changes.is_not(None))
    )
    if kind in (ListingKind.ACHIEVEMENT, ListingKind.DEMAND):
        statement = statement.where(Listing.kind == kind)
    if industry in taxonomy.INDUSTRIES:
        statement = statement.where(Listing.industry == industry)
    return statement.order_by(Listing.submitted_at.asc().nulls_last(), Listing.id)


def favourites_of(user) -> Select:
    return (
        select(Listing)
        .join(Favourite, Favourite.listing_id == Listing.id)
        .where(Favourite.user_id == user.id, Listing.status == ListingStatus.PUBLISHED)
        .order_by(Favourite.created_at.desc())
    )
