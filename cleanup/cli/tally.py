"""cleanup tally"""

from __future__ import annotations

import json
import sys

import click

from ..footprint import load_parameters
from ..report import build, report_key
from ..report_text import render_text
from ..report_wording import LANGUAGES
from ..tally import load_teams, select_runs, tally
from ..units import parse_age
from . import main
from .common import Context, pass_context, tally_options


@main.command("tally")
@click.argument("runs", nargs=-1)
@tally_options
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the report JSON (docs/reports.md) instead of the summary.",
)
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default="en",
    show_default=True,
    help="Language of the summary.",
)
@pass_context
def tally_command(
    ctx: Context,
    runs: tuple[str, ...],
    factors: str | None,
    teams: str | None,
    backup_retention: str | None,
    as_json: bool,
    lang: str,
) -> None:
    """Count what apply runs freed, what is still in bins, and what it is worth per year.

    RUNS are run ids (or unique prefixes, or 'last'); without any, every run is counted.
    Undone, skipped and failed actions count nothing.

    \b
    Example:
      cleanup tally
      cleanup tally last --teams teams.csv
      cleanup tally --factors my-factors.toml --json > tally.json
    """
    inventory = ctx.inventory()
    params = load_parameters(factors)
    counted = tally(
        inventory,
        select_runs(inventory, runs),
        params,
        load_teams(teams) if teams else None,
        backup_retention_days=parse_age(backup_retention) if backup_retention else None,
    )
    report = build(counted, inventory, report_key(inventory.path))
    if as_json:
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        click.echo(render_text(report, lang), nl=False)
