"""The Drive emulator answers the real google-api-python-client as Google would.

These tests use only the public client libraries (googleapiclient, google-auth), never
the project's provider, so that the emulator is proven on its own before anything
is tested against it.
"""

from __future__ import annotations

import hashlib
import json
import time

import google.auth.exceptions
import httplib2
import pytest
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build_from_document
from googleapiclient.discovery_cache import get_static_doc
from googleapiclient.errors import HttpError

from tests.emulators.gdrive import DRIVE, DRIVE_METADATA_READONLY, running_emulator

DIRECTORY_SCOPE = "https://www.googleapis.com/auth/admin.directory.user.readonly"


@pytest.fixture
def drive():
    with running_emulator(seed=1) as emulator:
        yield emulator


def service(emulator, creds, api="drive", version="v3"):
    """Build the real client from its bundled discovery document, routed to the emulator."""
    doc = json.loads(get_static_doc(api, version))
    doc["rootUrl"] = emulator.url
    return build_from_document(doc, credentials=creds)


def as_user(emulator, email, scopes=(DRIVE,)):
    return service(
        emulator, user_credentials.Credentials(token=emulator.issue_token(email, scopes))
    )


def reason(err: HttpError) -> str:
    return json.loads(err.content)["error"]["errors"][0]["reason"]


def list_all(svc, **kw):
    items, token, pages = [], None, 0
    while True:
        page = svc.files().list(pageToken=token, **kw).execute()
        pages += 1
        items += page.get("files", [])
        token = page.get("nextPageToken")
        if not token:
            return items, pages


# ----------------------------------------------------------------------------- listing


def test_paging_is_capped_at_1000_and_every_file_comes_once(drive):
    ids = drive.seed_bulk("ann@example.org", n_files=2_500, fanout=3, depth=2)
    svc = as_user(drive, "ann@example.org")

    files, pages = list_all(
        svc,
        pageSize=5000,
        q="mimeType != 'application/vnd.google-apps.folder'",
        fields="nextPageToken, files(id)",
    )

    assert pages == 3  # 5000 is coerced to 1000
    assert sorted(f["id"] for f in files) == sorted(ids)
    first = svc.files().list().execute()
    assert len(first["files"]) == 100 and "nextPageToken" in first  # the default page size


def test_page_token_is_opaque_and_bound_to_its_query(drive):
    drive.seed_bulk("ann@example.org", n_files=30, fanout=2, depth=1)
    svc = as_user(drive, "ann@example.org")
    token = svc.files().list(pageSize=10).execute()["nextPageToken"]
    assert not token.isdigit()
    with pytest.raises(HttpError) as err:
        svc.files().list(pageSize=10, pageToken=token, q="trashed = true").execute()
    assert err.value.status_code == 400 and reason(err.value) == "invalid"


def test_fields_partial_response_and_nested_selection(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)

    got = (
        svc.files()
        .get(fileId=ids.report, fields="id,name,owners(emailAddress),capabilities/canTrash")
        .execute()
    )
    assert got == {
        "id": ids.report,
        "name": "Q3 report.pdf",
        "owners": [{"emailAddress": ids.alice}],
        "capabilities": {"canTrash": True},
    }
    default = svc.files().get(fileId=ids.report).execute()
    assert set(default) == {"kind", "id", "name", "mimeType"}
    everything = svc.files().get(fileId=ids.report, fields="*").execute()
    assert everything["size"] == str(len(ids.report_bytes)) and "sha256Checksum" in everything


def test_unknown_field_is_rejected(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)
    with pytest.raises(HttpError) as err:
        svc.files().list(fields="files(id,colour)").execute()
    assert err.value.status_code == 400 and reason(err.value) == "invalidParameter"


def test_q_subset(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)

    def names(q):
        files, _ = list_all(svc, q=q, fields="nextPageToken, files(name)")
        return sorted(f["name"] for f in files)

    assert names(f"'{ids.y2021}' in parents") == ["Budget 2021", "Q3 report (1).pdf"]
    assert names(
        f"'{ids.projects}' in parents and mimeType = 'application/vnd.google-apps.folder'"
    ) == ["2021", "Exports"]
    assert "old-backup.zip" in names("trashed = true")
    assert "old-backup.zip" not in names("trashed = false")
    assert "carol-notes.txt" not in names("'me' in owners")
    assert "carol-notes.txt" in names("not 'me' in owners")
    both = names(
        f"('{ids.y2021}' in parents or '{ids.photos}' in parents) and "
        "mimeType != 'application/vnd.google-apps.shortcut'"
    )
    assert both == ["Budget 2021", "Q3 report (1).pdf", "holiday.jpg"]
    with pytest.raises(HttpError) as err:
        svc.files().list(q="name = ").execute()
    assert err.value.status_code == 400 and reason(err.value) == "invalid"


def test_trashed_files_are_listed_unless_the_query_excludes_them(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)
    files, _ = list_all(svc, fields="nextPageToken, files(id,trashed)")
    trashed = {f["id"] for f in files if f["trashed"]}
    assert ids.backup in trashed


def test_shared_drive_items_need_the_all_drives_flags(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)

    mine, _ = list_all(svc, fields="nextPageToken, files(id)")
    assert ids.logo not in {f["id"] for f in mine}

    with pytest.raises(HttpError) as err:
        svc.files().list(corpora="drive", driveId=ids.marketing).execute()
    assert err.value.status_code == 403

    in_drive, _ = list_all(
        svc,
        corpora="drive",
        driveId=ids.marketing,
        supportsAllDrives=True,
        includeItemsFromAllDrives=True,
        fields="nextPageToken, files(id,owners,driveId)",
    )
    by_id = {f["id"]: f for f in in_drive}
    assert ids.logo in by_id and "owners" not in by_id[ids.logo]
    assert by_id[ids.logo]["driveId"] == ids.marketing

    every, _ = list_all(
        svc,
        corpora="allDrives",
        supportsAllDrives=True,
        includeItemsFromAllDrives=True,
        fields="nextPageToken, files(id)",
    )
    assert {ids.logo, ids.report} <= {f["id"] for f in every}
    assert ids.design not in {f["id"] for f in every}  # alice is no member of Engineering

    with pytest.raises(HttpError) as err:
        svc.files().get(fileId=ids.logo).execute()  # without supportsAllDrives
    assert err.value.status_code == 404

    drives = svc.drives().list().execute()["drives"]
    assert [d["name"] for d in drives] == ["Marketing"]


def test_file_shapes_follow_the_reference(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)
    fields = "id,size,quotaBytesUsed,md5Checksum,sha1Checksum,sha256Checksum,headRevisionId,shortcutDetails"

    binary = svc.files().get(fileId=ids.report, fields=fields).execute()
    assert isinstance(binary["size"], str) and len(binary["md5Checksum"]) == 32
    assert len(binary["sha256Checksum"]) == 64 and binary["headRevisionId"]

    doc = svc.files().get(fileId=ids.roadmap, fields=fields).execute()
    assert set(doc) == {"id", "quotaBytesUsed"}

    shortcut = svc.files().get(fileId=ids.shortcut, fields=fields).execute()
    assert (
        shortcut["quotaBytesUsed"] == "0" and shortcut["shortcutDetails"]["targetId"] == ids.report
    )
    assert "md5Checksum" not in shortcut and "size" not in shortcut


def test_revisions_kept_forever_count_in_quota_and_can_be_unpinned(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)
    before = int(
        svc.files().get(fileId=ids.video, fields="quotaBytesUsed").execute()["quotaBytesUsed"]
    )
    assert before == 3 * 1024**3 + 2900 * 1024**2 + 2800 * 1024**2

    revs = (
        svc.revisions()
        .list(fileId=ids.video, fields="revisions(id,keepForever,size)")
        .execute()["revisions"]
    )
    assert [r["keepForever"] for r in revs] == [True, True, False, False]
    svc.revisions().update(
        fileId=ids.video, revisionId=revs[0]["id"], body={"keepForever": False}
    ).execute()

    after = int(
        svc.files().get(fileId=ids.video, fields="quotaBytesUsed").execute()["quotaBytesUsed"]
    )
    assert after == before - 2900 * 1024**2
    with pytest.raises(HttpError) as err:
        svc.revisions().delete(fileId=ids.video, revisionId=revs[1]["id"]).execute()
    assert reason(err.value) == "illegalKeepForeverModification"
    svc.revisions().delete(fileId=ids.video, revisionId=revs[2]["id"]).execute()
    assert len(svc.revisions().list(fileId=ids.video).execute()["revisions"]) == 3


def test_about_quota_is_int64_strings_and_fields_are_required(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)
    quota = svc.about().get(fields="storageQuota").execute()["storageQuota"]
    assert set(quota) == {"limit", "usage", "usageInDrive", "usageInDriveTrash"}
    assert all(isinstance(v, str) for v in quota.values())
    assert int(quota["usageInDriveTrash"]) == 2 * 1024**3
    assert (
        "limit"
        not in as_user(drive, ids.carol)
        .about()
        .get(fields="storageQuota")
        .execute()["storageQuota"]
    )
    with pytest.raises(HttpError) as err:
        svc.about().get().execute()
    assert err.value.status_code == 400


# ----------------------------------------------------------------------------- acting


def test_only_the_owner_can_trash_and_unknown_ids_are_404(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)

    with pytest.raises(HttpError) as err:
        svc.files().update(fileId=ids.shared_in, body={"trashed": True}).execute()
    assert err.value.status_code == 403 and reason(err.value) == "insufficientFilePermissions"
    body = json.loads(err.value.content)["error"]
    assert (
        body["code"] == 403
        and body["status"] == "PERMISSION_DENIED"
        and body["errors"][0]["domain"]
    )

    with pytest.raises(HttpError) as err:
        svc.files().get(fileId="1doesNotExist").execute()
    assert err.value.status_code == 404 and reason(err.value) == "notFound"

    svc.files().update(fileId=ids.report_copy, body={"trashed": True}).execute()
    assert drive.is_trashed(ids.report_copy)
    svc.files().update(fileId=ids.report_copy, body={"trashed": False}).execute()
    assert not drive.is_trashed(ids.report_copy)


def test_trashing_a_folder_trashes_what_is_inside(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)
    svc.files().update(fileId=ids.photos, body={"trashed": True}).execute()
    inside = svc.files().get(fileId=ids.holiday, fields="trashed,explicitlyTrashed").execute()
    assert inside == {"trashed": True, "explicitlyTrashed": False}


def test_move_delete_and_empty_trash(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)
    moved = (
        svc.files()
        .update(
            fileId=ids.report_copy, addParents=ids.photos, removeParents=ids.y2021, fields="parents"
        )
        .execute()
    )
    assert moved["parents"] == [ids.photos]

    svc.files().delete(fileId=ids.empty).execute()
    assert drive.file(ids.empty) is None

    svc.files().emptyTrash().execute()
    assert drive.file(ids.backup) is None
    quota = svc.about().get(fields="storageQuota").execute()["storageQuota"]
    assert quota["usageInDriveTrash"] == "0"

    read_only = as_user(drive, ids.alice, scopes=(DRIVE_METADATA_READONLY,))
    with pytest.raises(HttpError) as err:
        read_only.files().update(fileId=ids.report, body={"trashed": True}).execute()
    assert err.value.status_code == 403 and reason(err.value) == "insufficientPermissions"


def test_batch_requests_answer_each_part(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)
    answers = {}
    batch = svc.new_batch_http_request(
        callback=lambda rid, resp, exc: answers.update({rid: (resp, exc)})
    )
    batch.add(svc.files().get(fileId=ids.report, fields="id,md5Checksum"), request_id="get")
    batch.add(
        svc.files().update(fileId=ids.holiday, body={"trashed": True}, fields="trashed"),
        request_id="trash",
    )
    batch.add(svc.files().get(fileId="1missing"), request_id="missing")
    batch.add(svc.files().delete(fileId=ids.empty), request_id="delete")
    batch.execute()

    assert answers["get"][0]["id"] == ids.report
    assert answers["trash"][0] == {"trashed": True}
    assert isinstance(answers["missing"][1], HttpError) and answers["missing"][1].status_code == 404
    assert answers["delete"][1] is None and drive.file(ids.empty) is None
    assert drive.calls["batch"] == 1 and drive.calls["files.get"] == 2


# ----------------------------------------------------------------------------- changes


def test_changes_feed_reports_edits_trash_and_deletes(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)
    start = svc.changes().getStartPageToken().execute()["startPageToken"]

    drive.edit_file(ids.report, b"new content")
    drive.rename_file(ids.holiday, "holiday-2019.jpg")
    svc.files().update(fileId=ids.report_copy, body={"trashed": True}).execute()
    svc.files().delete(fileId=ids.empty).execute()
    drive.edit_file(ids.design, b"not alice's")  # a shared drive she is not in

    changes, token, pages = [], start, 0
    while True:
        page = (
            svc.changes()
            .list(
                pageToken=token,
                pageSize=2,
                supportsAllDrives=True,
                includeItemsFromAllDrives=True,
                fields="nextPageToken,newStartPageToken,changes(fileId,removed,file(name,md5Checksum,trashed))",
            )
            .execute()
        )
        pages += 1
        changes += page["changes"]
        if "newStartPageToken" in page:
            assert "nextPageToken" not in page
            new_start = page["newStartPageToken"]
            break
        token = page["nextPageToken"]

    by_id = {c["fileId"]: c for c in changes}
    assert set(by_id) == {ids.report, ids.holiday, ids.report_copy, ids.empty}
    assert by_id[ids.report]["file"]["md5Checksum"] == hashlib.md5(b"new content").hexdigest()
    assert by_id[ids.holiday]["file"]["name"] == "holiday-2019.jpg"
    assert by_id[ids.report_copy]["file"]["trashed"] is True
    assert by_id[ids.empty] == {"fileId": ids.empty, "removed": True}
    assert pages >= 2
    assert svc.changes().list(pageToken=new_start).execute()["changes"] == []


# ----------------------------------------------------------------------------- auth


def test_expired_token_gets_401_auth_error(drive):
    ids = drive.seed_realistic()
    creds = user_credentials.Credentials(token=drive.issue_token(ids.alice, ttl=-1))
    doc = json.loads(get_static_doc("drive", "v3"))
    doc["rootUrl"] = drive.url
    # No refresh on 401 here, so that the raw answer shows.
    svc = build_from_document(
        doc, http=AuthorizedHttp(creds, http=httplib2.Http(), refresh_status_codes=())
    )
    with pytest.raises(HttpError) as err:
        svc.files().list().execute()
    body = json.loads(err.value.content)["error"]
    assert err.value.status_code == 401 and body["errors"][0]["reason"] == "authError"
    assert body["status"] == "UNAUTHENTICATED"


def test_refresh_token_credentials_refresh_when_the_token_expires_mid_scan(drive):
    ids = drive.seed_realistic()
    client_id, secret = drive.register_oauth_client()
    refresh = drive.issue_refresh_token(ids.alice, client_id, [DRIVE_METADATA_READONLY])
    creds = user_credentials.Credentials(
        token=None,
        refresh_token=refresh,
        client_id=client_id,
        client_secret=secret,
        token_uri=drive.token_uri,
        scopes=[DRIVE_METADATA_READONLY],
    )
    svc = service(drive, creds)
    drive.faults.expire_tokens_after = 2

    files, _ = list_all(svc, pageSize=5, fields="nextPageToken, files(id)")

    assert len(files) > 10
    assert drive.calls["token"] == 2  # the first sign-in, then one refresh after the 401
    assert any(status == 401 for _, _, status in drive.call_log)


def test_revoked_refresh_token_is_invalid_grant(drive):
    ids = drive.seed_realistic()
    client_id, secret = drive.register_oauth_client()
    refresh = drive.issue_refresh_token(ids.alice, client_id)
    drive.revoke_refresh_token(refresh)
    creds = user_credentials.Credentials(
        token=None,
        refresh_token=refresh,
        client_id=client_id,
        client_secret=secret,
        token_uri=drive.token_uri,
    )
    with pytest.raises(google.auth.exceptions.RefreshError) as err:
        service(drive, creds).files().list().execute()
    assert "invalid_grant" in str(err.value)


def test_service_account_with_domain_wide_delegation(drive):
    ids = drive.seed_realistic()
    info = drive.service_account_info(delegated_scopes=[DRIVE_METADATA_READONLY, DIRECTORY_SCOPE])
    base = service_account.Credentials.from_service_account_info(
        info, scopes=[DRIVE_METADATA_READONLY]
    )

    as_bob = service(drive, base.with_subject(ids.bob))
    me = as_bob.about().get(fields="user(emailAddress)").execute()
    assert me["user"]["emailAddress"] == ids.bob

    directory_creds = service_account.Credentials.from_service_account_info(
        info, scopes=[DIRECTORY_SCOPE], subject=ids.alice
    )
    directory = service(drive, directory_creds, "admin", "directory_v1")
    users = directory.users().list(customer="my_customer", maxResults=2).execute()
    assert len(users["users"]) == 2 and "nextPageToken" in users
    rest = (
        directory.users().list(customer="my_customer", pageToken=users["nextPageToken"]).execute()
    )
    emails = [u["primaryEmail"] for u in users["users"] + rest["users"]]
    assert ids.carol in emails and any(u["suspended"] for u in rest["users"] + users["users"])


def test_service_account_without_delegation_gets_unauthorized_client(drive):
    ids = drive.seed_realistic()
    info = drive.service_account_info()  # delegation not granted by the admin
    creds = service_account.Credentials.from_service_account_info(
        info, scopes=[DRIVE_METADATA_READONLY], subject=ids.bob
    )
    with pytest.raises(google.auth.exceptions.RefreshError) as err:
        service(drive, creds).files().list().execute()
    assert "unauthorized_client" in str(err.value)

    alone = service_account.Credentials.from_service_account_info(
        info, scopes=[DRIVE_METADATA_READONLY]
    )
    assert service(drive, alone).files().list().execute()["files"] == []


def test_jwt_signed_by_another_key_is_refused(drive):
    drive.seed_realistic()
    info = drive.service_account_info()
    other = drive.service_account_info(email="other@cleanup-test.iam.gserviceaccount.com")
    forged = dict(info, private_key=other["private_key"], private_key_id="unknown")
    creds = service_account.Credentials.from_service_account_info(forged, scopes=[DRIVE])
    with pytest.raises(google.auth.exceptions.RefreshError) as err:
        service(drive, creds).files().list().execute()
    assert "invalid_grant" in str(err.value)


# ----------------------------------------------------------------------------- faults


def test_injected_faults_carry_google_bodies_and_retry_after(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)
    drive.faults.rate = 1.0
    drive.faults.statuses = (429,)
    drive.faults.retry_after = 3
    with pytest.raises(HttpError) as err:
        svc.files().list().execute()
    assert err.value.status_code == 429 and reason(err.value) == "rateLimitExceeded"
    assert err.value.resp["retry-after"] == "3"

    drive.faults.rate = 0
    drive.faults.rate_limit_403 = 1.0
    with pytest.raises(HttpError) as err:
        svc.files().list().execute()
    assert err.value.status_code == 403 and reason(err.value) == "userRateLimitExceeded"


def test_scripted_faults_and_the_clients_own_retry(drive, monkeypatch):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)
    monkeypatch.setattr(time, "sleep", lambda s: None)
    drive.faults.fail_next("files.list", count=2, status=503)
    assert svc.files().list().execute(num_retries=3)["files"]
    assert drive.calls["files.list"] == 3


def test_malformed_body_and_slow_responses(drive):
    ids = drive.seed_realistic()
    svc = as_user(drive, ids.alice)
    drive.faults.malformed_rate = 1.0
    broken = svc.files().list().execute()
    # The client hands back undecodable JSON as the raw text: callers must check for a dict.
    assert isinstance(broken, str) and broken.startswith("{")
    drive.faults.malformed_rate = 0
    drive.faults.slow_rate, drive.faults.slow_seconds = 1.0, 0.3
    started = time.monotonic()
    svc.files().list().execute()
    assert time.monotonic() - started >= 0.3


def test_faults_are_reproducible_with_a_seed():
    def statuses(seed):
        with running_emulator(seed=seed) as emulator:
            emulator.add_user("ann@example.org")
            svc = as_user(emulator, "ann@example.org")
            emulator.faults.rate = 0.5
            out = []
            for _ in range(20):
                try:
                    svc.files().list().execute()
                    out.append(200)
                except HttpError as err:
                    out.append(err.status_code)
            return out

    assert statuses(5) == statuses(5)
    assert statuses(5) != statuses(6)


def test_bulk_seed_of_20000_files_is_fast(drive):
    started = time.monotonic()
    ids = drive.seed_bulk("ann@example.org", n_files=20_000)
    assert len(set(ids)) == 20_000
    assert time.monotonic() - started < 10
