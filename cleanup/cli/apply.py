"""cleanup apply"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from tqdm import tqdm

from ..apply import ApplyProgress, ApplyResult, apply, prepare, resume, summary
from ..errors import UsageError
from ..plan import Plan, decode_name, load
from ..undo import UNDOABLE
from . import main
from .common import Context, agreed, pass_context, shown, size


@contextmanager
def apply_progress(enabled: bool) -> Iterator[ApplyProgress]:
    """A bar over the plan's items, shown only when ``enabled``."""
    if not enabled:
        yield ApplyProgress()
        return
    bar: dict[str, tqdm] = {}

    def start(total: int) -> None:
        bar["b"] = tqdm(
            total=total, desc="applying", unit=" items", leave=False, dynamic_ncols=True
        )

    def item(entry: dict[str, Any], state: str) -> None:
        if "b" in bar:
            bar["b"].update(1)

    try:
        yield ApplyProgress(start=start, item=item)
    finally:
        if "b" in bar:
            bar["b"].close()


def _report(result: ApplyResult, quiet: bool) -> None:
    if quiet:
        return
    echo = click.echo
    if not result.run_id:
        echo(
            "Nothing to apply: the plan moves or removes nothing"
            + (
                "; its flagged item is for review only (cleanup plan show PLAN lists it)."
                if result.flagged == 1
                else f"; its {result.flagged:,} flagged items are for review only"
                " (cleanup plan show PLAN lists them)."
                if result.flagged
                else "."
            )
        )
        return
    echo(
        f"Run {result.run_id}: {len(result.done):,} done, {len(result.skipped):,} skipped, "
        f"{len(result.failed):,} failed"
        + (f", {result.flagged:,} flagged only" if result.flagged else "")
        + "."
    )
    if result.pending_bytes:
        echo(
            f"  {size(result.pending_bytes)} moved to the trash (still taking space until purged)."
        )
    if result.archived_bytes:
        echo(f"  {size(result.archived_bytes)} archived.")
    if result.freed_bytes:
        echo(f"  {size(result.freed_bytes)} freed.")
    for title, items in (("Skipped", result.skipped), ("Failed", result.failed)):
        for e, reason in items[:50]:
            echo(f"  {title}: {shown(decode_name(e, 'path'))}: {reason}")
        if len(items) > 50:
            echo(f"  ... and {len(items) - 50:,} more {title.lower()} (see `cleanup runs`).")
    if any(e["action"] in UNDOABLE for e in result.done):
        echo(f"Undo with: cleanup undo {result.run_id}")
    elif result.done:
        echo("What was done is permanent: this run has nothing to undo.")
    if result.pending_bytes:
        echo(f"Make the trash permanent with: cleanup purge {result.run_id}")


def _confirm(p: Plan) -> None:
    t = p.body["totals"]
    actions = ", ".join(
        f"{a} {v['items']:,} ({size(v['storage_bytes'])})"
        for a, v in sorted(t["by_action"].items())
        if a != "flag"
    )
    if not actions:
        return  # nothing to agree to: apply says so and makes no run
    click.echo(f"Plan {p.sha256[:12]} (policy {p.body['policy']['name']}): {actions}.")
    if not agreed("Apply it?"):
        raise click.Abort()


@main.command("apply")
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False))
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--resume",
    "resume_run",
    is_flag=False,
    flag_value="last",
    default=None,
    metavar="[RUN]",
    help="Finish an interrupted run (the last one if RUN is not given).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_context
def apply_command(
    ctx: Context, plan_file: str | None, yes: bool, resume_run: str | None, fmt: str
) -> None:
    """Carry out a plan: to the trash or archive, with a journal. Undo with `cleanup undo RUN`.

    Refuses an expired, hand-edited or over-limit plan, one made from another inventory,
    or one still waiting for approvals (exit 3). Every item is re-checked first: one that
    changed since the plan was made is skipped as stale, and a duplicate is only removed
    while its kept copy still holds the same content. Exit 1 when some items failed.

    \b
    Example:
      cleanup apply plan.json
      cleanup apply plan.json --yes
      cleanup apply --resume            finish the last run after a crash
    """
    inventory = ctx.inventory()
    with apply_progress(ctx.interactive) as progress:
        if resume_run is not None:
            if plan_file:
                raise UsageError("Give either a plan or --resume RUN, not both.")
            result = resume(
                inventory, resume_run, options=ctx.provider_options(), progress=progress
            )
        else:
            if not plan_file:
                raise UsageError(
                    "Name the plan to apply: cleanup apply plan.json (or --resume RUN)."
                )
            p = load(plan_file)
            prepare(p, inventory, options=ctx.provider_options())  # refuse before asking, not after
            if not yes:
                _confirm(p)
            result = apply(p, inventory, options=ctx.provider_options(), progress=progress)
    if fmt == "json":
        json.dump(summary(result), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _report(result, ctx.quiet)
    if result.failed:
        sys.exit(1)
