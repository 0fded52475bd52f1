"""Read paths: the public browse filters and the owner's dashboard (full-text search comes with search/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, String, and_, cast, func, or_, select

from marketplace.accounts.capabilities import has_capability
from marketplace.accounts.models import Organisation
from marketplace.core import taxonomy
from marketplace.core.money import CENT, MAX_AMOUNT, WAN
from marketplace.core.params import MAX_NUMBER_TEXT, clean_text, int_in
from marketplace.listings.models import MODEL_FOR_KIND, Favourite, Listing, ListingKind, ListingStatus
from search import filters as spec
from search.query import Filters, Viewer

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
        filters.trl_min = int_in(args.get("trl_min"), 1, 9)
        filters.trl_max = int_in(args.get("trl_max"), 1, 9)
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


def to_filters(kind: str, browse: BrowseFilters) -> Filters:
    """The search engine's filters for a browse page; the index and the database fallback both read them."""
    return Filters(
        kind=kind,
        industry=browse.industry,
        district=browse.district,
        cooperation_mode=browse.cooperation_mode,
        ip_type=browse.ip_type,
        org_name=browse.institution,
        trl_min=browse.trl_min,
        trl_max=browse.trl_max,
        amount_min_cents=None if browse.amount_min is None else int(browse.amount_min * 100),
        amount_max_cents=None if browse.amount_max is None else int(browse.amount_max * 100),
        challenge_only=browse.challenge_only,
        # Others' unpublished listings still show to nobody but admins (the viewer decides).
        statuses=tuple(ListingStatus) if browse.include_unpublished else (ListingStatus.PUBLISHED,),
    )


def viewer_for(user) -> Viewer:
    if user is None or not user.is_authenticated:
        return Viewer()
    return Viewer(
        user_id=user.id,
        admin_of_organisation_id=user.organisation_id if user.is_org_admin else None,
        # Reviewers see every listing, whatever its status (capability listing.review).
        is_admin=has_capability(user, "listing.review"),
    )


def browse(kind: str, filters: BrowseFilters, user=None) -> Select:
    """The database's answer to a browse page when the search index cannot give it: the same
    filters (search/filters.py), words found by substring, newest first for relevance."""
    model = MODEL_FOR_KIND[ListingKind(kind)]
    base, toggled = spec.compiled(to_filters(kind, filters), viewer_for(user), _Conditions(model))
    statement = select(model).where(*base, *(condition for group in toggled.values() for condition in group))
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
    return statement.order_by(*SORTS[filters.sort](model))


class _Conditions:
    """Compiles search/filters.py conditions to SQLAlchemy conditions on a listing model."""

    def __init__(self, model):
        # What the listing shows as its organisation: the registered one's name, else the free text.
        registered = select(Organisation.name).where(Organisation.id == model.organisation_id).scalar_subquery()
        self.columns = {
            "kind": model.kind,
            "status": model.status,
            "owner_id": model.owner_id,
            "organisation_id": model.organisation_id,
            "industry": model.industry,
            "district": model.district,
            "ip_type": model.ip_type,
            "cooperation_modes": model.cooperation_modes,
            "org_name": func.coalesce(registered, model.org_name),
            "trl": model.trl,
            "min_trl": model.min_trl,
            "challenge": model.challenge,
            # Documents hold amounts in cents, the database in yuan.
            "price_cents": model.price_cny,
            "budget_min_cents": model.budget_min_cny,
            "budget_max_cents": model.budget_max_cny,
        }

    def _column(self, field: str):
        return self.columns[field]

    @staticmethod
    def _value(field: str, value):
        return Decimal(value) / 100 if field.endswith("_cents") else value

    def __call__(self, condition: spec.Condition) -> list:
        if isinstance(condition, spec.AllOf):
            return [sql for part in condition.parts for sql in self(part)]
        if isinstance(condition, spec.AnyOf):
            return [or_(*(and_(*self(part)) for part in condition.parts))]
        field, column = condition.field, self._column(condition.field)
        if condition.op == spec.EQUALS:
            return [column == self._value(field, condition.value)]
        if condition.op == spec.ANY_OF:
            return [column.in_([self._value(field, value) for value in condition.values])]
        if condition.op == spec.CONTAINS:
            # JSON list membership, portable across SQLite and PostgreSQL: codes are quoted in the text form.
            return [cast(column, String).contains(f'"{condition.value}"', autoescape=True)]
        if condition.op not in (spec.RANGE, spec.OVERLAP):
            raise ValueError(f"unknown filter op {condition.op!r}")
        # range: low <= field <= high. overlap: [field, field_high] meets [low, high].
        above = column if condition.op == spec.RANGE else self._column(condition.field_high)
        sql = []
        if condition.low is not None:
            sql.append(above >= self._value(field, condition.low))
        if condition.high is not None:
            sql.append(column <= self._value(field, condition.high))
        return sql


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
