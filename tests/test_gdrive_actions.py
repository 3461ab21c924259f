"""Acting on Google Drive items: each action re-checks the item first and can be undone."""

from __future__ import annotations

import pytest

from cleanup.errors import AuthError, ItemGone, PreconditionFailed, ProviderError
from cleanup.inventory import Inventory
from cleanup.providers import Address
from cleanup.scan import scan
from providers.gdrive import DriveProvider
from tests.emulators.gdrive import running_emulator
from tests.emulators.gdrive_fixtures import admin_settings, options, staff_settings

MiB = 1024**2


@pytest.fixture
def drive():
    with running_emulator(seed=4) as emulator:
        yield emulator


@pytest.fixture
def world(drive, tmp_path):
    """Alice signed in for acting, her Drive scanned into an inventory."""
    ids = drive.seed_realistic()
    settings = staff_settings(drive, tmp_path, ids.alice, act=True)
    inventory = Inventory(tmp_path / "inventory.sqlite")
    scan(inventory, [Address("gdrive", "me")], options(settings))
    provider = DriveProvider(options(settings))
    yield ids, inventory, provider
    inventory.close()


def record(inventory, ids, item_id, account=None):
    found = inventory.get("gdrive", account or ids.alice, item_id)
    assert found is not None
    return found


def test_trash_then_restore(drive, world):
    ids, inventory, provider = world
    copy = record(inventory, ids, ids.report_copy)

    outcome = provider.trash(copy)

    assert drive.is_trashed(ids.report_copy)
    assert outcome.pending_bytes == copy.storage_bytes and outcome.freed_bytes == 0
    assert outcome.pending_until is not None
    provider.restore(copy, outcome.undo)
    assert not drive.is_trashed(ids.report_copy)


def test_a_file_changed_since_planning_is_not_touched(drive, world):
    ids, inventory, provider = world
    copy = record(inventory, ids, ids.report_copy)
    drive.edit_file(ids.report_copy, b"someone edited it")

    with pytest.raises(PreconditionFailed):
        provider.trash(copy)
    assert not drive.is_trashed(ids.report_copy)
    assert provider.fingerprint(copy) != copy.fingerprint


def test_a_file_deleted_since_planning_is_reported_gone(drive, world):
    ids, inventory, provider = world
    copy = record(inventory, ids, ids.report_copy)
    drive.delete_file(ids.report_copy)
    assert provider.fingerprint(copy) is None
    with pytest.raises(ItemGone):
        provider.trash(copy)


def test_someone_elses_file_cannot_be_trashed(drive, world):
    ids, inventory, provider = world
    notes = record(inventory, ids, ids.shared_in)
    with pytest.raises(ProviderError, match="sufficient permissions"):
        provider.trash(notes)
    assert not drive.is_trashed(ids.shared_in)


def test_archive_moves_into_a_folder_made_on_demand_and_back(drive, world):
    ids, inventory, provider = world
    holiday = record(inventory, ids, ids.holiday)

    outcome = provider.archive(holiday, "Archive/2019")

    moved = drive.file(ids.holiday)
    archive_folder = drive.file(moved.parents[0])
    assert archive_folder.name == "2019" and drive.file(archive_folder.parents[0]).name == "Archive"
    assert outcome.archived_bytes == holiday.storage_bytes
    again = provider.archive(record(inventory, ids, ids.report), "Archive/2019")
    assert drive.file(ids.report).parents == moved.parents  # the folder is found, not made twice
    assert again.archived_bytes > 0

    provider.unarchive(holiday, outcome.undo)
    assert drive.file(ids.holiday).parents == [ids.photos]


def test_permanent_delete_and_purge_of_a_trashed_item(drive, world):
    ids, inventory, provider = world
    empty = record(inventory, ids, ids.empty)
    outcome = provider.delete(empty)
    assert drive.file(ids.empty) is None and outcome.freed_bytes == 0

    copy = record(inventory, ids, ids.report_copy)
    trashed = provider.trash(copy)
    purged = provider.purge(copy, trashed.undo)
    assert drive.file(ids.report_copy) is None
    assert purged.freed_bytes == copy.storage_bytes


def test_purge_refuses_an_item_restored_meanwhile(drive, world):
    ids, inventory, provider = world
    copy = record(inventory, ids, ids.report_copy)
    trashed = provider.trash(copy)
    provider.restore(copy, trashed.undo)
    with pytest.raises(PreconditionFailed):
        provider.purge(copy, trashed.undo)
    assert drive.file(ids.report_copy) is not None


def test_trim_versions_unpins_what_is_kept_forever_and_undo_pins_it_again(drive, world):
    ids, inventory, provider = world
    video = record(inventory, ids, ids.video)
    assert video.version_bytes == (2900 + 2800) * MiB

    outcome = provider.trim_versions(video, keep=1)

    assert outcome.freed_bytes == (2900 + 2800) * MiB
    assert drive.file(ids.video).quota_bytes() == 3 * 1024**3
    assert drive.calls["batch"] == 1  # both revisions in one request
    provider.restore(video, outcome.undo)
    assert drive.file(ids.video).quota_bytes() == 3 * 1024**3 + (2900 + 2800) * MiB


def test_trim_versions_can_keep_the_newest(drive, world):
    ids, inventory, provider = world
    video = record(inventory, ids, ids.video)
    # Versions, newest first: the head, an unpinned one, pinned 2800 MiB, pinned 2900 MiB.
    outcome = provider.trim_versions(video, keep=3)
    assert outcome.freed_bytes == 2900 * MiB  # the oldest pinned one goes; the third newest stays


def test_batched_unpinning_retries_throttled_parts(drive, world):
    ids, inventory, provider = world
    video = record(inventory, ids, ids.video)
    drive.faults.fail_next("revisions.update", count=1, status=429)
    outcome = provider.trim_versions(video, keep=1)
    assert outcome.freed_bytes == (2900 + 2800) * MiB
    assert drive.calls["batch"] == 2


def test_empty_trash_frees_what_the_trash_held(drive, world):
    ids, inventory, provider = world
    outcome = provider.empty_trash(ids.alice)
    assert outcome.freed_bytes == 2 * 1024**3
    assert drive.file(ids.backup) is None


def test_acting_with_a_read_only_sign_in_asks_for_a_new_one(drive, tmp_path):
    ids = drive.seed_realistic()
    settings = staff_settings(drive, tmp_path, ids.alice, act=False)
    inventory = Inventory(tmp_path / "inventory.sqlite")
    scan(inventory, [Address("gdrive", "me")], options(settings))
    provider = DriveProvider(options(settings))
    with pytest.raises(AuthError, match="gdrive.access=act"):
        provider.trash(inventory.get("gdrive", ids.alice, ids.report_copy))
    assert not drive.is_trashed(ids.report_copy)


def test_an_admin_acts_as_the_owner_of_each_item(drive, tmp_path):
    ids = drive.seed_realistic()
    settings = admin_settings(drive, tmp_path, ids.alice)
    inventory = Inventory(tmp_path / "inventory.sqlite")
    scan(inventory, [Address("gdrive", "all")], options(settings, all_accounts=True))
    provider = DriveProvider(options(settings))

    provider.trash(inventory.get("gdrive", ids.bob, ids.bob_copy))
    assert drive.is_trashed(ids.bob_copy)
    logo = inventory.get("gdrive", f"drive:{ids.marketing}", ids.logo_copy)
    provider.trash(logo)  # alice organises Marketing: she may trash there
    assert drive.is_trashed(ids.logo_copy)
