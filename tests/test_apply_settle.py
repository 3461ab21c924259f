"""After a crash between an action and its journal line, resume and undo find out what happened."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cleanup.apply import _save_copy, resume
from cleanup.errors import PlanError
from cleanup.journal import Journal, JournalError, read_run, runs_dir
from cleanup.plan import Plan, destination_of, record_of
from cleanup.undo import undo
from policies.decisions import Decision
from providers.local import LocalProvider
from providers.local.archive import PARTIAL, settle, target_path
from tests.test_plan import live, make_plan, scanned, snapshot
from tests.tree import write


def crashed_after_acting(plan: Plan, db: Path, act: bool) -> Path:
    """A run whose first entry has an intent, was (or was not) carried out, and has no outcome."""
    journal = Journal.create(runs_dir(db), plan.sha256, str(plan.path))
    _save_copy(plan, journal)
    entry = plan.entries[0]
    record = record_of(entry)
    journal.write(
        "intent",
        entry=0,
        action=entry["action"],
        item={
            "path": record.path,
            "provider": "local",
            "account": record.account,
            "item_id": record.item_id,
        },
    )
    if act:
        provider = LocalProvider()
        if entry["action"] == "trash":
            provider.trash(record)
        else:
            provider.archive(record, destination_of(entry) or "")
    journal.close()  # killed here: no done line, no end line
    return journal.path


def test_resume_settles_a_trash_that_happened_and_undo_restores_it(tmp_path: Path) -> None:
    root = tmp_path / "Documents"
    write(root / "a.tmp", b"junk a", age_days=30)
    write(root / "b.tmp", b"junk b", age_days=30)
    inventory = scanned(root, tmp_path / "inv.sqlite")
    before = snapshot(root)
    decisions = [Decision(live(inventory, n), "trash", "junk", "tmp") for n in ("a.tmp", "b.tmp")]
    plan = make_plan(inventory, decisions, tmp_path / "plan.json")
    path = crashed_after_acting(plan, tmp_path / "inv.sqlite", act=True)
    assert read_run(path).status == "interrupted"

    result = resume(inventory, "last")

    assert len(result.done) == 2 and result.failed == []
    lines = path.read_text()
    assert lines.count('"settled": true') == 1 and lines.count('"intent"') == 2
    assert read_run(path).status == "complete"
    assert not (root / "a.tmp").exists() and not (root / "b.tmp").exists()
    assert len(undo(inventory, "last").done) == 2
    assert snapshot(root) == before


def test_resume_acts_on_an_intent_that_never_happened(tmp_path: Path) -> None:
    root = tmp_path / "Documents"
    write(root / "a.tmp", b"junk a", age_days=30)
    inventory = scanned(root, tmp_path / "inv.sqlite")
    plan = make_plan(
        inventory,
        [Decision(live(inventory, "a.tmp"), "trash", "junk", "tmp")],
        tmp_path / "plan.json",
    )
    path = crashed_after_acting(plan, tmp_path / "inv.sqlite", act=False)
    result = resume(inventory, "last")
    assert len(result.done) == 1 and not (root / "a.tmp").exists()
    assert '"settled"' not in path.read_text()


def test_undo_of_an_interrupted_archive_puts_it_back(tmp_path: Path) -> None:
    root = tmp_path / "Documents"
    write(root / "Old/report.doc", b"old report", age_days=2000)
    inventory = scanned(root, tmp_path / "inv.sqlite")
    before = snapshot(root)
    old = live(inventory, "report.doc")
    plan = make_plan(
        inventory,
        [Decision(old, "archive", "old", "3y", destination=str(tmp_path / "Archive"))],
        tmp_path / "plan.json",
    )
    crashed_after_acting(plan, tmp_path / "inv.sqlite", act=True)
    assert (tmp_path / "Archive/Old/report.doc").exists()
    back = undo(inventory, "last")
    assert back.done == [str(root / "Old/report.doc")]
    assert snapshot(root) == before and not (tmp_path / "Archive/Old/report.doc").exists()


def test_archive_settle_finishes_or_rolls_back_each_half_done_state(tmp_path: Path) -> None:
    root, dest = tmp_path / "Documents", tmp_path / "Archive"
    src = write(root / "Old/a.doc", b"content of a")
    target = Path(target_path(str(src), str(root), str(dest)))
    assert target == dest / "Old/a.doc"

    # Crash while copying across filesystems: the partial copy is removed, the move redone.
    target.parent.mkdir(parents=True)
    Path(str(target) + PARTIAL).write_bytes(b"content")
    assert settle(str(src), str(root), str(dest)) is None
    assert not Path(str(target) + PARTIAL).exists() and src.exists()

    # Crash after the link (same filesystem) but before the unlink: the old name goes.
    os.link(src, target)
    undo_info = settle(str(src), str(root), str(dest))
    assert undo_info is not None and undo_info["archived_to"] == str(target)
    assert not src.exists() and target.read_bytes() == b"content of a"

    # Crash after the verified copy was renamed into place but before the original went.
    src.write_bytes(b"content of a")
    assert settle(str(src), str(root), str(dest)) is not None and not src.exists()

    # Someone else's different file at the target: the move never happened, nothing is removed.
    src.write_bytes(b"content of a")
    target.write_bytes(b"another file")
    assert settle(str(src), str(root), str(dest)) is None
    assert src.read_bytes() == b"content of a" and target.read_bytes() == b"another file"


def test_a_run_is_resumed_by_one_process_at_a_time_and_a_complete_one_not_at_all(
    tmp_path: Path,
) -> None:
    root = tmp_path / "Documents"
    write(root / "a.tmp", b"junk a", age_days=30)
    write(root / "b.tmp", b"junk b", age_days=30)
    inventory = scanned(root, tmp_path / "inv.sqlite")
    decisions = [Decision(live(inventory, n), "trash", "junk", "tmp") for n in ("a.tmp", "b.tmp")]
    plan = make_plan(inventory, decisions, tmp_path / "plan.json")
    path = crashed_after_acting(plan, tmp_path / "inv.sqlite", act=False)
    holder = Journal(path)
    holder.lock()  # another cleanup process is resuming it
    with pytest.raises(JournalError, match="in use by another cleanup process"):
        resume(inventory, "last")
    holder.close()
    assert (root / "a.tmp").exists() and (root / "b.tmp").exists()
    assert len(resume(inventory, "last").done) == 2
    with pytest.raises(PlanError, match="complete; there is nothing to resume"):
        resume(inventory, "last")


def test_a_journal_line_cut_short_by_a_kill_does_not_swallow_the_next_one(tmp_path: Path) -> None:
    root = tmp_path / "Documents"
    write(root / "a.tmp", b"junk a", age_days=30)
    write(root / "b.tmp", b"junk b", age_days=30)
    inventory = scanned(root, tmp_path / "inv.sqlite")
    decisions = [Decision(live(inventory, n), "trash", "junk", "tmp") for n in ("a.tmp", "b.tmp")]
    plan = make_plan(inventory, decisions, tmp_path / "plan.json")
    path = crashed_after_acting(plan, tmp_path / "inv.sqlite", act=True)
    with open(path, "ab") as f:
        f.write(b'{"t": 1, "event": "done", "entry": 0, "act')  # the kill came mid-write
    result = resume(inventory, "last")
    assert len(result.done) == 2
    run = read_run(path)
    assert run.damaged_lines == 1 and run.status == "complete"
    assert [run.entries[i].state for i in (0, 1)] == ["done", "done"]
    assert len(undo(inventory, "last").done) == 2
    assert (root / "a.tmp").exists() and (root / "b.tmp").exists()


def test_resume_clears_the_trash_entry_a_killed_move_left_behind(tmp_path: Path) -> None:
    root = tmp_path / "Documents"
    write(root / "caf\udce9.tmp", b"junk", age_days=30)
    inventory = scanned(root, tmp_path / "inv.sqlite")
    plan = make_plan(
        inventory,
        [Decision(live(inventory, ".tmp"), "trash", "junk", "tmp")],
        tmp_path / "plan.json",
    )
    crashed_after_acting(plan, tmp_path / "inv.sqlite", act=False)
    info_dir = Path(os.environ["XDG_DATA_HOME"]) / "Trash/info"
    info_dir.mkdir(parents=True)
    # send2trash writes the .trashinfo first, then renames the file: the kill came in between.
    quoted = "".join(
        f"%{b:02X}" if b > 127 else chr(b) for b in os.fsencode(root / "caf\udce9.tmp")
    )
    (info_dir / "caf\udce9.tmp.trashinfo").write_text(
        f"[Trash Info]\nPath={quoted}\nDeletionDate=2026-01-01T00:00:00\n", errors="surrogateescape"
    )
    assert len(resume(inventory, "last").done) == 1
    assert os.listdir(info_dir) == ["caf\udce9.tmp.trashinfo"]
    assert os.listdir(info_dir.parent / "files") == [
        "caf\udce9.tmp"
    ]  # the plain name: no "caf\xe9 1.tmp"


def test_resume_clears_an_empty_trashinfo_left_by_a_kill_before_it_was_written(
    tmp_path: Path,
) -> None:
    root = tmp_path / "Documents"
    write(root / "a.tmp", b"junk", age_days=30)
    inventory = scanned(root, tmp_path / "inv.sqlite")
    plan = make_plan(
        inventory,
        [Decision(live(inventory, "a.tmp"), "trash", "junk", "tmp")],
        tmp_path / "plan.json",
    )
    crashed_after_acting(plan, tmp_path / "inv.sqlite", act=False)
    info_dir = Path(os.environ["XDG_DATA_HOME"]) / "Trash/info"
    info_dir.mkdir(parents=True)
    (info_dir / "a.tmp.trashinfo").write_bytes(b"")
    assert len(resume(inventory, "last").done) == 1
    assert os.listdir(info_dir.parent / "files") == ["a.tmp"]
    assert undo(inventory, "last").done == [str(root / "a.tmp")]
    assert os.listdir(info_dir) == []
