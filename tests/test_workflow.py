"""The whole clean-up day from the command line: scan, plan, review, approve, apply, runs, undo, purge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cleanup.plan import load
from cleanup.review import Review
from tests.test_apply import trash_files
from tests.test_plan import duplicates, make_plan, run, scanned, snapshot
from tests.tree import clean_day_tree, write


def planned(tmp_path: Path) -> tuple[Path, Path, Path]:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    make_plan(inventory, duplicates(inventory), tmp_path / "plan.json")
    inventory.close()
    return docs, db, tmp_path / "plan.json"


def test_review_keeps_one_file_then_saves_and_quits(tmp_path: Path) -> None:
    docs, db, plan_file = planned(tmp_path)
    first = Review.of(load(plan_file)).groups[0].entries[0]
    before = snapshot(docs)

    code, out, err = run(
        db, "review", str(plan_file), "-o", str(tmp_path / "reviewed.json"), input="kq"
    )

    assert code == 0, err
    assert "Group 1 of 6" in out and "kept: stays where it is" in out
    reviewed = load(tmp_path / "reviewed.json")
    assert reviewed.sha256 != load(plan_file).sha256
    assert reviewed.body["reviewed"]["from"] == load(plan_file).sha256
    assert reviewed.body["reviewed"]["dropped"] == 1
    assert [e["entry"] for e in reviewed.entries] == list(range(6))  # renumbered
    assert first["path"] not in {e["path"] for e in reviewed.entries}
    assert snapshot(docs) == before  # reviewing changes nothing but the new plan file

    code, out, _ = run(db, "apply", str(tmp_path / "reviewed.json"), "--yes")
    assert code == 0 and "6 done" in out
    assert os.path.exists(first["path"])


def test_review_skip_accept_help_and_drop_unreviewed(tmp_path: Path) -> None:
    _, db, plan_file = planned(tmp_path)
    review = Review.of(load(plan_file))
    sizes = [len(g.entries) for g in review.groups]
    # group 1 skipped, group 2 accepted after help and an unknown key, then quit dropping the rest
    code, out, err = run(
        db,
        "review",
        str(plan_file),
        "-o",
        str(tmp_path / "r.json"),
        "--drop-unreviewed",
        "--by",
        "ada",
        input="s?xaq",
    )
    assert code == 0, err
    assert "group skipped" in out and "s        skip this group" in out and "unknown key" in out
    reviewed = load(tmp_path / "r.json")
    assert len(reviewed.entries) == sizes[1]
    assert {e["path"] for e in reviewed.entries} == {e["path"] for e in review.groups[1].entries}
    assert (
        reviewed.body["reviewed"]["by"] == "ada"
        and reviewed.body["reviewed"]["groups_reviewed"] == 2
    )


def test_review_to_the_end_with_enter_keeps_the_plan_as_it_was(tmp_path: Path) -> None:
    _, db, plan_file = planned(tmp_path)
    code, out, _ = run(db, "review", str(plan_file), "-o", str(tmp_path / "r.json"), input="\n" * 7)
    assert code == 0 and "Kept 0 items" in out
    assert [e["path"] for e in load(tmp_path / "r.json").entries] == [
        e["path"] for e in load(plan_file).entries
    ]


def test_review_reads_keys_piped_in_when_there_is_no_terminal(tmp_path: Path) -> None:
    """A script (or a pipe) gives the keys: no terminal is opened for them."""
    _, db, plan_file = planned(tmp_path)
    first = Review.of(load(plan_file)).groups[0].entries[0]
    command = [sys.executable, "-m", "cleanup", "--db", str(db), "review", str(plan_file)]
    done = subprocess.run(
        [*command, "-o", str(tmp_path / "r.json")],
        input="kq",
        capture_output=True,
        text=True,
        start_new_session=True,  # no controlling terminal, as under cron or CI
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Kept 1 item." in done.stdout
    assert first["path"] not in {e["path"] for e in load(tmp_path / "r.json").entries}
    # The input's end quits and saves, keeping the rest as planned.
    done = subprocess.run(
        [*command, "-o", str(tmp_path / "r2.json")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert len(load(tmp_path / "r2.json").entries) == len(load(plan_file).entries)


def test_a_clean_up_day_with_the_staff_pack_end_to_end(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    for i in range(30):  # the rest of a year's work, so the plan stays within the pack's 25% limit
        write(docs / f"Work/note-{i}.txt", f"note {i}")
    month_ago = time.time() - 30 * 86400
    for path in docs.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_mtime > month_ago:
            os.utime(path, (month_ago, month_ago))  # past the pack's minimum age
    db = tmp_path / "inv.sqlite"
    before = snapshot(docs)

    assert run(db, "scan", str(docs))[0] == 0
    code, out, err = run(db, "plan", "--policy", "staff", "-o", str(tmp_path / "plan.json"))
    assert code == 0, err
    assert snapshot(docs) == before
    plan = load(tmp_path / "plan.json")
    actions = plan.body["totals"]["by_action"]
    assert actions["trash"]["items"] == 9  # 2 copies of the report, 5 photos, 2 junk files
    assert "no measurable energy saving" in out  # what the plan is worth: local disks only
    code, out, _ = run(db, "plan", "show", str(tmp_path / "plan.json"), "--format", "markdown")
    assert code == 0 and "annual-2023 (1).pdf" in out

    code, out, err = run(db, "apply", str(tmp_path / "plan.json"), "--yes")
    assert code == 0, err
    assert "9 done, 0 skipped, 0 failed" in out
    assert len(trash_files(tmp_path)) == 9
    assert (docs / "Reports/annual-2023.pdf").exists()
    code, out, _ = run(db, "findings", "--format", "json")
    f = json.loads(out)
    assert f["duplicates"] == [] and f["junk"] == []

    code, out, _ = run(db, "runs")
    assert code == 0 and "complete" in out
    code, out, _ = run(db, "undo", "last")
    assert code == 0 and "9 restored" in out
    assert snapshot(docs) == before
    code, out, _ = run(db, "findings", "--format", "json")
    assert len(json.loads(out)["duplicates"]) == 6  # findings see the restored copies again

    # A second day: apply again (a fresh plan), then purge for good.
    assert run(db, "plan", "--policy", "staff", "-o", str(tmp_path / "plan2.json"))[0] == 0
    code, out, _ = run(db, "apply", str(tmp_path / "plan2.json"), "--yes")
    assert code == 0 and "9 done" in out
    code, out, _ = run(db, "purge", "last", "--yes")
    assert code == 0 and "9 purged" in out
    assert trash_files(tmp_path) == []
    code, out, _ = run(db, "runs", "--format", "json")
    rows = json.loads(out)
    assert [r["undone"] for r in rows] == [9, 0] and [r["purged"] for r in rows] == [0, 9]


def test_a_plan_over_the_policys_run_limit_is_not_written(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    policy = tmp_path / "tidy.toml"
    policy.write_text(
        'name = "tidy"\n[defaults]\nmax_percent = 5\n'
        '[[policy]]\nname = "junk"\napplies_to = "junk"\naction = "trash"\n'
    )
    db = tmp_path / "inv.sqlite"
    assert run(db, "scan", str(docs))[0] == 0
    code, _, err = run(db, "plan", "--policy", str(policy), "-o", str(tmp_path / "plan.json"))
    assert code == 3 and "max_percent" in err
    assert not (tmp_path / "plan.json").exists()


def test_an_admin_policy_that_deletes_needs_two_approvals_before_apply_runs(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    policy = tmp_path / "admin.toml"
    policy.write_text(
        'name = "admin"\n[defaults]\napprovals = 1\nsecond_approval_for_delete = true\n'
        '[[policy]]\nname = "junk"\napplies_to = "junk"\naction = "delete"\n'
    )
    db = tmp_path / "inv.sqlite"
    assert run(db, "scan", str(docs))[0] == 0
    code, _, err = run(db, "plan", "--policy", str(policy), "-o", str(tmp_path / "plan.json"))
    assert code == 0, err
    p = str(tmp_path / "plan.json")
    assert load(p).body["approvals_required"]["second_for_delete"] is True
    before = snapshot(docs)

    code, _, err = run(db, "apply", p, "--yes")
    assert code == 3 and "needs 2 approvals because the plan deletes permanently" in err
    assert run(db, "plan", "approve", p, "--by", "it-lead")[0] == 0
    code, _, err = run(db, "apply", p, "--yes")
    assert code == 3 and "so far: it-lead" in err
    # The same person again, in capitals or with spaces, is still one approval.
    code, out, _ = run(db, "plan", "approve", p, "--by", " IT-Lead ")
    assert code == 0 and "had already approved" in out
    assert run(db, "apply", p, "--yes")[0] == 3
    assert snapshot(docs) == before

    assert run(db, "plan", "approve", p, "--by", "dpo")[0] == 0
    code, out, _ = run(db, "plan", "show", p)
    assert "Approvals: 2 of 2 needed" in out
    code, out, err = run(db, "apply", p, "--yes")
    assert code == 0, err
    assert "2 done" in out and "freed" in out
    assert "Undo with" not in out and "nothing to undo" in out  # deleted for good
    assert not (docs / "~$draft.docx").exists() and not (docs / "Photos 2019/Thumbs.db").exists()
