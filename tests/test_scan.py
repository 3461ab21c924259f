"""A member of staff scans their folders and sees what is wasting space."""

from __future__ import annotations

import importlib
import json
import mimetypes
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from cleanup import forking
from cleanup.cli import main
from cleanup.findings import find
from cleanup.inventory import Inventory
from cleanup.providers import ProviderOptions, parse_address
from cleanup.scan import ScanProgress, scan
from tests.tree import YEAR, clean_day_tree, sparse, write


def run(db: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--db", str(db), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def findings_json(db: Path, *args: str) -> dict:
    code, out, _ = run(db, "findings", "--format", "json", *args)
    assert code == 0
    return json.loads(out)


def test_clean_up_day_scan_shows_duplicates_stale_oversized_and_junk(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"

    code, out, err = run(db, "scan", str(docs), "--oversized", "1 MB")
    assert code == 0, err
    assert "duplicate groups" in out and "stale files" in out

    f = findings_json(db, "--oversized", "1 MB")
    groups = {tuple(sorted(os.path.basename(p) for p in g["files"])) for g in f["duplicates"]}
    assert ("annual-2023 (1).pdf", "annual-2023.pdf", "annual-2023.pdf") in groups
    assert len(f["duplicates"]) == 6  # the report, and 5 photos each with its copy
    report = next(g for g in f["duplicates"] if len(g["files"]) == 3)
    storage = os.lstat(docs / "Reports/annual-2023.pdf").st_blocks * 512
    assert report["reclaimable_bytes"] == 2 * storage

    [folder] = f["duplicate_folders"]
    assert folder["folders"] == sorted(
        [str(docs / "Backup/Photos 2019 (copy)"), str(docs / "Photos 2019")]
    )
    assert folder["files"] == [5, 6]  # five photos, and Thumbs.db beside the originals

    stale = {os.path.basename(x["path"]) for x in f["stale"]}
    assert stale == {"annual-2023.pdf", "minutes-2015.docx"} | {
        f"IMG_{i:04d}.jpg" for i in range(5)
    }
    assert [os.path.basename(x["path"]) for x in f["oversized"]] == ["holiday.mp4"]
    assert {os.path.basename(x["path"]) for x in f["junk"]} == {"~$draft.docx", "Thumbs.db"}
    assert [os.path.basename(x["path"]) for x in f["empty_files"]] == ["empty.txt"]
    assert [os.path.basename(x["path"]) for x in f["empty_folders"]] == ["Empty"]
    assert [os.path.basename(x["path"]) for x in f["broken_symlinks"]] == ["dangling-link"]
    assert f["kinds"]["video"] > 0 and f["kinds"]["images"] > 0


def test_scan_changes_nothing(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    before = {p: (p.lstat().st_mtime_ns, p.lstat().st_size) for p in docs.rglob("*")}
    run(tmp_path / "inv.sqlite", "scan", str(docs))
    after = {p: (p.lstat().st_mtime_ns, p.lstat().st_size) for p in docs.rglob("*")}
    assert before == after


def test_same_size_decoys_differing_in_one_byte_are_not_duplicates(tmp_path: Path) -> None:
    base = bytearray(os.urandom(200_000))
    write(tmp_path / "t/original.bin", bytes(base))
    write(tmp_path / "t/copy.bin", bytes(base))
    for where, offset in (("first", 0), ("middle", 100_000), ("last", 199_999)):
        decoy = bytearray(base)
        decoy[offset] ^= 0xFF
        write(tmp_path / f"t/decoy-{where}.bin", bytes(decoy))
    db = tmp_path / "inv.sqlite"
    run(db, "scan", str(tmp_path / "t"))
    [group] = findings_json(db)["duplicates"]
    assert sorted(os.path.basename(p) for p in group["files"]) == ["copy.bin", "original.bin"]


def test_hardlinks_are_one_file_and_free_nothing(tmp_path: Path) -> None:
    data = os.urandom(10_000)
    a = write(tmp_path / "t/a.bin", data)
    os.link(a, tmp_path / "t/a-link.bin")
    db = tmp_path / "inv.sqlite"
    run(db, "scan", str(tmp_path / "t"))
    assert findings_json(db)["duplicates"] == []

    write(tmp_path / "t/b.bin", data)  # a real second copy
    run(db, "scan", str(tmp_path / "t"))
    [group] = findings_json(db)["duplicates"]
    assert len(group["copies"]) == 2
    linked = next(c for c in group["copies"] if len(c["paths"]) == 2)
    assert sorted(os.path.basename(p) for p in linked["paths"]) == ["a-link.bin", "a.bin"]
    assert group["reclaimable_bytes"] == os.lstat(tmp_path / "t/b.bin").st_blocks * 512


def test_sparse_files_count_their_allocated_blocks(tmp_path: Path) -> None:
    a = sparse(tmp_path / "t/disk-a.img", 50_000_000, b"boot")
    sparse(tmp_path / "t/disk-b.img", 50_000_000, b"boot")
    db = tmp_path / "inv.sqlite"
    run(db, "scan", str(tmp_path / "t"))
    [group] = findings_json(db)["duplicates"]
    assert group["size"] == 50_000_000
    assert group["reclaimable_bytes"] == os.lstat(a).st_blocks * 512 < 1_000_000
    assert findings_json(db, "--oversized", "10 MB")["oversized"] == []


def test_zero_byte_files_are_empty_not_duplicates(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        write(tmp_path / "t" / name, b"")
    db = tmp_path / "inv.sqlite"
    run(db, "scan", str(tmp_path / "t"))
    f = findings_json(db)
    assert f["duplicates"] == [] and len(f["empty_files"]) == 3


def test_symlinks_are_never_followed_and_loops_are_reported(tmp_path: Path) -> None:
    t = tmp_path / "t"
    write(t / "real/data.bin", os.urandom(5000))
    os.symlink(t / "real", t / "link-to-real")  # following it would double-count data.bin
    os.symlink(t / "loop-b", t / "loop-a")
    os.symlink(t / "loop-a", t / "loop-b")
    db = tmp_path / "inv.sqlite"
    code, _, _ = run(db, "scan", str(t))
    assert code == 0
    f = findings_json(db)
    assert f["duplicates"] == []
    assert f["inventory"]["files"] == 1
    assert {os.path.basename(x["path"]) for x in f["broken_symlinks"]} == {"loop-a", "loop-b"}


def test_awkward_names_round_trip(tmp_path: Path) -> None:
    t = tmp_path / "t"
    t.mkdir()
    data = os.urandom(4000)
    names = ["with space.txt", "-leading-dash", "quo'te\"s.txt", "emoji 🧹.txt", "new\nline.txt"]
    for name in names:
        write(t / name, data)
    raw = os.path.join(os.fsencode(t), b"caf\xe9-latin1.txt")  # not valid UTF-8
    with open(raw, "wb") as f:
        f.write(data)
    db = tmp_path / "inv.sqlite"
    code, out, _ = run(db, "scan", str(t))
    assert code == 0
    inventory = Inventory(db)
    [group] = find(inventory).duplicates
    paths = set(group.files)
    assert os.fsdecode(raw) in paths and str(t / "new\nline.txt") in paths
    for p in paths:
        assert os.path.exists(p), p  # every stored path names the real file again
    code, table, _ = run(db, "findings")
    assert "caf\\xe9-latin1.txt" in table  # shown escaped
    assert "new\\nline.txt" in table


def test_rescan_of_an_unchanged_tree_hashes_nothing_and_notices_changes(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    inventory = Inventory(tmp_path / "inv.sqlite")
    first = scan(inventory, [parse_address(str(docs))])
    assert first.hashing.bytes_read > 0
    second = scan(inventory, [parse_address(str(docs))])
    assert second.hashing.bytes_read == 0
    assert second.summary.added == second.summary.changed == second.summary.gone == 0

    (docs / "Downloads/annual-2023 (1).pdf").unlink()
    write(docs / "Old/minutes-2015.docx", b"rewritten")
    third = scan(inventory, [parse_address(str(docs))])
    assert third.summary.gone == 1 and third.summary.changed >= 1
    report = next(g for g in find(inventory).duplicates if len(g.copies) > 1 and g.size == 50_000)
    assert len(report.copies) == 2


def _rows(inventory: Inventory) -> set[tuple]:
    """What the inventory says about every present item, without scan ids or row numbers."""
    return set(
        inventory.db.execute(
            "SELECT item_id, kind, size, storage_bytes, fingerprint, flags, parent_id, blake3 "
            "FROM files WHERE gone_scan IS NULL"
        )
    )


@pytest.fixture(params=["one process", "read ahead"])
def rescan_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Rescans read known folders in two processes from READ_AHEAD_MIN folders: test both."""
    if request.param == "read ahead":
        if not forking.available():
            pytest.skip("reading ahead needs fork (Linux)")
        walk_module = importlib.import_module("providers.local.walk")  # the package exports walk()
        monkeypatch.setattr(walk_module, "READ_AHEAD_MIN", 1)
    return str(request.param)


def test_a_rescan_skips_unchanged_folders_but_sees_a_file_changed_in_place(
    tmp_path: Path, rescan_mode: str
) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    inventory = Inventory(tmp_path / "inv.sqlite")
    first = scan(inventory, [parse_address(str(docs))])
    items = first.summary.added
    listed = inventory.db.execute(
        "SELECT COUNT(*) FROM files WHERE kind = 'folder' AND listing IS NOT NULL"
    ).fetchone()[0]
    assert (
        listed
        == inventory.db.execute("SELECT COUNT(*) FROM files WHERE kind = 'folder'").fetchone()[0]
    )

    generation = inventory.generation
    second = scan(inventory, [parse_address(str(docs))])
    assert second.summary.unchanged == items and inventory.generation == generation

    # Same size, same names: only the file's own mtime and content tell; its folder's mtime
    # does not change when a file in it is rewritten.
    target = docs / "Old/minutes-2015.docx"
    folder_mtime = (docs / "Old").stat().st_mtime_ns
    old = target.read_bytes()
    target.write_bytes(bytes(b ^ 0xFF for b in old))
    os.utime(docs / "Old", ns=(folder_mtime, folder_mtime))
    third = scan(inventory, [parse_address(str(docs))])
    assert third.summary.changed == 1 and third.summary.gone == 0
    assert third.summary.added + third.summary.changed + third.summary.unchanged == items

    fresh = Inventory(tmp_path / "fresh.sqlite")
    scan(fresh, [parse_address(str(docs))])
    assert _rows(inventory) == _rows(fresh)


def _cancel_after(batches: int, options: ProviderOptions) -> Callable[[int], None]:
    """A progress callback that interrupts the scan after so many batches of items."""
    seen: list[int] = []

    def items(n: int) -> None:
        seen.append(n)
        if len(seen) >= batches:
            options.cancel.set()

    return items


def test_an_interrupted_rescan_never_leaves_a_folder_vouching_for_old_rows(
    tmp_path: Path, rescan_mode: str
) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    inventory = Inventory(tmp_path / "inv.sqlite")
    scan(inventory, [parse_address(str(docs))])
    write(docs / "Old/minutes-2015.docx", b"rewritten")
    (docs / "Downloads/annual-2023 (1).pdf").unlink()
    write(docs / "Projects/new.txt", b"new")

    for stop_after in range(1, 6):
        options = ProviderOptions()
        items = _cancel_after(stop_after, options)
        scan(inventory, [parse_address(str(docs))], options, ScanProgress(items=items))
    scan(inventory, [parse_address(str(docs))])
    fresh = Inventory(tmp_path / "fresh.sqlite")
    scan(fresh, [parse_address(str(docs))])
    assert _rows(inventory) == _rows(fresh)


def test_a_file_marked_gone_by_apply_makes_its_folder_listed_again(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    inventory = Inventory(tmp_path / "inv.sqlite")
    scan(inventory, [parse_address(str(docs))])
    record = inventory.get(
        "local",
        inventory.files("kind = 'file'").__next__().account,
        str(docs / "Old/minutes-2015.docx"),
    )
    assert record is not None
    inventory.mark_gone("local", record.account, [record.item_id], 99)
    folder = inventory.get("local", record.account, str(docs / "Old"))
    assert folder is not None and folder.listing is None
    scan(inventory, [parse_address(str(docs))])  # the file is still there: it comes back
    again = inventory.get("local", record.account, record.item_id)
    assert again is not None and not again.gone


def test_files_that_vanish_or_change_while_scanning_are_skipped(tmp_path: Path) -> None:
    t = tmp_path / "t"
    data = os.urandom(100_000)
    for name in ("a", "b", "c", "d"):
        write(t / f"{name}.bin", data)

    def meddle(stage: str) -> None:
        if stage == "hashing":
            (t / "c.bin").unlink()
            with open(t / "d.bin", "ab") as f:
                f.write(b"!")

    inventory = Inventory(tmp_path / "inv.sqlite")
    # Hashing after the listing; tests/test_hashing_ahead.py meddles with hashing ahead.
    result = scan(
        inventory, [parse_address(str(t))], progress=ScanProgress(stage=meddle), hash_ahead=False
    )
    reasons = dict(result.hashing.skipped)
    assert "vanished" in reasons[str(t / "c.bin")]
    assert "changed" in reasons[str(t / "d.bin")]
    [group] = find(inventory).duplicates
    assert sorted(os.path.basename(p) for p in group.files) == ["a.bin", "b.bin"]


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = run(tmp_path / "inv.sqlite", "scan", str(tmp_path / "nope"))
    assert code == 2
    assert "No such file or folder" in err and "nope" in err


def test_an_address_that_reads_like_a_cloud_drive_but_is_none_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(tmp_path / "inv.sqlite", "scan", "gdirve:me")
    assert code == 2 and "no provider is called 'gdirve'" in err and "gdrive" in err
    code, _, err = run(tmp_path / "inv.sqlite", "scan", "sharepoint")
    assert code == 2 and "write e.g. sharepoint:me" in err
    # A folder that happens to be called so is scanned like any other.
    write(tmp_path / "notes:2024/a.txt", "a")
    code, out, err = run(tmp_path / "inv.sqlite", "scan", "notes:2024")
    assert code == 0, err
    assert "Scanned 2 items" in out


def test_a_folder_given_twice_or_inside_another_is_listed_once(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "home/Documents")
    write(tmp_path / "home/notes.txt", "notes")
    home = tmp_path / "home"
    code, alone, err = run(tmp_path / "alone.sqlite", "scan", str(home))
    assert code == 0, err
    code, out, err = run(
        tmp_path / "inv.sqlite", "scan", str(docs), str(home), str(docs / "Reports"), str(home)
    )
    assert code == 0, err
    assert f"Note: {docs} is inside {home}: listed once." in err
    assert f"Note: {home} is given twice: listed once." in err
    assert out.splitlines()[0].split(";")[0] == alone.splitlines()[0].split(";")[0]
    assert Inventory(tmp_path / "inv.sqlite").scans(1)[0]["addresses"] == json.dumps([str(home)])


def test_findings_before_any_scan_say_what_to_do(tmp_path: Path) -> None:
    code, out, err = run(tmp_path / "inv.sqlite", "findings")
    assert code == 0 and "holds no scan yet" in err and "cleanup scan" in err
    assert out == ""
    code, out, err = run(tmp_path / "inv.sqlite", "findings", "--format", "json")
    assert code == 0 and json.loads(out)["duplicates"] == [] and "no scan yet" in err


def test_bad_thresholds_are_clear_errors(tmp_path: Path) -> None:
    for args, needle in (
        (["--stale-after", "3 fortnights"], "not an age"),
        (["--oversized", "-3 GB"], "cannot be negative"),
    ):
        code, _, err = run(tmp_path / "inv.sqlite", "findings", *args)
        assert code == 2 and needle in err


def test_a_corrupt_inventory_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "inv.sqlite"
    db.write_bytes(b"this is not a database" * 100)
    code, _, err = run(db, "findings")
    assert code == 1 and "Cannot open the inventory" in err and "--db" in err


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_unreadable_folders_are_reported_and_the_scan_goes_on(tmp_path: Path) -> None:
    t = tmp_path / "t"
    write(t / "open/a.txt", "same")
    write(t / "open/b.txt", "same")
    write(t / "locked/secret.txt", "secret")
    os.chmod(t / "locked", 0)
    cmd = [sys.executable, "-m", "cleanup", "--db", str(tmp_path / "inv.sqlite"), "scan", str(t)]
    if os.geteuid() == 0:
        # root reads everything: drop the capabilities that bypass permissions to meet a real EACCES
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv to drop capabilities")
        cmd = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *cmd]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        os.chmod(t / "locked", 0o755)
    assert proc.returncode == 0, proc.stderr
    assert "locked" in proc.stderr and "permission denied" in proc.stderr
    assert re.search(r"duplicate groups: +1 ", proc.stdout), proc.stdout


def test_an_unreadable_folder_is_neither_empty_nor_a_duplicate_folder(tmp_path: Path) -> None:
    from cleanup.findings import find as find_all
    from cleanup.records import UNREADABLE

    t = tmp_path / "t"
    write(t / "A/x.txt", "same")
    write(t / "B/x.txt", "same")
    (t / "A/locked").mkdir()
    (t / "C/locked").mkdir(parents=True)
    inventory = Inventory(tmp_path / "inv.sqlite")
    scan(inventory, [parse_address(str(t))])
    assert [os.path.basename(x.path) for x in find_all(inventory).empty_folders] == ["locked", "C"]
    assert len(find_all(inventory).duplicate_folders) == 1
    # mark both 'locked' folders as the walk does when it cannot read them
    inventory.db.execute("UPDATE files SET flags = ? WHERE name = 'locked'", (UNREADABLE,))
    found = find_all(inventory)
    assert found.empty_folders == []
    assert found.duplicate_folders == []


def test_an_incremental_feed_counts_changes_as_changes(tmp_path: Path) -> None:
    from cleanup.inventory import ScanSummary
    from cleanup.records import FileRecord
    from cleanup.scan import InventorySink

    inventory = Inventory(tmp_path / "inv.sqlite")

    def record(i: int, fp: str) -> FileRecord:
        return FileRecord("box", "acct", f"id{i}", f"/f{i}", f"f{i}", size=1, fingerprint=fp)

    def feed(records: list[FileRecord], incremental: bool) -> ScanSummary:
        summary = ScanSummary(inventory.begin_scan(["box:"]))
        sink = InventorySink(inventory, "box", summary, ScanProgress())
        sink.start_unit("acct", "", incremental=incremental)
        for r in records:
            sink.add(r)
        sink.finish_unit("acct", "", complete=True)
        return summary

    first = feed([record(i, "v1") for i in range(5)], incremental=False)
    assert first.added == 5
    changes = feed([record(1, "v2"), record(2, "v1"), record(9, "v1")], incremental=True)
    assert (changes.added, changes.changed, changes.unchanged) == (1, 1, 1)
    assert inventory.count() == 6


def test_scanning_leaves_access_times_alone(tmp_path: Path) -> None:
    """Hashing reads files; it must not make an old file look recently used."""
    t = tmp_path / "t"
    data = os.urandom(300_000)
    now = time.time()
    for name in ("a.bin", "b.bin", "c.bin"):
        p = write(t / name, data)
        os.utime(p, (now - 3 * YEAR, now - 2 * YEAR))  # read long before it was last modified
    before = {p.name: p.stat().st_atime_ns for p in t.iterdir()}
    inventory = Inventory(tmp_path / "inv.sqlite")
    result = scan(inventory, [parse_address(str(t))])
    assert result.hashing.bytes_read >= 3 * 300_000
    assert {p.name: p.stat().st_atime_ns for p in t.iterdir()} == before
    assert len(find(inventory).stale) == 3


def test_a_rescan_of_an_unchanged_tree_reuses_hashes_and_summary_but_sees_changes(
    tmp_path: Path,
) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    db = tmp_path / "inv.sqlite"
    _, first, _ = run(db, "scan", str(docs))
    inventory = Inventory(db)
    generation = inventory.generation
    assert inventory.hashing_is_current()

    _, second, _ = run(db, "scan", str(docs))
    assert "hashed 0 Bytes" in second
    assert inventory.generation == generation  # nothing was written
    assert first.split("\n", 1)[1] == second.split("\n", 1)[1]  # the same summary, remembered

    (docs / "Downloads/annual-2023 (1).pdf").unlink()
    _, third, _ = run(db, "scan", str(docs))
    assert inventory.generation > generation
    assert first.split("\n", 1)[1] != third.split("\n", 1)[1]
    assert "1 gone" in third


def test_remembered_results_last_until_the_files_change(tmp_path: Path) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    inventory = Inventory(tmp_path / "inv.sqlite")
    scan(inventory, [parse_address(str(docs))])
    calls: list[int] = []

    def compute() -> dict[str, int]:
        calls.append(1)
        return {"files": inventory.count()}

    assert inventory.remember("k", compute) == inventory.remember("k", compute)
    assert len(calls) == 1
    write(docs / "new.txt", "new")
    scan(inventory, [parse_address(str(docs))])
    inventory.remember("k", compute)
    assert len(calls) == 2


@pytest.mark.parametrize(
    "name",
    [
        "report.pdf",
        "A.PDF",
        "a.tar.gz",
        "b.TGZ",
        "x.gz",
        "..x",
        "...",
        "a:b.txt",
        ".bashrc",
        ".x.pdf",
        "noext",
        "x.",
        "y.svgz",
        "photo.JPG",
        "photo.jpg",
    ],
)
def test_the_mime_type_of_a_name_is_what_mimetypes_says(name: str) -> None:
    walk_module = importlib.import_module("providers.local.walk")
    for _ in range(2):  # the second time from the cache
        assert walk_module._guess_mime(name) == mimetypes.guess_type(name, strict=False)[0]


def test_a_folder_replaced_by_a_link_is_not_followed_on_rescan(
    tmp_path: Path, rescan_mode: str
) -> None:
    docs = clean_day_tree(tmp_path / "Documents")
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere / "secret.txt", b"not below the scanned folder")
    inventory = Inventory(tmp_path / "inv.sqlite")
    scan(inventory, [parse_address(str(docs))])
    old = docs / "Old"
    had = {str(p) for p in old.rglob("*")}
    shutil.rmtree(old)
    old.symlink_to(elsewhere, target_is_directory=True)

    result = scan(inventory, [parse_address(str(docs))])
    assert result.summary.gone == len(had)  # everything it held; its own row is now the link's
    link = inventory.get("local", inventory.files().__next__().account, str(old))
    assert link is not None and link.kind == "symlink" and not link.gone
    paths = {f.path for f in inventory.files()}
    assert not any(p.startswith(str(old) + "/") for p in paths)
    assert not any("secret" in p for p in paths)
