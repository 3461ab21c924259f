"""cleanup review"""

from __future__ import annotations

import sys

import click

from ..errors import UsageError
from ..plan import decode_name, load
from ..review import Review, ReviewGroup
from . import main
from .common import Context, counted, pass_context, shown, size

HELP = """Keys:
  k        keep this file (drop it from the plan); press again to plan it again
  Enter    next file (also space, n or j)
  a        accept this group as marked and go to the next one
  s        skip this group: keep every file in it
  q        save and quit (groups not reached stay as planned, unless --drop-unreviewed)
  ?        this help"""

_NEXT = {"\r", "\n", " ", "n", "j"}


def _key() -> str:
    """One key press; without a terminal, the next character of the input (its end quits)."""
    if not sys.stdin.isatty():  # keys piped in: click.getchar would open /dev/tty
        return sys.stdin.read(1) or "q"
    try:
        return click.getchar()
    except (EOFError, OSError):
        return "q"


def _line(review: Review, entry: dict, current: bool) -> str:
    mark = "KEEP " if review.is_kept(entry) else entry["action"].ljust(5)
    where = shown(decode_name(entry, "path"))
    if entry["provider"] != "local":
        where = f"{entry['provider']}:{entry['account']} {where}"
    pointer = ">" if current else " "
    return f" {pointer} [{mark}] {size(entry.get('storage_bytes')):>9}  {where}  ({entry.get('reason', '')})"


def _walk(review: Review, number: int, group: ReviewGroup) -> bool:
    """Walk one group; return False when the person asked to quit."""
    click.echo(
        f"\nGroup {number} of {len(review.groups)}: {shown(group.title)}  ({counted(len(group.entries), 'item')}, {size(group.storage_bytes)})"
    )
    i = 0
    while i < len(group.entries):
        entry = group.entries[i]
        click.echo(_line(review, entry, True))
        key = _key()
        if key == "k":
            kept = review.toggle(entry)
            click.echo("     kept: stays where it is" if kept else "     planned again")
            i += 1
        elif key in _NEXT:
            i += 1
        elif key == "a":
            review.accept(group)
            return True
        elif key == "s":
            review.skip(group)
            click.echo("     group skipped: every file in it stays")
            return True
        elif key in ("q", "\x1b"):
            return False
        elif key == "?":
            click.echo(HELP)
        else:
            click.echo("     unknown key; ? for help")
    review.accept(group)
    return True


@main.command("review")
@click.argument("plan_file", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the reviewed plan.",
)
@click.option("--by", "reviewer", help="Who reviewed it (recorded in the plan).")
@click.option(
    "--drop-unreviewed",
    is_flag=True,
    help="On q, drop the groups not yet reviewed instead of keeping them planned.",
)
@pass_context
def review_command(
    ctx: Context, plan_file: str, output: str, reviewer: str | None, drop_unreviewed: bool
) -> None:
    """Walk a plan group by group and keep what should stay; saves a new plan.

    Single keys: k keep/drop the file, Enter next, a accept the group, s skip the group
    (keep all of it), q save and quit, ? help. The reviewed plan has its own hash, so
    approvals of the original do not carry over.

    \b
    Example:
      cleanup review plan.json -o reviewed.json
      cleanup apply reviewed.json
    """
    p = load(plan_file)
    review = Review.of(p)
    if not review.groups:
        raise UsageError(f"{plan_file} has nothing to review.")
    click.echo(
        f"Reviewing {counted(len(p.entries), 'item')} in {counted(len(review.groups), 'group')}."
        " ? for help."
    )
    for n, group in enumerate(review.groups, start=1):
        if not _walk(review, n, group):
            break
    reviewed = review.result(reviewer, drop_unreviewed)
    reviewed.save(output)
    t = reviewed.body["totals"]
    click.echo(
        f"\nKept {counted(len(review.kept), 'item')}. "
        f"Reviewed plan: {counted(t['items'], 'item')} to act on, "
        f"{size(t['storage_bytes'])}; written to {output} (sha256 {reviewed.sha256[:12]})."
    )
