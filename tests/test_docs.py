"""The README and --help texts are part of the product: every command is documented and has an example."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cleanup.cli import main

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        if cmd.hidden:
            continue
        full = f"{prefix}{name}"
        out.append((full, cmd))
        if isinstance(cmd, click.Group):
            out += commands(cmd, full + " ")
    return out


ALL = commands(main)


@pytest.mark.parametrize("name,cmd", ALL, ids=[n for n, _ in ALL])
def test_every_command_has_help_with_an_example(name: str, cmd: click.Command) -> None:
    result = CliRunner().invoke(main, [*name.split(), "--help"])
    assert result.exit_code == 0
    assert cmd.help and len(cmd.help.strip()) > 20, f"`cleanup {name}` needs a help text"
    if not isinstance(cmd, click.Group) or cmd.invoke_without_command:
        assert "Example" in result.output, f"`cleanup {name} --help` needs an Example"


@pytest.mark.parametrize("name,cmd", ALL, ids=[n for n, _ in ALL])
def test_every_command_is_in_the_readme(name: str, cmd: click.Command) -> None:
    assert f"cleanup {name}" in README, f"README does not mention `cleanup {name}`"


def test_every_option_in_the_readme_exists() -> None:
    """Options the README shows for a command are real options of that command."""
    known = dict(ALL)
    for line in re.findall(r"^\s*(cleanup [^\n#]+)", README, flags=re.MULTILINE):
        try:
            words = shlex.split(line)[1:]
        except ValueError:
            continue
        path: list[str] = []
        cmd: click.Command = main
        for w in words:
            if isinstance(cmd, click.Group) and " ".join([*path, w]) in known:
                path.append(w)
                cmd = known[" ".join(path)]
        if not path:
            continue
        names = {
            o for p in cmd.params for o in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])
        }
        names |= {o for p in main.params for o in getattr(p, "opts", [])}
        for w in words:
            if w.startswith("--"):
                assert w.split("=")[0] in names | {"--help"}, (
                    f"README: {line!r} uses unknown option {w}"
                )


def test_readme_opens_with_the_two_commands() -> None:
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", README, flags=re.DOTALL)
    assert "cleanup scan" in blocks[0]
    assert "pytest" in blocks[1]
    ci = (ROOT / ".ci/run").read_text()
    assert blocks[1].strip().splitlines()[-1].strip() in ci, (
        ".ci/run must run the README's test command"
    )
