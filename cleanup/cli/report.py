"""cleanup report, cleanup report merge"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from ..footprint import load_parameters
from ..report import build, load, merge, report_key
from ..report_csv import render_csv
from ..report_html import render_html
from ..report_markdown import render_markdown
from ..report_text import render_text
from ..report_wording import LANGUAGES
from ..tally import load_teams, select_runs, tally
from . import main
from .common import Context, pass_context

FORMATS = ("text", "json", "csv", "markdown", "html")
_SUFFIXES = {
    ".json": "json",
    ".csv": "csv",
    ".md": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "text",
}


class _ReportGroup(click.Group):
    """`cleanup report [RUN ...]` makes a report; `cleanup report merge ...` merges reports."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["make", *args]
        return super().parse_args(ctx, args)


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


_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Output format (default: from the -o suffix, else text).",
)
_output_option = click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write to this file."
)
_lang_option = click.option(
    "--lang", type=click.Choice(LANGUAGES), default="en", show_default=True, help="Language."
)


@main.group("report", cls=_ReportGroup)
def report_group() -> None:
    """Write the report for the sustainability lead, or merge several reports into one.

    \b
    cleanup report [RUN ...] [options]     make a report (see `cleanup report make --help`)
    cleanup report merge A.json B.json ... one total from staff or site reports

    \b
    Example:
      cleanup report -o clean-up-day.html --lang fr
      cleanup report --format json -o site-lyon.json
      cleanup report merge site-*.json -o org.json
      cleanup report --from org.json -o org.html
    """


@report_group.command("make")
@click.argument("runs", nargs=-1)
@_format_option
@_output_option
@_lang_option
@click.option(
    "--detailed",
    is_flag=True,
    help="Include file names, paths, accounts and owners (off: aggregated).",
)
@click.option(
    "--factors", type=click.Path(dir_okay=False), help="TOML file overriding footprint parameters."
)
@click.option(
    "--teams",
    type=click.Path(dir_okay=False),
    help="owner,team CSV (or TOML [teams]) for a team breakdown.",
)
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
def make_command(
    ctx: Context,
    runs: tuple[str, ...],
    fmt: str | None,
    output: str | None,
    lang: str,
    detailed: bool,
    factors: str | None,
    teams: str | None,
    key: str | None,
    avoided_purchase: bool,
    source: str | None,
) -> None:
    """Report what apply runs freed and the footprint no longer attributed to it.

    RUNS are run ids (or 'last'); without any, every run is counted. Aggregated by default:
    no file names, paths or personal names unless --detailed.

    \b
    Example:
      cleanup report
      cleanup report last --format markdown -o report.md
      cleanup report -o report.html --lang fr --teams teams.csv
    """
    if source:
        report = load(source)
    else:
        inventory = ctx.inventory()
        params = load_parameters(factors)
        counted = tally(
            inventory, select_runs(inventory, runs), params, load_teams(teams) if teams else None
        )
        report = build(
            counted, inventory, report_key(inventory.path, key), detailed, avoided_purchase
        )
    _write(render(report, _format(fmt, output), lang), output, ctx.quiet)


@report_group.command("merge")
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_format_option
@_output_option
@_lang_option
@pass_context
def merge_command(
    ctx: Context, reports: tuple[str, ...], fmt: str | None, output: str | None, lang: str
) -> None:
    """Combine JSON reports into one total; an item present in several reports counts once.

    \b
    Example:
      cleanup report merge staff/*.json -o org.json
      cleanup report merge lyon.json paris.json -o org.html --lang fr
    """
    merged = merge([load(p) for p in reports])
    _write(
        render(merged, _format(fmt, output) if output or fmt else "json", lang), output, ctx.quiet
    )
