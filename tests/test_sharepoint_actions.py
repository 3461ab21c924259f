"""Acting on scanned SharePoint items: recycle, delete, archive and back, trim versions,
each guarded by the eTag from the scan; locked files and full sites are reported, not retried."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cleanup.errors import PreconditionFailed, ProviderError
from cleanup.inventory import Inventory, StoredFile
from cleanup.providers import Address
from cleanup.scan import scan
from providers.sharepoint import ItemLocked, QuotaExceeded, SharePointProvider
from tests.emulators.graph import GraphEmulator
from tests.emulators.graph_seed import Seeded, seed_realistic
from tests.emulators.graph_settings import Waits, admin_settings, options
from tests.emulators.graph_tenant import Drive, Item

pytest_plugins = ["tests.emulators.graph_fixtures"]


@pytest.fixture
def scanned(
    graph: GraphEmulator, admin_app, waits: Waits, tmp_path: Path
) -> tuple[Seeded, Inventory, SharePointProvider]:  # type: ignore[no-untyped-def]
    seeded = seed_realistic(graph.tenant)
    inventory = Inventory(tmp_path / "inventory.db")
    opts = options(admin_settings(graph, admin_app, versions_min_bytes="1"))
    scan(inventory, [Address("sharepoint", "Marketing")], opts)
    return seeded, inventory, SharePointProvider(opts)


def stored(inventory: Inventory, drive: Drive, item: Item) -> StoredFile:
    record = inventory.get("sharepoint", drive.id, item.id)
    assert record is not None
    return record


def marketing_files(seeded: Seeded) -> list[tuple[Drive, Item]]:
    site = next(s for s in seeded.sites if s.name == "Marketing")
    return [(d, i) for d, i in seeded.files if d is site.drives[0]]


def test_recycling_keeps_the_bytes_pending_and_undo_points_to_the_recycle_bin(
    graph: GraphEmulator, scanned
) -> None:  # type: ignore[no-untyped-def]
    seeded, inventory, provider = scanned
    drive, item = next((d, i) for d, i in marketing_files(seeded) if i.versions)
    record = stored(inventory, drive, item)
    assert provider.fingerprint(record) == item.etag
    deleted_before = drive.deleted_bytes()
    outcome = provider.trash(record)
    assert outcome.freed_bytes == 0
    assert outcome.pending_bytes == item.size + item.versions_bytes == record.storage_bytes
    assert outcome.pending_until is not None
    assert drive.deleted_bytes() - deleted_before == outcome.pending_bytes  # still billed
    assert item.deleted and provider.fingerprint(record) is None
    with pytest.raises(
        ProviderError, match=r"contoso.sharepoint.com/sites/Marketing/_layouts/15/RecycleBin.aspx"
    ):
        provider.restore(record, outcome.undo)
    with pytest.raises(ProviderError, match="cannot empty"):
        provider.purge(record, outcome.undo)
    # apply and undo know an item only by what the journal kept: the page is found from Graph
    other_drive, other = next((d, i) for d, i in marketing_files(seeded) if i is not item)
    bare = dataclasses.replace(stored(inventory, other_drive, other), extra={})
    undo = provider.trash(bare).undo
    assert (
        undo["recycle_bin"]
        == "https://contoso.sharepoint.com/sites/Marketing/_layouts/15/RecycleBin.aspx"
    )


def test_a_changed_item_is_skipped(graph: GraphEmulator, scanned) -> None:  # type: ignore[no-untyped-def]
    seeded, inventory, provider = scanned
    drive, item = marketing_files(seeded)[3]
    record = stored(inventory, drive, item)
    graph.change(drive, item)  # edited after the plan was made
    with pytest.raises(PreconditionFailed):
        provider.trash(record)
    with pytest.raises(PreconditionFailed):
        provider.delete(record)
    with pytest.raises(PreconditionFailed):
        provider.trim_versions(record, keep=1)
    assert not item.deleted and not item.purged


def test_permanent_delete_frees_at_once(graph: GraphEmulator, scanned) -> None:  # type: ignore[no-untyped-def]
    seeded, inventory, provider = scanned
    drive, item = marketing_files(seeded)[5]
    record = stored(inventory, drive, item)
    used = drive.used_bytes()
    outcome = provider.delete(record)
    assert outcome.freed_bytes == record.storage_bytes and outcome.pending_bytes == 0
    assert drive.used_bytes() == used - record.storage_bytes
    assert item.purged


def test_archive_moves_within_the_drive_and_back(graph: GraphEmulator, scanned) -> None:  # type: ignore[no-untyped-def]
    seeded, inventory, provider = scanned
    drive, item = next((d, i) for d, i in marketing_files(seeded) if i.parent_id != d.root_id)
    record = stored(inventory, drive, item)
    home = item.parent_id
    outcome = provider.archive(record, "Archive/2026")
    assert outcome.archived_bytes == record.storage_bytes and outcome.freed_bytes == 0
    assert graph.item_by_path(drive, f"Archive/2026/{item.name}") is item
    provider.unarchive(record, outcome.undo)
    assert item.parent_id == home
    # a second archive reuses the folders made the first time
    other_drive, other = next((d, i) for d, i in marketing_files(seeded) if i is not item)
    provider.archive(stored(inventory, other_drive, other), "/Archive/2026/")
    archives = [i for i in drive.items.values() if i.name == "2026" and i.folder]
    assert len(archives) == 1


def test_trim_versions_keeps_the_newest(graph: GraphEmulator, scanned) -> None:  # type: ignore[no-untyped-def]
    seeded, inventory, provider = scanned
    drive, item = max(marketing_files(seeded), key=lambda pair: len(pair[1].versions))
    record = stored(inventory, drive, item)
    assert record.version_bytes == item.versions_bytes > 0
    old = list(item.versions)
    outcome = provider.trim_versions(record, keep=3)
    # the current version and the two newest older ones remain
    assert [v.id for v in item.versions] == [v.id for v in old[-2:]]
    released = sum(v.size for v in old[:-2])
    assert outcome.pending_bytes == released and outcome.freed_bytes == 0  # in the recycle bin
    assert item.etag == record.fingerprint  # the current file is untouched

    drive2, item2 = sorted(marketing_files(seeded), key=lambda pair: len(pair[1].versions))[-2]
    record2 = stored(inventory, drive2, item2)
    cutoff = item2.versions[len(item2.versions) // 2].modified.timestamp()
    kept = [v.id for v in item2.versions if v.modified.timestamp() >= cutoff]
    provider.trim_versions(record2, keep=1, newer_than=cutoff)
    assert [v.id for v in item2.versions] == kept


def test_locked_files_and_full_sites_are_reported_not_retried(
    graph: GraphEmulator, scanned
) -> None:  # type: ignore[no-untyped-def]
    seeded, inventory, provider = scanned
    drive, item = marketing_files(seeded)[7]
    record = stored(inventory, drive, item)
    graph.faults.lock(item.id)
    calls = graph.calls["items.delete"]
    with pytest.raises(ItemLocked, match="checked out or open"):
        provider.trash(record)
    assert graph.calls["items.delete"] == calls + 1
    graph.faults.fail("items.update", 507)
    other_drive, other = marketing_files(seeded)[8]
    calls = graph.calls["items.update"]
    with pytest.raises(QuotaExceeded, match="out of storage"):
        provider.archive(stored(inventory, other_drive, other), "Archive")
    assert graph.calls["items.update"] == calls + 1


def test_what_is_already_in_a_recycle_bin_is_not_acted_on(graph: GraphEmulator, scanned) -> None:  # type: ignore[no-untyped-def]
    seeded, inventory, provider = scanned
    site = next(s for s in seeded.sites if s.name == "Marketing")
    binned = next(inventory.files("account = ?", (site.id,)))
    assert provider.fingerprint(binned) == binned.fingerprint
    for act in (provider.trash, provider.delete):
        with pytest.raises(ProviderError, match="Marketing/_layouts/15/RecycleBin.aspx"):
            act(binned)
    # and a plan that would try is refused before anything is done
    with pytest.raises(ProviderError, match="Graph cannot empty"):
        provider.check_action("delete", binned, None, [])
    provider.check_action("flag", binned, None, [])


def test_kept_copies_are_rechecked_by_their_graph_hash(graph: GraphEmulator, scanned) -> None:  # type: ignore[no-untyped-def]
    seeded, inventory, provider = scanned
    drive, item = marketing_files(seeded)[2]
    record = stored(inventory, drive, item)
    assert provider.content_hash(record, "quickxor") == item.quickxor == record.hashes["quickxor"]
    graph.change(drive, item)
    assert provider.content_hash(record, "quickxor") != record.hashes["quickxor"]
    assert provider.content_hash(record, "blake3") is None  # never downloaded to hash


def test_an_action_cut_short_by_a_crash_is_settled(graph: GraphEmulator, scanned) -> None:  # type: ignore[no-untyped-def]
    seeded, inventory, provider = scanned
    files = [(d, i) for d, i in marketing_files(seeded) if i.parent_id != d.root_id]
    (drive, trashed), (_, archived), (_, untouched) = files[:3]
    # the requests went through, but the process died before the journal heard back
    bare = [
        dataclasses.replace(stored(inventory, drive, i), extra={})
        for i in (trashed, archived, untouched)
    ]
    provider.trash(bare[0])
    home = archived.parent_id
    provider.archive(bare[1], "/Archive/2026")
    settled = provider.settle(bare[0], "trash", None)
    assert settled is not None and settled.pending_bytes == bare[0].storage_bytes
    moved = provider.settle(bare[1], "archive", "/Archive/2026")
    assert moved is not None and moved.undo["parent_id"] == home
    provider.unarchive(bare[1], moved.undo)
    assert archived.parent_id == home
    assert provider.settle(bare[2], "trash", None) is None  # not done yet: apply runs it
    assert provider.settle(bare[2], "archive", "/Archive/2026") is None
