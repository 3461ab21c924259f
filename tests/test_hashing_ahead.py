"""A first scan hashes in a second process while it lists: the same inventory, sooner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.make_tree import build_tree
from cleanup import forking, hashing_ahead
from cleanup.findings import find
from cleanup.inventory import Inventory
from cleanup.providers import parse_address
from cleanup.records import FileRecord
from cleanup.scan import scan
from providers.local.walk import describe
from tests.tree import clean_day_tree, write

pytestmark = pytest.mark.skipif(not forking.available(), reason="hashing ahead needs fork (Linux)")


def _state(inventory: Inventory) -> tuple[object, ...]:
    f = find(inventory)
    return (
        sorted((g.hash, tuple(g.files), g.reclaimable_bytes) for g in f.duplicates),
        sorted(tuple(d.folders) for d in f.duplicate_folders),
        sorted(inventory.db.execute("SELECT item_id, blake3 FROM files")),
        sorted(inventory.db.execute("SELECT * FROM hash_cache")),
    )


@pytest.mark.parametrize("build", ["clean_day", "awkward"])
def test_hashing_ahead_stores_exactly_what_hashing_after_the_listing_does(
    tmp_path: Path, build: str
) -> None:
    root = tmp_path / "tree"
    if build == "clean_day":
        clean_day_tree(root)
    else:
        build_tree(root, files=400, seed=7)
    results = {}
    for ahead in (True, False):
        inventory = Inventory(tmp_path / f"{ahead}.sqlite")
        result = scan(inventory, [parse_address(str(root))], hash_ahead=ahead)
        results[ahead] = (_state(inventory), result.hashing)
    (state_ahead, stats_ahead), (state_after, stats_after) = results[True], results[False]
    assert state_ahead == state_after
    assert state_ahead[0], "the tree has duplicates"
    assert (stats_ahead.full_hashed, stats_ahead.edge_hashed, stats_ahead.bytes_read) == (
        stats_after.full_hashed,
        stats_after.edge_hashed,
        stats_after.bytes_read,
    )


def _record(path: Path) -> FileRecord:
    return describe(str(path), path.name, os.lstat(path), "me")


def test_a_file_that_changes_or_vanishes_before_it_is_read_is_skipped(tmp_path: Path) -> None:
    data = os.urandom(100_000)
    files = {name: write(tmp_path / f"{name}.bin", data) for name in "abcd"}
    ahead = hashing_ahead.HashingAhead()
    try:
        # The first file of a size waits for a second one: meddle with it meanwhile.
        ahead.offer(_record(files["a"]))
        with open(files["a"], "ab") as f:
            f.write(b"!")
        ahead.offer(_record(files["b"]))
        small = {name: write(tmp_path / f"{name}.txt", b"same") for name in "xyz"}
        ahead.offer(_record(small["x"]))
        small["x"].unlink()
        ahead.offer(_record(small["y"]))
        ahead.offer(_record(small["z"]))
        outcome = ahead.finish()
    finally:
        ahead.close()
    assert outcome is not None
    reasons = dict(outcome.stats.skipped)
    assert "changed" in reasons[str(files["a"])]
    assert "vanished" in reasons[str(small["x"])]
    keys = {os.path.basename(names[0][1]): key for key, names in outcome.names.items()}
    assert outcome.full[keys["y.txt"]] == outcome.full[keys["z.txt"]]
    assert keys["b.bin"] in outcome.edges and keys["a.bin"] not in outcome.full


def test_a_failed_hashing_process_falls_back_to_hashing_after_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = clean_day_tree(tmp_path / "Documents")

    def broken(self: hashing_ahead.HashingAhead) -> None:
        self.close()  # as if the process died: finish gets nothing back
        return None

    monkeypatch.setattr(hashing_ahead.HashingAhead, "finish", broken)
    inventory = Inventory(tmp_path / "inv.sqlite")
    result = scan(inventory, [parse_address(str(docs))])
    assert result.hashing.full_hashed > 0
    assert find(inventory).duplicates


def _processes_naming(marker: str) -> list[int]:
    """Processes whose command line holds ``marker`` (the forked helpers share the scan's)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.fixture(scope="module")
def six_thousand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("six-thousand") / "tree"
    build_tree(root, files=6000, seed=11)  # its first scan takes about 0.35 s here
    return root


@pytest.mark.parametrize("after", [0.0, 0.08, 0.16])  # seconds after the scan began
def test_an_interrupted_first_scan_leaves_no_process_behind_and_the_next_scan_completes(
    six_thousand: Path, tmp_path: Path, after: float
) -> None:
    root = six_thousand
    db = tmp_path / f"interrupted-{after}.sqlite"
    scan_command = [sys.executable, "-m", "cleanup", "--db", str(db), "scan", str(root)]
    child = subprocess.Popen(scan_command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # From the moment the inventory exists: a Ctrl-C during Python's start-up is Python's
    # (one landing while a dataclass is being defined ends the process by the signal).
    deadline = time.monotonic() + 30
    while not db.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(after)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    # Done already, "Interrupted.", or ended by the signal itself (the same, said by Python).
    assert child.returncode in (0, 130, -signal.SIGINT), err
    deadline = time.monotonic() + 10
    while _processes_naming(str(db)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_naming(str(db)) == []
    assert b"Traceback" not in err

    subprocess.run([*scan_command], check=True, capture_output=True)
    fresh = Inventory(tmp_path / "fresh.sqlite")
    scan(fresh, [parse_address(str(root))])
    assert _state(Inventory(db)) == _state(fresh)
