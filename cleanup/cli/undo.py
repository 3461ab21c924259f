"""cleanup undo, cleanup runs, cleanup purge"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from ..journal import DONE, FAILED, PURGED, SKIPPED, UNDONE
from ..plan import iso
from ..undo import UndoResult, purge, runs, undo
from . import main
from .common import Context, agreed, pass_context, shown, size, table


def _report(verb: str, result: UndoResult) -> None:
    if not (result.done or result.skipped or result.failed):
        click.echo(f"Run {result.run_id}: nothing left to be {verb}.")
        return
    click.echo(
        f"Run {result.run_id}: {len(result.done):,} {verb}, {len(result.skipped):,} skipped, {len(result.failed):,} failed."
    )
    if result.freed_bytes:
        click.echo(f"  {size(result.freed_bytes)} freed.")
    for title, items in (("Skipped", result.skipped), ("Failed", result.failed)):
        for path, reason in items[:50]:
            click.echo(f"  {title}: {shown(path)}: {reason}")
        if len(items) > 50:
            click.echo(f"  ... and {len(items) - 50:,} more.")


@main.command("undo")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--item",
    "items",
    multiple=True,
    metavar="PATH",
    help="Restore only this path or folder (repeatable).",
)
@pass_context
def undo_command(ctx: Context, run_id: str, items: tuple[str, ...]) -> None:
    """Put back what a run moved to the trash or archive.

    A file that now exists at the original path is never overwritten: that item is left in
    the trash or archive and reported. RUN is an id from `cleanup runs`, a prefix, or last.

    \b
    Example:
      cleanup undo last
      cleanup undo 20261123-154400-ab12 --item ~/Documents/Reports
    """
    result = undo(ctx.inventory(), run_id, list(items) or None, options=ctx.provider_options())
    if not ctx.quiet:
        _report("restored", result)
    if result.failed:
        sys.exit(1)


@main.command("purge")
@click.argument("run_id", metavar="RUN")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_context
def purge_command(ctx: Context, run_id: str, yes: bool) -> None:
    """Make a run's trash permanent: remove what it trashed from the trash. Cannot be undone.

    \b
    Example:
      cleanup purge last
    """
    inventory = ctx.inventory()
    if not yes and not agreed(f"Empty what run {run_id} put in the trash, for good?"):
        raise click.Abort()
    result = purge(inventory, run_id, options=ctx.provider_options())
    if not ctx.quiet:
        _report("purged", result)
    if result.failed:
        sys.exit(1)


@main.command("runs")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_context
def runs_command(ctx: Context, fmt: str) -> None:
    """List apply runs and their outcome, oldest first. Changes nothing.

    \b
    Example:
      cleanup runs
    """
    found = runs(ctx.inventory())
    rows: list[dict[str, Any]] = []
    for r in found:
        pending = sum(
            int(e.outcome.get("pending_bytes") or 0) for e in r.entries.values() if e.state == DONE
        )
        freed = sum(
            int(e.outcome.get("freed_bytes") or 0)
            for e in r.entries.values()
            if e.state in (DONE, PURGED)
        )
        rows.append(
            {
                "run": r.run_id,
                "started": iso(r.started),
                "status": r.status,
                "done": r.count(DONE),
                "skipped": r.count(SKIPPED),
                "failed": r.count(FAILED),
                "undone": r.count(UNDONE),
                "purged": r.count(PURGED),
                "in_trash_bytes": pending,
                "freed_bytes": freed,
                "plan": str(r.header.get("plan_path", "")),
            }
        )
    if fmt == "json":
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    if not rows:
        click.echo("No runs yet. `cleanup apply plan.json` makes one.")
        return
    click.echo(
        table(
            [
                [
                    x["run"],
                    time.strftime("%Y-%m-%d %H:%M", time.localtime(found[i].started)),
                    x["status"],
                    x["done"],
                    x["skipped"],
                    x["failed"],
                    x["undone"],
                    x["purged"],
                    size(x["in_trash_bytes"]),
                    size(x["freed_bytes"]),
                ]
                for i, x in enumerate(rows)
            ],
            [
                "run",
                "started",
                "status",
                "done",
                "skipped",
                "failed",
                "undone",
                "purged",
                "in trash",
                "freed",
            ],
        )
    )
