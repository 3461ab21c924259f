"""What every command shares: the inventory, output formats, progress bars."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

# Imported where used, so that `cleanup --version` and `--help` do not pay for them.
if TYPE_CHECKING:
    from ..inventory import Inventory
    from ..providers import ProviderOptions

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class Context:
    """Global options, and the inventory opened on first use."""

    db_path: str | None = None
    quiet: bool = False
    settings: dict[str, str] = field(default_factory=dict)  # --set provider.KEY=VALUE
    _inventory: Inventory | None = field(default=None, repr=False)

    def inventory(self) -> Inventory:
        if self._inventory is None:
            from ..inventory import Inventory

            self._inventory = Inventory(self.db_path)
        return self._inventory

    def provider_options(self, **kwargs: Any) -> ProviderOptions:
        """Options for providers, carrying the global --set settings (a command's own win)."""
        from ..providers import ProviderOptions

        settings = {**self.settings, **kwargs.pop("settings", {})}
        return ProviderOptions(settings=settings, **kwargs)

    @property
    def interactive(self) -> bool:
        """Progress bars only for a person watching a terminal."""
        return not self.quiet and sys.stderr.isatty()


pass_context = click.make_pass_decorator(Context)


def parse_settings(pairs: tuple[str, ...]) -> dict[str, str]:
    """--set KEY=VALUE pairs as a dict."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--set")
        out[key.strip()] = value
    return out


def tally_options(command: Any) -> Any:
    """The options `tally` and `report` share: footprint factors, teams, backups."""
    for option in reversed(
        (
            click.option(
                "--factors",
                type=click.Path(dir_okay=False),
                help="TOML file overriding footprint parameters.",
            ),
            click.option(
                "--teams",
                type=click.Path(dir_okay=False),
                help="owner,team CSV (or TOML [teams]) for a team breakdown.",
            ),
            click.option(
                "--backup-retention",
                metavar="AGE",
                help="Opt-in: count one backup copy of each freed item, freed this long after it "
                "(30d, 1y).",
            ),
        )
    ):
        command = option(command)
    return command


def size(n: int | None) -> str:
    """A byte count for people: 1.2 GB."""
    import humanize  # 1-2 ms to import, not needed by --version or scan -q

    return humanize.naturalsize(n or 0)


def when(ts: float | None) -> str:
    """A date for people: '3 years ago'."""
    if ts is None:
        return "-"
    import datetime as dt

    import humanize

    return humanize.naturaltime(dt.datetime.now() - dt.datetime.fromtimestamp(ts))


def agreed(question: str) -> bool:
    """Ask a yes/no question (no by default). Input that ends unanswered, as from a script
    with no terminal, is a usage error that names --yes, not a bare 'Aborted!'."""
    from ..errors import UsageError

    try:
        return click.confirm(question, default=False)
    except click.Abort:
        if sys.stdin.isatty():
            raise  # Ctrl-C or Ctrl-D at the question: the person stopped it
        raise UsageError(
            f"{question} got no answer (the input ended): nothing was done. "
            "Add --yes to go ahead without the question."
        ) from None


def counted(n: int, noun: str) -> str:
    """'1 item', '2,000 items'."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def shown(path: str) -> str:
    """A path that is safe to print: undecodable bytes and control characters escaped."""
    text = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if any(c < " " or c == "\x7f" for c in text):
        text = text.encode("unicode_escape").decode("ascii").replace("\\\\", "\\")
    return text


def table(rows: list[list[Any]], headers: list[str]) -> str:
    """A plain text table, columns padded, right-aligned numbers."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
