"""The command line: a thin layer over the cleanup library, one module per verb."""

from __future__ import annotations

import importlib
import sys

import click

from .. import __version__
from ..errors import CleanupError
from .common import CONTEXT_SETTINGS, Context, parse_settings

# Each module adds its commands to `main` when imported.
COMMAND_MODULES = (
    "scan",
    "findings",
    "providers",
    "login",
    "plan",
    "review",
    "apply",
    "undo",
    "tally",
    "report",
    "policy",
)


class CleanupGroup(click.Group):
    """Turns library errors into clear messages and documented exit codes."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except CleanupError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=CleanupGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="cleanup")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    envvar="CLEANUP_DB",
    help="Inventory database (default: the per-user data directory; env CLEANUP_DB).",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress bars or summaries, only results and errors."
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Provider setting for any command, e.g. --set sharepoint.tenant=contoso.onmicrosoft.com "
    "(each also reads CLEANUP_<PROVIDER>_<KEY> from the environment).",
)
@click.pass_context
def main(ctx: click.Context, db_path: str | None, quiet: bool, settings: tuple[str, ...]) -> None:
    """Find the waste in your folders and cloud drives, remove it safely, report what it was worth.

    \b
    Typical clean-up day:
      cleanup scan ~/Documents gdrive:me        list what you have
      cleanup findings                          duplicates, stale, oversized, junk
      cleanup plan --policy staff -o plan.json  propose what to remove (changes nothing)
      cleanup apply plan.json                   do it: to the trash, with a journal
      cleanup undo RUN                          put it all back

    \b
    Exit codes: 0 done; 1 error; 2 bad usage or input; 3 plan refused
    (expired, tampered, stale or over its limits); 130 interrupted.
    """
    ctx.obj = Context(db_path=db_path, quiet=quiet, settings=parse_settings(settings))


for _name in COMMAND_MODULES:
    importlib.import_module(f"{__name__}.{_name}")


def run() -> None:
    """Console entry point."""
    sys.exit(main())
