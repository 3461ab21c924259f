"""Safety rules no policy can override, checked over generated inventories and policies.

Whatever the policy says: the last copy of every duplicate group survives and the copy a
decision says it keeps is not removed; nothing protected enters a decision; items that free
nothing or are not owned, and items younger than min_age, are flagged at most; freed bytes
are never counted twice for one inode.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import policies
from cleanup.findings import FindingOptions, find
from cleanup.inventory import Inventory
from cleanup.providers import parse_address
from cleanup.records import (
    FREES_NOTHING,
    HARDLINK,
    NOT_OWNED,
    PLACEHOLDER,
    SHARED_EXTERNALLY,
    SHORTCUT,
    TRASHED,
    FileRecord,
)
from cleanup.scan import scan
from policies.actions import REMOVING
from policies.engine import key_of

NOW = 1_800_000_000.0
DAY = 86400.0
FOLDERS = ("/home/u/Documents", "/home/u/Documents/keep", "/home/u/Downloads", "/srv/share/old")
CONTENTS = {"a": 100, "b": 100, "c": 5000}


@st.composite
def records(draw: st.DrawFn) -> list[FileRecord]:
    """A small inventory with duplicates, hard links, protected labels and awkward flags."""
    out: list[FileRecord] = []
    for i in range(draw(st.integers(1, 14))):
        provider = draw(st.sampled_from(["local", "local", "gdrive"]))
        content = draw(st.sampled_from(["a", "a", "b", "c", None]))
        size = CONTENTS[content] if content else draw(st.sampled_from([0, 70, 2 * 10**9]))
        name = draw(st.sampled_from(["f{}.txt", "~$f{}.docx", "f{}.tmp", "photo{}.jpg"])).format(i)
        age = draw(st.sampled_from([0.5, 10.0, 400.0, 1200.0, 1200.0, 1500.0, None]))
        flags = set(
            draw(
                st.frozensets(
                    st.sampled_from([PLACEHOLDER, SHORTCUT, NOT_OWNED, SHARED_EXTERNALLY, TRASHED]),
                    max_size=2,
                )
            )
        )
        if provider == "gdrive":
            flags.discard(PLACEHOLDER)
        extra: dict[str, object] = {}
        if draw(st.integers(0, 9)) == 0:
            extra["legal_hold"] = True
        if draw(st.integers(0, 9)) == 0:
            extra["labels"] = ["Record"]
        folder = draw(st.sampled_from(FOLDERS))
        out.append(
            FileRecord(
                provider=provider,
                account="acct",
                item_id=f"{provider}-{i}",
                path=f"{folder}/{name}",
                name=name,
                size=size,
                storage_bytes=0 if PLACEHOLDER in flags or SHORTCUT in flags else size,
                modified=None if age is None else NOW - age * DAY,
                owner=draw(st.sampled_from(["u", "boss", None])),
                hashes={"blake3": hashlib.sha256(content.encode()).hexdigest()} if content else {},
                flags=frozenset(flags),
                version_bytes=draw(st.sampled_from([0, 0, 3000])) if provider == "gdrive" else 0,
                device=1 if provider == "local" else None,
                inode=1000 + i if provider == "local" else None,
                extra=extra,
            )
        )
    # Some local files are hard links of an earlier one: same inode, same content.
    locals_ = [
        r for r in out if r.provider == "local" and r.size > 0 and not r.flags & FREES_NOTHING
    ]
    for r in locals_[1:]:
        if draw(st.booleans()) and draw(st.booleans()):
            first = locals_[0]
            r.inode, r.size, r.storage_bytes, r.hashes = (
                first.inode,
                first.size,
                first.storage_bytes,
                dict(first.hashes),
            )
    by_inode: dict[int | None, list[FileRecord]] = defaultdict(list)
    for r in out:
        if r.inode is not None:
            by_inode[r.inode].append(r)
    for names in by_inode.values():
        links = len(names) + draw(
            st.sampled_from([0, 0, 1])
        )  # sometimes a name outside the inventory
        for r in names:
            r.links = links
            if links > 1:
                r.flags = r.flags | {HARDLINK}
    return out


KEEPS = (
    '["oldest"]',
    '["newest"]',
    '[{ under = "/home/u/Documents/**" }, "oldest"]',
    '["shortest_path"]',
    '["longest_path", "oldest"]',
    '[{ provider = "gdrive" }]',
)
CONDITIONS = (
    "",
    'min_size = "50"',
    'modified_before = "1y"',
    'path = "/home/u/Downloads/**"',
    'unless = { ext = "jpg" }',
)


@st.composite
def policy_texts(draw: st.DrawFn) -> str:
    """A policy of one to four rules, with protections and a minimum age."""
    protected = draw(st.sampled_from(["[]", '["/home/u/Documents/keep/**"]', '["**/f1.txt"]']))
    lines = ["[protect]", f"paths = {protected}"]
    if draw(st.booleans()):
        lines.append('owners = ["boss"]')
    if draw(st.booleans()):
        lines.append('labels = ["Rec*"]')
    lines += [
        "[defaults]",
        f'min_age = "{draw(st.sampled_from(["0d", "0d", "7d", "30d"]))}"',
        'archive_to = "/mnt/archive"',
    ]
    for n in range(draw(st.integers(1, 4))):
        applies_to = draw(
            st.sampled_from(
                ["duplicates"] * 3
                + ["files"] * 2
                + ["junk", "stale", "empty_files", "old_versions", "trash"]
            )
        )
        if applies_to == "old_versions":
            action = draw(st.sampled_from(['"flag"', '{ type = "trim_versions", keep = 1 }']))
        elif applies_to == "trash":
            action = draw(st.sampled_from(['"flag"', '"delete"']))
        else:
            action = draw(st.sampled_from(['"flag"', '"archive"', '"trash"', '"delete"']))
        lines += [
            "[[policy]]",
            f'name = "r{n}"',
            f'applies_to = "{applies_to}"',
            f"action = {action}",
        ]
        if applies_to == "duplicates" and (action != '"flag"' or draw(st.booleans())):
            lines.append(f"keep = {draw(st.sampled_from(KEEPS))}")
        condition = draw(st.sampled_from(CONDITIONS))
        if condition:
            lines.append(condition)
    return "\n".join(lines) + "\n"


def _evaluate(
    recs: list[FileRecord], text: str
) -> tuple[policies.Policy, Inventory, policies.Evaluation]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated.toml"
        path.write_text(text)
        policy = policies.load(str(path))
    inventory = Inventory(":memory:")
    scan_id = inventory.begin_scan(["generated"])
    with inventory.transaction():
        inventory.upsert(recs, scan_id)
    return (
        policy,
        inventory,
        policy.evaluate(inventory, find(inventory, FindingOptions(now=NOW)), now=NOW),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records(), policy_texts())
def test_no_policy_can_override_the_safety_rules(recs: list[FileRecord], text: str) -> None:
    policy, inventory, evaluation = _evaluate(recs, text)
    decisions = {key_of(d.record): d for d in evaluation.decisions}
    assert len(decisions) == len(evaluation.decisions), "one decision per item"
    removed = {k for k, d in decisions.items() if d.action in REMOVING}
    event(f"removes {min(len(removed), 3)}+, protected {bool(evaluation.protected)}")

    for d in decisions.values():
        record = d.record
        # Nothing protected enters a decision.
        assert policy.protection.reason(record) is None, (record.path, record.extra, d)
        # Items that free nothing or are not ours are flagged at most.
        if record.flags & (FREES_NOTHING | {NOT_OWNED}):
            assert d.action == "flag", d
        # Nothing younger than min_age is changed.
        if d.action != "flag" and evaluation.min_age_days > 0:
            assert record.modified is not None
            assert NOW - record.modified >= evaluation.min_age_days * DAY, d
        # The copy a decision keeps stays.
        if d.keep is not None and d.action in REMOVING:
            assert key_of(d.keep) not in removed, (d.record.path, d.keep.path)
        if d.action == "flag":
            assert d.reclaimable_bytes == 0
    protected_keys = {key_of(r) for r, _ in evaluation.protected}
    assert not protected_keys & decisions.keys()

    # The last copy of every duplicate group survives.
    for group in find(inventory, FindingOptions(now=NOW)).duplicates:
        surviving = [
            c
            for c in group.copies
            if any((c.provider, c.account, i) not in removed for i in c.item_ids)
        ]
        assert surviving, f"every copy of {group.files} would be removed"

    # Freed bytes are counted once per inode, and not at all while another name of it stays.
    freed: dict[tuple[object, ...], int] = defaultdict(int)
    for d in decisions.values():
        if d.reclaimable_bytes:
            assert d.action in REMOVING | {"trim_versions"} and d.record.reclaimable
        if d.action in REMOVING and d.reclaimable_bytes:
            r = d.record
            freed[(r.provider, r.device, r.inode) if r.inode is not None else key_of(r)] += (
                d.reclaimable_bytes
            )
    for inode, total in freed.items():
        names = [r for r in recs if (r.provider, r.device, r.inode) == inode or key_of(r) == inode]
        assert total <= names[0].storage_bytes
        gone = [r for r in names if key_of(r) in removed]
        assert len(gone) >= names[0].links, f"{total} bytes counted for {inode} while a name stays"


@settings(max_examples=60, deadline=None)
@given(records(), policy_texts())
def test_evaluation_is_deterministic_and_changes_nothing(recs: list[FileRecord], text: str) -> None:
    policy, inventory, first = _evaluate(recs, text)
    before = [(f.path, f.fingerprint, f.flags) for f in inventory.files(include_gone=True)]
    again = policy.evaluate(inventory, now=NOW)
    assert [(d.record.path, d.action, d.policy, d.reason) for d in first.decisions] == [
        (d.record.path, d.action, d.policy, d.reason) for d in again.decisions
    ]
    assert before == [(f.path, f.fingerprint, f.flags) for f in inventory.files(include_gone=True)]


def test_generated_policies_are_valid_against_the_json_schema() -> None:
    """The hand-off between the two checkers: what the language accepts, the schema accepts too."""
    import tomllib

    import jsonschema

    schema = policies.schema()

    @settings(max_examples=40, deadline=None)
    @given(policy_texts())
    def check(text: str) -> None:
        jsonschema.validate(tomllib.loads(text), schema)

    check()
    assert time.time() > 0


@st.composite
def trees(draw: st.DrawFn) -> list[tuple[str, str, float, str]]:
    """(relative path, content or a link's target, age in days, "file" | "hardlink" | "symlink")."""
    entries: list[tuple[str, str, float, str]] = []
    for i in range(draw(st.integers(2, 10))):
        folder = draw(
            st.sampled_from(["Documents", "Documents/keep", "Downloads", "Old", "Old/deep/er"])
        )
        name = draw(st.sampled_from(["f{}.txt", "~$f{}.docx", "f{}.tmp"])).format(i)
        age = draw(st.sampled_from([1.0, 20.0, 400.0, 1500.0]))
        files = [e for e in entries if e[3] == "file"]
        kind = (
            draw(st.sampled_from(["file", "file", "file", "hardlink", "symlink"]))
            if files
            else "file"
        )
        if kind == "file":
            content = draw(st.sampled_from(["alpha", "beta", "gamma", ""]))
        else:
            content = draw(st.sampled_from(files))[0]  # the path it links to
        entries.append((f"{folder}/{name}", content, age, kind))
    return entries


def _build(root: Path, entries: list[tuple[str, str, float, str]]) -> None:
    for rel, content, age, kind in entries:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "hardlink":
            os.link(root / content, path)
        elif kind == "symlink":
            os.symlink(root / content, path)
        else:
            path.write_text(content * 1000)
            t = time.time() - age * DAY
            os.utime(path, (t, t))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees(), policy_texts())
def test_on_real_trees_copies_survive_and_protected_folders_are_untouched(
    entries: list[tuple[str, str, float, str]], text: str
) -> None:
    text = re.sub(r"paths = \[.*\]", 'paths = ["**/keep/**"]', text)
    text = text.replace("/home/u/", "**/")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "tree"
        _build(root, entries)
        before = {str(p): (p.lstat().st_mtime_ns, p.lstat().st_size) for p in root.rglob("*")}
        inventory = Inventory(Path(folder) / "inventory.sqlite")
        scan(inventory, [parse_address(str(root))])
        (Path(folder) / "p.toml").write_text(text)
        evaluation = policies.load(str(Path(folder) / "p.toml")).evaluate(inventory)
        min_age = evaluation.min_age_days
        removed = {d.record.path for d in evaluation.decisions if d.action in REMOVING}
        for d in evaluation.decisions:
            assert "/keep/" not in d.record.path
            if d.action != "flag":
                assert not os.path.islink(d.record.path)
                assert time.time() - os.lstat(d.record.path).st_mtime >= min_age * DAY
        # Every content held by two or more files keeps at least one of them.
        by_content: dict[bytes, set[int]] = defaultdict(set)
        names: dict[int, list[str]] = defaultdict(list)
        for p in root.rglob("*"):
            if p.is_file() and not p.is_symlink() and p.stat().st_size > 0:
                by_content[p.read_bytes()].add(p.stat().st_ino)
                names[p.stat().st_ino].append(str(p))
        for inodes in by_content.values():
            if len(inodes) > 1:
                assert any(any(n not in removed for n in names[i]) for i in inodes), sorted(removed)
        after = {str(p): (p.lstat().st_mtime_ns, p.lstat().st_size) for p in root.rglob("*")}
        assert after == before
        inventory.close()
