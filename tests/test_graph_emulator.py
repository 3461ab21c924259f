"""The Graph emulator behaves like Microsoft Graph and the identity platform, seen through
msal and plain requests: sign-in, discovery, delta, actions, versions, batch, faults."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from cleanup.quickxor import quickxor_bytes
from tests.emulators.graph import GraphEmulator, LoginRoutedSession
from tests.emulators.graph_seed import Seeded, seed_bulk, seed_realistic
from tests.emulators.graph_tenant import App

LOGIN = "https://login.microsoftonline.com"
DEFAULT = ["https://graph.microsoft.com/.default"]
ADMIN_ROLES = {"Sites.Read.All", "Files.Read.All", "User.Read.All", "Sites.ReadWrite.All"}


@pytest.fixture
def emulator() -> Iterator[GraphEmulator]:
    with GraphEmulator(seed=3) as running:
        yield running


@pytest.fixture
def seeded(emulator: GraphEmulator) -> Seeded:
    return seed_realistic(emulator.tenant)


@pytest.fixture
def admin(emulator: GraphEmulator) -> App:
    return emulator.register_app(
        "cleanup-admin", secret="correct horse", application_roles=ADMIN_ROLES
    )


def confidential(
    emulator: GraphEmulator, app: App, credential: Any, tenant: str | None = None
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        app.client_id,
        client_credential=credential,
        authority=f"{LOGIN}/{tenant or emulator.tenant.domain}",
        http_client=LoginRoutedSession(emulator.url),
    )


def graph(
    emulator: GraphEmulator, token: str, method: str, path: str, **kwargs: Any
) -> requests.Response:
    url = path if path.startswith("http") else emulator.graph_url + path
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return requests.request(method, url, headers=headers, timeout=10, **kwargs)


def admin_token(emulator: GraphEmulator, app: App) -> str:
    result = confidential(emulator, app, "correct horse").acquire_token_for_client(scopes=DEFAULT)
    return str(result["access_token"])


# ---- sign-in ---------------------------------------------------------------------------


def test_admin_signs_in_with_a_secret_and_lists_every_site(
    emulator: GraphEmulator, seeded: Seeded, admin: App
) -> None:
    token = admin_token(emulator, admin)
    sites = graph(emulator, token, "GET", "/sites/getAllSites?$top=2")
    assert sites.status_code == 200
    names = [s["displayName"] for s in sites.json()["value"]]
    link = sites.json()["@odata.nextLink"]
    assert link.startswith(emulator.url + "/v1.0/sites/getAllSites?")
    while link:
        page = graph(emulator, token, "GET", link).json()
        names += [s["displayName"] for s in page["value"]]
        link = page.get("@odata.nextLink")
    assert sorted(names) == sorted(s.display_name for s in seeded.sites)
    assert emulator.calls["login.openid"] == 1 and emulator.calls["login.token"] == 1


def test_admin_signs_in_with_a_certificate(emulator: GraphEmulator, seeded: Seeded) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cleanup")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    app = emulator.register_app(
        "cleanup-cert", certificate_pem=cert_pem, application_roles=ADMIN_ROLES
    )
    # SHA-256 thumbprint with PS256 (certificate given) and legacy SHA-1 with RS256
    for credential in (
        {"private_key": key_pem, "public_certificate": cert_pem.decode()},
        {"private_key": key_pem, "thumbprint": cert.fingerprint(hashes.SHA1()).hex()},
    ):
        result = confidential(emulator, app, credential).acquire_token_for_client(scopes=DEFAULT)
        assert "access_token" in result, result["error_description"]
        assert (
            graph(emulator, result["access_token"], "GET", "/sites?search=finance").json()["value"][
                0
            ]["name"]
            == "Finance"
        )
    other = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    forged = confidential(
        emulator, app, {"private_key": other, "public_certificate": cert_pem.decode()}
    )
    result = forged.acquire_token_for_client(scopes=DEFAULT)
    assert result["error"] == "invalid_client" and "AADSTS700027" in result["error_description"]


def test_sign_in_failures_say_what_is_wrong(emulator: GraphEmulator, admin: App) -> None:
    wrong = confidential(emulator, admin, "battery staple").acquire_token_for_client(scopes=DEFAULT)
    assert wrong["error"] == "invalid_client" and 7000215 in wrong["error_codes"]
    admin.secret_expired = True
    expired = confidential(emulator, admin, "correct horse").acquire_token_for_client(
        scopes=DEFAULT
    )
    assert expired["error"] == "invalid_client" and "AADSTS7000222" in expired["error_description"]
    admin.secret_expired = False
    unconsented = emulator.register_app("fresh", secret="x")
    result = confidential(emulator, unconsented, "x").acquire_token_for_client(scopes=DEFAULT)
    assert result["suberror"] == "consent_required" and "AADSTS65001" in result["error_description"]
    with pytest.raises(ValueError, match="authority configuration"):
        confidential(emulator, admin, "correct horse", tenant="fabrikam.onmicrosoft.com")
    raw = requests.get(
        f"{emulator.url}/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration", timeout=5
    )
    assert (
        raw.status_code == 400
        and raw.json()["error"] == "invalid_tenant"
        and 90002 in raw.json()["error_codes"]
    )


def test_staff_sign_in_with_a_device_code_and_stay_signed_in(
    emulator: GraphEmulator, seeded: Seeded
) -> None:
    app = emulator.register_app(
        "cleanup-staff", public_client=True, delegated_scopes={"Files.Read.All", "Sites.Read.All"}
    )
    cache = msal.SerializableTokenCache()
    pca = msal.PublicClientApplication(
        app.client_id,
        authority=f"{LOGIN}/organizations",
        http_client=LoginRoutedSession(emulator.url),
        token_cache=cache,
    )
    scopes = ["Files.Read.All", "Sites.Read.All"]
    flow = pca.initiate_device_flow(scopes=scopes)
    assert flow["user_code"] in flow["message"]
    pending = pca.acquire_token_by_device_flow(dict(flow), exit_condition=lambda f: True)
    assert pending["error"] == "authorization_pending"
    megan = seeded.users[-1]
    emulator.login.approve(flow["user_code"], megan)
    flow["interval"] = 0
    result = pca.acquire_token_by_device_flow(flow)
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == megan.mail
    drive = graph(emulator, result["access_token"], "GET", "/me/drive").json()
    assert drive["owner"]["user"]["displayName"] == megan.display_name
    followed = graph(emulator, result["access_token"], "GET", "/me/followedSites").json()["value"]
    assert len(followed) == 2

    # a later run: the persisted cache signs in silently, and refreshes once the token expires
    later = msal.PublicClientApplication(
        app.client_id,
        authority=f"{LOGIN}/organizations",
        http_client=LoginRoutedSession(emulator.url),
        token_cache=msal.SerializableTokenCache(),
    )
    later.token_cache.deserialize(cache.serialize())  # type: ignore[attr-defined]
    account = later.get_accounts()[0]
    silent = later.acquire_token_silent(scopes, account=account)
    assert silent is not None and silent["access_token"] == result["access_token"]
    emulator.login.expire_tokens()
    assert (
        graph(emulator, silent["access_token"], "GET", "/me/drive").json()["error"]["code"]
        == "InvalidAuthenticationToken"
    )
    refreshed = later.acquire_token_silent(scopes, account=account, force_refresh=True)
    assert refreshed is not None and refreshed["access_token"] != result["access_token"]
    assert graph(emulator, refreshed["access_token"], "GET", "/me/drive").status_code == 200


def test_device_code_without_consent(emulator: GraphEmulator, seeded: Seeded) -> None:
    app = emulator.register_app("narrow", public_client=True, delegated_scopes={"Files.Read.All"})
    pca = msal.PublicClientApplication(
        app.client_id,
        authority=f"{LOGIN}/{emulator.tenant.id}",
        http_client=LoginRoutedSession(emulator.url),
    )
    flow = pca.initiate_device_flow(scopes=["Files.Read.All", "Sites.Read.All"])
    emulator.login.approve(flow["user_code"], seeded.users[0])
    flow["interval"] = 0
    result = pca.acquire_token_by_device_flow(flow)
    assert (
        result["suberror"] == "consent_required" and "Sites.Read.All" in result["error_description"]
    )


# ---- discovery and delta -----------------------------------------------------------------


def test_discovery_of_libraries_and_onedrives(
    emulator: GraphEmulator, seeded: Seeded, admin: App
) -> None:
    token = admin_token(emulator, admin)
    users = graph(emulator, token, "GET", "/users").json()["value"]
    assert len(users) == len(seeded.users)
    drive = graph(emulator, token, "GET", f"/users/{users[0]['id']}/drive").json()
    assert drive["driveType"] == "business"
    finance = next(s for s in seeded.sites if s.name == "Finance")
    libraries = graph(emulator, token, "GET", f"/sites/{finance.id}/drives").json()["value"]
    assert {d["name"] for d in libraries} == {"Documents", "Archive"}
    quota = graph(emulator, token, "GET", f"/drives/{libraries[0]['id']}?$select=quota").json()
    assert set(quota) == {"quota"}
    assert set(quota["quota"]) == {"total", "used", "remaining", "deleted", "state"}
    assert quota["quota"]["deleted"] > 0  # a full recycle bin
    assert quota["quota"]["used"] == quota["quota"]["total"] - quota["quota"]["remaining"]
    binned = graph(emulator, token, "GET", f"/sites/{finance.id}/recycleBin/items").json()["value"]
    assert binned and set(binned[0]) == {
        "id",
        "name",
        "size",
        "deletedDateTime",
        "deletedFromLocation",
    }
    deleted = sum(quota_of(emulator, token, d["id"])["deleted"] for d in libraries)
    assert sum(b["size"] for b in binned) == deleted
    assert all(b["deletedFromLocation"].startswith(("Documents", "Archive")) for b in binned)
    staff_only = graph(
        emulator,
        emulator.token_for(admin, seeded.users[0], {"Files.Read.All"}),
        "GET",
        "/sites/getAllSites",
    )
    assert staff_only.status_code == 403 and staff_only.json()["error"]["code"] == "accessDenied"


def enumerate_delta(
    emulator: GraphEmulator, token: str, url: str
) -> tuple[list[dict[str, Any]], str, int]:
    seen: list[dict[str, Any]] = []
    pages = 0
    while True:
        page = graph(emulator, token, "GET", url).json()
        pages += 1
        seen += page["value"]
        if "@odata.nextLink" in page:
            url = page["@odata.nextLink"]
            assert url.startswith(emulator.url + "/v1.0/drives/")
        else:
            return seen, page["@odata.deltaLink"], pages


def test_delta_lists_a_drive_then_only_its_changes(
    emulator: GraphEmulator, seeded: Seeded, admin: App
) -> None:
    token = admin_token(emulator, admin)
    drive = seeded.sites[0].drives[0]
    select = "id,name,size,file,folder,parentReference,deleted,root,eTag,lastModifiedBy"
    items, delta_link, pages = enumerate_delta(
        emulator, token, f"/drives/{drive.id}/root/delta?$select={select}&$top=20"
    )
    live = [i for i in drive.items.values() if not i.deleted and not i.purged]
    assert pages > 1
    assert sorted(i["id"] for i in items) == sorted(i.id for i in live)
    assert "root" in items[0]
    assert all(set(i) <= set(select.split(",")) for i in items)
    assert all("path" not in i["parentReference"] for i in items)
    a_file = next(i for i in items if "file" in i)
    seeded_item = drive.items[a_file["id"]]
    assert a_file["file"]["hashes"]["quickXorHash"] == seeded_item.quickxor
    assert a_file["lastModifiedBy"]["user"]["email"] == seeded_item.modified_by.mail

    # three edits and a deletion; the delta link returns only those (and their parent folders)
    files = [i for i in live if not i.folder]
    for item in files[:3]:
        emulator.change(drive, item)
    reader = emulator.token_for(admin, scopes={"Sites.Read.All", "Files.Read.All"})
    assert (
        graph(emulator, reader, "DELETE", f"/drives/{drive.id}/items/{files[3].id}").status_code
        == 403
    )
    writer = emulator.token_for(admin, scopes={"Sites.ReadWrite.All"})
    assert (
        graph(emulator, writer, "DELETE", f"/drives/{drive.id}/items/{files[3].id}").status_code
        == 204
    )
    changes, second_link, _ = enumerate_delta(emulator, token, delta_link)
    changed = {c["id"] for c in changes if "file" in c}
    assert changed == {i.id for i in files[:4]}
    gone = [c for c in changes if "deleted" in c]
    assert [c["id"] for c in gone] == [files[3].id] and "name" not in gone[0]
    assert all("folder" in c for c in changes if c["id"] not in changed)
    nothing, _, _ = enumerate_delta(emulator, token, second_link)
    assert nothing == []

    emulator.invalidate_delta_tokens(drive)
    stale = graph(emulator, token, "GET", second_link)
    assert stale.status_code == 410 and stale.json()["error"]["code"] == "resyncRequired"
    assert stale.headers["Location"].startswith(emulator.url)


def test_seeded_hashes_are_the_content_quickxor(
    emulator: GraphEmulator, seeded: Seeded, admin: App
) -> None:
    token = admin_token(emulator, admin)
    for drive, item in seeded.files[:5] + [next(iter(seeded.duplicates.values()))[0]]:
        content = graph(emulator, token, "GET", f"/drives/{drive.id}/items/{item.id}/content")
        body = graph(emulator, token, "GET", f"/drives/{drive.id}/items/{item.id}").json()
        assert quickxor_bytes(content.content) == body["file"]["hashes"]["quickXorHash"]
        assert len(content.content) == body["size"]
    places = {d.id for group in seeded.duplicates.values() for d, _ in group}
    assert any(
        d.drive_type == "business" for d in emulator.tenant.drives.values() if d.id in places
    )
    assert len(seeded.version_heavy) >= 10


# ---- actions ---------------------------------------------------------------------------


def test_move_and_delete_check_the_etag(
    emulator: GraphEmulator, seeded: Seeded, admin: App
) -> None:
    token = emulator.token_for(admin, scopes={"Sites.ReadWrite.All"})
    drive, item = next((d, i) for d, i in seeded.files if i.parent_id != d.root_id and i.versions)
    url = f"/drives/{drive.id}/items/{item.id}"
    before = graph(emulator, token, "GET", url).json()
    assert before["parentReference"]["path"].startswith("/drive/root:/")
    archive = emulator.tenant.add_folder(drive, None, "Archive 2026", seeded.users[0])
    move = {"parentReference": {"id": archive.id}}
    emulator.change(drive, item)
    stale = graph(emulator, token, "PATCH", url, json=move, headers={"If-Match": before["eTag"]})
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "resourceModified"
    fresh = graph(emulator, token, "GET", url).json()
    moved = graph(emulator, token, "PATCH", url, json=move, headers={"If-Match": fresh["eTag"]})
    assert (
        moved.status_code == 200
        and moved.json()["parentReference"]["path"] == "/drive/root:/Archive 2026"
    )

    def quota() -> dict[str, Any]:
        return quota_of(emulator, token, drive.id)

    start = quota()
    held = item.size + sum(v.size for v in item.versions)
    assert (
        graph(
            emulator, token, "DELETE", url, headers={"If-Match": moved.json()["eTag"]}
        ).status_code
        == 204
    )
    after = quota()
    assert after["deleted"] - start["deleted"] == held and after["used"] == start["used"]
    assert graph(emulator, token, "GET", url).status_code == 404
    restore = graph(emulator, token, "POST", url + "/restore", json={})
    assert restore.status_code == 501 and restore.json()["error"]["code"] == "notSupported"
    assert drive.empty_bin() >= held
    assert quota()["used"] == start["used"] - start["deleted"] - held

    other_drive, other = seeded.files[-1]
    size_before = quota_of(emulator, token, other_drive.id)["used"]
    gone = graph(
        emulator, token, "POST", f"/drives/{other_drive.id}/items/{other.id}/permanentDelete"
    )
    assert gone.status_code == 204
    freed = other.size + sum(v.size for v in other.versions)
    assert quota_of(emulator, token, other_drive.id)["used"] == size_before - freed


def quota_of(emulator: GraphEmulator, token: str, drive_id: str) -> dict[str, Any]:
    return dict(graph(emulator, token, "GET", f"/drives/{drive_id}?$select=quota").json()["quota"])


def test_versions_newest_first_trim_and_restore(
    emulator: GraphEmulator, seeded: Seeded, admin: App
) -> None:
    token = emulator.token_for(admin, scopes={"Files.ReadWrite.All"})
    drive, item = seeded.version_heavy[0]
    url = f"/drives/{drive.id}/items/{item.id}/versions"
    versions = graph(emulator, token, "GET", url).json()["value"]
    assert len(versions) == len(item.versions) + 1
    assert versions[0]["id"] == f"{item.version_major}.0" and versions[0]["size"] == item.size
    majors = [float(v["id"]) for v in versions]
    assert majors == sorted(majors, reverse=True)
    current = graph(emulator, token, "DELETE", f"{url}/{versions[0]['id']}")
    assert current.status_code == 403
    before = quota_of(emulator, token, drive.id)
    oldest = versions[-1]
    assert graph(emulator, token, "DELETE", f"{url}/{oldest['id']}").status_code == 204
    after = quota_of(emulator, token, drive.id)
    # deleted versions go to the site recycle bin: still counted, now as deleted
    assert (
        after["deleted"] - before["deleted"] == oldest["size"] and after["used"] == before["used"]
    )
    assert len(graph(emulator, token, "GET", url).json()["value"]) == len(versions) - 1
    assert (
        graph(emulator, token, "POST", f"{url}/{versions[1]['id']}/restoreVersion").status_code
        == 204
    )
    assert graph(emulator, token, "GET", url).json()["value"][0]["size"] == versions[1]["size"]


def test_locked_item_and_full_quota(emulator: GraphEmulator, seeded: Seeded, admin: App) -> None:
    token = emulator.token_for(admin, scopes={"Files.ReadWrite.All"})
    drive, item = seeded.version_heavy[1]
    emulator.faults.lock(item.id)
    locked = graph(emulator, token, "DELETE", f"/drives/{drive.id}/items/{item.id}")
    assert locked.status_code == 423 and locked.json()["error"]["code"] == "resourceLocked"
    drive.quota_total = drive.used_bytes()
    other_drive, other = next(
        (d, i) for d, i in seeded.version_heavy if d is drive and i is not item
    )
    full = graph(
        emulator, token, "POST", f"/drives/{drive.id}/items/{other.id}/versions/1.0/restoreVersion"
    )
    assert full.status_code == 507 and full.json()["error"]["code"] == "quotaLimitReached"
    assert quota_of(emulator, token, drive.id)["state"] == "exceeded"


# ---- batch, throttling, tokens -------------------------------------------------------------


def test_batch_of_version_requests_with_throttled_members(
    emulator: GraphEmulator, seeded: Seeded, admin: App
) -> None:
    token = admin_token(emulator, admin)
    heavy = seeded.version_heavy
    requests_ = [
        {"id": str(n), "method": "GET", "url": f"/drives/{d.id}/items/{i.id}/versions"}
        for n, (d, i) in enumerate((heavy * 3)[:21])
    ]
    too_many = graph(emulator, token, "POST", "/$batch", json={"requests": requests_})
    assert too_many.status_code == 400
    emulator.faults.throttle(0.5, statuses=(429,), retry_after=7, endpoints={"items.versions"})
    answer = graph(emulator, token, "POST", "/$batch", json={"requests": requests_[:20]})
    assert answer.status_code == 200
    statuses = {r["id"]: r for r in answer.json()["responses"]}
    assert set(statuses) == {str(n) for n in range(20)}
    throttled = [r for r in statuses.values() if r["status"] == 429]
    ok = [r for r in statuses.values() if r["status"] == 200]
    assert throttled and ok and len(throttled) + len(ok) == 20
    assert throttled[0]["headers"]["Retry-After"] == "7"
    assert throttled[0]["body"]["error"]["code"] == "activityLimitReached"
    assert ok[0]["body"]["value"][0]["size"] > 0
    assert emulator.faults.throttled["items.versions"] == len(throttled)


def test_throttling_is_seeded_and_counted(
    emulator: GraphEmulator, seeded: Seeded, admin: App
) -> None:
    token = admin_token(emulator, admin)
    emulator.faults.throttle(0.3, retry_after=2)
    statuses = [graph(emulator, token, "GET", "/sites?search=*") for _ in range(60)]
    refused = [r for r in statuses if r.status_code in (429, 503)]
    assert 8 <= len(refused) <= 30
    assert {r.status_code for r in refused} == {429, 503}
    assert all(r.headers["Retry-After"] == "2" for r in refused)
    assert emulator.calls["sites.search"] == 60
    emulator.faults.throttle(0.0)
    emulator.faults.fail("sites.search", 503, times=2)
    assert [graph(emulator, token, "GET", "/sites?search=*").status_code for _ in range(3)] == [
        503,
        503,
        200,
    ]


def test_error_bodies_have_graph_shape(emulator: GraphEmulator, seeded: Seeded, admin: App) -> None:
    token = admin_token(emulator, admin)
    missing = graph(emulator, token, "GET", f"/drives/{seeded.sites[0].drives[0].id}/items/01NOPE")
    error = missing.json()["error"]
    assert missing.status_code == 404 and error["code"] == "itemNotFound"
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}
    anonymous = requests.get(emulator.graph_url + "/sites/getAllSites", timeout=5)
    assert (
        anonymous.status_code == 401
        and anonymous.json()["error"]["code"] == "InvalidAuthenticationToken"
    )


def test_bulk_tenant_of_twenty_thousand_items_enumerates_quickly(
    admin: App, emulator: GraphEmulator
) -> None:
    import time

    started = time.perf_counter()
    bulk = seed_bulk(emulator.tenant, items=20_000, sites=5)
    seeded_in = time.perf_counter() - started
    token = admin_token(emulator, admin)
    total = 0
    started = time.perf_counter()
    for site in bulk.sites:
        items, _, _ = enumerate_delta(
            emulator,
            token,
            f"/drives/{site.drives[0].id}/root/delta?$select=id,name,size,file,folder,parentReference,deleted",
        )
        total += len(items) - 1  # the root
    listed_in = time.perf_counter() - started
    assert total == 20_000
    assert seeded_in < 10 and listed_in < 20, (seeded_in, listed_in)


def test_client_info_and_id_token_are_what_msal_expects(
    emulator: GraphEmulator, seeded: Seeded
) -> None:
    app = emulator.register_app("raw", public_client=True, delegated_scopes={"Files.Read.All"})
    started = requests.post(
        f"{emulator.url}/{emulator.tenant.id}/oauth2/v2.0/devicecode",
        data={"client_id": app.client_id, "scope": "Files.Read.All offline_access"},
        timeout=5,
    ).json()
    emulator.login.approve(started["user_code"], seeded.users[1])
    token = requests.post(
        f"{emulator.url}/{emulator.tenant.id}/oauth2/v2.0/token",
        data={
            "client_id": app.client_id,
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": started["device_code"],
        },
        timeout=5,
    ).json()
    info = json.loads(base64.urlsafe_b64decode(token["client_info"] + "=="))
    assert info == {"uid": seeded.users[1].id, "utid": emulator.tenant.id}
    assert token["id_token"].endswith(".") and token["refresh_token"]


def test_instance_discovery_path_addressing_and_new_folders(
    emulator: GraphEmulator, seeded: Seeded, admin: App
) -> None:
    discovery = requests.get(
        f"{emulator.url}/common/discovery/instance",
        params={
            "api-version": "1.1",
            "authorization_endpoint": f"{LOGIN}/{emulator.tenant.domain}/oauth2/v2.0/authorize",
        },
        timeout=5,
    ).json()
    assert discovery["tenant_discovery_endpoint"] == (
        f"{LOGIN}/{emulator.tenant.domain}/v2.0/.well-known/openid-configuration"
    )
    token = emulator.token_for(admin, scopes={"Sites.ReadWrite.All"})
    finance = next(s for s in seeded.sites if s.name == "Finance")
    site = graph(emulator, token, "GET", "/sites/contoso.sharepoint.com:/sites/Finance").json()
    assert site["id"] == finance.id
    drive = finance.drives[0]
    audit = graph(emulator, token, "GET", f"/drives/{drive.id}/root:/Audit/Working papers:").json()
    assert (
        audit["name"] == "Working papers"
        and audit["parentReference"]["path"] == "/drive/root:/Audit"
    )
    url = f"/drives/{drive.id}/items/{audit['id']}/children"
    made = graph(emulator, token, "POST", url, json={"name": "2026", "folder": {}})
    assert made.status_code == 201 and made.json()["folder"]["childCount"] == 0
    again = graph(emulator, token, "POST", url, json={"name": "2026", "folder": {}})
    assert again.status_code == 409 and again.json()["error"]["code"] == "nameAlreadyExists"
    names = [c["name"] for c in graph(emulator, token, "GET", url).json()["value"]]
    assert "2026" in names
