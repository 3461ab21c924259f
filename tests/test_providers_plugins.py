"""Providers are plugins; a broken one is a warning, never a crash."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cleanup.cli import main
from cleanup.errors import UsageError
from cleanup.inventory import Inventory
from cleanup.providers import load_providers, parse_address


def install_plugin(site: Path, name: str, module: str, target: str, source: str) -> None:
    """A real installed distribution with a cleanup.providers entry point."""
    dist = site / f"{name}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[cleanup.providers]\n{name} = {module}:{target}\n")
    (site / f"{module}.py").write_text(source)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def test_built_in_providers_register_as_plugins() -> None:
    registry = load_providers()
    assert "local" in registry.providers
    result = CliRunner().invoke(main, ["providers"])
    assert result.exit_code == 0 and "local" in result.stdout


def test_a_broken_provider_is_a_warning_and_scanning_goes_on(site: Path, tmp_path: Path) -> None:
    install_plugin(site, "brokenbox", "brokenbox_provider", "Provider", "import does_not_exist\n")
    install_plugin(site, "notaclass", "notaclass_provider", "Provider", "Provider = 42\n")
    registry = load_providers()
    assert "ModuleNotFoundError" in registry.failures["brokenbox"]
    assert "not a cleanup Provider" in registry.failures["notaclass"]

    result = CliRunner().invoke(main, ["providers"])
    assert result.exit_code == 0
    assert "provider 'brokenbox' failed to load" in result.stderr

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/a.txt").write_text("a")
    result = CliRunner().invoke(
        main, ["--db", str(tmp_path / "inv.sqlite"), "scan", str(tmp_path / "docs")]
    )
    assert result.exit_code == 0, result.output
    assert "Scanned" in result.stdout  # a broken plugin troubles only who uses it

    result = CliRunner().invoke(
        main, ["--db", str(tmp_path / "inv.sqlite"), "scan", "brokenbox:anything"]
    )
    assert result.exit_code == 1 and "failed to load" in result.stderr


def test_a_third_party_provider_scans_through_the_same_interface(
    site: Path, tmp_path: Path
) -> None:
    install_plugin(
        site,
        "memorybox",
        "memorybox_provider",
        "MemoryBox",
        "from cleanup.providers import Provider\n"
        "from cleanup.records import FileRecord\n"
        "class MemoryBox(Provider):\n"
        "    name = 'memorybox'\n"
        "    description = 'Files kept in memory'\n"
        "    def scan(self, target, sink):\n"
        "        sink.start_unit('acct', '', incremental=False)\n"
        "        for i in range(3):\n"
        "            sink.add(FileRecord('memorybox', 'acct', f'id{i}', f'/{target}/f{i}', f'f{i}',\n"
        "                     size=10, storage_bytes=10, hashes={'md5': 'same'}, fingerprint='x'))\n"
        "        sink.finish_unit('acct', '', complete=True)\n",
    )
    db = str(tmp_path / "inv.sqlite")
    result = CliRunner().invoke(main, ["--db", db, "scan", "memorybox:box"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["--db", db, "findings"])
    assert "3 copies of 10 Bytes" in result.stdout


def test_addresses() -> None:
    known = {"local": 1, "gdrive": 1, "sharepoint": 1}
    assert parse_address("gdrive:me", known).provider == "gdrive"
    assert parse_address("sharepoint:contoso/sites/HR", known).target == "contoso/sites/HR"
    assert parse_address("/mnt/share", known).provider == "local"
    assert parse_address(r"C:\Users\me", known).provider == "local"
    assert parse_address("notes:2024", known) == parse_address("notes:2024", known)
    assert parse_address("notes:2024", known).provider == "local"
    with pytest.raises(UsageError):
        parse_address("", known)


def test_sys_path_is_restored() -> None:
    assert not any(p.endswith("/site") for p in sys.path)


def test_settings_reach_providers_from_the_global_option_and_the_command(
    site: Path, tmp_path: Path
) -> None:
    install_plugin(
        site,
        "echobox",
        "echobox_provider",
        "EchoBox",
        "from cleanup.providers import Provider\n"
        "from cleanup.records import FileRecord\n"
        "class EchoBox(Provider):\n"
        "    name = 'echobox'\n"
        "    def scan(self, target, sink):\n"
        "        sink.start_unit('acct', '', incremental=False)\n"
        "        for key, value in sorted(self.options.settings.items()):\n"
        "            sink.add(FileRecord('echobox', 'acct', key, f'/{key}={value}', key, size=1))\n"
        "        sink.finish_unit('acct', '', complete=True)\n",
    )
    db = str(tmp_path / "inv.sqlite")
    args = ["--db", db, "--set", "echobox.colour=blue", "--set", "echobox.size=s"]
    result = CliRunner().invoke(main, [*args, "scan", "echobox:x", "--set", "echobox.size=xl"])
    assert result.exit_code == 0, result.output
    paths = {f.path for f in Inventory(db).files("provider = 'echobox'")}
    assert paths == {"/echobox.colour=blue", "/echobox.size=xl"}

    result = CliRunner().invoke(main, ["--set", "no-equals-sign", "providers"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output
