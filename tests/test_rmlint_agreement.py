"""cleanup finds exactly the duplicate groups rmlint finds, compared by inode, on an awkward tree.

The tree (bench/make_tree.py, a few hundred files) holds duplicates across folders, a
duplicated photo folder, one-byte decoys, hardlinks, sparse files, symlinks with a loop,
empty files and names that are not UTF-8 or hold a newline. rmlint runs with `-T df`
(duplicate files only), `--hidden` (cleanup sees hidden files too) and `-F` (symlinks are
not files; cleanup never follows or matches them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.groups import Group, inode_groups, parse_cleanup, rmlint_sets
from bench.make_tree import build_tree
from cleanup.cli import main
from cleanup.inventory import Inventory
from cleanup.providers import load_providers, parse_address
from cleanup.scan import scan

pytestmark = pytest.mark.skipif(
    shutil.which("rmlint") is None,
    reason="rmlint is not installed (Debian/Ubuntu: apt-get install -y rmlint); .ci/run installs it",
)


def rmlint_groups(root: Path, out: Path) -> set[Group]:
    report = out / "rmlint.json"
    subprocess.run(
        ["rmlint", "-T", "df", "--hidden", "-F", "-o", f"json:{report}", str(root)],
        check=True,
        cwd=out,
        capture_output=True,
    )
    return inode_groups(rmlint_sets(report))


def cleanup_groups(db: Path, root: Path, out: Path) -> tuple[set[Group], list[dict[str, object]]]:
    runner = CliRunner()
    scanned = runner.invoke(main, ["--db", str(db), "--quiet", "scan", str(root)])
    assert scanned.exit_code == 0, scanned.output
    found = runner.invoke(main, ["--db", str(db), "findings", "--format", "json"])
    assert found.exit_code == 0, found.output
    report = out / "cleanup.json"
    report.write_text(found.stdout, encoding="utf-8")
    paths, groups = parse_cleanup(report)
    return inode_groups(paths), groups


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("awkward") / "tree"
    build_tree(root, files=400, seed=7)
    return root


def test_cleanup_and_rmlint_find_the_same_duplicate_groups(tree: Path, tmp_path: Path) -> None:
    ours, groups = cleanup_groups(tmp_path / "inventory.sqlite", tree, tmp_path)
    theirs = rmlint_groups(tree, tmp_path)
    assert ours == theirs
    planted = json.loads(Path(f"{tree}.manifest.json").read_text(encoding="utf-8"))["groups"]
    assert ours == inode_groups(
        [[os.path.join(os.fsencode(tree), os.fsencode(p)) for p in g] for g in planted]
    )
    # The duplicated photo folder is one finding, its files' groups still listed.
    folders = json.loads((tmp_path / "cleanup.json").read_text(encoding="utf-8"))[
        "duplicate_folders"
    ]
    assert [[os.path.basename(f) for f in d["folders"]] for d in folders] == [
        ["Photos 2019", "Photos 2019 (copy)"]
    ]
    # The awkward names are in groups: not UTF-8, a newline, a leading dash.
    names = {os.path.basename(p) for g in groups for p in g["files"]}  # type: ignore[attr-defined]
    assert {"line\nbreak.txt", "-n", "caf\\xe9 latin-1 name.txt"} <= names


def test_reclaimable_bytes_are_allocated_blocks(tree: Path, tmp_path: Path) -> None:
    _, groups = cleanup_groups(tmp_path / "inventory.sqlite", tree, tmp_path)
    sparse = [g for g in groups if any("vm disk" in p for p in g["files"])]  # type: ignore[attr-defined]
    assert len(sparse) == 1
    group = sparse[0]
    allocated = sorted(os.lstat(c["paths"][0]).st_blocks * 512 for c in group["copies"])  # type: ignore[index]
    assert group["reclaimable_bytes"] == sum(allocated[:-1])  # all but the largest copy
    assert group["reclaimable_bytes"] < group["size"]  # far below the apparent sizes


def test_a_rescan_after_changes_still_agrees(tree: Path, tmp_path: Path) -> None:
    work = tmp_path / "tree"
    shutil.copytree(tree, work, symlinks=True)
    db = tmp_path / "inventory.sqlite"
    ours, groups = cleanup_groups(db, work, tmp_path)
    # A new copy of a large file that already has a duplicate (its edges must be compared
    # with theirs, not with their full hash), a new hardlink elsewhere, a copy removed.
    pairs = sorted((g for g in groups if len(g["copies"]) == 2), key=lambda g: g["size"])  # type: ignore[arg-type, index]
    source = pairs[-1]["files"][0]  # type: ignore[index]
    assert os.lstat(source).st_size > 64 * 1024
    shutil.copyfile(source, work / "Desktop" / "one more copy.bin")
    os.link(pairs[0]["files"][0], work / "Desktop" / "one more name.bin")  # type: ignore[index]
    os.unlink(work / "Projects" / "disk images" / "vm disk 2.img")
    ours, _ = cleanup_groups(db, work, tmp_path)
    assert ours == rmlint_groups(work, tmp_path)
    assert any(len(g) == 3 for g in ours if any(os.lstat(source).st_ino == i for _, i in g))


def test_a_rescan_of_the_unchanged_tree_reads_nothing(tree: Path, tmp_path: Path) -> None:
    registry = load_providers()
    address = parse_address(str(tree), registry.names)
    with Inventory(tmp_path / "inventory.sqlite") as inventory:
        first = scan(inventory, [address], registry=registry)
        again = scan(inventory, [address], registry=registry)
    assert first.hashing.bytes_read > 0
    assert again.hashing.bytes_read == 0
    assert (again.summary.added, again.summary.changed, again.summary.gone) == (0, 0, 0)
