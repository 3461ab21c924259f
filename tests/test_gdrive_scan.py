"""Scanning Google Drive into the inventory, against the Drive emulator.

The Bars of issue 4 live here: 20,000 files under 20% faults come out exactly once, a
fault-free scan stays within ceil(N/1000)+5 calls, a rescan after 50 changes reads the
changes feed, and a local copy of a Drive file is found by size and md5.
"""

from __future__ import annotations

import math

import pytest

from cleanup.errors import AuthError, ProviderError, ThrottledError
from cleanup.findings import find
from cleanup.inventory import Inventory
from cleanup.providers import Address
from cleanup.records import NATIVE_DOC, NOT_OWNED, SHORTCUT, TRASHED
from cleanup.scan import scan
from providers.gdrive import DriveProvider
from tests.emulators.gdrive import running_emulator
from tests.emulators.gdrive_fixtures import admin_settings, options, staff_settings

GDRIVE_ME = Address("gdrive", "me")


@pytest.fixture
def drive():
    with running_emulator(seed=3) as emulator:
        yield emulator


@pytest.fixture
def inventory(tmp_path):
    with Inventory(tmp_path / "inventory.sqlite") as inv:
        yield inv


def by_path(inventory):
    return {f.path: f for f in inventory.files()}


def drive_ids(inventory, account):
    rows = inventory.db.execute(
        "SELECT item_id FROM files WHERE provider = 'gdrive' AND account = ? AND gone_scan IS NULL",
        (account,),
    )
    return [r[0] for r in rows]


def api_calls(emulator):
    return sum(n for name, n in emulator.calls.items() if name not in ("token", "batch"))


# ----------------------------------------------------------------------------- what a scan sees


def test_a_staff_scan_records_my_drive_shared_drives_and_their_oddities(drive, inventory, tmp_path):
    ids = drive.seed_realistic()
    scan(inventory, [GDRIVE_ME], options(staff_settings(drive, tmp_path, ids.alice)))
    files = by_path(inventory)

    report = files["My Drive/Projects/Q3 report.pdf"]
    assert report.account == ids.alice and report.owner == ids.alice
    assert report.hashes["md5"] == drive.file(ids.report).md5
    assert report.hashes["sha256"] == drive.file(ids.report).sha256
    assert report.storage_bytes == report.size == len(ids.report_bytes)

    video = files["My Drive/Projects/Exports/launch-video.mp4"]
    assert video.version_bytes == (2900 + 2800) * 1024**2  # the revisions kept forever
    assert video.storage_bytes == 3 * 1024**3 + video.version_bytes

    assert files["My Drive/Projects/Roadmap"].flags == {NATIVE_DOC}
    assert not files["My Drive/Projects/Roadmap"].hashes
    shortcut = files["My Drive/Photos/Q3 report shortcut"]
    assert SHORTCUT in shortcut.flags and shortcut.storage_bytes == 0 and not shortcut.reclaimable
    assert TRASHED in files["My Drive/old-backup.zip"].flags
    assert files["Shared with me/carol-notes.txt"].flags == {NOT_OWNED}
    assert files["My Drive/Projects/2021"].kind == "folder"

    logo = files["Shared drives/Marketing/Brand/logo.png"]
    assert logo.account == f"drive:{ids.marketing}" and logo.owner is None
    assert not any(
        p.startswith("Shared drives/Engineering") for p in files
    )  # alice is not a member

    quota = {q.account: q for q in inventory.quotas()}[ids.alice]
    assert quota.trash == 2 * 1024**3 and quota.total == 15 * 1024**3


def test_findings_see_duplicates_trash_still_billed_and_pinned_versions(drive, inventory, tmp_path):
    ids = drive.seed_realistic()
    scan(inventory, [GDRIVE_ME], options(staff_settings(drive, tmp_path, ids.alice)))
    findings = find(inventory)

    groups = [sorted(p for c in g.copies for p in c.paths) for g in findings.duplicates]
    assert ["My Drive/Projects/2021/Q3 report (1).pdf", "My Drive/Projects/Q3 report.pdf"] in groups
    assert all("Q3 report shortcut" not in p for g in groups for p in g)
    assert [f.path for f in findings.trash_billed] == ["My Drive/old-backup.zip"]
    assert [f.storage_bytes for f in findings.old_versions] == [(2900 + 2800) * 1024**2]


def test_a_local_copy_of_a_drive_file_is_found_by_size_and_md5(drive, inventory, tmp_path):
    ids = drive.seed_realistic()
    folder = tmp_path / "laptop"
    folder.mkdir()
    (folder / "report-download.pdf").write_bytes(ids.report_bytes)
    (folder / "unrelated.bin").write_bytes(b"x" * 12345)  # no Drive file has this size

    result = scan(
        inventory,
        [Address("local", str(folder)), GDRIVE_ME],
        options(staff_settings(drive, tmp_path, ids.alice)),
    )

    group = next(g for g in find(inventory).duplicates if g.hash.startswith("md5:"))
    providers = sorted((c.provider, c.paths[0].rsplit("/", 1)[-1]) for c in group.copies)
    assert ("local", "report-download.pdf") in providers
    assert ("gdrive", "Q3 report.pdf") in providers
    assert result.hashing.cloud_hashed == 1  # only the size-matched local file was read for md5
    unrelated = by_path(inventory)[str(folder / "unrelated.bin")]
    assert "md5" not in unrelated.hashes


# ----------------------------------------------------------------------------- the scale bars


def test_fault_free_scan_of_20000_files_stays_within_the_call_budget(drive, inventory, tmp_path):
    ids = drive.seed_bulk("big@example.org", n_files=20_000)
    settings = staff_settings(drive, tmp_path, "big@example.org")
    drive.calls.clear()

    scan(inventory, [GDRIVE_ME], options(settings))

    assert sorted(drive_ids(inventory, "big@example.org")) == sorted(
        ids
        + [
            f.id
            for f in drive.state.files.values()
            if f.owner == "big@example.org" and f.mime_type.endswith("folder") and not f.is_root
        ]
    )
    calls = api_calls(drive)
    assert calls <= math.ceil(20_000 / 1000) + 5, drive.calls
    assert drive.calls["files.list"] == 21  # one page of folders, twenty of files


def test_20000_files_under_20_percent_faults_each_come_exactly_once(drive, inventory, tmp_path):
    ids = drive.seed_bulk("big@example.org", n_files=20_000)
    settings = staff_settings(drive, tmp_path, "big@example.org")
    drive.faults.rate = 0.2
    drive.faults.statuses = (429, 503)
    drive.faults.retry_after = 0
    drive.faults.retry_after_share = 0.5

    scan(inventory, [GDRIVE_ME], options(settings))

    rows = inventory.db.execute(
        "SELECT item_id, COUNT(*) FROM files WHERE account = ? AND kind = 'file' GROUP BY item_id",
        ("big@example.org",),
    ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert all(n == 1 for _, n in rows)
    failed = [s for _, _, s in drive.call_log if s in (429, 503)]
    assert len(failed) >= 3  # faults really happened


def test_a_rescan_after_50_changes_reads_the_changes_feed(drive, inventory, tmp_path):
    ids = drive.seed_bulk("big@example.org", n_files=3_000)
    settings = staff_settings(drive, tmp_path, "big@example.org", act=True)
    scan(inventory, [GDRIVE_ME], options(settings))

    for i in range(20):
        drive.edit_file(ids[i], f"new content {i}".encode())
    for i in range(20, 35):
        drive.trash_file(ids[i])
    for i in range(35, 45):
        drive.delete_file(ids[i])
    for i in range(45, 50):
        drive.rename_file(ids[i], f"renamed-{i}.bin")
    drive.calls.clear()

    scan(inventory, [GDRIVE_ME], options(settings))

    assert drive.calls["files.list"] == 0 and drive.calls["changes.list"] == 1
    files = {f.item_id: f for f in inventory.files("provider = 'gdrive'")}
    assert files[ids[0]].size == len(b"new content 0")
    assert TRASHED in files[ids[20]].flags
    assert ids[40] not in files and inventory.get("gdrive", "big@example.org", ids[40]).gone
    assert files[ids[47]].name == "renamed-47.bin" and files[ids[47]].path.endswith(
        "/renamed-47.bin"
    )
    assert len(files) == 3_000 - 10 + len(
        [
            f
            for f in drive.state.files.values()
            if f.mime_type.endswith("folder") and f.owner and not f.is_root
        ]
    )


def test_renaming_a_folder_falls_back_to_a_listing_so_paths_stay_true(drive, inventory, tmp_path):
    ids = drive.seed_realistic()
    settings = staff_settings(drive, tmp_path, ids.alice)
    scan(inventory, [GDRIVE_ME], options(settings))
    drive.rename_file(ids.projects, "Projects (old)")
    drive.calls.clear()

    scan(inventory, [GDRIVE_ME], options(settings))

    assert drive.calls["files.list"] >= 2
    assert "My Drive/Projects (old)/Q3 report.pdf" in by_path(inventory)
    assert "My Drive/Projects/Q3 report.pdf" not in by_path(inventory)


def test_a_scan_cut_short_by_a_lasting_fault_resumes_from_its_last_page(drive, inventory, tmp_path):
    ids = drive.seed_bulk("big@example.org", n_files=5_000, fanout=4, depth=2)
    settings = dict(
        staff_settings(drive, tmp_path, "big@example.org"),
        **{"gdrive.page_size": "500", "gdrive.max_attempts": "3"},
    )
    drive.faults.fail_after("files.list", after=4, count=10, status=503)

    with pytest.raises(ThrottledError, match="resumes"):
        scan(inventory, [GDRIVE_ME], options(settings))
    first = len(drive_ids(inventory, "big@example.org"))
    assert 0 < first < 5_000
    drive.faults.scripted.clear()
    drive.calls.clear()

    scan(inventory, [GDRIVE_ME], options(settings))

    assert drive.calls["files.list"] == 10 - 3  # the pages not read before, not the whole listing
    kinds = inventory.db.execute(
        "SELECT item_id, COUNT(*) FROM files WHERE account = ? AND kind = 'file' GROUP BY item_id",
        ("big@example.org",),
    ).fetchall()
    assert sorted(r[0] for r in kinds) == sorted(ids)
    drive.calls.clear()
    scan(inventory, [GDRIVE_ME], options(settings))
    assert drive.calls["files.list"] == 0 and drive.calls["changes.list"] == 1


def test_a_token_expiring_mid_scan_is_refreshed_silently(drive, inventory, tmp_path):
    drive.seed_bulk("big@example.org", n_files=2_500, fanout=2, depth=1)
    settings = staff_settings(drive, tmp_path, "big@example.org")
    drive.faults.expire_tokens_after = 4

    scan(inventory, [GDRIVE_ME], options(settings))

    assert drive.calls["token"] == 1
    assert len(drive_ids(inventory, "big@example.org")) == 2_500 + 2


# ----------------------------------------------------------------------------- sign-in problems


def test_not_signed_in_says_how_to_sign_in(drive, inventory, tmp_path):
    settings = {"gdrive.base_url": drive.url, "gdrive.token_file": str(tmp_path / "none.json")}
    with pytest.raises(AuthError, match="cleanup login gdrive"):
        scan(inventory, [GDRIVE_ME], options(settings))


def test_a_revoked_sign_in_says_to_sign_in_again(drive, inventory, tmp_path):
    ids = drive.seed_realistic()
    settings = staff_settings(drive, tmp_path, ids.alice, fresh=False)
    for token in list(drive.refresh_tokens):
        drive.revoke_refresh_token(token)
    with pytest.raises(AuthError, match="revoked or has expired.*cleanup login gdrive"):
        scan(inventory, [GDRIVE_ME], options(settings))


def test_missing_delegation_names_the_client_id_and_scopes(drive, inventory, tmp_path):
    ids = drive.seed_realistic()
    settings = admin_settings(drive, tmp_path, ids.alice, scopes=())
    with pytest.raises(
        AuthError, match="Domain-wide delegation, add client ID [0-9]+ with the scopes"
    ):
        scan(inventory, [Address("gdrive", ids.bob)], options(settings))


def test_missing_service_account_file_says_what_to_give(drive, inventory, tmp_path):
    settings = {"gdrive.base_url": drive.url}
    with pytest.raises(AuthError, match="gdrive.service_account"):
        scan(inventory, [Address("gdrive", "bob@example.org")], options(settings))


def test_unknown_address_is_a_clear_error(drive, inventory, tmp_path):
    ids = drive.seed_realistic()
    with pytest.raises(ProviderError, match="gdrive:me"):
        scan(
            inventory,
            [Address("gdrive", "everyone")],
            options(staff_settings(drive, tmp_path, ids.alice)),
        )


# ----------------------------------------------------------------------------- admins


def test_an_admin_scan_covers_every_active_user_and_each_shared_drive_once(
    drive, inventory, tmp_path
):
    ids = drive.seed_realistic()
    settings = admin_settings(drive, tmp_path, ids.alice)
    provider_options = options(settings, all_accounts=True)

    result = scan(inventory, [Address("gdrive", "all")], provider_options)

    accounts = {r[0] for r in inventory.db.execute("SELECT DISTINCT account FROM files")}
    assert accounts == {
        ids.alice,
        ids.bob,
        ids.carol,
        f"drive:{ids.marketing}",
        f"drive:{ids.engineering}",
    }
    notes = inventory.db.execute(
        "SELECT account FROM files WHERE item_id = ?", (ids.shared_in,)
    ).fetchall()
    assert notes == [(ids.carol,)]  # shared with alice, but scanned once: as its owner's
    assert inventory.get("gdrive", ids.bob, ids.bob_copy) is not None
    assert any("suspended" in p.message for p in result.summary.problems)
    assert {q.account for q in inventory.quotas()} == {ids.alice, ids.bob, ids.carol}


def test_admin_acting_as_one_user(drive, inventory, tmp_path):
    ids = drive.seed_realistic()
    settings = admin_settings(drive, tmp_path, ids.alice)
    scan(inventory, [GDRIVE_ME], options(settings, as_user=ids.bob))
    assert inventory.get("gdrive", ids.bob, ids.bob_copy) is not None
    assert inventory.get("gdrive", f"drive:{ids.engineering}", ids.design) is not None


def test_provider_declares_read_and_act_scopes_separately():
    assert DriveProvider.read_scopes == ("https://www.googleapis.com/auth/drive.metadata.readonly",)
    assert DriveProvider.act_scopes == ("https://www.googleapis.com/auth/drive",)


def test_rate_limit_403s_malformed_bodies_and_slow_answers_are_ridden_out(
    drive, inventory, tmp_path
):
    ids = drive.seed_bulk("big@example.org", n_files=3_000, fanout=3, depth=2)
    settings = dict(
        staff_settings(drive, tmp_path, "big@example.org"), **{"gdrive.page_size": "250"}
    )
    drive.faults.rate_limit_403 = 0.15
    drive.faults.malformed_rate = 0.15
    drive.faults.slow_rate, drive.faults.slow_seconds = 0.1, 0.05

    scan(inventory, [GDRIVE_ME], options(settings))

    rows = inventory.db.execute(
        "SELECT item_id FROM files WHERE account = ? AND kind = 'file'", ("big@example.org",)
    ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert any(s == 403 for _, _, s in drive.call_log)


def test_retry_after_is_honoured_and_the_total_wait_is_bounded():
    import httplib2
    from googleapiclient.errors import HttpError

    from providers.gdrive.client import DriveSettings, Retrier

    body = b'{"error": {"code": 429, "errors": [{"reason": "rateLimitExceeded"}]}}'

    def throttled(retry_after=None):
        headers = {"status": "429"}
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        return HttpError(httplib2.Response(headers), body)

    slept: list[float] = []
    retrier = Retrier(
        DriveSettings(backoff_base=0.5, backoff_cap=4, retry_budget=60), sleep=slept.append
    )
    answers = iter([throttled(7), throttled(), throttled(), {"ok": True}])

    def request():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert retrier.call(request, "a test call") == {"ok": True}
    assert slept[0] >= 7  # the server's Retry-After wins over a shorter backoff
    assert 1 <= slept[1] <= 1.5 and 2 <= slept[2] <= 2.5  # truncated exponential, with jitter

    slept.clear()
    bounded = Retrier(
        DriveSettings(backoff_base=1, backoff_cap=4, retry_budget=10), sleep=slept.append
    )
    with pytest.raises(ThrottledError):
        bounded.call(lambda: (_ for _ in ()).throw(throttled()), "a hopeless call")
    assert sum(slept) <= 10
