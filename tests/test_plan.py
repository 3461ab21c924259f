"""A member of staff turns findings into a plan: a dry run that changes nothing, hashed and reviewable."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
from click.testing import CliRunner

from cleanup.apply import apply
from cleanup.cli import main
from cleanup.errors import PlanError
from cleanup.findings import duplicate_groups
from cleanup.inventory import Inventory, StoredFile
from cleanup.plan import Plan, build, decode_name, destination_of, load
from cleanup.providers import parse_address
from cleanup.scan import scan
from policies.decisions import Approvals, Decision, Evaluation, Limits
from tests.tree import clean_day_tree, write


def run(db: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--db", str(db), *args], input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def scanned(root: Path, db: Path) -> Inventory:
    inventory = Inventory(db)
    scan(inventory, [parse_address(str(root))])
    return inventory


def live(inventory: Inventory, name: str) -> StoredFile:
    """The one present file whose path ends with ``name``."""
    found = [f for f in inventory.files("kind = 'file'") if f.path.endswith(name)]
    assert len(found) == 1, (name, [f.path for f in found])
    return found[0]


def duplicates(inventory: Inventory, action: str = "trash") -> list[Decision]:
    """Remove every copy of each duplicate group but the oldest."""
    out = []
    for g in duplicate_groups(inventory):
        head = g.copies[0]
        keep = inventory.get(head.provider, head.account, head.item_ids[0])
        assert keep is not None
        for c in g.copies[1:]:
            for item_id in c.item_ids:
                record = inventory.get(c.provider, c.account, item_id)
                assert record is not None
                out.append(
                    Decision(
                        record, action, "dupes", f"duplicate of {keep.path}", keep=keep, group=g.id
                    )
                )
    return out


def evaluation(
    decisions: Iterable[Decision],
    protected: Iterable[StoredFile] = (),
    limits: Limits | None = None,
    approvals: Approvals | None = None,
) -> Evaluation:
    return Evaluation(
        "test-policy",
        hashlib.sha256(b"test-policy").hexdigest(),
        list(decisions),
        protected=[(p, "protected by test") for p in protected],
        limits=limits or Limits(),
        approvals=approvals or Approvals(),
    )


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below root with its content and mtime_ns: what 'nothing changed' means."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                out[p] = (os.readlink(p).encode(), 0)
            else:
                out[p] = (Path(p).read_bytes(), os.lstat(p).st_mtime_ns)
    return out


def make_plan(
    inventory: Inventory, decisions: Iterable[Decision], path: Path, **kw: object
) -> Plan:
    plan, _ = build(evaluation(decisions, **kw), inventory)  # type: ignore[arg-type]
    plan.save(path)
    return load(path)


# --- stories -------------------------------------------------------------------------


def test_a_plan_lists_every_duplicate_but_the_kept_copy_and_changes_nothing(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    inventory = scanned(docs, tmp_path / "inv.sqlite")
    before = snapshot(docs)

    plan, warnings = build(evaluation(duplicates(inventory)), inventory)
    plan.save(tmp_path / "plan.json")

    assert snapshot(docs) == before
    assert warnings == []
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert saved["format"] == "cleanup.plan/1" and saved["approvals"] == []
    body = saved["plan"]
    assert (
        saved["sha256"]
        == hashlib.sha256(
            json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        ).hexdigest()
    )
    assert body["policy"]["name"] == "test-policy"
    assert [s["id"] for s in body["inventory"]["scans"]] == inventory.latest_scan_ids()
    assert body["expires"] > body["created"]
    # 2 extra copies of the report, and 5 photos in the backup folder
    assert body["totals"]["items"] == 7
    assert body["totals"]["by_action"]["trash"]["items"] == 7
    assert body["totals"]["by_provider"]["local"]["items"] == 7
    report = next(e for e in body["entries"] if e["path"].endswith("Downloads/annual-2023.pdf"))
    assert report["keep"]["path"].endswith("Reports/annual-2023.pdf")
    assert report["keep"]["hashes"]["blake3"] == report["hashes"]["blake3"]
    assert report["fingerprint"] and report["keep"]["fingerprint"]
    assert report["storage_bytes"] == os.lstat(report["path"]).st_blocks * 512
    kept = {e["keep"]["path"] for e in body["entries"]}
    assert kept.isdisjoint(e["path"] for e in body["entries"])


def test_protected_items_never_enter_a_plan_whatever_the_policy_says(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    inventory = scanned(docs, tmp_path / "inv.sqlite")
    decisions = duplicates(inventory)
    protected = [d.record for d in decisions if "Backup" in d.record.path]
    plan, _ = build(evaluation(decisions, protected=protected), inventory)
    assert [e for e in plan.entries if "Backup" in e["path"]] == []
    assert len(plan.entries) == 2


def test_a_kept_copy_that_is_itself_planned_keeps_its_dependant(tmp_path: Path) -> None:
    a = write(tmp_path / "t/a.txt", b"same content")
    b = write(tmp_path / "t/b.txt", b"same content")
    inventory = scanned(tmp_path / "t", tmp_path / "inv.sqlite")
    ra, rb = live(inventory, "a.txt"), live(inventory, "b.txt")
    # A careless policy: each copy is removed "keeping" the other one.
    plan, warnings = build(
        evaluation(
            [Decision(ra, "trash", "p", "dup", keep=rb), Decision(rb, "trash", "p", "dup", keep=ra)]
        ),
        inventory,
    )
    assert plan.entries == []
    assert (
        len(warnings) == 2
        and str(a) in warnings[0] + warnings[1]
        and str(b) in warnings[0] + warnings[1]
    )


def test_the_least_destructive_decision_wins_for_one_item(tmp_path: Path) -> None:
    write(tmp_path / "t/a.txt", b"x")
    inventory = scanned(tmp_path / "t", tmp_path / "inv.sqlite")
    r = live(inventory, "a.txt")
    plan, _ = build(
        evaluation([Decision(r, "delete", "p1", "old"), Decision(r, "trash", "p2", "junk")]),
        inventory,
    )
    assert [(e["action"], e["policy"]) for e in plan.entries] == [("trash", "p2")]


@pytest.mark.parametrize(
    "limits,words",
    [
        (Limits(max_items=3), "max_items"),
        (Limits(max_bytes=1000), "max_bytes"),
        (Limits(max_percent=10.0), "max_percent"),
    ],
)
def test_run_limits_abort_planning_with_a_clear_message(
    tmp_path: Path, limits: Limits, words: str
) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    inventory = scanned(docs, tmp_path / "inv.sqlite")
    with pytest.raises(PlanError, match=words):
        build(evaluation(duplicates(inventory), limits=limits), inventory)


def test_names_that_are_not_utf8_round_trip_exactly(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    raw = os.path.join(os.fsencode(root), b"caf\xe9 \xff.txt")
    with open(raw, "wb") as f:
        f.write(b"legacy name")
    inventory = scanned(root, tmp_path / "inv.sqlite")
    record = live(inventory, ".txt")
    plan = make_plan(inventory, [Decision(record, "trash", "p", "junk")], tmp_path / "plan.json")
    [entry] = plan.entries
    assert os.fsencode(decode_name(entry, "path")) == raw
    assert os.fsencode(decode_name(entry, "item_id")) == raw
    assert "\\xe9" in entry["path"] and entry["path_b64"]
    (tmp_path / "plan.json").read_text(encoding="utf-8")  # plain UTF-8, readable by any JSON tool


def test_a_plan_edited_by_hand_is_refused(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    inventory = scanned(docs, tmp_path / "inv.sqlite")
    make_plan(inventory, duplicates(inventory), tmp_path / "plan.json")
    data = json.loads((tmp_path / "plan.json").read_text())
    data["plan"]["entries"][0]["action"] = "delete"
    (tmp_path / "plan.json").write_text(json.dumps(data))
    with pytest.raises(PlanError, match="changed after it was made"):
        load(tmp_path / "plan.json")
    code, _, err = run(tmp_path / "inv.sqlite", "plan", "show", str(tmp_path / "plan.json"))
    assert code == 3 and "changed after it was made" in err


def test_plan_show_prints_a_table_markdown_and_json(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    inventory = scanned(docs, db)
    plan = make_plan(inventory, duplicates(inventory), tmp_path / "plan.json")

    code, out, _ = run(db, "plan", "show", str(tmp_path / "plan.json"))
    assert code == 0
    assert plan.sha256[:12] in out and "test-policy" in out and "annual-2023 (1).pdf" in out
    assert "keeping" in out and "trash" in out

    code, out, _ = run(db, "plan", "show", str(tmp_path / "plan.json"), "--format", "markdown")
    assert code == 0 and out.startswith("# Plan ") and "| trash | 7 |" in out

    code, out, _ = run(db, "plan", "show", str(tmp_path / "plan.json"), "--format", "json")
    assert code == 0 and json.loads(out)["sha256"] == plan.sha256


def test_the_staff_pack_makes_a_plan_from_the_command_line(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    month_ago = time.time() - 30 * 86400
    for name in ("annual-2023.pdf", "annual-2023 (1).pdf"):
        os.utime(docs / "Downloads" / name, (month_ago, month_ago))  # older than the pack's min_age
    db = tmp_path / "inv.sqlite"
    scanned(docs, db).close()
    before = snapshot(docs)
    code, out, err = run(db, "plan", "--policy", "staff", "-o", str(tmp_path / "plan.json"))
    assert code == 0, err
    assert snapshot(docs) == before
    plan = load(tmp_path / "plan.json")
    assert plan.body["policy"]["name"] and plan.body["policy"]["source"] == "staff"
    assert "Plan written to" in out
    paths = {e["path"] for e in plan.acting}
    # The oldest copy of the report stays; its two younger copies are planned.
    assert str(docs / "Reports/annual-2023.pdf") not in paths
    assert {
        str(docs / "Downloads/annual-2023.pdf"),
        str(docs / "Downloads/annual-2023 (1).pdf"),
    } <= paths


def test_plan_without_a_policy_says_what_to_do(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "inv.sqlite", "plan")
    assert code == 2 and "--policy" in err


def test_a_reason_quoting_an_undecodable_name_is_written_escaped(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    raw = os.path.join(os.fsencode(root), b"r\xe9sum\xe9.doc")
    with open(raw, "wb") as f:
        f.write(b"cv")
    inventory = scanned(root, tmp_path / "inv.sqlite")
    record = live(inventory, ".doc")
    archive = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"Archiv\xe9"))
    plan = make_plan(
        inventory,
        [Decision(record, "archive", "old", f"untouched: {record.path}", destination=archive)],
        tmp_path / "plan.json",
    )
    [entry] = plan.entries
    assert "\\xe9" in entry["reason"] and "\\xe9" in entry["destination"]
    assert os.fsencode(destination_of(entry) or "") == os.fsencode(archive)
    result = apply(plan, inventory)
    assert len(result.done) == 1
    assert os.path.exists(os.path.join(os.fsencode(archive), b"r\xe9sum\xe9.doc"))
