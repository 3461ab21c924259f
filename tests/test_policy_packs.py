"""The shipped packs: each validates cleanly and does what its description says to a real tree."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import policies
from cleanup.inventory import Inventory
from cleanup.providers import parse_address
from cleanup.records import FileRecord
from cleanup.scan import scan
from policies.shipped import path as pack_path
from tests.tree import sparse, write

DAY = 86400.0


def home() -> Path:
    return Path(os.environ["HOME"])


def scanned(root: Path, db: Path) -> Inventory:
    inventory = Inventory(db)
    scan(inventory, [parse_address(str(root))])
    return inventory


def outcome(evaluation: policies.Evaluation, root: Path) -> set[tuple[str, str, str]]:
    return {
        (str(Path(d.record.path).relative_to(root)), d.action, d.policy)
        for d in evaluation.decisions
    }


@pytest.mark.parametrize("name", policies.packs())
def test_every_pack_validates_without_errors_or_warnings(name: str) -> None:
    assert policies.validate(str(pack_path(name))) == []
    assert policies.load(name).description


def test_the_packs_are_the_ones_the_docs_promise() -> None:
    assert policies.packs() == ["admin-archive", "admin-large", "admin-versions", "staff"]


def test_staff_pack_on_a_clean_up_day(tmp_path: Path) -> None:
    h = home()
    report = os.urandom(30_000)
    write(h / "Documents/annual.pdf", report, age_days=30)
    write(h / "Downloads/annual.pdf", report, age_days=400)
    write(h / "Downloads/annual (1).pdf", report, age_days=20)
    photo = os.urandom(20_000)
    write(h / "Photos/beach.jpg", photo, age_days=2000)
    write(h / "Backup/beach.jpg", photo, age_days=1000)
    # A folder copied with its dates: the copy's files are as old as the originals.
    taken = time.time() - 600 * DAY
    for name in ("dunes.jpg", "harbour.jpg"):
        same = os.urandom(10_000)
        for folder in ("Photos 2019", "Photos 2019 (copy)"):
            os.utime(write(h / "Pictures" / folder / name, same), (taken, taken))
    # Same date again, the copy less nested: its name, not its path's length, gives it away.
    minutes = os.urandom(8_000)
    for path in ("Archive/2019/Board/minutes.pdf", "Desk/minutes - Copy.pdf"):
        os.utime(write(h / path, minutes), (taken, taken))
    write(h / "Downloads/~$draft.docx", b"lock", age_days=30)
    write(h / "Downloads/Thumbs.db", b"thumbs", age_days=1)
    write(h / "Old/minutes-2015.docx", os.urandom(3000), age_days=3000)
    big = sparse(h / "Video/holiday.mkv", 1_500_000_000)
    t = time.time() - 100 * DAY
    os.utime(big, (t, t))
    write(h / ".ssh/id_ed25519", b"secret", age_days=2000)
    write(h / "Documents/today.txt", b"new work")
    inventory = scanned(h, tmp_path / "inv.sqlite")
    before = sorted(str(p) for p in h.rglob("*"))

    evaluation = policies.load("staff").evaluate(inventory)

    assert outcome(evaluation, h) == {
        ("Downloads/annual.pdf", "trash", "duplicates"),
        ("Downloads/annual (1).pdf", "trash", "duplicates"),
        ("Backup/beach.jpg", "trash", "duplicates"),
        ("Pictures/Photos 2019 (copy)/dunes.jpg", "trash", "duplicates"),
        ("Pictures/Photos 2019 (copy)/harbour.jpg", "trash", "duplicates"),
        ("Desk/minutes - Copy.pdf", "trash", "duplicates"),
        ("Downloads/~$draft.docx", "trash", "junk"),
        ("Downloads/Thumbs.db", "flag", "junk"),
        ("Old/minutes-2015.docx", "flag", "stale"),
        ("Video/holiday.mkv", "flag", "oversized"),
    }
    keeps = {
        Path(d.record.path).name: d.keep.path for d in evaluation.decisions if d.keep is not None
    }
    assert keeps == {
        "annual.pdf": str(h / "Documents/annual.pdf"),
        "annual (1).pdf": str(h / "Documents/annual.pdf"),
        "beach.jpg": str(h / "Photos/beach.jpg"),
        "dunes.jpg": str(h / "Pictures/Photos 2019/dunes.jpg"),
        "harbour.jpg": str(h / "Pictures/Photos 2019/harbour.jpg"),
        "minutes - Copy.pdf": str(h / "Archive/2019/Board/minutes.pdf"),
    }
    assert [Path(r.path).name for r, _ in evaluation.protected] == ["id_ed25519"]
    assert evaluation.min_age_days == 7 and evaluation.limits.max_percent is None
    assert policies.over_limits(evaluation) == []
    assert sorted(str(p) for p in h.rglob("*")) == before


def test_admin_archive_pack_archives_what_nobody_used_for_three_years(tmp_path: Path) -> None:
    root = tmp_path / "share"
    untouched = write(root / "Finance/2019.xlsx", os.urandom(1000), age_days=1500)
    still_read = write(root / "Finance/rates.xlsx", os.urandom(1001), age_days=1500)
    os.utime(still_read, (time.time() - 10 * DAY, time.time() - 1500 * DAY))
    write(root / "Finance/old.lnk", os.urandom(1002), age_days=1500)
    write(root / "repo/.git/HEAD", os.urandom(1003), age_days=1500)
    write(root / "Finance/2025.xlsx", os.urandom(1004), age_days=100)
    inventory = scanned(root, tmp_path / "inv.sqlite")

    evaluation = policies.load("admin-archive").evaluate(inventory)

    assert outcome(evaluation, root) == {("Finance/2019.xlsx", "archive", "untouched for 3 years")}
    (d,) = evaluation.decisions
    assert d.destination == "/srv/archive" and d.record.path == str(untouched)
    assert [Path(r.path).name for r, _ in evaluation.protected] == ["HEAD"]
    assert (evaluation.approvals.required, evaluation.approvals.second_above_bytes) == (
        1,
        100 * 10**9,
    )


def test_admin_large_pack_flags_files_of_a_gigabyte_or_more(tmp_path: Path) -> None:
    root = tmp_path / "share"
    sparse(root / "images/disk.img", 2_000_000_000)
    sparse(root / "images/small.img", 999_999_999)
    inventory = scanned(root, tmp_path / "inv.sqlite")
    evaluation = policies.load("admin-large").evaluate(inventory)
    assert outcome(evaluation, root) == {("images/disk.img", "flag", "large files")}
    assert evaluation.decisions[0].reason == "size at least 1.0 GB"


def test_admin_versions_pack_trims_versions_on_cloud_drives_only(tmp_path: Path) -> None:
    inventory = Inventory(tmp_path / "inv.sqlite")
    now = time.time()

    def item(provider: str, item_id: str, age: float, version_bytes: int) -> FileRecord:
        return FileRecord(
            provider,
            "org",
            item_id,
            f"/Shared/{item_id}.docx",
            f"{item_id}.docx",
            size=100,
            storage_bytes=100 + version_bytes,
            version_bytes=version_bytes,
            modified=now - age * DAY,
        )

    with inventory.transaction():
        inventory.upsert(
            [
                item("sharepoint", "budget", 100, 50_000),
                item("gdrive", "slides", 400, 9_000),
                item("gdrive", "draft", 3, 9_000),
                item("gdrive", "single", 400, 0),
                item("local", "laptop", 400, 7_000),
            ],
            inventory.begin_scan(["org"]),
        )
    evaluation = policies.load("admin-versions").evaluate(inventory)
    got = {
        (d.record.item_id, d.action, d.keep_versions, d.versions_newer_than)
        for d in evaluation.decisions
    }
    assert got == {
        ("budget", "trim_versions", 5, 90.0),
        ("slides", "trim_versions", 5, 90.0),
        ("draft", "flag", None, None),
    }
    assert evaluation.approvals.required == 1
