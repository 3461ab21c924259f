"""Scanning SharePoint and OneDrive into the inventory: a whole tenant under throttling,
incremental rescans by delta link, resuming an interrupted scan, version history, quota."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from cleanup.errors import ThrottledError
from cleanup.inventory import Inventory
from cleanup.providers import Address
from cleanup.scan import ScanProgress, scan
from tests.emulators.graph import GraphEmulator
from tests.emulators.graph_seed import seed_bulk, seed_realistic
from tests.emulators.graph_settings import Waits, admin_settings, options
from tests.emulators.graph_tenant import App

pytest_plugins = ["tests.emulators.graph_fixtures"]


def sharepoint_rows(inventory: Inventory) -> dict[tuple[str, str], object]:
    rows = inventory.db.execute(
        "SELECT account, item_id, fingerprint FROM files WHERE provider = 'sharepoint' AND gone_scan IS NULL"
    ).fetchall()
    return {(a, i): f for a, i, f in rows}


def test_a_tenant_of_twenty_thousand_items_scans_completely_under_throttling(
    graph: GraphEmulator, admin_app: App, waits: Waits, tmp_path: Path
) -> None:
    bulk = seed_bulk(graph.tenant, items=20_000, sites=5)
    graph.faults.throttle(0.15, statuses=(429, 503), retry_after=2)
    settings = admin_settings(graph, admin_app)
    inventory = Inventory(tmp_path / "inventory.db")
    started = time.perf_counter()
    result = scan(inventory, [Address("sharepoint", "all")], options(settings))
    took = time.perf_counter() - started

    roots = {d.root_id for site in bulk.sites for d in site.drives}
    expected = {
        (d.id, i.id)
        for site in bulk.sites
        for d in site.drives
        for i in d.items.values()
        if i.id != d.root_id
    }
    rows = sharepoint_rows(inventory)
    assert len(expected) == 20_000
    assert {k for k in rows if k[1] not in roots} == expected
    total_rows = inventory.db.execute(
        "SELECT COUNT(*) FROM files WHERE provider = 'sharepoint'"
    ).fetchone()[0]
    assert total_rows == 20_000 + len(roots)  # every item exactly once, plus each drive's root
    assert result.summary.added == total_rows and not result.summary.problems
    throttled = sum(graph.faults.throttled.values())
    graph_calls = sum(n for name, n in graph.calls.items() if not name.startswith("login."))
    assert 0.08 < throttled / graph_calls < 0.25, (throttled, graph_calls)
    # every throttled answer was waited out for the Retry-After it gave
    assert waits.seconds.count(2.0) == throttled
    assert took < 60, took

    # thirty changes later, the rescan reads only the changes through the delta links
    graph.faults.throttle(0.0)
    drive = bulk.sites[2].drives[0]
    files = [i for i in drive.items.values() if not i.folder]
    for item in files[:25]:
        graph.change(drive, item)
    writer = graph.token_for(admin_app)
    for item in files[25:30]:
        gone = requests.delete(
            f"{graph.graph_url}/drives/{drive.id}/items/{item.id}",
            headers={"Authorization": f"Bearer {writer}"},
            timeout=5,
        )
        assert gone.status_code == 204
    graph.faults.throttle(0.15, statuses=(429, 503), retry_after=2)
    before = graph.calls["drives.delta"] - graph.faults.throttled["drives.delta"]
    again = scan(inventory, [Address("sharepoint", "all")], options(settings))
    answered = graph.calls["drives.delta"] - graph.faults.throttled["drives.delta"] - before
    assert answered == 5  # one page of changes per drive, from each drive's delta link
    assert again.summary.gone == 5
    # 25 edited files and the folders above them; nothing else is listed again
    assert 25 < again.summary.added + again.summary.changed < 60
    rows = sharepoint_rows(inventory)
    assert all((drive.id, i.id) not in rows for i in files[25:30])
    assert all(rows[(drive.id, i.id)] == i.etag for i in files[:25])


def test_an_interrupted_scan_resumes_from_its_last_page(
    graph: GraphEmulator, admin_app: App, waits: Waits, tmp_path: Path
) -> None:
    bulk = seed_bulk(graph.tenant, items=3_000, sites=1)
    drive = bulk.sites[0].drives[0]
    settings = admin_settings(graph, admin_app, page_size="200", max_wait="30")
    inventory = Inventory(tmp_path / "inventory.db")
    seen = 0

    def outage(count: int) -> None:
        nonlocal seen
        seen += count
        if 1000 <= seen < 1000 + count:
            graph.faults.fail("drives.delta", 503, times=1000)  # the service goes away mid-scan

    with pytest.raises(ThrottledError, match="resumes where it stopped"):
        scan(
            inventory,
            [Address("sharepoint", f"drive/{drive.id}")],
            options(settings),
            ScanProgress(items=outage),
        )
    cursor = json.loads(inventory.get_cursor("sharepoint", drive.id, "") or "{}")
    assert "next" in cursor and cursor["next"].startswith(graph.url)
    listed = len(sharepoint_rows(inventory))
    assert 1000 <= listed < 3000

    graph.faults.queued.clear()
    before = graph.calls["drives.delta"]
    scan(inventory, [Address("sharepoint", f"drive/{drive.id}")], options(settings))
    pages_after = graph.calls["drives.delta"] - before
    assert pages_after == -(-(3001 - listed) // 200)  # only the pages not yet read
    assert len(sharepoint_rows(inventory)) == 3001
    assert "delta" in json.loads(inventory.get_cursor("sharepoint", drive.id, "") or "{}")


def test_version_history_quota_and_paths(
    graph: GraphEmulator, admin_app: App, waits: Waits, tmp_path: Path
) -> None:
    seeded = seed_realistic(graph.tenant)
    # half the version requests inside each $batch come back 429
    graph.faults.throttle(0.5, statuses=(429,), retry_after=1, endpoints={"items.versions"})
    inventory = Inventory(tmp_path / "inventory.db")
    settings = admin_settings(graph, admin_app, region="FR")
    scan(inventory, [Address("sharepoint", "Finance")], options(settings))
    finance = next(s for s in seeded.sites if s.name == "Finance")
    library = finance.drives[0]
    assert graph.faults.throttled["items.versions"] > 0
    batches = graph.calls["batch"]
    assert batches >= 2

    for item in library.items.values():
        if item.folder or item.deleted:
            continue
        stored = inventory.get("sharepoint", library.id, item.id)
        assert stored is not None
        big_enough = item.size * (item.etag_n - 1) >= 256 * 1024
        expected = item.versions_bytes if big_enough else 0
        assert stored.version_bytes == expected, item.name
        assert stored.storage_bytes == item.size + expected
        assert stored.hashes["quickxor"] == item.quickxor
        assert (
            stored.path
            == f"contoso.sharepoint.com/sites/Finance/Documents{library.path_of(item)[len('/drive/root:') :]}/{item.name}"
        )
    heavy = [i for i in library.items.values() if len(i.versions) >= 20 and not i.deleted]
    assert heavy and all(
        inventory.get("sharepoint", library.id, i.id).version_bytes > 0 for i in heavy
    )  # type: ignore[union-attr]
    # only files whose versions could matter were asked about
    asked = graph.calls["items.versions"] - graph.faults.throttled["items.versions"]
    files = [i for i in library.items.values() if not i.folder and not i.deleted]
    assert asked < len(files)

    # the site's recycle bin is listed item by item: still billed, never reclaimable again
    binned = list(inventory.files("account = ?", (finance.id,)))
    entries = [e for d in finance.drives for e in d.bin]
    assert len(binned) == len(entries) > 0
    assert sum(f.storage_bytes for f in binned) == sum(e.size for e in entries)
    assert all("trashed" in f.flags and "/Recycle Bin/Documents/" in f.path for f in binned)

    quotas = {q.account: q for q in inventory.quotas()}
    quota = quotas[library.id]
    assert quota.trash == library.deleted_bytes() > 0  # the recycle bin is still billed
    assert quota.used == library.used_bytes() and quota.total == library.quota_total
    assert quota.extra["region"] == "FR"  # the footprint uses the French grid
    assert {q.extra["drive"] for q in quotas.values()} == {
        "contoso.sharepoint.com/sites/Finance/Documents",
        "contoso.sharepoint.com/sites/Finance/Archive",
    }


def test_staff_scan_their_onedrive_and_followed_sites(
    graph: GraphEmulator, staff_app: App, waits: Waits, tmp_path: Path
) -> None:
    from providers.sharepoint import SharePointProvider
    from tests.emulators.graph_settings import staff_settings

    seeded = seed_realistic(graph.tenant)
    person = seeded.users[2]
    cache = tmp_path / "config" / "sharepoint-token-cache.json"
    settings = staff_settings(graph, staff_app, cache)
    shown: list[str] = []

    def approve(message: str) -> None:
        shown.append(message)
        code = message.split("enter the code ")[1].split()[0]
        graph.login.approve(code, person)

    who = SharePointProvider.login(options(settings), approve)
    assert who == person.mail and "https://microsoft.com/devicelogin" in shown[0]
    assert cache.stat().st_mode & 0o777 == 0o600
    assert graph.calls["login.devicecode"] == 1

    inventory = Inventory(tmp_path / "inventory.db")
    scan(inventory, [Address("sharepoint", "me")], options(settings))
    accounts = {a for (a,) in inventory.db.execute("SELECT DISTINCT account FROM files")}
    followed = [graph.tenant.sites[s] for s in graph.tenant.followed[person.id]]
    expected = {graph.tenant.onedrives[person.id].id} | {d.id for s in followed for d in s.drives}
    expected |= {s.id for s in followed}  # each followed site's recycle bin
    assert accounts == expected
    assert graph.calls["login.devicecode"] == 1  # no second sign-in: the cache was used silently
    assert cache.stat().st_mode & 0o777 == 0o600


def test_an_expired_delta_link_lists_the_drive_again(
    graph: GraphEmulator, admin_app: App, waits: Waits, tmp_path: Path
) -> None:
    seeded = seed_realistic(graph.tenant)
    library = next(s for s in seeded.sites if s.name == "Legal").drives[0]
    target = [Address("sharepoint", f"drive/{library.id}")]
    settings = admin_settings(graph, admin_app)
    inventory = Inventory(tmp_path / "inventory.db")
    scan(inventory, target, options(settings))
    doomed = next(i for i in library.items.values() if not i.folder and not i.deleted)
    library.purge(doomed)  # gone, and the old delta link can no longer say so
    graph.invalidate_delta_tokens(library)
    again = scan(inventory, target, options(settings))
    assert any("listing the drive again" in p.message for p in again.summary.problems)
    live = {i.id for i in library.items.values() if not i.deleted and not i.purged}
    assert set(i for (_, i) in sharepoint_rows(inventory)) == live
    assert again.summary.gone == 1


def test_failures_without_retry_after_back_off_with_jitter(
    graph: GraphEmulator, admin_app: App, waits: Waits, tmp_path: Path
) -> None:
    seeded = seed_realistic(graph.tenant)
    library = next(s for s in seeded.sites if s.name == "HR").drives[0]
    graph.faults.fail("drives.delta", 500, times=4)
    inventory = Inventory(tmp_path / "inventory.db")
    scan(
        inventory,
        [Address("sharepoint", f"drive/{library.id}")],
        options(admin_settings(graph, admin_app)),
    )
    assert len(waits.seconds) == 4
    # full jitter: a random wait below 1, 2, 4, 8 seconds, never the same schedule twice
    assert all(0 <= wait <= 2**n for n, wait in enumerate(waits.seconds))
    assert len(set(waits.seconds)) == 4
    live = [i for i in library.items.values() if not i.deleted and not i.purged]
    assert inventory.db.execute(
        "SELECT COUNT(*) FROM files WHERE account = ?", (library.id,)
    ).fetchone()[0] == len(live)
