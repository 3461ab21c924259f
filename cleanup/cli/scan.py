"""cleanup scan"""

from __future__ import annotations

import click

from ..errors import UsageError
from ..findings import FindingOptions
from ..providers import load_providers, misread_address, parse_address
from ..records import ScanProblem
from ..scan import scan
from ..units import parse_age, parse_size
from . import main
from .common import Context, counted, parse_settings, pass_context, shown, size
from .findings import print_summary, summary_of
from .progress import scan_progress


@main.command("scan")
@click.argument("addresses", nargs=-1, required=True)
@click.option(
    "--cross-fs", is_flag=True, help="Descend into other filesystems (mount points) below a folder."
)
@click.option(
    "--full",
    is_flag=True,
    help="List everything again instead of reading only changes since the last scan.",
)
@click.option(
    "--as",
    "as_user",
    metavar="USER",
    help="Admin: scan as this user (Drive delegation, Graph user).",
)
@click.option(
    "--all-accounts",
    is_flag=True,
    help="Admin: every user, site and shared drive of the organisation.",
)
@click.option(
    "--stale-after",
    default="2y",
    show_default=True,
    help="Age for the stale summary, e.g. 18m, 3y, 90d.",
)
@click.option(
    "--oversized", default="1 GB", show_default=True, help="Size for the oversized summary."
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Provider setting, e.g. --set gdrive.base_url=http://127.0.0.1:8080/",
)
@pass_context
def scan_command(
    ctx: Context,
    addresses: tuple[str, ...],
    cross_fs: bool,
    full: bool,
    as_user: str | None,
    all_accounts: bool,
    stale_after: str,
    oversized: str,
    settings: tuple[str, ...],
) -> None:
    """Scan folders and cloud drives into the inventory. Changes nothing.

    ADDRESSES are folders (~/Documents, /mnt/share) or cloud drives:
    gdrive:me, gdrive:user@org.example, sharepoint:me, sharepoint:contoso/sites/HR.
    A folder inside another one given is listed once, with it.

    \b
    Example:
      cleanup scan ~/Documents ~/Downloads
      cleanup scan --stale-after 18m /mnt/share gdrive:me
    """
    registry = load_providers()
    for address in addresses:
        if (problem := misread_address(address, registry.names)) is not None:
            raise UsageError(problem)
    parsed = [parse_address(a, registry.names) for a in addresses]
    options = ctx.provider_options(
        cross_fs=cross_fs,
        full=full,
        as_user=as_user,
        all_accounts=all_accounts,
        settings=parse_settings(settings),
    )
    finding_options = FindingOptions(
        stale_after_days=parse_age(stale_after), oversized_bytes=parse_size(oversized)
    )
    inventory = ctx.inventory()
    try:
        with scan_progress(ctx.interactive) as progress:
            result = scan(inventory, parsed, options, progress, registry)
    except KeyboardInterrupt:
        options.cancel.set()
        raise
    s = result.summary
    for inner, outer in result.within:
        what = "given twice" if inner == outer else f"inside {outer}"
        click.secho(f"Note: {inner} is {what}: listed once.", err=True)
    for address, error in result.failed:
        click.secho(f"Error: {address}: {error}", fg="red", err=True)
    problems = s.problems + [ScanProblem(p, w) for p, w in result.hashing.skipped]
    for p in problems[:20]:
        click.secho(f"Warning: {shown(p.path)}: {p.message}", fg="yellow", err=True)
    if len(problems) > 20:
        click.secho(f"Warning: ... and {len(problems) - 20} more problems.", fg="yellow", err=True)
    if ctx.quiet:
        return
    seen = s.added + s.changed + s.unchanged
    click.echo(
        f"Scanned {counted(seen, 'item')} ({s.added:,} new, {s.changed:,} changed, {s.unchanged:,} unchanged, "
        f"{s.gone:,} gone); hashed {size(result.hashing.bytes_read)} "
        f"({result.hashing.cache_hits:,} from cache). Inventory: {inventory.path}"
    )
    print_summary(summary_of(inventory, finding_options))
    if result.failed:
        raise SystemExit(1)
