"""Google Drive: My Drive and shared drives, for staff (their own sign-in) and admins (delegation).

Addresses: `gdrive:me` (the signed-in user), `gdrive:user@org.example` (an admin acting as
that user through a service account), `gdrive:all` or `--all-accounts` (every active user
the Directory lists, and every shared drive once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, ClassVar

import google.auth.exceptions
from googleapiclient.errors import HttpError

from cleanup.errors import AuthError, CleanupError, ProviderError
from cleanup.providers import ActionOutcome, Provider, ProviderOptions, ScanSink
from cleanup.records import FileRecord, ScanProblem

from . import actions
from .auth import (
    delegated_credentials,
    explain_refresh_error,
    load_service_account,
    load_staff_credentials,
    login,
    save_token,
)
from .client import (
    ACT_SCOPE,
    DIRECTORY_SCOPE,
    READ_SCOPE,
    DriveSettings,
    Retrier,
    ServicePool,
    build_service,
    error_message,
    error_reason,
    retryable,
)
from .scan import Unit, UnitScan, fingerprint_of, quota_of

__all__ = ["DriveProvider"]

STAFF = "user"
DELEGATED = "service_account"
PURPOSE_SCOPES = {"read": [READ_SCOPE], "act": [ACT_SCOPE], "directory": [DIRECTORY_SCOPE]}


class DriveProvider(Provider):
    """Google Drive through the Drive v3 API (google-api-python-client)."""

    name: ClassVar[str] = "gdrive"
    description: ClassVar[str] = (
        "Google Drive: My Drive and shared drives (staff sign-in or admin delegation)"
    )
    location: ClassVar[str] = "google"
    read_scopes: ClassVar[tuple[str, ...]] = (READ_SCOPE,)
    act_scopes: ClassVar[tuple[str, ...]] = (ACT_SCOPE,)
    trash_retention_days: ClassVar[int | None] = 30

    def __init__(self, options: ProviderOptions | None = None) -> None:
        super().__init__(options)
        self.settings = DriveSettings.from_options(self.options)
        self.retrier = Retrier(self.settings)
        self.pool = ServicePool(self._make_service)
        self._sa_info: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self.unit_scans: list[UnitScan] = []  # what the last scan did, unit by unit

    # ------------------------------------------------------------------ sign-in

    @classmethod
    def login(cls, options: ProviderOptions, say: Callable[[str], None]) -> str:
        """Sign in as a staff member (browser, or copy-and-paste on a headless machine)."""
        if options.as_user:
            # Admins keep no sign-in: check that the service account may act as the user.
            provider = cls(options)
            about = provider.call(
                DELEGATED,
                options.as_user,
                "read",
                "the account",
                lambda s: s.about().get(fields="user(emailAddress)"),
            )
            email = str(about["user"]["emailAddress"])
            say(f"The service account may act as {email} in Google Drive; nothing needs saving.")
            return email
        settings = DriveSettings.from_options(options)
        creds = login(settings, say)
        service = build_service("drive", "v3", creds, settings)
        try:
            email = str(
                service.about().get(fields="user(emailAddress)").execute()["user"]["emailAddress"]
            )
        except HttpError as err:
            raise AuthError(
                f"Signed in, but Google Drive refused to say who you are: {error_message(err)}"
            ) from err
        save_token(creds, settings.token_file, account=email)
        say(
            f"Signed in to Google Drive as {email}. The sign-in is saved in {settings.token_file} (readable by you only)."
        )
        return email

    def _service_account(self) -> dict[str, Any]:
        with self._lock:
            if self._sa_info is None:
                self._sa_info = load_service_account(self.settings)
            return self._sa_info

    def _make_service(self, key: str, purpose: str) -> Any:
        auth, _, who = key.partition("|")
        scopes = PURPOSE_SCOPES[purpose]
        if auth == DELEGATED:
            creds: Any = delegated_credentials(self._service_account(), who, scopes)
            api, version = ("admin", "directory_v1") if purpose == "directory" else ("drive", "v3")
        else:
            creds = load_staff_credentials(self.settings, scopes)
            api, version = "drive", "v3"
        return build_service(api, version, creds, self.settings)

    def call(
        self,
        auth: str,
        who: str,
        purpose: str,
        what: str,
        make: Callable[[Any], Any],
        expect_body: bool = True,
    ) -> Any:
        """One API call as `who`, with retries; sign-in failures become AuthError with advice."""
        key = f"{auth}|{who if auth == DELEGATED else ''}"
        try:
            service = self.pool.get(key, purpose)
            return self.retrier.call(
                lambda: make(service).execute(num_retries=0), what, expect_body=expect_body
            )
        except google.auth.exceptions.RefreshError as err:
            sa = self._sa_info if auth == DELEGATED else None
            raise explain_refresh_error(err, who or "this account", self.settings, sa) from err
        except HttpError as err:
            if err.status_code == 401:
                raise AuthError(
                    f"Google Drive did not accept the sign-in for {who or 'this account'} "
                    f"({error_message(err)}). Sign in again: cleanup login gdrive"
                ) from err
            if (
                err.status_code == 403
                and error_reason(err) == "insufficientPermissions"
                and purpose != "act"
            ):
                raise AuthError(
                    f"The sign-in for {who or 'this account'} may not read Drive: {error_message(err)}"
                ) from err
            raise

    # ------------------------------------------------------------------ scanning

    def scan(self, target: str, sink: ScanSink) -> None:
        target = (target or "me").strip()
        self.unit_scans = []
        if self.options.all_accounts or target in ("all", "*"):
            self._scan_organisation(sink)
        elif self.options.as_user or "@" in target:
            who = self.options.as_user if target in ("", "me") else target
            assert who is not None
            self._scan_account(sink, DELEGATED, who)
        elif target in ("", "me"):
            self._scan_account(sink, STAFF, "")
        else:
            raise ProviderError(
                f"Unknown Google Drive address gdrive:{target}. Use gdrive:me, gdrive:user@your.org or gdrive:all."
            )

    def _scan_account(
        self,
        sink: ScanSink,
        auth: str,
        who: str,
        *,
        owned_only: bool = False,
        with_drives: bool = True,
    ) -> tuple[str, list[dict[str, Any]]]:
        about = self.call(
            auth,
            who,
            "read",
            "the account and its quota",
            lambda s: s.about().get(fields="user(emailAddress),storageQuota"),
        )
        email = str(about["user"]["emailAddress"])
        sink.quota(quota_of(email, about))
        drives = self._drives(auth, email) if with_drives else []
        self._run_unit(Unit(account=email, acting=email, auth=auth, owned_only=owned_only), sink)
        if with_drives and not owned_only:
            for d in drives:
                self._run_unit(
                    Unit(
                        account=f"drive:{d['id']}",
                        acting=email,
                        auth=auth,
                        drive_id=d["id"],
                        drive_name=d["name"],
                    ),
                    sink,
                )
        return email, drives

    def _drives(self, auth: str, who: str) -> list[dict[str, Any]]:
        drives: list[dict[str, Any]] = []
        token = None
        while True:

            def request(s: Any, token: str | None = token) -> Any:
                return s.drives().list(
                    pageSize=100,
                    pageToken=token,
                    fields="nextPageToken,drives(id,name,capabilities(canTrashChildren,canDeleteChildren))",
                )

            body = self.call(auth, who, "read", "the list of shared drives", request)
            drives += body.get("drives", [])
            token = body.get("nextPageToken")
            if not token:
                return drives

    def _run_unit(self, unit: Unit, sink: ScanSink) -> None:
        scan = UnitScan(
            unit,
            sink,
            lambda who, what, make: self.call(unit.auth, who, "read", what, make),
            page_size=self.settings.page_size,
            full=self.options.full,
            cancelled=self.options.cancel.is_set,
        )
        with self._lock:
            self.unit_scans.append(scan)
        scan.run()

    def _users(self) -> list[dict[str, Any]]:
        admin = self.settings.admin or self.options.as_user
        if not admin:
            raise AuthError(
                "Scanning every account reads the user list from the Directory as an administrator: "
                "name one with --set gdrive.admin=admin@your.org (env CLEANUP_GDRIVE_ADMIN)."
            )
        users: list[dict[str, Any]] = []
        token = None
        while True:

            def request(s: Any, token: str | None = token) -> Any:
                return s.users().list(
                    customer="my_customer",
                    maxResults=500,
                    pageToken=token,
                    fields="nextPageToken,users(primaryEmail,suspended)",
                )

            body = self.call(DELEGATED, admin, "directory", "the user list", request)
            users += body.get("users", [])
            token = body.get("nextPageToken")
            if not token:
                return users

    def _scan_organisation(self, sink: ScanSink) -> None:
        """Every active user's own files, then every shared drive once, several at a time."""
        users = self._users()
        active = []
        for u in users:
            if u.get("suspended"):
                sink.problem(
                    ScanProblem(
                        f"gdrive:{u['primaryEmail']}",
                        "suspended account: a suspended user cannot be acted as, so it is not scanned",
                    )
                )
            else:
                active.append(u["primaryEmail"])
        failures: list[tuple[str, Exception]] = []
        # drive id -> (name, member who scans and acts on it); an organizer is preferred, so that
        # the items it records can be trashed through that member.
        drive_owner: dict[str, tuple[str, str]] = {}
        drive_rank: dict[str, tuple[int, str]] = {}

        def one_user(email: str) -> None:
            try:
                _, drives = self._scan_account(sink, DELEGATED, email, owned_only=True)
                with self._lock:
                    for d in drives:
                        caps = d.get("capabilities") or {}
                        rank = (
                            -2
                            if caps.get("canDeleteChildren")
                            else -1
                            if caps.get("canTrashChildren")
                            else 0,
                            email,
                        )
                        if d["id"] not in drive_rank or rank < drive_rank[d["id"]]:
                            drive_rank[d["id"]] = rank
                            drive_owner[d["id"]] = (d["name"], email)
            except (CleanupError, HttpError) as exc:
                with self._lock:
                    failures.append((email, exc))

        def one_drive(item: tuple[str, tuple[str, str]]) -> None:
            drive_id, (name, email) = item
            try:
                self._run_unit(
                    Unit(
                        account=f"drive:{drive_id}",
                        acting=email,
                        auth=DELEGATED,
                        drive_id=drive_id,
                        drive_name=name,
                    ),
                    sink,
                )
            except (CleanupError, HttpError) as exc:
                with self._lock:
                    failures.append((f"shared drive {name}", exc))

        workers = max(1, self.settings.workers)
        with ThreadPoolExecutor(workers, thread_name_prefix="gdrive") as pool:
            list(pool.map(one_user, sorted(active)))
        with ThreadPoolExecutor(workers, thread_name_prefix="gdrive") as pool:
            list(pool.map(one_drive, sorted(drive_owner.items())))
        if failures:
            auth = [exc for _, exc in failures if isinstance(exc, AuthError)]
            if auth and len(auth) == len(active) + len(drive_owner):
                raise auth[0]
            detail = "; ".join(f"{who}: {exc}" for who, exc in failures[:5])
            raise ProviderError(
                f"{len(failures)} of {len(active) + len(drive_owner)} Drive accounts and shared "
                f"drives could not be scanned completely ({detail}). The rest is in the inventory; "
                "scan again to finish them."
            )

    # ------------------------------------------------------------------ acting

    def _acting(self, record: FileRecord) -> tuple[str, str]:
        auth = str(record.extra.get("auth") or STAFF)
        who = str(record.extra.get("as") or record.account)
        return auth, who

    def _act_call(self, record: FileRecord) -> Callable[..., Any]:
        auth, who = self._acting(record)

        def call(
            rec: FileRecord, what: str, make: Callable[[Any], Any], expect_body: bool = True
        ) -> Any:
            return self.call(auth, who, "act", what, make, expect_body=expect_body)

        return call

    def _batch(self, record: FileRecord, requests: list[Callable[[Any], Any]]) -> list[Any]:
        """Run requests in batches of up to 100, retrying the parts that were throttled."""
        auth, who = self._acting(record)
        service = self.pool.get(f"{auth}|{who if auth == DELEGATED else ''}", "act")
        results: list[Any] = [None] * len(requests)
        todo = list(range(len(requests)))
        attempt = 0
        while todo:
            answers: dict[str, Any] = {}

            def done(
                request_id: str,
                response: Any,
                exception: Exception | None,
                answers: dict[str, Any] = answers,
            ) -> None:
                answers[request_id] = exception if exception is not None else response

            for start in range(0, len(todo), 100):
                batch = service.new_batch_http_request(callback=done)
                for i in todo[start : start + 100]:
                    batch.add(requests[i](service), request_id=str(i))
                try:
                    self.retrier.call(
                        partial(batch.execute), "a batch of changes", expect_body=False
                    )
                except google.auth.exceptions.RefreshError as err:
                    raise explain_refresh_error(err, who, self.settings, self._sa_info) from err
            again = []
            for i in todo:
                answer = answers.get(str(i))
                if isinstance(answer, HttpError) and retryable(answer):
                    again.append(i)
                else:
                    results[i] = answer
            todo = again
            if todo:
                attempt += 1
                if attempt >= self.settings.max_attempts:
                    for i in todo:
                        results[i] = answers.get(str(i))
                    break
                self.retrier.sleep(self.retrier.delay(attempt, None))
        return results

    def fingerprint(self, record: FileRecord) -> str | None:
        now = actions.current(self._act_call(record), record)
        return None if now is None else fingerprint_of(now)

    def trash(self, record: FileRecord) -> ActionOutcome:
        return actions.trash(self._act_call(record), record)

    def restore(self, record: FileRecord, undo: Mapping[str, Any]) -> None:
        kind = undo.get("action", "trash")
        if kind == "archive":
            actions.unarchive(self._act_call(record), record, undo)
        elif kind == "trim_versions":
            actions.repin(self._act_call(record), self._batch, record, undo)
        else:
            actions.untrash(self._act_call(record), record)

    def archive(self, record: FileRecord, destination: str) -> ActionOutcome:
        return actions.archive(self._act_call(record), record, destination)

    def unarchive(self, record: FileRecord, undo: Mapping[str, Any]) -> None:
        actions.unarchive(self._act_call(record), record, undo)

    def delete(self, record: FileRecord) -> ActionOutcome:
        return actions.delete(self._act_call(record), record)

    def purge(self, record: FileRecord, undo: Mapping[str, Any]) -> ActionOutcome:
        return actions.purge(self._act_call(record), record)

    def trim_versions(
        self, record: FileRecord, keep: int = 1, newer_than: float | None = None
    ) -> ActionOutcome:
        return actions.trim_versions(self._act_call(record), self._batch, record, keep, newer_than)

    def empty_trash(self, account: str, auth: str = STAFF) -> ActionOutcome:
        """Empty the account's whole Drive trash; returns the bytes that freed."""
        who = account if auth == DELEGATED else ""
        fields = "storageQuota(usageInDriveTrash)"
        before = self.call(
            auth, who, "act", "the trash size", lambda s: s.about().get(fields=fields)
        )
        self.call(
            auth,
            who,
            "act",
            "emptying the Drive trash",
            lambda s: s.files().emptyTrash(),
            expect_body=False,
        )
        freed = int(before.get("storageQuota", {}).get("usageInDriveTrash", 0))
        return ActionOutcome(freed_bytes=freed, undo={"at": time.time()})
