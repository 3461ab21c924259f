"""Undo puts back what a run moved, never over a file that is there now; purge makes the trash permanent."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cleanup.apply import apply, resume
from cleanup.errors import PlanError
from cleanup.inventory import Inventory, StoredFile
from cleanup.journal import read_run, runs_dir
from cleanup.undo import purge, undo
from policies.decisions import Decision
from tests.test_apply import trash_files
from tests.test_plan import duplicates, make_plan, run, scanned, snapshot
from tests.tree import clean_day_tree


def test_undo_restores_content_and_mtime_but_never_overwrites_a_new_file(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    plan = make_plan(inventory, duplicates(inventory), tmp_path / "plan.json")
    before = snapshot(docs)
    result = apply(plan, inventory)
    newcomer = docs / "Downloads/annual-2023.pdf"
    newcomer.write_bytes(b"a new download with the old name")

    code, out, _ = run(db, "undo", result.run_id)

    assert code == 1  # one item could not be restored, and says why
    assert "6 restored, 0 skipped, 1 failed" in out and "exists again" in out
    assert newcomer.read_bytes() == b"a new download with the old name"
    after = snapshot(docs)
    assert {p: v for p, v in after.items() if p != str(newcomer)} == {
        p: v for p, v in before.items() if p != str(newcomer)
    }
    assert trash_files(tmp_path) == ["annual-2023.pdf"]

    # Once the newcomer is moved away, undo finishes the job.
    newcomer.rename(tmp_path / "saved.pdf")
    code, out, _ = run(db, "undo", result.run_id)
    assert code == 0 and "1 restored" in out
    assert snapshot(docs) == before and trash_files(tmp_path) == []
    r = read_run(runs_dir(db) / f"{result.run_id}.jsonl")
    assert r.count("undone") == 7


def test_undo_of_chosen_items_only(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    result = apply(make_plan(inventory, duplicates(inventory), tmp_path / "plan.json"), inventory)
    code, out, _ = run(db, "undo", result.run_id, "--item", str(docs / "Backup"))
    assert code == 0 and "5 restored" in out
    assert len(list((docs / "Backup/Photos 2019 (copy)").iterdir())) == 5
    assert not (docs / "Downloads/annual-2023.pdf").exists()
    assert len(trash_files(tmp_path)) == 2


def test_purge_empties_the_runs_trash_for_good_and_journals_the_bytes_freed(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    result = apply(make_plan(inventory, duplicates(inventory), tmp_path / "plan.json"), inventory)
    assert result.pending_bytes > 0
    unrelated = Path(os.environ["XDG_DATA_HOME"]) / "Trash/files/someone-elses.txt"
    unrelated.write_text("trashed by hand, not by cleanup")

    code, out, _ = run(db, "purge", result.run_id, input="y\n")

    assert code == 0 and "7 purged" in out and "freed" in out
    assert trash_files(tmp_path) == ["someone-elses.txt"]
    assert list((Path(os.environ["XDG_DATA_HOME"]) / "Trash/info").iterdir()) == []
    journal = runs_dir(db) / f"{result.run_id}.jsonl"
    purged = [json.loads(x) for x in journal.read_text().splitlines() if '"purged"' in x]
    assert (
        len(purged) == 7
        and sum(p["outcome"]["freed_bytes"] for p in purged) == result.pending_bytes
    )
    r = read_run(journal)
    assert r.count("purged") == 7
    assert all(
        e.outcome["pending_bytes"] == 0 and e.outcome["freed_bytes"] > 0 for e in r.entries.values()
    )
    # Nothing is left to undo, and a second purge finds nothing to do.
    assert undo(inventory, result.run_id).done == []
    assert purge(inventory, result.run_id).done == []
    code, out, _ = run(db, "undo", result.run_id)
    assert code == 0 and "nothing left to be restored" in out
    code, out, _ = run(db, "purge", result.run_id, "--yes")
    assert code == 0 and "nothing left to be purged" in out
    code, out, _ = run(db, "runs", "--format", "json")
    [row] = json.loads(out)
    assert (
        row["purged"] == 7
        and row["in_trash_bytes"] == 0
        and row["started"].endswith("Z")  # ISO 8601, UTC, as every JSON output gives times
        and row["freed_bytes"] == result.pending_bytes
    )


def test_purge_asks_first_and_a_no_keeps_the_trash(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    result = apply(make_plan(inventory, duplicates(inventory), tmp_path / "plan.json"), inventory)
    code, _, _ = run(db, "purge", result.run_id, input="n\n")
    assert code == 1 and len(trash_files(tmp_path)) == 7
    code, _, err = run(db, "purge", result.run_id, input="")
    assert code == 2 and "--yes" in err and len(trash_files(tmp_path)) == 7


def test_an_undone_run_cannot_be_resumed_and_unknown_runs_are_named(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    result = apply(make_plan(inventory, duplicates(inventory), tmp_path / "plan.json"), inventory)
    undo(inventory, result.run_id)
    with pytest.raises(PlanError, match="was undone"):
        resume(inventory, result.run_id)
    code, _, err = run(db, "undo", "no-such-run")
    assert code == 1 and "cleanup runs" in err
    # An empty id is no prefix of every run: it names none.
    code, _, err = run(db, "undo", "")
    assert code == 1 and "No run id given" in err


def test_inventories_kept_in_one_folder_each_see_only_their_own_runs(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    mine, other = tmp_path / "mine.sqlite", tmp_path / "other.sqlite"
    inventory = scanned(docs, mine)
    result = apply(make_plan(inventory, duplicates(inventory), tmp_path / "plan.json"), inventory)
    scanned(docs, other).close()

    code, out, _ = run(other, "runs")
    assert code == 0 and "No runs yet" in out
    for command in (["undo", "last"], ["undo", result.run_id], ["purge", "last", "--yes"]):
        code, _, err = run(other, *command)
        assert code == 1, command
    assert (
        f"made with the inventory at {os.path.realpath(mine)}"
        in run(other, "undo", result.run_id)[2]
    )
    code, out, _ = run(other, "tally")
    assert code == 0 and "No apply run" in out
    assert len(trash_files(tmp_path)) == 7  # nothing was put back or purged through the other

    code, out, _ = run(mine, "runs")
    assert result.run_id in out
    code, out, err = run(mine, "undo", "last")
    assert code == 0 and "7 restored" in out, err


def test_a_file_on_another_filesystem_goes_to_that_filesystems_trash_and_comes_back(
    tmp_path: Path,
) -> None:
    shm = Path("/dev/shm")
    uid = os.getuid()
    topdir_trash = shm / f".Trash-{uid}"
    if (
        not shm.is_dir()
        or not os.path.ismount(shm)
        or os.stat(shm).st_dev == os.stat(Path.home()).st_dev
        or not os.access(shm, os.W_OK)
        or topdir_trash.exists()
        or (shm / ".Trash").exists()
    ):
        pytest.skip("needs /dev/shm as a second filesystem with no trash of its own yet")
    import shutil
    import time

    root = shm / f"cleanup-test-{os.getpid()}-{time.time_ns()}"
    try:
        docs = clean_day_tree(root / "Documents")
        db = tmp_path / "inv.sqlite"
        inventory = scanned(docs, db)
        before = snapshot(docs)
        result = apply(
            make_plan(inventory, duplicates(inventory), tmp_path / "plan.json"), inventory
        )
        assert len(result.done) == 7 and result.failed == []
        assert len(os.listdir(topdir_trash / "files")) == 7 and trash_files(tmp_path) == []
        info = (topdir_trash / "info" / "annual-2023 (1).pdf.trashinfo").read_text()
        assert "Path=cleanup-test-" in info  # relative to the filesystem's top, as the spec says
        assert len(undo(inventory, result.run_id).done) == 7
        assert snapshot(docs) == before and os.listdir(topdir_trash / "files") == []
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(topdir_trash, ignore_errors=True)


def test_a_broken_symlink_goes_to_the_trash_as_a_link_and_comes_back(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    link = live_link(inventory, "dangling-link")
    plan = make_plan(
        inventory, [Decision(link, "trash", "junk", "broken symlink")], tmp_path / "plan.json"
    )
    target = os.readlink(docs / "dangling-link")
    result = apply(plan, inventory)
    assert len(result.done) == 1 and not os.path.lexists(docs / "dangling-link")
    assert trash_files(tmp_path) == ["dangling-link"]
    assert os.path.islink(Path(os.environ["XDG_DATA_HOME"]) / "Trash/files/dangling-link")
    assert len(undo(inventory, result.run_id).done) == 1
    assert os.readlink(docs / "dangling-link") == target


def live_link(inventory: Inventory, name: str) -> StoredFile:
    [found] = [f for f in inventory.files("kind = 'symlink'") if f.path.endswith(name)]
    return found
