"""cleanup providers"""

from __future__ import annotations

import click

from ..providers import load_providers
from . import main


@main.command("providers")
def providers_command() -> None:
    """List the installed storage providers, and any that failed to load.

    \b
    Example:
      cleanup providers
    """
    registry = load_providers()
    for name, cls in sorted(registry.providers.items()):
        click.echo(f"{name:<12} {cls.description}")
        if cls.read_scopes:
            click.echo(f"{'':<12} reads with: {', '.join(cls.read_scopes)}")
        if cls.act_scopes:
            click.echo(f"{'':<12} acts with:  {', '.join(cls.act_scopes)}")
    for name, error in sorted(registry.failures.items()):
        click.secho(f"Warning: provider {name!r} failed to load: {error}", fg="yellow", err=True)
