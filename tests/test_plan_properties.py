"""Properties over generated trees and policies: the safety rules hold whatever the tree and the policy."""

from __future__ import annotations

import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policies
from cleanup.apply import apply
from cleanup.inventory import Inventory
from cleanup.plan import REMOVING, build, decode_name, load
from cleanup.providers import parse_address
from cleanup.scan import scan
from cleanup.undo import undo
from policies.decisions import Decision, Evaluation

FOLDERS = ("", "Reports", "Reports/2019", "keep", "Downloads", "Backup/copy")
CONTENTS = (b"alpha" * 40, b"bravo" * 41, b"charlie" * 30, b"d", b"echo" * 500, b"")

files = st.lists(
    st.tuples(
        st.sampled_from(FOLDERS),
        st.sampled_from(CONTENTS),
        st.integers(min_value=10, max_value=3000),  # age in days
        st.sampled_from((".dat", ".tmp", ".pdf")),
    ),
    min_size=1,
    max_size=14,
)
KEEP_RULES = (
    '"oldest"',
    '"newest"',
    '"shortest_path"',
    '"longest_path"',
    '{ under = "**/Reports/**" }',
)

policy_texts = st.builds(
    lambda action, keep, protect, junk, big: "\n".join(
        [
            'name = "generated"',
            "[protect]",
            f"paths = {protect!r}".replace("'", '"'),
            "[defaults]",
            'min_age = "1d"',
            "[[policy]]",
            'name = "duplicates"',
            'applies_to = "duplicates"',
            f'action = "{action}"',
            f"keep = [{', '.join(keep)}]",
            "[[policy]]",
            'name = "junk"',
            'ext = ["tmp"]',
            f'action = "{junk}"',
            *(
                ["[[policy]]", 'name = "big"', 'min_size = "150 B"', 'action = "trash"']
                if big
                else []
            ),
        ]
    ),
    st.sampled_from(("trash", "delete")),
    st.lists(st.sampled_from(KEEP_RULES), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(("**/keep/**", "**/Backup/**", "*.pdf")), max_size=2, unique=True),
    st.sampled_from(("trash", "delete", "flag")),
    st.booleans(),
)

PROPERTY = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_tree(root: Path, spec: list[tuple[str, bytes, int, str]]) -> dict[str, tuple[bytes, int]]:
    now = time.time()
    out = {}
    for i, (folder, data, age, ext) in enumerate(spec):
        path = root / folder / f"file{i}{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        t = now - age * 86400
        os.utime(path, (t, t))
        out[str(path)] = (data, path.stat().st_mtime_ns)
    return out


def scanned(root: Path, db: Path) -> Inventory:
    inventory = Inventory(db)
    scan(inventory, [parse_address(str(root))], hash_workers=1)
    return inventory


def state(paths: dict[str, tuple[bytes, int]]) -> dict[str, tuple[bytes, int] | None]:
    return {
        p: (Path(p).read_bytes(), os.lstat(p).st_mtime_ns) if os.path.lexists(p) else None
        for p in paths
    }


@PROPERTY
@given(spec=files, policy_text=policy_texts)
def test_the_last_copy_of_every_duplicate_group_survives_and_nothing_protected_is_planned(
    spec: list[tuple[str, bytes, int, str]], policy_text: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = base / "Documents"
        tree = make_tree(root, spec)
        (base / "policy.toml").write_text(policy_text)
        inventory = scanned(root, base / "inv.sqlite")
        evaluation = policies.load(str(base / "policy.toml")).evaluate(inventory)
        plan, _ = build(evaluation, inventory)
        plan.save(base / "plan.json")
        planned = {decode_name(e, "path") for e in plan.entries}
        protected = {r.path for r, _ in evaluation.protected}
        assert planned.isdisjoint(protected)
        for path in planned:
            assert "/keep/" not in path or "**/keep/**" not in policy_text
            assert "/Backup/" not in path or "**/Backup/**" not in policy_text

        apply(load(base / "plan.json"), inventory)
        by_content: dict[bytes, list[str]] = defaultdict(list)
        for path, (data, _) in tree.items():
            if data:
                by_content[data].append(path)
        for data, paths in by_content.items():
            if len(paths) > 1:
                survivors = [p for p in paths if os.path.exists(p) and Path(p).read_bytes() == data]
                assert survivors, f"every copy of a duplicate group was removed: {paths}"
        inventory.close()


@PROPERTY
@given(
    spec=files,
    actions=st.lists(st.sampled_from(("trash", "archive", "keep")), min_size=14, max_size=14),
)
def test_apply_then_undo_restores_every_path_with_identical_content_and_mtime(
    spec: list[tuple[str, bytes, int, str]], actions: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = base / "Documents"
        tree = make_tree(root, spec)
        inventory = scanned(root, base / "inv.sqlite")
        records = sorted(inventory.files("kind = 'file'"), key=lambda r: r.path)
        decisions = [
            Decision(
                r,
                a,
                "generated",
                "test",
                destination=str(base / "Archive") if a == "archive" else None,
            )
            for r, a in zip(records, actions, strict=False)
            if a != "keep"
        ]
        plan, _ = build(Evaluation("generated", "0" * 64, decisions), inventory)
        plan.save(base / "plan.json")
        before = state(tree)
        result = apply(load(base / "plan.json"), inventory)
        assert len(result.done) == len([e for e in plan.entries if e["action"] in REMOVING])
        for e in result.done:
            assert not os.path.lexists(decode_name(e, "path"))
        if result.run_id:  # a plan with nothing to do makes no run, and changes nothing
            back = undo(inventory, result.run_id)
            assert back.failed == []
        assert state(tree) == before
        inventory.close()


@PROPERTY
@given(
    spec=files,
    changes=st.lists(
        st.sampled_from(("none", "content", "touch", "replace", "remove")), min_size=14, max_size=14
    ),
)
def test_an_item_changed_between_plan_and_apply_is_never_acted_on(
    spec: list[tuple[str, bytes, int, str]], changes: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = base / "Documents"
        make_tree(root, spec)
        inventory = scanned(root, base / "inv.sqlite")
        records = sorted(inventory.files("kind = 'file'"), key=lambda r: r.path)
        decisions = [Decision(r, "trash", "generated", "test") for r in records]
        plan, _ = build(Evaluation("generated", "0" * 64, decisions), inventory)
        plan.save(base / "plan.json")
        changed: dict[str, bytes] = {}
        for r, change in zip(records, changes, strict=False):
            p = Path(r.path)
            if change == "content":
                p.write_bytes(p.read_bytes() + b"+")
            elif change == "touch":
                os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 1_000_000))
            elif (
                change == "replace"
            ):  # saved over by an editor: same bytes and mtime, another inode
                data, mtime_ns = p.read_bytes(), p.stat().st_mtime_ns
                fresh = p.with_name(p.name + ".new")
                fresh.write_bytes(data)
                os.utime(fresh, ns=(mtime_ns, mtime_ns))
                os.replace(fresh, p)
            elif change == "remove":
                p.unlink()
            if change in ("content", "touch", "replace"):
                changed[r.path] = p.read_bytes()
        result = apply(load(base / "plan.json"), inventory)
        acted = {decode_name(e, "path") for e in result.done}
        assert acted.isdisjoint(changed)
        for path, data in changed.items():
            assert Path(path).read_bytes() == data
        assert len(acted) + len(result.skipped) == len(plan.acting)
        assert all(reason.startswith(("stale", "gone")) for _, reason in result.skipped)
        inventory.close()
