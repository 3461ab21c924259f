"""cleanup policy: validate, explain and list policy files and the shipped packs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ..errors import PolicyError, UsageError
from ..inventory import Inventory, default_path
from . import main
from .common import Context, pass_context, shown


def _existing_inventory(ctx: Context) -> Inventory | None:
    """The inventory if one has been made; validating never creates one."""
    path = Path(ctx.db_path) if ctx.db_path else default_path()
    return ctx.inventory() if path.exists() else None


@main.group("policy")
def policy_group() -> None:
    """Check, explain and list policies: TOML files that say what to keep, flag, archive or trash.

    \b
    Example:
      cleanup policy packs
      cleanup policy validate my-policy.toml
      cleanup policy explain staff ~/Downloads/report.pdf
    """


@policy_group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--no-inventory", is_flag=True, help="Do not check globs against the inventory.")
@pass_context
def validate_command(ctx: Context, file: str, no_inventory: bool) -> None:
    """Report every error and warning in a policy FILE, with where it is. Changes nothing.

    With an inventory (see --db), also warns about path globs that match nothing in it
    and refuses archive destinations inside a scanned folder.

    \b
    Example:
      cleanup policy validate my-policy.toml
    """
    import policies

    source = file
    if not os.path.exists(file) and file in policies.packs():
        from policies.shipped import path

        source = str(path(file))
    inventory = None if no_inventory else _existing_inventory(ctx)
    issues = policies.validate(source, inventory)
    for issue in issues:
        click.secho(
            str(issue), fg="red" if issue.level == "error" else "yellow", err=issue.level == "error"
        )
    errors = sum(i.level == "error" for i in issues)
    warnings = len(issues) - errors
    if errors:
        raise PolicyError(
            f"{file}: {errors} error(s), {warnings} warning(s). Fix the errors and validate again."
        )
    if not ctx.quiet:
        click.echo(f"{file}: valid" + (f", {warnings} warning(s)" if warnings else "") + ".")


@policy_group.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of policy files, generated from the registries.

    Editors that read JSON Schema can then complete and check policy files as you type.

    \b
    Example:
      cleanup policy schema > policy.schema.json
    """
    import policies

    click.echo(json.dumps(policies.schema(), indent=2))


@policy_group.command("explain")
@click.argument("file")
@click.argument("path")
@pass_context
def explain_command(ctx: Context, file: str, path: str) -> None:
    """Say which policies of FILE match the item at PATH, why, and what would be done to it.

    FILE is a policy file or a shipped pack. PATH is a local path or a path as a cloud
    scan recorded it; it must be in the inventory (run cleanup scan first).

    \b
    Example:
      cleanup policy explain staff ~/Downloads/report.pdf
      cleanup policy explain admin-archive.toml "/Shared/Finance/2019.xlsx"
    """
    import policies

    policy = policies.load(file)
    inventory = ctx.inventory()
    local = os.path.abspath(os.path.expanduser(path))
    found = list(inventory.files("path = ? OR path = ?", (local, path)))
    if not found:
        raise UsageError(
            f"{path} is not in the inventory. Scan the folder or drive that holds it first."
        )
    for record in found:
        where = "" if record.provider == "local" else f"{record.provider}:{record.account} "
        click.echo(f"{where}{shown(record.path)}")
        for line in policy.explain(record, inventory):
            click.echo(f"  {line}")


@policy_group.command("packs")
def packs_command() -> None:
    """List the policy packs shipped with cleanup; use a pack's name wherever a policy FILE goes.

    \b
    Example:
      cleanup policy packs
      cleanup plan --policy staff -o plan.json
    """
    from policies.shipped import description, names

    width = max((len(n) for n in names()), default=0)
    for name in names():
        click.echo(f"{name.ljust(width)}  {description(name)}")
