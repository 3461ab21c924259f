"""cleanup findings"""

from __future__ import annotations

import csv
import json
import sys
import time
from typing import Any

import click

from ..findings import FileFinding, FindingOptions, Findings, find, find_totals
from ..inventory import Inventory
from ..plan import iso
from ..tally import findings_potential_sentence
from ..units import parse_age, parse_size
from . import main
from .common import Context, counted, pass_context, shown, size, table, when

__all__ = ["parse_age", "parse_size", "print_summary"]

_SECTIONS = (
    ("stale", "Stale (not modified for a long time)"),
    ("oversized", "Oversized"),
    ("junk", "Junk and temporary files"),
    ("empty_files", "Empty files"),
    ("empty_folders", "Empty folders"),
    ("broken_symlinks", "Broken symlinks"),
    ("mismatched_extensions", "Extension does not match content"),
    ("trash_billed", "In a trash, still billed"),
    ("old_versions", "Storage held by old versions"),
)
_LABELS = {
    "duplicates": "duplicate groups",
    "duplicate_folders": "duplicate folders",
    "stale": "stale files",
    "oversized": "oversized files",
    "junk": "junk files",
    "empty_files": "empty files",
    "empty_folders": "empty folders",
    "broken_symlinks": "broken symlinks",
    "mismatched_extensions": "mismatched extensions",
    "trash_billed": "files in a trash, still billed",
    "old_versions": "files with old versions",
}


def summary_of(inventory: Inventory, options: FindingOptions) -> dict[str, Any]:
    """What the scan summary shows, computed once per state of the inventory and day."""
    day = time.strftime("%Y-%m-%d", time.localtime(options.now))
    key = f"scan-summary:{options.stale_after_days}:{options.oversized_bytes}:{day}"

    def compute() -> dict[str, Any]:
        # The totals and the potential only: no kinds, largest items or details to list.
        f = find_totals(inventory, options)
        return {
            "files": f.files_total,
            "storage_bytes": f.storage_total,
            "totals": f.totals(),
            "potential": findings_potential_sentence(f, inventory),
        }

    result: dict[str, Any] = inventory.remember(key, compute)
    return result


def print_summary(summary: dict[str, Any]) -> None:
    """A few lines: what each finding kind holds, and what cleaning it all up would be worth."""
    click.echo(f"\n{summary['files']:,} files, {size(summary['storage_bytes'])} in the inventory.")
    for name, t in summary["totals"].items():
        if t["count"]:
            what = "reclaimable" if name in ("duplicates", "duplicate_folders") else "in"
            click.echo(
                f"  {_LABELS[name] + ':':<32} {t['count']:>8,}  {size(t['storage_bytes']):>10} {what}"
            )
    click.echo(summary["potential"])
    click.echo("Run `cleanup findings` for the details.")


@main.command("findings")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for people; json (documented in docs/findings.md) and csv for scripts.",
)
@click.option(
    "--stale-after",
    default="2y",
    show_default=True,
    help="Not modified for this long: 90d, 18m, 3y.",
)
@click.option(
    "--oversized",
    default="1 GB",
    show_default=True,
    help="Storage at or above this size: 500 MB, 2 GiB.",
)
@click.option(
    "--top", default=20, show_default=True, help="How many largest files and folders to list."
)
@click.option(
    "--limit", default=20, show_default=True, help="Rows per section in the table (0: all)."
)
@pass_context
def findings_command(
    ctx: Context, fmt: str, stale_after: str, oversized: str, top: int, limit: int
) -> None:
    """Show duplicates, duplicate folders, stale, oversized, empty and junk files. Changes nothing.

    \b
    Example:
      cleanup findings
      cleanup findings --stale-after 18m --oversized "500 MB"
      cleanup findings --format json > findings.json
    """
    options = FindingOptions(
        stale_after_days=parse_age(stale_after), oversized_bytes=parse_size(oversized), top=top
    )
    inventory = ctx.inventory()
    found = find(inventory, options)
    if not inventory.scans(limit=1):
        click.echo(
            f"The inventory at {inventory.path} holds no scan yet: "
            "run `cleanup scan FOLDER` (e.g. cleanup scan ~/Documents) first.",
            err=True,
        )
        if fmt == "table":
            return
    if fmt == "json":
        json.dump(found.to_json(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif fmt == "csv":
        _csv(found)
    else:
        _table(found, limit)


def _csv(f: Findings) -> None:
    """One row per file: finding, group, provider, account, path, storage bytes, modified
    (ISO 8601 in UTC, as in the JSON: a spreadsheet reads it as a date), detail."""
    out = csv.writer(sys.stdout)
    out.writerow(
        ["finding", "group", "provider", "account", "path", "storage_bytes", "modified", "detail"]
    )
    for g in f.duplicates:
        for c in g.copies:
            for p in c.paths:
                out.writerow(
                    [
                        "duplicate",
                        g.id,
                        c.provider,
                        c.account,
                        shown(p),
                        c.storage_bytes,
                        _utc(c.modified),
                        "",
                    ]
                )
    for d in f.duplicate_folders:
        for p, stored in zip(d.folders, d.storage_bytes, strict=True):
            out.writerow(["duplicate_folder", d.id, d.provider, "", shown(p), stored, "", ""])
    for name, _ in _SECTIONS:
        for x in getattr(f, name):
            out.writerow(
                [
                    name,
                    "",
                    x.provider,
                    x.account,
                    shown(x.path),
                    x.storage_bytes,
                    _utc(x.modified),
                    x.detail,
                ]
            )


def _utc(ts: float | None) -> str:
    return "" if ts is None else iso(ts)


def _rows(items: list[FileFinding], limit: int) -> list[list[str]]:
    shown_items = items if limit <= 0 else items[:limit]
    return [[size(x.storage_bytes), when(x.modified), shown(x.path), x.detail] for x in shown_items]


def _table(f: Findings, limit: int) -> None:
    echo = click.echo
    echo(f"{f.files_total:,} files, {size(f.storage_total)} in the inventory.\n")
    t = f.totals()
    echo(
        f"Duplicates: {counted(len(f.duplicates), 'group')}, "
        f"{size(t['duplicates']['storage_bytes'])} reclaimable"
    )
    for g in f.duplicates[: limit or None]:
        echo(
            f"  {len(g.copies)} copies of {size(g.size)} ({size(g.reclaimable_bytes)} reclaimable):"
        )
        for c in g.copies:
            where = "" if c.provider == "local" else f"{c.provider}:{c.account} "
            echo(
                f"    {where}{shown(c.paths[0])}"
                + (f"  (+{len(c.paths) - 1} hard links)" if len(c.paths) > 1 else "")
            )
    if f.duplicate_folders:
        echo(f"\nDuplicate folders: {len(f.duplicate_folders):,}")
        for d in f.duplicate_folders[: limit or None]:
            echo(
                f"  {len(d.folders)} copies of {counted(d.files[0], 'file')} "
                f"({size(d.reclaimable_bytes)} reclaimable):"
            )
            for p in d.folders:
                echo(f"    {shown(p)}")
    echo("\nLargest files:")
    echo(table([r[:3] for r in _rows(f.largest_files, limit)], ["size", "modified", "path"]))
    echo("\nLargest folders:")
    echo(table(_rows(f.largest_folders, limit), ["size", "modified", "path", "holds"]))
    for name, title in _SECTIONS:
        items: list[FileFinding] = getattr(f, name)
        if not items:
            continue
        echo(f"\n{title}: {len(items):,}, {size(sum(i.storage_bytes for i in items))}")
        echo(table(_rows(items, limit), ["size", "modified", "path", "detail"]))
        if limit and len(items) > limit:
            echo(f"  ... {len(items) - limit:,} more (--limit 0 shows all)")
    echo("\nBy kind: " + ", ".join(f"{k} {size(v)}" for k, v in f.kinds.items() if v))
