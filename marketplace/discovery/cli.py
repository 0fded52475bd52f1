"""`flask search sync|reindex|query` — keep the index right and query it from scripts.

The JSON these commands print is an interface others script against: keep it stable.
"""

from __future__ import annotations

import json
import sys
import time

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from marketplace.core import taxonomy
from marketplace.discovery import matching, outbox, vectors
from marketplace.discovery import services as discovery
from marketplace.discovery.documents import listing_document
from marketplace.extensions import db
from marketplace.listings.models import Listing, ListingKind
from marketplace.listings.queries import BrowseFilters
from search.backends import BackendUnavailable
from search.query import Viewer

search_cli = AppGroup("search", help="Search index: sync, reindex, query.")
REINDEX_BATCH = 500


@search_cli.command("sync")
@click.option("--loop", is_flag=True, help="Keep running: a worker that drains the outbox as rows arrive.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls with --loop.")
@click.option("--retry-now", is_flag=True, help="Ignore back-off and retry every waiting row.")
def sync_command(loop: bool, interval: float, retry_now: bool) -> None:
    """Push waiting listing changes (the outbox) to the search backend."""
    if retry_now:
        outbox.retry_now()
        db.session.commit()
    backend, encoder = discovery.backend(), discovery.encoder()
    while True:
        report = outbox.drain(backend, encoder=encoder)
        if report.indexed or report.deleted or report.failed:
            click.echo(str(report))
        if not loop:
            remaining = outbox.backlog()
            click.echo(f"outbox backlog: {remaining}")
            sys.exit(1 if report.failed else 0)
        if not report.indexed and not report.deleted:
            time.sleep(interval)


@search_cli.command("reindex")
def reindex_command() -> None:
    """Rebuild the index from the database (stored vectors are reused, never recomputed)."""
    backend = discovery.backend()
    total = db.session.scalar(select(func.count()).select_from(Listing)) or 0
    started = time.perf_counter()
    last_id, done, without_vector = 0, 0, 0
    progress = click.progressbar(length=total, label="reindexing", file=sys.stderr, show_pos=True)
    with backend.reindexing() as write, progress as bar:
        while True:
            batch = db.session.scalars(
                select(Listing).where(Listing.id > last_id).order_by(Listing.id).limit(REINDEX_BATCH)
            ).all()
            if not batch:
                break
            documents = [listing_document(listing) for listing in batch]
            waiting = vectors.attach(documents, encoder=None)  # stored vectors only
            write(documents)
            outbox.queue_for_vectors(waiting)
            db.session.commit()  # the command's own session: a batch at a time over a large index
            without_vector += len(waiting)
            last_id, done = batch[-1].id, done + len(batch)
            bar.update(len(batch))
            db.session.expunge_all()
    elapsed = time.perf_counter() - started
    click.echo(f"reindexed {done} listings in {elapsed:.1f} s ({done / elapsed if elapsed else 0:.0f} docs/s)")
    if without_vector:
        click.echo(
            f"{without_vector} listings have no current vector yet: queued for the worker "
            "(`flask jobs work` or `flask search sync`)"
        )


def _filters_options(function):
    options = [
        click.option("--industry", type=click.Choice(list(taxonomy.INDUSTRIES))),
        click.option("--district", type=click.Choice(list(taxonomy.DISTRICTS))),
        click.option("--mode", "cooperation_mode", type=click.Choice(list(taxonomy.COOPERATION_MODES))),
        click.option("--ip-type", type=click.Choice(list(taxonomy.IP_TYPES))),
        click.option("--institution", help="The offering organisation's name, exactly as listings show it."),
        click.option("--trl-min", type=click.IntRange(1, 9)),
        click.option("--trl-max", type=click.IntRange(1, 9)),
        click.option("--challenge-only", is_flag=True),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@search_cli.command("query")
@click.argument("text", required=False, default="")
@click.option(
    "--kind", type=click.Choice([kind.value for kind in ListingKind]), default="achievement", show_default=True
)
@click.option("--limit", default=10, show_default=True)
@click.option(
    "--queries",
    "queries_file",
    type=click.File(encoding="utf-8"),
    help="JSON lines with id and text; prints one result line per query.",
)
@_filters_options
def query_command(text: str, kind: str, limit: int, queries_file, **filter_values) -> None:
    """Print the hits the search page shows for TEXT, one JSON object per line."""

    def run(query_text: str):
        browse = BrowseFilters(q=query_text or None, sort="relevance" if query_text else "newest", **filter_values)
        return discovery.search_listings(kind, browse, Viewer(), page=1, per_page=limit, facets=False)

    try:
        if queries_file is None:
            for hit in run(text).hits:
                click.echo(json.dumps(_hit_line(hit), ensure_ascii=False))
            return
        for number, line in enumerate(queries_file, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                query_id, query_text = str(item["id"]), str(item["text"])
            except (ValueError, KeyError, TypeError):
                raise click.ClickException(f"line {number}: expected a JSON object with id and text") from None
            hits = [
                {"external_id": hit.document.get("external_id"), "score": round(hit.score, 4)}
                for hit in run(query_text).hits
            ]
            click.echo(json.dumps({"query_id": query_id, "hits": hits}, ensure_ascii=False))
    except BackendUnavailable as error:
        raise click.ClickException(f"search backend unavailable: {error}") from None


def _hit_line(hit) -> dict:
    return {
        "id": int(hit.id),
        "external_id": hit.document.get("external_id"),
        "title": hit.document.get("title"),
        "score": round(hit.score, 4),
    }


@search_cli.command("match")
@click.option("--demand", "demands", multiple=True, help="External id of a demand (repeatable).")
@click.option("--all-demands", is_flag=True, help="Every published demand.")
@click.option("--limit", default=10, show_default=True)
def match_command(demands: tuple[str, ...], all_demands: bool, limit: int) -> None:
    """Print each demand's best achievements as JSON lines: the ranking its page shows."""
    if not demands and not all_demands:
        raise click.UsageError("give --demand EXTERNAL_ID (repeatable) or --all-demands")
    statement = select(Listing).where(Listing.kind == ListingKind.DEMAND)
    if all_demands:
        statement = statement.where(Listing.status == "published")
    else:
        statement = statement.where(Listing.external_id.in_(demands))
    found = {listing.external_id: listing for listing in db.session.scalars(statement.order_by(Listing.id))}
    missing = [external_id for external_id in demands if external_id not in found]
    if missing:
        raise click.ClickException(f"no demand with external id {', '.join(missing)}")
    try:
        for external_id, demand in found.items():
            matches = [matching.as_json(item) for item in matching.matches_for(demand, limit=limit)]
            click.echo(
                json.dumps(
                    {
                        "demand": external_id,
                        "matches": [
                            {"external_id": item["external_id"], "score": item["score"], "why": item["why"]}
                            for item in matches
                        ],
                    },
                    ensure_ascii=False,
                )
            )
    except BackendUnavailable as error:
        raise click.ClickException(f"search backend unavailable: {error}") from None


def register(app: Flask) -> None:
    app.cli.add_command(search_cli)
