"""Browse filters, defined once: what each filter means, for every place that filters listings.

``FIELDS`` says, for each filter of ``search.query.Filters``, which document field it tests and how
(one of the ``OPS`` below), per kind of listing where the meaning depends on the kind. ``conditions``
turns a ``Filters`` and a ``Viewer`` into a small tree of ``Check``/``AllOf``/``AnyOf`` nodes, and each
place that filters compiles that tree once, op by op:

- the sqlite index's SQL WHERE (``search.backends.sqlite``),
- an Elasticsearch bool filter (``search.backends.es_queries``),
- SQLAlchemy conditions for the database fallback (``marketplace.listings.queries``).

Field names are those of search documents (``search.documents``); amounts are in cents.

The ops (a document whose tested field is missing never passes a test):

- ``equals``    the field equals the value.
- ``any_of``    the field equals one of the values.
- ``contains``  the field is a list holding the value (cooperation modes).
- ``range``     low <= field <= high; either bound may be left open.
- ``overlap``   the document's range [field, field_high] overlaps [low, high]: field_high >= low and
                field <= high. A demand's budget is such a range; a budget end the demand leaves
                open is missing, so it fails a bound compared against it (one rule in all three).

Kind-dependent filters (``Field.rules`` keyed by kind):

- TRL: an achievement's ``trl``, a demand's ``min_trl`` (the least maturity it asks for).
- Amount: an achievement's price is ``range``-tested, a demand's budget ``overlap``-tested.
- Challenge only (揭榜挂帅): challenges are demands, so the filter applies to demands only and is
  ignored for achievements (the achievements page does not offer it; a link that carries it over
  still lists achievements, it does not empty the page).

A filter has no rule for a kind it does not apply to, and is then ignored for that kind. When the
query names no kind, each document is tested by the rule of its own kind.

Visibility: a document shows when its status is among ``Filters.statuses`` (published by default)
and, unless the viewer is a platform admin, it is published, or the viewer owns it, or the viewer
administers its organisation.

``Field.facet`` names the facet whose counts leave the filter out (multi-select facets); a filter
without one is obeyed by every count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from search.query import Filters, Viewer

EQUALS, ANY_OF, CONTAINS, RANGE, OVERLAP = "equals", "any_of", "contains", "range", "overlap"
OPS = (EQUALS, ANY_OF, CONTAINS, RANGE, OVERLAP)
KINDS = ("achievement", "demand")
EVERY_KIND = "*"


@dataclass(frozen=True)
class Check:
    """One test of a document field: ``value`` for equals/contains, ``values`` for any_of,
    ``low``/``high`` for range and overlap (``field_high`` is the overlap range's upper end)."""

    op: str
    field: str
    value: Any = None
    values: tuple[Any, ...] = ()
    low: Any = None
    high: Any = None
    field_high: str | None = None


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


Condition = Check | AllOf | AnyOf


@dataclass(frozen=True)
class Rule:
    op: str
    field: str
    field_high: str | None = None  # overlap only


@dataclass(frozen=True)
class Field:
    name: str
    value: Callable[[Filters], Any]  # None: the filter is not set
    rules: Mapping[str, Rule]  # by kind, or EVERY_KIND
    facet: str | None = None  # the facet whose counts leave this filter out; None: every count obeys it


def _bounds(low: Any, high: Any) -> tuple[Any, Any] | None:
    return None if low is None and high is None else (low, high)


FIELDS: tuple[Field, ...] = (
    Field("statuses", lambda f: tuple(f.statuses) or ("published",), {EVERY_KIND: Rule(ANY_OF, "status")}),
    Field("kind", lambda f: f.kind, {EVERY_KIND: Rule(EQUALS, "kind")}),
    Field(
        "amount",
        lambda f: _bounds(f.amount_min_cents, f.amount_max_cents),
        {
            "achievement": Rule(RANGE, "price_cents"),
            "demand": Rule(OVERLAP, "budget_min_cents", field_high="budget_max_cents"),
        },
    ),
    Field("industry", lambda f: f.industry, {EVERY_KIND: Rule(EQUALS, "industry")}, facet="industry"),
    Field("district", lambda f: f.district, {EVERY_KIND: Rule(EQUALS, "district")}, facet="district"),
    Field("ip_type", lambda f: f.ip_type, {EVERY_KIND: Rule(EQUALS, "ip_type")}, facet="ip_type"),
    Field(
        "cooperation_mode",
        lambda f: f.cooperation_mode,
        {EVERY_KIND: Rule(CONTAINS, "cooperation_modes")},
        facet="cooperation_modes",
    ),
    Field(
        "trl",
        lambda f: _bounds(f.trl_min, f.trl_max),
        {"achievement": Rule(RANGE, "trl"), "demand": Rule(RANGE, "min_trl")},
        facet="trl",
    ),
    Field(
        "challenge_only",
        lambda f: True if f.challenge_only else None,
        {"demand": Rule(EQUALS, "challenge")},
        facet="challenge",
    ),
    # The name the listing shows as its organisation: the registered organisation's, else the free text.
    Field("org_name", lambda f: f.org_name, {EVERY_KIND: Rule(EQUALS, "org_name")}, facet="org_name"),
)


def visibility(viewer: Viewer) -> Condition | None:
    """Unpublished documents show to their owner, their organisation's admin and platform admins only."""
    if viewer.is_admin:
        return None
    parts = [Check(EQUALS, "status", "published")]
    if viewer.user_id is not None:
        parts.append(Check(EQUALS, "owner_id", viewer.user_id))
    if viewer.admin_of_organisation_id is not None:
        parts.append(Check(EQUALS, "organisation_id", viewer.admin_of_organisation_id))
    return AnyOf(tuple(parts))


def _test(rule: Rule, value: Any) -> Check:
    if rule.op in (RANGE, OVERLAP):
        low, high = value
        return Check(rule.op, rule.field, low=low, high=high, field_high=rule.field_high)
    if rule.op == ANY_OF:
        return Check(ANY_OF, rule.field, values=tuple(value))
    return Check(rule.op, rule.field, value)


def _condition(field: Field, value: Any, kind: str | None) -> Condition | None:
    if EVERY_KIND in field.rules:
        return _test(field.rules[EVERY_KIND], value)
    if kind is not None:
        rule = field.rules.get(kind)
        return None if rule is None else _test(rule, value)
    # No kind chosen: each document by its own kind's rule; kinds without one pass.
    if not field.rules:
        return None
    return AnyOf(
        tuple(
            AllOf((Check(EQUALS, "kind", each), _test(field.rules[each], value)))
            if each in field.rules
            else Check(EQUALS, "kind", each)
            for each in KINDS
        )
    )


def conditions(filters: Filters, viewer: Viewer) -> list[tuple[str | None, Condition]]:
    """[(facet or None, condition)]: the viewer's visibility, then the filters that are set in ``FIELDS`` order."""
    visible = visibility(viewer)
    found: list[tuple[str | None, Condition]] = [] if visible is None else [(None, visible)]
    for field in FIELDS:
        value = field.value(filters)
        if value is not None and (condition := _condition(field, value, filters.kind)) is not None:
            found.append((field.facet, condition))
    return found


def compiled(
    filters: Filters, viewer: Viewer, compile_one: Callable[[Condition], list[Any]]
) -> tuple[list[Any], dict[str, list[Any]]]:
    """(what every count obeys, {facet: its own filter}), each condition compiled by ``compile_one``
    into a list of clauses that must all hold (an overlap is two comparisons, say)."""
    base: list[Any] = []
    facets: dict[str, list[Any]] = {}
    for facet, condition in conditions(filters, viewer):
        if facet is None:
            base.extend(compile_one(condition))
        else:
            facets[facet] = compile_one(condition)
    return base, facets
