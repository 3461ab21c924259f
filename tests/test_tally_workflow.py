"""A member of staff cleans up a laptop with the staff pack, then tallies what it was worth."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from click.testing import CliRunner

from cleanup.cli import main
from cleanup.plan import load
from tests.tree import clean_day_tree, write


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
    assert report["pending"] == [{"until": None, "provider": "local", "bytes": planned}]
    assert report["footprint"]["per_year"]["kwh"] == [0, 0, 0]
    code, out = run(db, "tally")
    assert "when the bin is emptied by hand" in out

    assert run(db, "undo", "last")[0] == 0
    code, out = run(db, "tally", "--json")
    assert json.loads(out)["totals"]["items"] == 0  # everything was put back
