"""Applying a plan: to the trash or an archive, re-checking every item, journalled, refused when unsafe."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from cleanup.apply import apply
from cleanup.errors import PlanError
from cleanup.findings import find
from cleanup.inventory import Inventory
from cleanup.journal import read_run, runs_dir
from cleanup.plan import Plan, load
from policies.decisions import Approvals, Decision
from tests.test_plan import duplicates, live, make_plan, run, scanned, snapshot
from tests.tree import clean_day_tree, write


def trash_files(home: Path) -> list[str]:
    folder = Path(os.environ["XDG_DATA_HOME"]) / "Trash" / "files"
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_staff_apply_a_duplicate_plan_to_the_trash_and_findings_stop_listing_them(
    tmp_path: Path,
) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    make_plan(inventory, duplicates(inventory), tmp_path / "plan.json")
    inventory.close()

    code, out, err = run(db, "apply", str(tmp_path / "plan.json"), "--yes")

    assert code == 0, err
    assert "7 done, 0 skipped, 0 failed" in out and "cleanup undo" in out
    assert not (docs / "Downloads/annual-2023.pdf").exists()
    assert (docs / "Reports/annual-2023.pdf").exists()
    assert len(list((docs / "Photos 2019").glob("IMG_*"))) == 5
    assert list((docs / "Backup/Photos 2019 (copy)").iterdir()) == []
    assert len(trash_files(tmp_path)) == 7
    infos = list((Path(os.environ["XDG_DATA_HOME"]) / "Trash/info").iterdir())
    assert any(f"Path={docs}/Downloads/annual-2023.pdf" in p.read_text() for p in infos)

    with Inventory(db) as inv:
        assert find(inv).duplicates == []
    [journal] = runs_dir(db).glob("*.jsonl")
    r = read_run(journal)
    assert r.status == "complete" and r.count("done") == 7
    events = [json.loads(line)["event"] for line in journal.read_text().splitlines()]
    assert events[0] == "run" and events[-1] == "end"
    assert events[1:-1] == ["intent", "done"] * 7
    code, out, _ = run(db, "runs")
    assert code == 0 and r.run_id in out and "complete" in out


def test_without_yes_apply_asks_and_a_no_changes_nothing(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    make_plan(inventory, duplicates(inventory), tmp_path / "plan.json")
    before = snapshot(docs)
    code, out, _ = run(db, "apply", str(tmp_path / "plan.json"), input="n\n")
    assert code == 1 and "Apply it?" in out and "trash 7" in out
    assert snapshot(docs) == before and not runs_dir(db).exists()
    # No answer at all (a script without --yes): said so, and nothing is done.
    code, _, err = run(db, "apply", str(tmp_path / "plan.json"), input="")
    assert code == 2 and "got no answer" in err and "--yes" in err
    assert snapshot(docs) == before and not runs_dir(db).exists()
    code, out, _ = run(db, "apply", str(tmp_path / "plan.json"), input="y\n")
    assert code == 0 and "7 done" in out


def test_an_item_changed_since_planning_is_skipped_as_stale(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    make_plan(inventory, duplicates(inventory), tmp_path / "plan.json")
    changed = docs / "Downloads/annual-2023 (1).pdf"
    changed.write_bytes(changed.read_bytes()[:-1] + b"!")  # edited after the plan was made

    code, out, _ = run(db, "apply", str(tmp_path / "plan.json"), "--yes")

    assert code == 0
    assert "6 done, 1 skipped" in out and "stale" in out
    assert changed.read_bytes().endswith(b"!")


def test_a_duplicate_whose_kept_copy_changed_or_vanished_stays(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    make_plan(inventory, duplicates(inventory), tmp_path / "plan.json")
    kept = docs / "Reports/annual-2023.pdf"
    st = kept.stat()
    data = bytearray(kept.read_bytes())
    data[100] ^= 0xFF
    kept.write_bytes(bytes(data))  # same size and mtime, other content: only a re-hash can tell
    os.utime(kept, ns=(st.st_atime_ns, st.st_mtime_ns))
    (docs / "Photos 2019/IMG_0000.jpg").unlink()

    code, out, _ = run(db, "apply", str(tmp_path / "plan.json"), "--yes")

    assert code == 0 and "4 done, 3 skipped" in out
    assert (docs / "Downloads/annual-2023.pdf").exists() and (
        docs / "Downloads/annual-2023 (1).pdf"
    ).exists()
    assert (docs / "Backup/Photos 2019 (copy)/IMG_0000.jpg").exists()
    assert "kept copy changed" in out and "kept copy gone" in out


def test_refused_plans_exit_3_and_change_nothing(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    plan = make_plan(inventory, duplicates(inventory), tmp_path / "plan.json")
    before = snapshot(docs)

    # expired
    expired = Plan(dict(plan.body, expires="2020-01-01T00:00:00Z"))
    expired.save(tmp_path / "expired.json")
    code, _, err = run(db, "apply", str(tmp_path / "expired.json"), "--yes")
    assert code == 3 and "expired" in err

    # over its limits (a plan written by something that did not check them)
    over = Plan(dict(plan.body, limits={"max_items": 2, "max_bytes": None, "max_percent": None}))
    over.save(tmp_path / "over.json")
    code, _, err = run(db, "apply", str(tmp_path / "over.json"), "--yes")
    assert code == 3 and "max_items" in err

    # made from another inventory
    other = scanned(docs, tmp_path / "other.sqlite")
    code, _, err = run(tmp_path / "other.sqlite", "apply", str(tmp_path / "plan.json"), "--yes")
    assert code == 3 and "another inventory" in err and str(db) in err
    other.close()

    # edited by hand
    data = json.loads((tmp_path / "plan.json").read_text())
    data["plan"]["entries"][0]["keep"]["path"] = "/elsewhere"
    (tmp_path / "edited.json").write_text(json.dumps(data))
    code, _, err = run(db, "apply", str(tmp_path / "edited.json"), "--yes")
    assert code == 3 and "changed after it was made" in err

    assert snapshot(docs) == before and not runs_dir(db).exists()


def test_approvals_are_required_and_must_match_the_plan_seen(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    decisions = duplicates(inventory)
    decisions[0].action = "delete"
    make_plan(
        inventory,
        decisions,
        tmp_path / "plan.json",
        approvals=Approvals(required=1, second_for_delete=True),
    )
    p = str(tmp_path / "plan.json")

    code, _, err = run(db, "apply", p, "--yes")
    assert code == 3 and "needs 2 approvals because the plan deletes permanently; it has 0" in err
    assert run(db, "plan", "approve", p, "--by", "ada")[0] == 0
    code, out, _ = run(db, "plan", "approve", p, "--by", "ada")
    assert "already approved" in out
    code, _, err = run(db, "apply", p, "--yes")
    assert code == 3 and "it has 1 (so far: ada)" in err
    saved = json.loads(Path(p).read_text())
    assert (
        saved["approvals"][0]["by"] == "ada" and saved["approvals"][0]["sha256"] == saved["sha256"]
    )
    assert load(p).sha256 == saved["sha256"]  # approving never changes the hashed content

    assert run(db, "plan", "approve", p, "--by", "grace")[0] == 0
    code, out, err = run(db, "apply", p, "--yes")
    assert code == 0, err
    assert "7 done" in out and "freed" in out


def test_archive_keeps_the_relative_path_and_undo_brings_it_back(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    old = live(inventory, "minutes-2015.docx")
    archive = tmp_path / "Archive"
    make_plan(
        inventory,
        [Decision(old, "archive", "old", "untouched for 3 years", destination=str(archive))],
        tmp_path / "plan.json",
    )
    before = snapshot(docs)

    code, out, err = run(db, "apply", str(tmp_path / "plan.json"), "--yes")
    assert code == 0, err
    assert "archived" in out
    moved = archive / "Old/minutes-2015.docx"
    assert moved.read_bytes() == before[str(docs / "Old/minutes-2015.docx")][0]
    assert not (docs / "Old/minutes-2015.docx").exists()

    code, out, _ = run(db, "undo", "last")
    assert code == 0 and "1 restored" in out
    assert snapshot(docs) == before and not moved.exists()


def test_archive_across_filesystems_copies_verifies_then_removes(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if (
        not shm.is_dir()
        or os.stat(shm).st_dev == os.stat(tmp_path).st_dev
        or not os.access(shm, os.W_OK)
    ):
        pytest.skip("needs a second writable filesystem at /dev/shm")
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    video = live(inventory, "holiday.mp4")
    archive = shm / f"cleanup-test-{os.getpid()}-{time.time_ns()}"
    try:
        make_plan(
            inventory,
            [Decision(video, "archive", "big", "large", destination=str(archive))],
            tmp_path / "plan.json",
        )
        before = snapshot(docs)
        code, _, err = run(db, "apply", str(tmp_path / "plan.json"), "--yes")
        assert code == 0, err
        copy = archive / "Video/holiday.mp4"
        assert copy.read_bytes() == before[str(docs / "Video/holiday.mp4")][0]
        assert copy.stat().st_mtime_ns == before[str(docs / "Video/holiday.mp4")][1]
        assert not (docs / "Video/holiday.mp4").exists() and not list(
            archive.rglob("*.cleanup-partial")
        )
        assert run(db, "undo", "last")[0] == 0
        assert snapshot(docs) == before
    finally:
        import shutil

        shutil.rmtree(archive, ignore_errors=True)


def test_an_archive_inside_the_scanned_tree_or_not_writable_is_refused(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    old = live(inventory, "minutes-2015.docx")
    before = snapshot(docs)
    blocker = write(tmp_path / "a-file", b"not a folder")
    for destination, words in (
        (docs / "Archive", "inside the scanned folder"),
        (blocker / "Archive", "cannot be written"),
    ):
        make_plan(
            inventory,
            [Decision(old, "archive", "old", "3y", destination=str(destination))],
            tmp_path / "plan.json",
        )
        code, _, err = run(db, "apply", str(tmp_path / "plan.json"), "--yes")
        assert code == 3 and words in err and "Nothing was done" in err
    assert snapshot(docs) == before and not (docs / "Archive").exists()


def test_a_trash_that_is_not_available_is_refused_before_anything_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    make_plan(inventory, duplicates(inventory), tmp_path / "plan.json")
    before = snapshot(docs)
    monkeypatch.setenv("XDG_DATA_HOME", str(write(tmp_path / "data-home-is-a-file", b"")))
    code, out, err = run(db, "apply", str(tmp_path / "plan.json"), input="y\n")
    assert code == 3 and "trash" in err and "cannot be created or written" in err
    assert "Apply it?" not in out  # refused before anyone is asked to confirm
    assert snapshot(docs) == before


def test_permanent_delete_only_where_the_plan_says_so(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    lock = live(inventory, "~$draft.docx")
    thumbs = live(inventory, "Thumbs.db")
    plan = make_plan(
        inventory,
        [
            Decision(lock, "delete", "junk", "lock file"),
            Decision(thumbs, "trash", "junk", "thumbnail cache"),
        ],
        tmp_path / "plan.json",
    )
    result = apply(plan, inventory)
    assert len(result.done) == 2 and result.freed_bytes == lock.storage_bytes
    assert result.pending_bytes == thumbs.storage_bytes
    assert trash_files(tmp_path) == ["Thumbs.db"]
    assert not (docs / "~$draft.docx").exists()
    code, out, _ = run(db, "undo", result.run_id)
    assert "deleted permanently; cannot be undone" in out
    assert (docs / "Photos 2019/Thumbs.db").exists() and not (docs / "~$draft.docx").exists()


def test_a_stale_plan_for_an_already_applied_run_does_nothing_twice(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    plan = make_plan(inventory, duplicates(inventory), tmp_path / "plan.json")
    assert len(apply(plan, inventory).done) == 7
    again = apply(load(tmp_path / "plan.json"), inventory)
    assert again.done == [] and len(again.skipped) == 7
    assert all(reason.startswith("gone") for _, reason in again.skipped)
    assert len(trash_files(tmp_path)) == 7


def test_plan_entries_with_flag_are_shown_but_never_acted_on(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    video = live(inventory, "holiday.mp4")
    plan = make_plan(
        inventory, [Decision(video, "flag", "big", "worth a look")], tmp_path / "plan.json"
    )
    result = apply(plan, inventory)
    assert result.flagged == 1 and result.done == [] and (docs / "Video/holiday.mp4").exists()
    assert result.run_id == "" and not runs_dir(db).exists()  # nothing to do makes no run
    with pytest.raises(PlanError):
        apply(plan, inventory, now=time.time() + 30 * 86400)

    # From the command line: no question to answer, nothing to undo.
    code, out, err = run(db, "apply", str(tmp_path / "plan.json"), input="")
    assert code == 0, err
    assert "Nothing to apply" in out and "flagged item is for review only" in out
    assert "Apply it?" not in out and "Undo with" not in out
    code, out, _ = run(db, "apply", str(tmp_path / "plan.json"), "--yes", "--format", "json")
    assert code == 0 and json.loads(out)["run"] is None
    assert "No runs yet" in run(db, "runs")[1]


def test_a_copy_rewritten_in_place_with_its_size_and_mtime_kept_is_not_removed(
    tmp_path: Path,
) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    make_plan(inventory, duplicates(inventory), tmp_path / "plan.json")
    copy = docs / "Downloads/annual-2023 (1).pdf"
    st = copy.stat()
    with open(copy, "r+b") as f:  # same inode, same size
        f.write(b"unique content now")
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))
    code, out, _ = run(db, "apply", str(tmp_path / "plan.json"), "--yes")
    assert code == 0 and "6 done, 1 skipped" in out and "content changed" in out
    assert copy.read_bytes().startswith(b"unique content now")


def test_trashing_one_name_of_a_hard_linked_file_is_never_counted_as_freed(tmp_path: Path) -> None:
    root = tmp_path / "Documents"
    original = write(root / "big.iso", os.urandom(50_000))
    os.link(original, root / "big-link.iso")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(root, db)
    plan = make_plan(
        inventory,
        [Decision(live(inventory, "big-link.iso"), "trash", "p", "r")],
        tmp_path / "plan.json",
    )
    [entry] = plan.entries
    assert entry["storage_bytes"] > 0 and entry["reclaimable_bytes"] == 0
    assert plan.body["totals"]["reclaimable_bytes"] == 0
    result = apply(plan, inventory)
    assert len(result.done) == 1 and result.pending_bytes == 0
    r = read_run(runs_dir(db) / f"{result.run_id}.jsonl")
    assert [e.outcome["pending_bytes"] for e in r.entries.values()] == [0]
    assert original.exists()


def test_apply_reports_as_json_for_scripts(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    make_plan(inventory, duplicates(inventory), tmp_path / "plan.json")
    (docs / "Downloads/annual-2023.pdf").write_bytes(b"edited")
    code, out, _ = run(db, "apply", str(tmp_path / "plan.json"), "--yes", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert len(report["done"]) == 6 and report["failed"] == []
    [skipped] = report["skipped"]
    assert skipped["path"].endswith("Downloads/annual-2023.pdf") and skipped["reason"].startswith(
        "stale"
    )
    assert report["pending_bytes"] > 0 and report["run"] in {
        p.stem for p in runs_dir(db).glob("*.jsonl")
    }
