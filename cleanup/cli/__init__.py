"""The command line: a thin layer over the cleanup library, one module per verb."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Mapping, MutableMapping

import click

from ..errors import CleanupError
from .common import CONTEXT_SETTINGS, Context, parse_settings

# Command name -> the module of cleanup.cli that defines it (and adds it to `main` when
# imported). A module is imported only when its command runs, or for --help: importing all
# of them would add ~20 ms to every command (~45 ms when Python cannot cache bytecode).
COMMAND_MODULES = {
    "scan": "scan",
    "findings": "findings",
    "providers": "providers",
    "login": "login",
    "plan": "plan",
    "review": "review",
    "apply": "apply",
    "undo": "undo",
    "purge": "undo",
    "runs": "undo",
    "tally": "tally",
    "report": "report",
    "policy": "policy",
}


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's commands by name: all names known up front, each module imported on lookup."""

    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = dict(modules)
        self._commands: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._commands and name in self._modules:
            # The module adds its commands to `main`, which stores them through __setitem__.
            importlib.import_module(f"{__name__}.{self._modules[name]}")
        return self._commands[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._commands[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._modules.pop(name, None)
        self._commands.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._modules or name in self._commands

    def __iter__(self) -> Iterator[str]:
        return iter({**self._modules, **self._commands})

    def __len__(self) -> int:
        return len({**self._modules, **self._commands})


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """--version, reading the version only when asked (see cleanup.__getattr__)."""
    if not value or ctx.resilient_parsing:
        return
    from .. import __version__

    click.echo(f"cleanup, version {__version__}", color=ctx.color)
    ctx.exit()


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


@click.group(
    cls=CleanupGroup, commands=LazyCommands(COMMAND_MODULES), context_settings=CONTEXT_SETTINGS
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
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


def run() -> None:
    """Console entry point."""
    sys.exit(main())
