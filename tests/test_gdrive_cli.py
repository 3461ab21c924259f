"""A Google Drive clean-up day through the command line, against the Drive emulator:
scan, findings, plan, apply (trash), undo."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cleanup.cli import main
from tests.emulators.gdrive import running_emulator
from tests.emulators.gdrive_fixtures import staff_settings

POLICY = """
name = "drive-day"
description = "Trash exact duplicates in Google Drive, keeping the oldest copy."

[defaults]
min_age = "1d"

[[policy]]
name = "duplicates"
applies_to = "duplicates"
provider = ["gdrive"]
keep = ["oldest"]
action = "trash"
"""


@pytest.fixture
def drive(tmp_path, monkeypatch):
    with running_emulator(seed=6) as emulator:
        ids = emulator.seed_realistic()
        # apply and undo build their providers without --set: the environment carries the settings
        for key, value in staff_settings(emulator, tmp_path, ids.alice, act=True).items():
            monkeypatch.setenv("CLEANUP_" + key.upper().replace(".", "_"), value)
        monkeypatch.setenv("CLEANUP_DB", str(tmp_path / "inventory.sqlite"))
        yield emulator, ids


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_clean_up_day_on_google_drive(drive, tmp_path):
    emulator, ids = drive
    run("scan", "gdrive:me")
    findings = json.loads(run("findings", "--format", "json"))
    groups = [sorted(g["files"]) for g in findings["duplicates"]]
    assert any(any(f.endswith("Q3 report (1).pdf") for f in g) for g in groups)
    assert findings["trash_billed"] and findings["old_versions"]

    policy = tmp_path / "drive-day.toml"
    policy.write_text(POLICY)
    plan = tmp_path / "plan.json"
    run("plan", "--policy", str(policy), "-o", str(plan))
    planned = json.loads(plan.read_text())
    text = json.dumps(planned)
    assert ids.report_copy in text and ids.logo_copy in text
    assert ids.shared_in not in text and ids.shortcut not in text  # never proposed

    emulator.calls.clear()
    run("apply", str(plan), "--yes")
    assert emulator.is_trashed(ids.report_copy) and emulator.is_trashed(ids.logo_copy)
    assert not emulator.is_trashed(ids.report) and not emulator.is_trashed(ids.logo)
    assert emulator.calls["files.get"] >= 2  # each item re-checked before acting

    run("undo", "last")
    assert not emulator.is_trashed(ids.report_copy) and not emulator.is_trashed(ids.logo_copy)


def test_an_item_changed_after_planning_is_skipped_at_apply(drive, tmp_path):
    emulator, ids = drive
    run("scan", "gdrive:me")
    policy = tmp_path / "drive-day.toml"
    policy.write_text(POLICY)
    plan = tmp_path / "plan.json"
    run("plan", "--policy", str(policy), "-o", str(plan))
    emulator.edit_file(ids.report_copy, b"edited after the plan was made")

    result = CliRunner().invoke(main, ["apply", str(plan), "--yes"], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert not emulator.is_trashed(ids.report_copy)
    assert emulator.is_trashed(ids.logo_copy)
    assert "1 done, 1 skipped" in result.output
    assert "Q3 report (1).pdf: stale: changed since the plan was made" in result.output
