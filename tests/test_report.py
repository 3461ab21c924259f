"""The sustainability lead writes the report for the audit, and merges the sites' reports into one."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cleanup.cli import main
from cleanup.footprint import estimate, load_parameters
from cleanup.inventory import Inventory
from cleanup.report_html import bar_chart
from tests.test_tally import GB, Act, clean_up_day, seed_inventory, write_run

SCRIPT_NAME = "<script>alert(1)</script>.txt"


def cli(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--db", str(db), *args])
    return result.exit_code, result.output


@pytest.fixture
def site(tmp_path: Path) -> Inventory:
    acts = [
        *clean_up_day(),
        Act(
            "sharepoint",
            "contoso/sites/HR",
            SCRIPT_NAME,
            "delete",
            1 * GB,
            outcome={"freed_bytes": GB},
        ),
    ]
    inv = seed_inventory(tmp_path / "inv.sqlite", acts)
    write_run(inv, acts)
    return inv


def report_json(db: Path, *args: str) -> dict[str, Any]:
    code, out = cli(db, "report", "--format", "json", *args)
    assert code == 0, out
    return json.loads(out)


def test_json_report_is_aggregated_and_private_by_default(site: Inventory) -> None:
    r = report_json(site.path)
    assert r["format"] == "cleanup.report/1"
    assert r["totals"]["freed_bytes"] == 686 * GB and r["totals"]["pending_bytes"] == 130 * GB
    text = json.dumps(r)
    for private in (
        "old-backup",
        "video.mp4",
        "alert(1)",
        "ana@org.example",
        "bob@",
        "contoso/sites/HR",
        "/home/ana",
    ):
        assert private not in text, private
    owners = {i["owner"] for i in r["items"] if i["owner"]}
    assert owners and all(o.startswith("p-") for o in owners)
    # The same owner, however written, is the same pseudonym, and stays so in the next report.
    again = report_json(site.path)
    assert {i["owner"] for i in again["items"] if i["owner"]} == owners
    assert (
        len({i["owner"] for i in r["items"] if i["owner"]}) == 3
    )  # ana@ (any case), bob@, local ana
    assert set(r["parameters"]) >= {"ef.FR", "ef.EU", "pue.microsoft", "life"}
    assert r["parameters"]["ef.FR"]["edition"] == "2025 / 2024 / 2023"


def test_detailed_report_names_files(site: Inventory) -> None:
    r = report_json(site.path, "--detailed")
    names = {i["name"] for i in r["items"]}
    assert SCRIPT_NAME in names and "old-backup.zip" in names
    assert r["biggest_wins"][0]["name"] == "old-backup.zip"


def test_footprint_counts_freed_cloud_bytes_only_and_local_as_zero(site: Inventory) -> None:
    r = report_json(site.path)
    params = load_parameters()
    expected = estimate(486 * GB, "microsoft", params, "FR").co2
    assert r["footprint"]["per_year"]["co2_kg"] == pytest.approx(expected.as_list(), rel=1e-5)
    local = next(g for g in r["by_location"] if g["name"] == "local")
    assert local["freed_bytes"] == 200 * GB and local["kwh"] == [0, 0, 0]
    pending = {p["provider"]: p for p in r["pending"]}
    assert pending["sharepoint"]["bytes"] == 100 * GB


def test_teams_breakdown_uses_team_names_and_pseudonyms_for_the_rest(
    site: Inventory, tmp_path: Path
) -> None:
    teams = tmp_path / "teams.csv"
    teams.write_text("owner,team\nana@org.example,Finance\n", encoding="utf-8")
    r = report_json(site.path, "--teams", str(teams))
    by_team = {g["name"]: g for g in r["by_team"]}
    assert by_team["Finance"]["freed_bytes"] == 400 * GB  # Ana@org.example's deletion
    assert by_team["Finance"]["pending_bytes"] == 30 * GB
    assert all(name in ("Finance", "unknown") or name.startswith("p-") for name in by_team)


def test_quota_before_and_after_per_drive(site: Inventory) -> None:
    r = report_json(site.path)
    [sharepoint] = [q for q in r["quotas"] if q["provider"] == "sharepoint"]
    # The quota was read after the clean-up: before adds back what was freed since.
    assert sharepoint["after"] == 900 * GB
    assert sharepoint["before"] == (900 + 486) * GB
    assert sharepoint["account"].startswith("a-")


def test_markdown_csv_and_text_say_the_same_in_footprint_wording(
    site: Inventory, tmp_path: Path
) -> None:
    code, _ = cli(site.path, "report", "-o", str(tmp_path / "r.md"))
    assert code == 0
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "Estimated storage footprint no longer attributed to this data: about" in md
    assert "saved" not in md.lower()
    assert "ADEME Base Empreinte" in md and "2025 / 2024 / 2023" in md
    assert "storage at rest only" in md

    code, out = cli(site.path, "report", "--format", "csv", "--detailed")
    rows = list(csv.DictReader(io.StringIO(out)))
    total = next(r for r in rows if r["section"] == "total")
    assert int(total["freed_bytes"]) == 686 * GB
    script_row = next(r for r in rows if r["section"] == "item" and "alert" in r["name"])
    assert script_row["name"] == SCRIPT_NAME

    code, out = cli(site.path, "report", "--lang", "fr")
    assert "Empreinte de stockage estimée qui n'est plus attribuée à ces données : environ" in out
    assert "686,0 Go" in out


def test_a_name_that_is_not_utf8_is_reported_with_escapes(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9.txt")
    acts = [Act("local", "laptop", name, "delete", GB, outcome={"freed_bytes": GB})]
    inv = seed_inventory(tmp_path / "inv.sqlite", acts)
    write_run(inv, acts)
    for fmt in ("json", "html", "markdown", "csv", "text"):
        code, out = cli(
            inv.path, "report", "--detailed", "--format", fmt, "-o", str(tmp_path / f"r.{fmt}")
        )
        assert code == 0, out
    assert report_json(inv.path, "--detailed")["items"][0]["name"] == "caf\\xe9.txt"


def test_markdown_escapes_names(site: Inventory) -> None:
    code, out = cli(site.path, "report", "--format", "markdown", "--detailed")
    assert code == 0
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;.txt" in out


def test_html_report_is_self_contained_and_escapes_names(site: Inventory, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    code, _ = cli(site.path, "report", "--detailed", "-o", str(out))
    assert code == 0
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html  # no script at all, and the file called <script> is text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.txt" in html
    assert (
        "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    )
    assert html.count("<svg") == 2 and 'role="img"' in html


def test_charts_use_the_unit_that_suits_what_was_freed() -> None:
    """A staff member's few megabytes are not drawn as 0.00 GB."""
    small = [{"name": "local", "freed_bytes": 602_100}, {"name": "gdrive", "freed_bytes": 4_000}]
    svg = bar_chart(small, "en", "chart_by_provider", "c", False)
    assert "602.10 kB" in svg and "4.00 kB" in svg and "kilobytes freed by provider" in svg
    big = [{"name": "sharepoint", "freed_bytes": 250 * GB}]
    assert "250.00 GB" in bar_chart(big, "en", "chart_by_provider", "c", False)
    assert "gigaoctets" in bar_chart(big, "fr", "chart_by_provider", "c", False)
    assert "12 B" in bar_chart(
        [{"name": "x", "freed_bytes": 12}], "en", "chart_by_kind", "c", False
    )


def three_sites(tmp_path: Path) -> list[Path]:
    """Three staff reports: a shared SharePoint file appears in all three, one item in two."""
    shared = Act(
        "sharepoint",
        "contoso/sites/HR",
        "shared.iso",
        "delete",
        100 * GB,
        outcome={"freed_bytes": 100 * GB},
    )
    lyon = Act(
        "gdrive",
        "lyon@org.example",
        "lyon.zip",
        "delete",
        10 * GB,
        outcome={"freed_bytes": 10 * GB},
    )
    paris = Act(
        "gdrive",
        "paris@org.example",
        "paris.zip",
        "trash",
        20 * GB,
        outcome={"pending_bytes": 20 * GB},
    )
    laptop = Act(
        "local", "laptop-7", "movie.mkv", "delete", 50 * GB, outcome={"freed_bytes": 50 * GB}
    )
    paths = []
    for n, acts in enumerate([[shared, lyon], [shared, paris, lyon], [shared, laptop]]):
        inv = seed_inventory(tmp_path / f"site{n}" / "inv.sqlite", acts)
        write_run(inv, acts)
        path = tmp_path / f"site{n}.json"
        code, out = cli(inv.path, "report", "-o", str(path))
        assert code == 0, out
        paths.append(path)
    return paths


def test_merging_three_overlapping_reports_counts_each_item_once(tmp_path: Path) -> None:
    paths = three_sites(tmp_path)
    org = tmp_path / "org.json"
    result = CliRunner().invoke(main, ["report", "merge", *map(str, paths), "-o", str(org)])
    assert result.exit_code == 0, result.output
    merged = json.loads(org.read_text(encoding="utf-8"))
    assert merged["totals"]["items"] == 4
    assert merged["totals"]["freed_bytes"] == (100 + 10 + 50) * GB
    assert merged["totals"]["pending_bytes"] == 20 * GB
    assert merged["merged_from"] == 3
    # The footprint is recomputed from the items: the shared SharePoint file once, in France.
    params = load_parameters()
    expected = estimate(100 * GB, "microsoft", params, "FR") + estimate(10 * GB, "google", params)
    assert merged["footprint"]["per_year"]["co2_kg"] == pytest.approx(
        expected.co2.as_list(), rel=1e-5
    )
    # Merging the merged report with one of its parts changes nothing.
    again = tmp_path / "again.json"
    CliRunner().invoke(main, ["report", "merge", str(org), str(paths[0]), "-o", str(again)])
    assert json.loads(again.read_text(encoding="utf-8"))["totals"] == merged["totals"]
    # And it renders like any report.
    result = CliRunner().invoke(main, ["report", "--from", str(org), "--format", "markdown"])
    assert "Merged from 3 reports" in result.output


def test_merge_refuses_what_is_not_a_report_or_has_other_factors(tmp_path: Path) -> None:
    paths = three_sites(tmp_path)
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"format": "cleanup.findings/1"}', encoding="utf-8")
    result = CliRunner().invoke(main, ["report", "merge", str(paths[0]), str(bogus)])
    assert result.exit_code == 2 and "is not a cleanup.report/1 report" in result.output
    other = json.loads(paths[1].read_text(encoding="utf-8"))
    other["parameters"]["ef.FR"]["central"] = 0.05
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(other), encoding="utf-8")
    result = CliRunner().invoke(main, ["report", "merge", str(paths[0]), str(changed)])
    assert result.exit_code == 2 and "different footprint factors" in result.output
    result = CliRunner().invoke(main, ["report", "merge"])
    assert result.exit_code == 2 and "Name the JSON reports to merge" in result.output


def test_a_report_with_no_run_says_so(tmp_path: Path) -> None:
    inv = Inventory(tmp_path / "inv.sqlite")
    code, out = cli(inv.path, "report")
    assert code == 0 and "No apply run freed, trashed or archived anything yet." in out
    code, out = cli(inv.path, "report", "--format", "html")
    assert code == 0 and "<h1>" in out


def test_bad_factors_file_stops_the_report_with_a_usage_error(
    site: Inventory, tmp_path: Path
) -> None:
    bad = tmp_path / "f.toml"
    bad.write_text("[power]\nlow = 5\n", encoding="utf-8")
    code, out = cli(site.path, "report", "--factors", str(bad))
    assert code == 2 and "low ≤ central ≤ high" in out


def test_avoided_purchase_is_opt_in(site: Inventory) -> None:
    assert report_json(site.path)["footprint"]["avoided_purchase_kg"] is None
    r = report_json(site.path, "--avoided-purchase")
    assert r["footprint"]["avoided_purchase_kg"] == pytest.approx(0.2 * 12.66)


def test_report_dates_the_actions_and_names_the_tool(site: Inventory) -> None:
    r = report_json(site.path)
    assert r["generated"].endswith("Z") and r["tool"]["version"]
    by_action = {i["action"] for i in r["items"]}
    assert by_action == {"delete", "trash", "archive", "trim_versions"}
    assert all(i["done"] < r["generated"] for i in r["items"])


def test_backups_are_opt_in_one_more_copy_counted_once_their_retention_ends(
    site: Inventory,
) -> None:
    plain = report_json(site.path)
    assert plain["footprint"]["backup_retention_days"] is None
    assert plain["totals"]["backup_freed_bytes"] == plain["totals"]["backup_pending_bytes"] == 0
    r = report_json(site.path, "--backup-retention", "15d")
    by_name = {i["id"]: i for i in r["items"]}
    assert r["footprint"]["backup_retention_days"] == 15
    # Only the old bin's 50 GB were freed more than 15 days ago (27 days, after 93 in the bin);
    # the backups of what was freed 10 days ago, or purged 5 days ago, are still kept.
    assert r["totals"]["backup_freed_bytes"] == 50 * GB
    assert r["totals"]["backup_pending_bytes"] == (400 + 5 + 1 + 30 + 200) * GB
    backups = [p for p in r["pending"] if p["held_by"] == "backup"]
    assert sum(p["bytes"] for p in backups) == 636 * GB
    params = load_parameters()
    expected = estimate((486 + 50) * GB, "microsoft", params, "FR").co2
    assert r["footprint"]["per_year"]["co2_kg"] == pytest.approx(expected.as_list(), rel=1e-5)
    assert any(i["backup_lag_days"] > i["lag_days"] for i in by_name.values())
    code, out = cli(site.path, "report", "--backup-retention", "15d")
    assert (
        "Backups counted (opt-in): one more logical copy of each freed item, freed 15 days after it."
        in out
    )
    assert "Backup copies still kept (opt-in)" in out


def test_a_factors_file_is_named_in_the_methodology(site: Inventory, tmp_path: Path) -> None:
    assert report_json(site.path)["parameters_changed"] == []
    factors = tmp_path / "f.toml"
    factors.write_text("[ef.FR]\ncentral = 0.05\n", encoding="utf-8")
    r = report_json(site.path, "--factors", str(factors))
    assert r["parameters_changed"] == ["ef.FR"] and r["parameters"]["ef.FR"]["central"] == 0.05
    code, out = cli(site.path, "report", "--factors", str(factors), "--format", "markdown")
    assert "Changed from the table cleanup ships (--factors): EF France, kgCO2e/kWh." in out
