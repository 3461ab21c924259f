"""After a clean-up day, the sustainability lead counts what was really freed and what is still in bins."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cleanup.cli import main
from cleanup.footprint import estimate, load_parameters
from cleanup.inventory import Inventory
from cleanup.journal import Journal, runs_dir
from cleanup.records import FileRecord, Quota
from cleanup.tally import (
    item_identity,
    plan_potential_sentence,
    potential_of_findings,
    potential_of_items,
    select_runs,
    tally,
)

DAY = 86400.0
GB = 10**9
NOW = time.time()


@dataclass
class Act:
    """One action as the apply journal records it."""

    provider: str
    account: str
    name: str
    action: str
    storage_bytes: int
    days_ago: float = 10.0
    outcome: dict[str, Any] = field(default_factory=dict)
    then: list[tuple[str, float, dict[str, Any]]] = field(
        default_factory=list
    )  # (event, days ago, outcome)
    owner: str | None = None
    mime: str | None = None

    @property
    def location(self) -> str:
        return {"sharepoint": "microsoft", "gdrive": "google"}.get(self.provider, "local")

    @property
    def item_id(self) -> str:
        return f"/home/ana/{self.name}" if self.provider == "local" else f"id-{self.name}"


def seed_inventory(db: Path, acts: list[Act]) -> Inventory:
    """The inventory as the scan before the clean-up saw it, with the drives' quotas."""
    inv = Inventory(db)
    scan_id = inv.begin_scan(["test"])
    inv.upsert(
        [
            FileRecord(
                a.provider,
                a.account,
                a.item_id,
                f"/{a.account}/{a.name}" if a.provider != "local" else a.item_id,
                a.name,
                size=a.storage_bytes,
                storage_bytes=a.storage_bytes,
                owner=a.owner,
                mime=a.mime,
            )
            for a in acts
        ],
        scan_id,
    )
    inv.record_quota(
        scan_id, Quota("sharepoint", "contoso/sites/HR", 1000 * GB, 900 * GB, 0, {"region": "FR"})
    )
    inv.record_quota(scan_id, Quota("gdrive", "ana@org.example", 200 * GB, 150 * GB))
    return inv


def write_run(inv: Inventory, acts: list[Act]) -> str:
    """A journal exactly as apply writes it: intent, done, then any undo or purge."""
    with Journal.create(runs_dir(inv.path), "plan-hash", "plan.json") as j:
        for n, a in enumerate(acts):
            item = {
                "provider": a.provider,
                "account": a.account,
                "item_id": a.item_id,
                "path": f"/{a.account}/{a.name}" if a.provider != "local" else a.item_id,
                "storage_bytes": a.storage_bytes,
                "size": a.storage_bytes,
                "owner": a.owner,
                "kind": "file",
                "location": a.location,
                "fingerprint": "f",
            }
            t = NOW - a.days_ago * DAY
            j.write("intent", t=t, entry=n, action=a.action, item=item)
            j.write("done", t=t + 1, entry=n, action=a.action, item=item, outcome=a.outcome)
            for event, days_ago, outcome in a.then:
                fields = {"outcome": outcome} if outcome else {}
                j.write(event, t=NOW - days_ago * DAY, entry=n, item=item, **fields)
        j.write("end", status="complete")
        return j.run_id


def clean_up_day() -> list[Act]:
    hr, ana = "contoso/sites/HR", "ana@org.example"
    return [
        Act(
            "sharepoint",
            hr,
            "old-backup.zip",
            "delete",
            400 * GB,
            outcome={"freed_bytes": 400 * GB},
            owner="Ana@org.example",
        ),
        Act(
            "sharepoint",
            hr,
            "video.mp4",
            "trash",
            100 * GB,
            outcome={"pending_bytes": 100 * GB},
            owner="bob@org.example",
            mime="video/mp4",
        ),
        Act(
            "sharepoint",
            hr,
            "old-trash.iso",
            "trash",
            50 * GB,
            days_ago=120,
            outcome={"pending_bytes": 50 * GB},
        ),
        Act(
            "sharepoint",
            hr,
            "purged.pst",
            "trash",
            30 * GB,
            days_ago=20,
            outcome={"pending_bytes": 30 * GB},
            then=[
                ("purge-intent", 5, {}),
                ("purged", 5, {"freed_bytes": 30 * GB, "pending_bytes": 0}),
            ],
        ),
        Act(
            "sharepoint",
            hr,
            "undone.docx",
            "trash",
            70 * GB,
            outcome={"pending_bytes": 70 * GB},
            then=[("undo-intent", 9, {}), ("undone", 9, {})],
        ),
        Act(
            "sharepoint",
            hr,
            "archived.pdf",
            "archive",
            20 * GB,
            outcome={"archived_bytes": 20 * GB},
        ),
        Act(
            "sharepoint",
            hr,
            "report.docx",
            "trim_versions",
            5 * GB,
            outcome={"freed_bytes": 5 * GB},
        ),
        Act(
            "gdrive",
            ana,
            "photos.zip",
            "trash",
            30 * GB,
            outcome={"pending_bytes": 30 * GB, "pending_until": NOW + 20 * DAY},
            owner="ana@org.example",
        ),
        Act(
            "local",
            "laptop",
            "movie.mkv",
            "delete",
            200 * GB,
            outcome={"freed_bytes": 200 * GB},
            owner="ana",
        ),
    ]


@pytest.fixture
def day(tmp_path: Path) -> tuple[Inventory, list[Act], str]:
    acts = clean_up_day()
    inv = seed_inventory(tmp_path / "inv.sqlite", acts)
    run = write_run(inv, acts)
    return inv, acts, run


def test_bytes_by_state_freed_pending_archived_and_undone_counting_nothing(
    day: tuple[Inventory, list[Act], str],
) -> None:
    inv, _, _ = day
    t = tally(inv, select_runs(inv), load_parameters(), now=NOW)
    by_name = {i.name: i for i in t.items}

    assert "undone.docx" not in by_name  # undone counts nothing
    totals = t.totals()
    # deleted 400 + retention passed 50 + purged 30 + versions 5 on SharePoint, 200 local
    assert totals.freed == 685 * GB
    assert totals.versions == 5 * GB
    assert totals.pending == 130 * GB
    assert totals.archived == 20 * GB
    assert by_name["old-trash.iso"].lag_days == pytest.approx(93, abs=0.01)
    assert by_name["purged.pst"].lag_days == pytest.approx(15, abs=0.01)
    assert by_name["video.mp4"].kind == "video"
    assert by_name["old-backup.zip"].region == "FR"  # from the site's quota
    assert by_name["photos.zip"].region == "EU"  # region unknown


def test_bytes_still_in_a_bin_are_pending_with_the_date_the_bin_frees_them(
    day: tuple[Inventory, list[Act], str],
) -> None:
    inv, _, _ = day
    t = tally(inv, select_runs(inv), load_parameters(), now=NOW)
    by_name = {i.name: i for i in t.items}
    video = by_name["video.mp4"]
    assert video.pending_bytes == 100 * GB and video.freed_bytes == 0
    # Trashed ten days ago into a SharePoint recycle bin: freed 93 days after the action.
    assert video.pending_until == pytest.approx(video.done + 93 * DAY)
    assert by_name["photos.zip"].pending_until == pytest.approx(
        NOW + 20 * DAY
    )  # as the provider said
    # A year later the same journal counts both as freed.
    later = tally(inv, select_runs(inv), load_parameters(), now=NOW + 365 * DAY)
    assert later.totals().pending == 0 and later.totals().freed == 815 * GB


def test_local_deletions_count_zero_kwh(day: tuple[Inventory, list[Act], str]) -> None:
    inv, _, _ = day
    params = load_parameters()
    t = tally(inv, select_runs(inv), params, now=NOW)
    local = t.by(lambda i: i.location)["local"]
    assert local.freed == 200 * GB
    assert local.per_year.kwh.as_list() == [0, 0, 0] and local.per_year.co2.as_list() == [0, 0, 0]
    # The whole footprint is the SharePoint France bytes freed, valued as FOOTPRINT.md says.
    expected = estimate(485 * GB, "microsoft", params, "FR")
    assert t.per_year().co2.central == pytest.approx(expected.co2.central)
    assert t.first_year().co2.central < t.per_year().co2.central


def test_a_later_run_and_teams_and_run_selection(
    day: tuple[Inventory, list[Act], str], tmp_path: Path
) -> None:
    inv, _, first = day
    second = write_run(
        inv,
        [
            Act(
                "gdrive",
                "ana@org.example",
                "photos.zip",
                "delete",
                30 * GB,
                1,
                {"freed_bytes": 30 * GB},
                owner="Ana@org.example",
            )
        ],
    )
    teams = {"ana@org.example": "Finance"}
    t = tally(inv, select_runs(inv), load_parameters(), teams, now=NOW)
    photos = next(i for i in t.items if i.name == "photos.zip")
    assert photos.freed_bytes == 30 * GB and photos.pending_bytes == 0 and photos.run == second
    assert photos.team == "Finance"
    assert photos.id == item_identity("gdrive", "ana@org.example", "id-photos.zip")
    only_first = tally(inv, select_runs(inv, [first]), load_parameters(), now=NOW)
    assert only_first.runs == [first]


def test_tally_command_prints_states_dates_and_ranges(
    day: tuple[Inventory, list[Act], str],
) -> None:
    inv, acts, _ = day
    result = CliRunner().invoke(main, ["--db", str(inv.path), "tally"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Estimated storage footprint no longer attributed to this data: about" in out
    assert "saved" not in out
    assert "no measurable energy saving; the benefit is longer equipment life" in out
    video_done = NOW - 10 * DAY + 1
    assert time.strftime("%Y-%m-%d", time.gmtime(video_done + 93 * DAY)) in out
    assert "685.0 GB" in out and "130.0 GB" in out and "20.0 GB" in out

    as_json = CliRunner().invoke(
        main, ["--db", str(inv.path), "tally", "--json"], catch_exceptions=False
    )
    report = json.loads(as_json.output)
    assert report["totals"]["freed_bytes"] == 685 * GB


def test_an_unknown_run_is_a_clear_error(day: tuple[Inventory, list[Act], str]) -> None:
    inv, _, _ = day
    result = CliRunner().invoke(main, ["--db", str(inv.path), "tally", "nope"])
    assert result.exit_code == 1
    assert "No run 'nope'" in result.output


def test_potential_values_findings_and_plan_items_with_the_same_model(tmp_path: Path) -> None:
    from cleanup.findings import find

    acts = [
        Act("sharepoint", "contoso/sites/HR", "big.iso", "delete", 2000 * GB),
        Act("local", "laptop", "big.iso", "delete", 2000 * GB),
    ]
    inv = seed_inventory(tmp_path / "inv.sqlite", acts)
    params = load_parameters()
    found = find(inv)
    p = potential_of_findings(found, inv, params)
    assert p.by_location == {"microsoft": 2000 * GB, "local": 2000 * GB}  # oversized, each once
    assert p.per_year.co2.central == pytest.approx(
        estimate(2000 * GB, "microsoft", params, "FR").co2.central
    )
    items = [
        {
            "provider": "sharepoint",
            "account": "contoso/sites/HR",
            "item_id": "id-big.iso",
            "storage_bytes": 2000 * GB,
        }
    ] * 2
    assert potential_of_items(items, inv, params).storage_bytes == 2000 * GB
    entries = [
        {**items[0], "action": "archive"},
        {**items[0], "item_id": "other", "action": "trash"},
    ]
    assert (
        potential_of_items(entries, inv, params).storage_bytes == 2000 * GB
    )  # archiving frees nothing
    assert "about 51 kgCO2e per year (range 2.1–354)" in plan_potential_sentence(entries, inv)


def test_scan_summary_says_what_cleaning_up_would_be_worth(tmp_path: Path) -> None:
    tree = tmp_path / "Documents"
    tree.mkdir()
    for name in ("a.bin", "copy of a.bin"):
        (tree / name).write_bytes(b"x" * 300_000)
    result = CliRunner().invoke(
        main, ["--db", str(tmp_path / "inv.sqlite"), "scan", str(tree)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert (
        "If all of this is cleaned up: it is all on local disks, so no measurable energy saving"
        in result.output
    )


def test_a_purge_frees_what_went_to_the_bin_even_when_the_provider_reports_nothing(
    tmp_path: Path,
) -> None:
    act = Act(
        "gdrive",
        "ana@org.example",
        "purged.zip",
        "trash",
        8 * GB,
        days_ago=12,
        outcome={"pending_bytes": 8 * GB},
        then=[("purge-intent", 2, {}), ("purged", 2, {"freed_bytes": 0, "pending_bytes": 0})],
    )
    inv = seed_inventory(tmp_path / "inv.sqlite", [act])
    write_run(inv, [act])
    [item] = tally(inv, select_runs(inv), load_parameters(), now=NOW).items
    assert (item.freed_bytes, item.pending_bytes) == (8 * GB, 0)
    assert item.lag_days == pytest.approx(10, abs=0.01)


def test_potential_counts_a_stale_file_with_old_versions_once(tmp_path: Path) -> None:
    from cleanup.findings import find

    MB = 10**6  # below the oversized threshold

    inv = Inventory(tmp_path / "inv.sqlite")
    scan_id = inv.begin_scan(["test"])
    old = NOW - 5 * 365 * DAY
    inv.upsert(
        [
            FileRecord(
                "sharepoint",
                "site",
                "id-plan.docx",
                "/site/plan.docx",
                "plan.docx",
                size=MB,
                storage_bytes=3 * MB,  # the file and two old versions
                version_bytes=2 * MB,
                modified=old,
            ),
            FileRecord(
                "sharepoint",
                "site",
                "id-new.docx",
                "/site/new.docx",
                "new.docx",
                size=MB,
                storage_bytes=2 * MB,
                version_bytes=MB,
                modified=NOW,
            ),
        ],
        scan_id,
    )
    found = find(inv)
    assert len(found.stale) == 1 and len(found.old_versions) == 2
    p = potential_of_findings(found, inv, load_parameters())
    assert p.storage_bytes == 3 * MB + MB  # the stale file whole, the other one's versions
