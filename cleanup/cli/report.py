"""cleanup report (and cleanup report merge)"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from ..errors import UsageError
from ..footprint import load_parameters
from ..report import build, load, merge, report_key
from ..report_csv import render_csv
from ..report_html import render_html
from ..report_markdown import render_markdown
from ..report_text import render_text
from ..report_wording import LANGUAGES
from ..tally import load_teams, select_runs, tally
from ..units import parse_age
from . import main
from .common import Context, pass_context, tally_options

FORMATS = ("text", "json", "csv", "markdown", "html")
_SUFFIXES = {
    ".json": "json",
    ".csv": "csv",
    ".md": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
}


def render(report: Mapping[str, Any], fmt: str, lang: str) -> str:
    """The report in one of FORMATS."""
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    renderers = {
        "text": render_text,
        "csv": render_csv,
        "markdown": render_markdown,
        "html": render_html,
    }
    return renderers[fmt](report, lang)


def _write(text: str, output: str | None, quiet: bool) -> None:
    if not output or output == "-":
        click.echo(text, nl=False)
        return
    path = Path(output)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    if not quiet:
        click.echo(f"Wrote {path}", err=True)


def _format(fmt: str | None, output: str | None) -> str:
    if fmt:
        return fmt
    return _SUFFIXES.get(Path(output).suffix.lower(), "text") if output else "text"


@main.command("report")
@click.argument("runs", nargs=-1)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Output format (default: from the -o suffix, else text).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default="en",
    show_default=True,
    help="Language of the report.",
)
@click.option(
    "--detailed",
    is_flag=True,
    help="Include file names, paths, accounts and owners (off: aggregated).",
)
@tally_options
@click.option(
    "--key",
    envvar="CLEANUP_REPORT_KEY",
    help="Key of the owner pseudonyms (env CLEANUP_REPORT_KEY).",
)
@click.option(
    "--avoided-purchase",
    is_flag=True,
    help="Add the one-off avoided external disk purchase for local space.",
)
@click.option(
    "--from",
    "source",
    type=click.Path(dir_okay=False),
    help="Render an existing JSON report instead.",
)
@pass_context
def report_command(
    ctx: Context,
    runs: tuple[str, ...],
    fmt: str | None,
    output: str | None,
    lang: str,
    detailed: bool,
    factors: str | None,
    teams: str | None,
    key: str | None,
    backup_retention: str | None,
    avoided_purchase: bool,
    source: str | None,
) -> None:
    """Report what apply runs freed and the footprint no longer attributed to it.

    RUNS are run ids (or 'last'); without any, every run is counted. Aggregated by default:
    no file names, paths or personal names unless --detailed.

    `cleanup report merge A.json B.json ...` combines JSON reports from staff or sites into
    one total instead, counting an item present in several reports once (JSON by default).

    \b
    Example:
      cleanup report
      cleanup report -o clean-up-day.html --lang fr --teams teams.csv
      cleanup report last --format markdown -o report.md
      cleanup report --format json -o site-lyon.json
      cleanup report merge site-*.json -o org.json
      cleanup report --from org.json -o org.html
    """
    if runs and runs[0] == "merge":
        if len(runs) < 2:
            raise UsageError(
                "Name the JSON reports to merge: cleanup report merge A.json B.json -o org.json"
            )
        report = merge([load(p) for p in runs[1:]])
        _write(
            render(report, fmt or (_format(None, output) if output else "json"), lang),
            output,
            ctx.quiet,
        )
        return
    if source:
        report = load(source)
    else:
        inventory = ctx.inventory()
        params = load_parameters(factors)
        counted = tally(
            inventory,
            select_runs(inventory, runs),
            params,
            load_teams(teams) if teams else None,
            backup_retention_days=parse_age(backup_retention) if backup_retention else None,
        )
        report = build(
            counted, inventory, report_key(inventory.path, key), detailed, avoided_purchase
        )
    _write(render(report, _format(fmt, output), lang), output, ctx.quiet)
