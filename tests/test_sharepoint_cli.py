"""A SharePoint clean-up day through the command line: scan the tenant, see the findings,
plan, apply, undo; and a local copy of a SharePoint file is found as its duplicate."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cleanup.cli import main
from tests.emulators.graph import GraphEmulator
from tests.emulators.graph_seed import Seeded, seed_realistic
from tests.emulators.graph_settings import Waits, admin_settings, staff_settings
from tests.emulators.graph_tenant import App, content_bytes

pytest_plugins = ["tests.emulators.graph_fixtures"]

POLICY = """
name = "sharepoint-day"
description = "Archive duplicate SharePoint files, keep five versions of the rest."

[defaults]
min_age = "1d"

[[policy]]
name = "duplicates"
applies_to = "duplicates"
provider = ["sharepoint"]
keep = ["oldest"]
action = { type = "archive", to = "/Archive/Duplicates" }

[[policy]]
name = "old versions"
applies_to = "old_versions"
provider = ["sharepoint"]
action = { type = "trim_versions", keep = 5 }
"""


@pytest.fixture
def tenant(
    graph: GraphEmulator,
    admin_app: App,
    waits: Waits,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Seeded:
    seeded = seed_realistic(graph.tenant)
    # apply and undo build their providers without --set: the environment carries the settings
    for key, value in admin_settings(graph, admin_app).items():
        monkeypatch.setenv("CLEANUP_" + key.upper().replace(".", "_"), value)
    monkeypatch.setenv("CLEANUP_DB", str(tmp_path / "inventory.db"))
    return seeded


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_clean_up_day_on_sharepoint(graph: GraphEmulator, tenant: Seeded, tmp_path: Path) -> None:
    run("scan", "sharepoint:all")
    findings = json.loads(run("findings", "--format", "json"))
    groups = [g for g in findings["duplicates"] if any("sharepoint.com" in f for f in g["files"])]
    seeded_groups = {len(v) for v in tenant.duplicates.values()}
    assert groups and {len(g["files"]) for g in groups} <= seeded_groups | {
        n + 1 for n in seeded_groups
    }
    assert any("contoso-my.sharepoint.com/personal/" in f for g in groups for f in g["files"])
    binned = [f for f in findings["trash_billed"] if f["provider"] == "sharepoint"]
    in_bins = sum(e.size for s in tenant.sites for d in s.drives for e in d.bin)
    assert sum(f["storage_bytes"] for f in binned) == in_bins > 0
    versions = findings["old_versions"]
    assert versions and findings["totals"]["old_versions"]["storage_bytes"] > 0

    before = {i.id: list(i.versions) for _, i in tenant.files}
    policy = tmp_path / "sharepoint-day.toml"
    policy.write_text(POLICY)
    plan = tmp_path / "plan.json"
    run("plan", "--policy", str(policy), "-o", str(plan))
    run("apply", str(plan), "--yes")

    archived = [
        i
        for d in graph.tenant.drives.values()
        for i in d.items.values()
        if not i.deleted
        and d.items.get(i.parent_id or "") is not None
        and d.items[i.parent_id].name == "Duplicates"  # type: ignore[index]
    ]
    assert len(archived) == sum(len(g["files"]) - 1 for g in groups)
    listed = [graph.tenant.drives[f["account"]].items[f["item_id"]] for f in versions]
    trimmed = [i for i in listed if i not in archived]
    assert trimmed
    # the newest five remain: the current one and four older
    assert all(len(i.versions) == min(4, len(before[i.id])) for i in trimmed)
    assert all(i.versions == before[i.id][-4:] for i in trimmed)

    run("undo", "last")
    assert all(
        d.items[i.parent_id].name != "Duplicates"
        for d in graph.tenant.drives.values()
        for i in d.items.values()
        if i in archived
    )  # type: ignore[index]


def test_a_local_copy_of_a_sharepoint_file_is_its_duplicate(
    graph: GraphEmulator, tenant: Seeded, tmp_path: Path
) -> None:
    drive, item = next(
        (d, i) for d, i in tenant.files if d.drive_type == "documentLibrary" and i.size > 50_000
    )
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    (downloads / item.name).write_bytes(content_bytes(item.seed, item.size))
    (downloads / "other.bin").write_bytes(
        content_bytes(item.seed + 1, item.size)
    )  # same size, other bytes
    run("scan", str(downloads), f"sharepoint:drive/{drive.id}")
    findings = json.loads(run("findings", "--format", "json"))
    group = next(g for g in findings["duplicates"] if str(downloads / item.name) in g["files"])
    assert group["hash"] == f"quickxor:{item.quickxor}"
    assert any(f.endswith("/" + item.name) and "sharepoint.com" in f for f in group["files"])
    assert not any(str(downloads / "other.bin") in g["files"] for g in findings["duplicates"])


def test_staff_sign_in_once_on_the_command_line_then_scan(
    graph: GraphEmulator,
    staff_app: App,
    waits: Waits,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeded = seed_realistic(graph.tenant)
    person = seeded.users[4]
    cache = tmp_path / "config" / "cleanup" / "sharepoint-token-cache.json"
    for key, value in staff_settings(graph, staff_app, cache).items():
        monkeypatch.setenv("CLEANUP_" + key.upper().replace(".", "_"), value)
    monkeypatch.setenv("CLEANUP_DB", str(tmp_path / "inventory.db"))

    def person_at_the_browser() -> None:
        # the person opens microsoft.com/devicelogin and types the code shown
        for _ in range(500):
            with graph.tenant.lock:
                flows = list(graph.login.device_flows.values())
            if flows:
                graph.login.approve(flows[0].user_code, person)
                return
            time.sleep(0.01)

    helper = threading.Thread(target=person_at_the_browser)
    helper.start()
    shown = run("login", "sharepoint")
    helper.join()
    assert "https://microsoft.com/devicelogin" in shown and f"as {person.mail}" in shown
    assert cache.stat().st_mode & 0o777 == 0o600
    run("scan", "sharepoint:me")
    assert graph.calls["login.devicecode"] == 1
    findings = json.loads(run("findings", "--format", "json"))
    assert findings["inventory"]["files"] > 0
