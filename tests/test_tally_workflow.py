"""Clean-ups carried out by apply (a laptop with the staff pack, a SharePoint site in France), then tallied."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cleanup.apply import apply
from cleanup.cli import main
from cleanup.footprint import estimate, load_parameters
from cleanup.inventory import Inventory
from cleanup.plan import build, load
from cleanup.providers import Address
from cleanup.report import build as build_report
from cleanup.scan import scan
from cleanup.tally import select_runs, tally
from policies.decisions import Decision
from tests.emulators.graph_seed import seed_realistic
from tests.emulators.graph_settings import admin_settings, options
from tests.test_plan import evaluation
from tests.tree import clean_day_tree, write

pytest_plugins = ["tests.emulators.graph_fixtures"]


def run(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--db", str(db), *args], catch_exceptions=False)
    return result.exit_code, result.stdout


def test_trashed_laptop_files_are_pending_worth_nothing_measurable_and_undo_counts_nothing(
    tmp_path: Path,
) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    for i in range(30):  # a year's other work, so the plan stays within the pack's limits
        write(docs / f"Work/note-{i}.txt", f"note {i}")
    month_ago = time.time() - 30 * 86400
    for path in docs.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_mtime > month_ago:
            os.utime(path, (month_ago, month_ago))
    db = tmp_path / "inv.sqlite"
    assert run(db, "scan", str(docs))[0] == 0
    assert run(db, "plan", "--policy", "staff", "-o", str(tmp_path / "plan.json"))[0] == 0
    planned = sum(e["storage_bytes"] for e in load(tmp_path / "plan.json").acting)
    code, out = run(db, "apply", str(tmp_path / "plan.json"), "--yes")
    assert code == 0, out

    code, out = run(db, "tally", "--json")
    report = json.loads(out)
    # In the desktop trash: pending until someone empties it, never freed on its own.
    assert report["totals"]["pending_bytes"] == planned > 0
    assert report["totals"]["freed_bytes"] == 0
    assert report["pending"] == [
        {"until": None, "provider": "local", "held_by": "bin", "bytes": planned}
    ]
    assert report["footprint"]["per_year"]["kwh"] == [0, 0, 0]
    code, out = run(db, "tally")
    assert "when the bin is emptied by hand" in out
    code, out = run(db, "report", "--format", "json", "-o", "-")
    assert code == 0
    kinds = {row["name"] for row in json.loads(out)["by_kind"]}
    assert "images" in kinds  # photo copies of undetectable content are still counted as images

    assert run(db, "undo", "last")[0] == 0
    code, out = run(db, "tally", "--json")
    assert json.loads(out)["totals"]["items"] == 0  # everything was put back


def test_a_sharepoint_site_in_france_recycled_and_deleted_through_apply(
    graph: Any, admin_app: Any, waits: Any, tmp_path: Path
) -> None:
    """Real SharePoint actions on the Graph emulator, journalled by apply, then tallied."""
    seeded = seed_realistic(graph.tenant)
    inventory = Inventory(tmp_path / "inv.sqlite")
    opts = options(admin_settings(graph, admin_app, region="FR"))
    scan(inventory, [Address("sharepoint", "Marketing")], opts)
    site = next(s for s in seeded.sites if s.name == "Marketing")
    files = [
        inventory.get("sharepoint", d.id, i.id) for d, i in seeded.files if d is site.drives[0]
    ]
    records = sorted((r for r in files if r is not None and r.storage_bytes), key=lambda r: r.path)
    recycled, deleted = records[:2], records[2:4]
    decisions = [Decision(r, "trash", "test", "recycle") for r in recycled]
    decisions += [Decision(r, "delete", "test", "delete") for r in deleted]
    plan, _ = build(evaluation(decisions), inventory)
    plan.save(tmp_path / "plan.json")
    before = time.time()
    result = apply(load(tmp_path / "plan.json"), inventory, options=opts)
    assert (len(result.done), result.failed) == (4, []), result

    params = load_parameters()
    counted = tally(inventory, select_runs(inventory), params)
    by_id = {i.item_id: i for i in counted.items}
    for r in recycled:
        item = by_id[r.item_id]
        assert item.pending_bytes == r.storage_bytes and item.freed_bytes == 0
        # The recycle bin frees it 93 days after the action.
        assert before + 93 * 86400 <= item.pending_until <= time.time() + 93 * 86400
    freed = sum(r.storage_bytes for r in deleted)
    assert counted.totals().freed == freed
    assert all(i.region == "FR" for i in counted.items)  # the tenant's data lives in France
    expected = estimate(freed, "microsoft", params, "FR")
    assert counted.per_year().co2.central == pytest.approx(expected.co2.central)

    # The quota was read by the scan, before the clean-up: after = used - what was freed.
    report = build_report(counted, inventory, b"key", detailed=True)
    [quota] = [q for q in report["quotas"] if q["account"].endswith("sites/Marketing/Documents")]
    reading = next(q for q in inventory.quotas() if q.account == deleted[0].account)
    assert quota["before"] == reading.used
    assert quota["after"] == reading.used - freed
