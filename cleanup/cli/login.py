"""cleanup login"""

from __future__ import annotations

import click

from ..providers import load_providers
from . import main
from .common import Context, parse_settings, pass_context


@main.command("login")
@click.argument("provider")
@click.option(
    "--as", "as_user", metavar="USER", help="Admin: the user to act as (Drive delegation)."
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Provider setting, e.g. --set gdrive.client_secrets=client.json or --set sharepoint.tenant=contoso.",
)
@pass_context
def login_command(
    ctx: Context, provider: str, as_user: str | None, settings: tuple[str, ...]
) -> None:
    """Sign in to a cloud provider and keep the credentials for later scans.

    Staff sign in once; the token is stored in your config directory, readable only by
    you, and refreshed silently. Scanning asks only for read access.

    \b
    Example:
      cleanup login gdrive
      cleanup login sharepoint --set sharepoint.tenant=contoso.onmicrosoft.com
    """
    cls = load_providers().get(provider)
    options = ctx.provider_options(as_user=as_user, settings=parse_settings(settings))
    who = cls.login(options, say=click.echo)
    click.echo(f"Signed in to {provider} as {who}.")
