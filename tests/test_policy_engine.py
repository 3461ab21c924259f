"""An admin or a member of staff writes a policy and sees what it would do to real files.

Each story builds a real folder tree, scans it into a real inventory, evaluates a policy
written as TOML, and checks the decisions: what is trashed, what is kept, what is only
flagged and why. Evaluating changes nothing on disk.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import policies
from cleanup.findings import FindingOptions, find
from cleanup.inventory import Inventory
from cleanup.providers import parse_address
from cleanup.records import NOT_OWNED, PLACEHOLDER, SHORTCUT, FileRecord
from cleanup.scan import scan
from policies.decisions import Decision, Evaluation
from policies.keep_rules import copy_marks
from tests.tree import write

DAY = 86400.0


def home() -> Path:
    return Path(os.environ["HOME"])


def policy(tmp_path: Path, text: str, name: str = "policy") -> policies.Policy:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return policies.load(str(path))


def scanned(*roots: Path, db: Path) -> Inventory:
    inventory = Inventory(db)
    scan(inventory, [parse_address(str(r)) for r in roots])
    return inventory


def by_path(evaluation: Evaluation) -> dict[str, Decision]:
    return {d.record.path: d for d in evaluation.decisions}


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


def test_duplicates_keep_the_copy_in_the_canonical_folder_and_trash_the_others(
    tmp_path: Path,
) -> None:
    report = os.urandom(40_000)
    canonical = write(home() / "Documents/Reports/annual.pdf", report, age_days=30)
    older = write(home() / "Downloads/annual.pdf", report, age_days=400)
    newer = write(home() / "Downloads/annual (1).pdf", report, age_days=20)
    inventory = scanned(home(), db=tmp_path / "inv.sqlite")
    before = snapshot(home())

    p = policy(
        tmp_path,
        """
        [defaults]
        min_age = "7d"

        [[policy]]
        name = "dupes"
        applies_to = "duplicates"
        action = "trash"
        keep = [{ under = "~/Documents/**" }, "oldest"]
        """,
    )
    evaluation = p.evaluate(inventory)
    decisions = by_path(evaluation)

    assert set(decisions) == {str(older), str(newer)}
    for d in decisions.values():
        assert d.action == "trash" and d.policy == "dupes"
        assert d.keep is not None and d.keep.path == str(canonical)
        assert d.reason == f"duplicate of {canonical} (kept: under ~/Documents/**)"
        assert d.group is not None
        assert d.reclaimable_bytes == d.record.storage_bytes > 0
    assert snapshot(home()) == before, "evaluating a policy changes nothing"


def test_without_a_canonical_copy_the_oldest_stays(tmp_path: Path) -> None:
    data = os.urandom(10_000)
    oldest = write(tmp_path / "tree/a/photo.jpg", data, age_days=900)
    other = write(tmp_path / "tree/b/photo.jpg", data, age_days=100)
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    p = policy(
        tmp_path,
        """
        [[policy]]
        name = "dupes"
        applies_to = "duplicates"
        action = "trash"
        keep = [{ under = "~/Documents/**" }, "oldest"]
        """,
    )
    (d,) = p.evaluate(inventory).decisions
    assert d.record.path == str(other) and d.action == "trash"
    assert d.keep is not None and d.keep.path == str(oldest)
    assert "kept: oldest copy" in d.reason


def test_when_no_keep_rule_decides_the_group_is_flagged_not_acted_on(tmp_path: Path) -> None:
    data = os.urandom(5_000)
    a = write(tmp_path / "tree/x/same.bin", data)
    b = write(tmp_path / "tree/y/same.bin", data)
    t = time.time() - 500 * DAY
    for f in (a, b):
        os.utime(f, (t, t))
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    p = policy(
        tmp_path,
        """
        [[policy]]
        name = "dupes"
        applies_to = "duplicates"
        action = "delete"
        keep = ["oldest", "shortest_path"]
        """,
    )
    decisions = p.evaluate(inventory).decisions
    assert {d.record.path for d in decisions} == {str(a), str(b)}
    for d in decisions:
        assert d.action == "flag" and d.keep is None
        assert "no keep rule decides between 2 copies" in d.reason


def test_protected_paths_owners_labels_and_holds_never_enter_a_decision(tmp_path: Path) -> None:
    write(tmp_path / "tree/Contracts/2019/lease.pdf", b"lease", age_days=2000)
    write(tmp_path / "tree/Old/notes.txt", b"notes", age_days=2000)
    write(tmp_path / "tree/Old/.git/config", b"[core]", age_days=2000)
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    cloud = [
        FileRecord(
            "gdrive",
            "me",
            "held",
            "/My Drive/held.doc",
            "held.doc",
            size=9,
            storage_bytes=9,
            modified=1e9,
            extra={"legal_hold": True},
        ),
        FileRecord(
            "gdrive",
            "me",
            "labelled",
            "/My Drive/rec.doc",
            "rec.doc",
            size=9,
            storage_bytes=9,
            modified=1e9,
            extra={"labels": ["Record - 7 years"]},
        ),
        FileRecord(
            "gdrive",
            "me",
            "ceo",
            "/My Drive/ceo.doc",
            "ceo.doc",
            size=9,
            storage_bytes=9,
            modified=1e9,
            owner="CEO@org.example",
        ),
        FileRecord(
            "gdrive",
            "me",
            "plain",
            "/My Drive/plain.doc",
            "plain.doc",
            size=9,
            storage_bytes=9,
            modified=1e9,
        ),
    ]
    with inventory.transaction():
        inventory.upsert(cloud, inventory.begin_scan(["gdrive:me"]))
    p = policy(
        tmp_path,
        """
        [protect]
        paths = ["**/Contracts/**", "**/.git/**"]
        owners = ["ceo@org.example"]

        [[policy]]
        name = "old"
        modified_before = "3y"
        action = "trash"
        """,
    )
    evaluation = p.evaluate(inventory)
    assert [Path(d.record.path).name for d in evaluation.decisions] == ["plain.doc", "notes.txt"]
    reasons = {Path(r.path).name: why for r, why in evaluation.protected}
    assert reasons == {
        "lease.pdf": "path matches protected '**/Contracts/**'; policy 'old' would trash it",
        "config": "path matches protected '**/.git/**'; policy 'old' would trash it",
        "held.doc": "on legal hold; policy 'old' would trash it",
        "rec.doc": "carries the label 'Record - 7 years'; policy 'old' would trash it",
        "ceo.doc": "owner CEO@org.example is protected; policy 'old' would trash it",
    }


def test_when_policies_disagree_the_least_destructive_outcome_wins(tmp_path: Path) -> None:
    big_old = write(tmp_path / "tree/big-old.iso", os.urandom(3000), age_days=2000)
    old = write(tmp_path / "tree/old.txt", b"old", age_days=2000)
    log = write(tmp_path / "tree/debug.log", b"log", age_days=2000)
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    p = policy(
        tmp_path,
        """
        [defaults]
        archive_to = "/mnt/archive"

        [[policy]]
        name = "delete logs"
        ext = "log"
        action = "delete"

        [[policy]]
        name = "trash old"
        modified_before = "5y"
        action = "trash"

        [[policy]]
        name = "archive old"
        modified_before = "5y"
        unless = { ext = "log" }
        action = "archive"

        [[policy]]
        name = "look at isos"
        ext = "iso"
        action = "flag"
        """,
    )
    d = by_path(p.evaluate(inventory))
    assert (d[str(big_old)].action, d[str(big_old)].policy) == ("flag", "look at isos")
    assert (d[str(old)].action, d[str(old)].policy, d[str(old)].destination) == (
        "archive",
        "archive old",
        "/mnt/archive",
    )
    assert (d[str(log)].action, d[str(log)].policy) == ("trash", "trash old")


def test_items_that_free_nothing_or_are_not_ours_are_flagged_at_most(tmp_path: Path) -> None:
    inventory = Inventory(tmp_path / "inv.sqlite")
    old = time.time() - 2000 * DAY

    def record(item: str, flags: frozenset[str]) -> FileRecord:
        return FileRecord(
            "gdrive",
            "me",
            item,
            f"/My Drive/{item}.bin",
            f"{item}.bin",
            size=5,
            storage_bytes=5,
            modified=old,
            flags=flags,
        )

    with inventory.transaction():
        inventory.upsert(
            [
                record("shortcut", frozenset({SHORTCUT})),
                record("theirs", frozenset({NOT_OWNED})),
                record("mine", frozenset()),
            ],
            inventory.begin_scan(["gdrive:me"]),
        )
    p = policy(tmp_path, '[[policy]]\nname = "old"\nmodified_before = "1y"\naction = "delete"\n')
    d = {x.record.item_id: x for x in p.evaluate(inventory).decisions}
    assert d["mine"].action == "delete" and d["mine"].reclaimable_bytes == 5
    assert d["shortcut"].action == "flag" and d["shortcut"].reason.startswith(
        "a shortcut: removing it frees nothing"
    )
    assert d["theirs"].action == "flag" and d["theirs"].reason.startswith(
        "not owned by the signed-in account"
    )
    assert d["shortcut"].reclaimable_bytes == 0


def test_symlinks_and_placeholders_on_disk_are_never_trashed(tmp_path: Path) -> None:
    target = write(tmp_path / "tree/real.tmp", b"data", age_days=100)
    os.symlink(target, tmp_path / "tree/link.tmp")
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    inventory.db.execute("UPDATE files SET flags = ? WHERE path = ?", (PLACEHOLDER, str(target)))
    p = policy(tmp_path, '[[policy]]\nname = "tmp"\nfilename = "*.tmp"\naction = "trash"\n')
    decisions = p.evaluate(inventory).decisions
    assert [(Path(d.record.path).name, d.action) for d in decisions] == [("real.tmp", "flag")]
    assert "placeholder" in decisions[0].reason


def test_nothing_younger_than_min_age_is_changed(tmp_path: Path) -> None:
    fresh = write(tmp_path / "tree/~$open.docx", b"lock", age_days=1)
    stale = write(tmp_path / "tree/~$left.docx", b"lock", age_days=40)
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    p = policy(
        tmp_path,
        '[defaults]\nmin_age = "30d"\n[[policy]]\nname = "junk"\napplies_to = "junk"\naction = "trash"\n',
    )
    d = by_path(p.evaluate(inventory))
    assert d[str(stale)].action == "trash"
    assert d[str(fresh)].action == "flag"
    assert (
        d[str(fresh)].reason
        == "younger than min_age (30 days), so flagged instead of trash: junk file"
    )


def test_hard_links_free_their_bytes_once_and_only_when_every_name_goes(tmp_path: Path) -> None:
    data = os.urandom(64_000)
    original = write(tmp_path / "tree/keep/original.dat", data, age_days=900)
    copy = write(tmp_path / "tree/copy/copy.dat", data, age_days=100)
    os.link(copy, tmp_path / "tree/copy/copy-link.dat")
    outside = write(tmp_path / "elsewhere/other.dat", os.urandom(64_000), age_days=100)
    os.link(outside, tmp_path / "tree/copy/other-link.dat")
    write(tmp_path / "tree/keep/other.dat", outside.read_bytes(), age_days=900)
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    p = policy(
        tmp_path,
        '[[policy]]\nname = "dupes"\napplies_to = "duplicates"\naction = "trash"\nkeep = ["oldest"]\n',
    )
    d = by_path(p.evaluate(inventory))
    both = [d[str(copy)], d[str(tmp_path / "tree/copy/copy-link.dat")]]
    assert [x.action for x in both] == ["trash", "trash"]
    assert sorted(x.reclaimable_bytes or 0 for x in both) == [0, both[0].record.storage_bytes]
    assert all(x.keep is not None and x.keep.path == str(original) for x in both)
    linked = d[str(tmp_path / "tree/copy/other-link.dat")]
    assert linked.action == "flag", (
        "its other name lives outside the inventory: removing it frees nothing"
    )
    assert "frees nothing" in linked.reason and linked.reclaimable_bytes == 0


def test_two_policies_keeping_different_copies_never_remove_both(tmp_path: Path) -> None:
    data = os.urandom(8_000)
    old = write(tmp_path / "tree/old.bin", data, age_days=900)
    new = write(tmp_path / "tree/new.bin", data, age_days=100)
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    p = policy(
        tmp_path,
        """
        [[policy]]
        name = "keep oldest"
        applies_to = "duplicates"
        action = "trash"
        keep = ["oldest"]

        [[policy]]
        name = "keep newest"
        applies_to = "duplicates"
        action = "trash"
        keep = ["newest"]
        """,
    )
    d = by_path(p.evaluate(inventory))
    actions = sorted(x.action for x in d.values())
    assert actions == ["flag", "trash"]
    removed = next(x for x in d.values() if x.action == "trash")
    kept = next(x for x in d.values() if x.action == "flag")
    assert removed.keep is not None and removed.keep.path == kept.record.path
    assert "it is the copy kept by policy" in kept.reason
    assert {removed.record.path, kept.record.path} == {str(old), str(new)}


def test_a_file_policy_cannot_remove_the_copy_a_duplicates_policy_keeps(tmp_path: Path) -> None:
    data = os.urandom(8_000)
    kept = write(tmp_path / "tree/Downloads/a.bin", data, age_days=900)
    other = write(tmp_path / "tree/Docs/a.bin", data, age_days=100)
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    p = policy(
        tmp_path,
        """
        [[policy]]
        name = "dupes"
        applies_to = "duplicates"
        action = "trash"
        keep = ["oldest"]

        [[policy]]
        name = "downloads"
        path = "Downloads/**"
        action = "delete"
        """,
    )
    d = by_path(p.evaluate(inventory))
    assert d[str(other)].action == "trash"
    assert d[str(kept)].action == "flag"


def test_trim_versions_on_cloud_drives(tmp_path: Path) -> None:
    inventory = Inventory(tmp_path / "inv.sqlite")
    old = time.time() - 400 * DAY
    with inventory.transaction():
        inventory.upsert(
            [
                FileRecord(
                    "sharepoint",
                    "hr",
                    "1",
                    "/Shared Documents/budget.xlsx",
                    "budget.xlsx",
                    size=10,
                    storage_bytes=900,
                    version_bytes=890,
                    modified=old,
                ),
                FileRecord(
                    "sharepoint",
                    "hr",
                    "2",
                    "/Shared Documents/new.xlsx",
                    "new.xlsx",
                    size=10,
                    storage_bytes=10,
                    modified=old,
                ),
            ],
            inventory.begin_scan(["sharepoint:hr"]),
        )
    p = policy(
        tmp_path,
        """
        [[policy]]
        name = "versions"
        applies_to = "old_versions"
        action = { type = "trim_versions", keep = 2, newer_than = "90d" }

        [[policy]]
        name = "all versions"
        applies_to = "old_versions"
        account = "nobody"
        action = { type = "trim_versions", keep = 0 }
        """,
    )
    (d,) = p.evaluate(inventory).decisions
    assert (d.record.item_id, d.action, d.keep_versions, d.versions_newer_than) == (
        "1",
        "trim_versions",
        2,
        90.0,
    )
    assert d.reclaimable_bytes is None, (
        "how much trimming while keeping some frees is known only at apply"
    )


def test_approvals_limits_and_warnings_travel_with_the_evaluation(tmp_path: Path) -> None:
    for n in range(10):
        write(tmp_path / f"tree/f{n}.tmp", b"x" * (n + 1), age_days=100)
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    p = policy(
        tmp_path,
        f"""
        [defaults]
        max_items = 5
        max_percent = 50
        approvals = 1
        second_approval_for_delete = true
        second_approval_above = "10 GB"
        archive_to = "{tmp_path / "tree/archive"}"

        [[policy]]
        name = "tmp"
        ext = "tmp"
        action = "delete"
        approvals = 2
        """,
    )
    evaluation = p.evaluate(inventory)
    assert len(evaluation.decisions) == 10
    assert (evaluation.approvals.required, evaluation.approvals.second_for_delete) == (2, True)
    assert evaluation.approvals.second_above_bytes == 10**10
    assert evaluation.limits.max_items == 5
    problems = policies.over_limits(evaluation)
    assert len(problems) == 2
    assert problems[0].startswith("The plan would change 10 items, more than max_items = 5.")
    assert "100.0% of the inventory's 10 files" in problems[1]


def test_an_archive_destination_inside_the_scanned_tree_is_a_warning_and_an_error(
    tmp_path: Path,
) -> None:
    write(tmp_path / "tree/archive/kept.txt", b"already archived", age_days=2000)
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    text = f'[defaults]\nmin_age = "7d"\n[[policy]]\nname = "old"\nmodified_before = "1y"\naction = {{ type = "archive", to = "{tmp_path / "tree/archive"}" }}\n'
    evaluation = policy(tmp_path, text).evaluate(inventory)
    assert any("inside a scanned folder" in w for w in evaluation.warnings)
    issues = policies.validate(str(tmp_path / "policy.toml"), inventory)
    assert [(i.level, i.policy, i.key, i.line) for i in issues] == [("error", "old", "action", 6)]


def test_finding_kinds_and_conditions_select_what_a_policy_sees(tmp_path: Path) -> None:
    write(tmp_path / "tree/empty.txt", b"", age_days=100)
    (tmp_path / "tree/Empty/Nested").mkdir(parents=True)
    write(tmp_path / "tree/Thumbs.db", b"thumbs", age_days=100)
    write(tmp_path / "tree/movie.mp4", os.urandom(2000), age_days=100)
    write(tmp_path / "tree/doc.pdf", os.urandom(2000), age_days=100)
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    p = policy(
        tmp_path,
        """
        [[policy]]
        name = "empty files"
        applies_to = "empty_files"
        action = "delete"

        [[policy]]
        name = "empty folders"
        applies_to = "empty_folders"
        action = "trash"

        [[policy]]
        name = "junk"
        applies_to = "junk"
        action = "trash"

        [[policy]]
        name = "videos"
        kind = "video"
        min_size = "1 kB"
        max_size = "1 MB"
        action = "flag"
        """,
    )
    got = {(Path(d.record.path).name, d.action, d.policy) for d in p.evaluate(inventory).decisions}
    assert got == {
        ("empty.txt", "delete", "empty files"),
        ("Empty", "trash", "empty folders"),
        ("Thumbs.db", "trash", "junk"),
        ("movie.mp4", "flag", "videos"),
    }


def test_explain_says_which_policies_match_and_what_would_happen(tmp_path: Path) -> None:
    big = write(tmp_path / "tree/Downloads/big.iso", os.urandom(5000), age_days=1200)
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    p = policy(
        tmp_path,
        """
        [[policy]]
        name = "old downloads"
        path = "Downloads/**"
        modified_before = "2y"
        action = "trash"

        [[policy]]
        name = "huge"
        min_size = "1 GB"
        action = "flag"

        [[policy]]
        name = "junk"
        applies_to = "junk"
        action = "trash"
        """,
    )
    record = next(r for r in inventory.files() if r.path == str(big))
    lines = p.explain(record, inventory)
    assert lines[0] == "not protected"
    assert lines[1] == "policy 'old downloads' (files, then trash): matches"
    assert lines[2] == "  - path matches 'Downloads/**': yes (path " + str(big) + ")"
    assert lines[3].startswith("  - last modified more than 2y ago: yes (last modified ")
    assert lines[4] == "policy 'huge' (files, then flag): does not match"
    assert lines[5] == "  - size at least 1.0 GB: no (size 5.0 kB)"
    assert lines[6] == "policy 'junk' (junk, then trash): does not apply, it is not a junk file"
    assert (
        lines[7]
        == "decision: trash (policy 'old downloads'): path matches 'Downloads/**'; last modified more than 2y ago"
    )


@pytest.mark.parametrize("findings_given", [True, False])
def test_findings_can_be_passed_in_or_computed(tmp_path: Path, findings_given: bool) -> None:
    write(tmp_path / "tree/a.tmp", b"a", age_days=10)
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    p = policy(tmp_path, '[[policy]]\nname = "junk"\napplies_to = "junk"\naction = "trash"\n')
    findings = find(inventory, FindingOptions()) if findings_given else None
    evaluation = p.evaluate(inventory, findings)
    assert [d.record.name for d in evaluation.decisions] == ["a.tmp"]
    assert evaluation.policy_name == "policy" and len(evaluation.policy_hash) == 64
    assert evaluation.extra["policies"]["junk"]["items"] == 1


def test_a_folder_holding_something_protected_is_not_removed(tmp_path: Path) -> None:
    (tmp_path / "tree/Old/keep/inner").mkdir(parents=True)
    (tmp_path / "tree/Old/other").mkdir(parents=True)
    (tmp_path / "tree/Gone/nothing").mkdir(parents=True)
    write(tmp_path / "tree/file.txt", b"x", age_days=10)
    inventory = scanned(tmp_path / "tree", db=tmp_path / "inv.sqlite")
    p = policy(
        tmp_path,
        '[protect]\npaths = ["**/keep/**"]\n[[policy]]\nname = "empty"\napplies_to = "empty_folders"\naction = "trash"\n',
    )
    d = {Path(x.record.path).name: x for x in p.evaluate(inventory).decisions}
    assert (d["Gone"].action, d["Old"].action) == ("trash", "flag")
    assert d["Old"].reason.startswith(
        f"it holds the protected {tmp_path / 'tree/Old/keep'}, so flagged instead of trash"
    )


def test_the_copy_kept_is_one_the_account_owns(tmp_path: Path) -> None:
    inventory = Inventory(tmp_path / "inv.sqlite")
    now = time.time()

    def copy(item: str, age: float, flags: frozenset[str] = frozenset()) -> FileRecord:
        return FileRecord(
            "gdrive",
            "me",
            item,
            f"/My Drive/{item}.pdf",
            f"{item}.pdf",
            size=50,
            storage_bytes=50,
            modified=now - age * DAY,
            hashes={"md5": "0" * 32},
            flags=flags,
        )

    with inventory.transaction():
        inventory.upsert(
            [
                copy("shared-with-me", 900, frozenset({NOT_OWNED})),
                copy("mine", 300),
                copy("mine-too", 200),
            ],
            inventory.begin_scan(["gdrive:me"]),
        )
    p = policy(
        tmp_path,
        '[[policy]]\nname = "d"\napplies_to = "duplicates"\naction = "trash"\nkeep = ["oldest"]\n',
    )
    d = {x.record.item_id: x for x in p.evaluate(inventory).decisions}
    assert d["mine-too"].action == "trash" and d["mine-too"].keep is not None
    assert d["mine-too"].keep.item_id == "mine"
    assert d["mine-too"].reason.endswith("(kept: oldest copy, among the copies the account owns)")
    assert d["shared-with-me"].action == "flag"
    assert set(d) == {"mine-too", "shared-with-me"}


@pytest.mark.parametrize(
    ("path", "marks"),
    [
        ("/h/report.pdf", 0),
        ("/h/report (1).pdf", 1),
        ("/h/report - Copy.pdf", 1),
        ("/h/Copy of report.pdf", 1),
        ("/h/report copy 2.pdf", 1),
        ("/h/rapport - Copie.pdf", 1),
        ("/h/Photos 2019 (copy)/dunes.jpg", 1),
        ("/h/Photos 2019 (copy)/dunes (1).jpg", 2),
        ("/h/Chapter 2.docx", 0),
        ("/h/copyright.txt", 0),
        ("/h/photocopy.pdf", 0),
    ],
)
def test_original_name_tells_a_copy_by_its_name(path: str, marks: int) -> None:
    assert copy_marks(path) == marks
