"""`flask stats turnover` and `flask stats seed-targets`."""

from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup

from marketplace.extensions import db
from marketplace.stats import queries, rollup, targets

stats_cli = AppGroup("stats", help="Technology-contract turnover statistics and targets.")


@stats_cli.command("turnover")
@click.option("--by", "by", default="year", show_default=True, help="|".join(queries.BY_CHOICES))
@click.option("--year", "year", default=None, help="Only contracts registered in this year (YYYY).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (amounts in 元, 2 decimals).")
def turnover_command(by: str, year: str | None, as_json: bool) -> None:
    """Registered turnover (成交额 and 技术交易额) by year or by a taxonomy dimension."""
    try:
        by = queries.parse_by(by)
    except queries.StatsParameterError as error:
        raise click.BadParameter(str(error), param_hint="--by") from None
    try:
        year_value = queries.parse_year(year)
    except queries.StatsParameterError as error:
        raise click.BadParameter(str(error), param_hint="--year") from None
    if as_json:
        click.echo(json.dumps(queries.turnover_json(by, year_value), ensure_ascii=False))
        return
    rows = queries.turnover(by, year_value)
    click.echo(f"{by:<24} {'count':>10} {'contract_amount (元)':>24} {'tech_amount (元)':>24}")
    for key, totals in rows.items():
        click.echo(f"{key:<24} {totals.count:>10} {totals.contract_amount:>24,.2f} {totals.tech_amount:>24,.2f}")


@stats_cli.command("seed-targets")
def seed_targets_command() -> None:
    """Add the plans' targets and the city's published figures where missing (idempotent)."""
    added = targets.seed_defaults()
    db.session.commit()
    click.echo(f"added {added}")


@stats_cli.command("rebuild-rollups")
def rebuild_rollups_command() -> None:
    """Recompute the monthly and per-party roll-ups from the registered contracts, in one transaction."""
    counted = rollup.rebuild()
    db.session.commit()
    click.echo(f"counted {counted} contracts")


@stats_cli.command("verify-rollups")
def verify_rollups_command() -> None:
    """Compare the roll-ups with totals aggregated in SQL straight from the contracts; exit 1 on any difference."""
    problems = rollup.verify()
    for problem in problems:
        click.echo(problem, err=True)
    click.echo(f"{len(problems)} differences")
    if problems:
        raise SystemExit(1)


def register(app: Flask) -> None:
    app.cli.add_command(stats_cli)
