"""SharePoint document libraries and OneDrive for Business, through Microsoft Graph."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from cleanup.errors import CleanupError, ProviderError
from cleanup.providers import ActionOutcome, Provider, ProviderOptions, ScanSink
from cleanup.records import FileRecord, ScanProblem

from .actions import RECYCLE_BIN_DAYS, Actions
from .delta import DriveScan
from .discovery import DriveRef, drives_for
from .graph import Graph, ItemLocked, QuotaExceeded
from .recycle_bin import RecycleBinScan, is_recycle_bin_account
from .settings import READ_SCOPES, WRITE_SCOPES, SharePointSettings
from .signin import Credentials

__all__ = ["ItemLocked", "QuotaExceeded", "SharePointProvider", "SharePointSettings"]


class SharePointProvider(Provider):
    """SharePoint sites and OneDrive for Business (Microsoft 365)."""

    name = "sharepoint"
    description = "SharePoint sites and OneDrive for Business, through Microsoft Graph"
    location = "microsoft"
    read_scopes = READ_SCOPES
    act_scopes = WRITE_SCOPES
    trash_retention_days = RECYCLE_BIN_DAYS

    # Seams: tests shorten the waits; everything else is the real client.
    sleep: ClassVar[Callable[[float], None]] = staticmethod(time.sleep)
    workers: ClassVar[int] = 4

    def __init__(self, options: ProviderOptions | None = None) -> None:
        super().__init__(options)
        self.settings = SharePointSettings.from_options(self.options.settings)
        self._graphs: dict[bool, Graph] = {}
        self._acting: Actions | None = None
        self._lock = threading.Lock()

    def graph(self, write: bool = False) -> Graph:
        """The Graph client, signed in for reading or for acting."""
        with self._lock:
            return self._graph_unlocked(write)

    def _graph_unlocked(self, write: bool) -> Graph:
        if write not in self._graphs:
            credentials = Credentials(self.settings, write=write)
            self._graphs[write] = Graph(
                self.settings.base_url,
                credentials,
                max_wait=self.settings.max_wait,
                sleep=type(self).sleep,
            )
        return self._graphs[write]

    @classmethod
    def login(cls, options: ProviderOptions, say: Callable[[str], None]) -> str:
        """Staff: device-code sign-in, remembered in the user's config directory (0600)."""
        settings = SharePointSettings.from_options(options.settings)
        return Credentials(settings, write=settings.write).sign_in(say)

    # ---- scanning ----------------------------------------------------------------------------

    def drives(self, target: str) -> list[DriveRef]:
        """The drives a scan address covers."""
        return drives_for(
            self.graph(),
            target,
            application=self.settings.application,
            all_accounts=self.options.all_accounts,
            as_user=self.options.as_user,
        )

    def scan(self, target: str, sink: ScanSink) -> None:
        drives = self.drives(target)
        cancel = self.options.cancel

        def one(drive: DriveRef) -> None:
            if cancel.is_set():
                return
            DriveScan(
                self.graph(),
                drive,
                sink,
                full=self.options.full,
                versions_min_bytes=self.settings.versions_min_bytes,
                page_size=self.settings.page_size,
                region=self.settings.region,
                cancelled=cancel.is_set,
            ).run()

        def bin_of(site: DriveRef) -> None:
            if not cancel.is_set():
                RecycleBinScan(self.graph(), site.site_id, site.site_label).run(sink)

        # one unit of work per drive and per site recycle bin, a few at a time
        sites = {d.site_id: d for d in drives if d.site_id}
        failures: list[CleanupError] = []
        with ThreadPoolExecutor(max_workers=max(1, type(self).workers)) as pool:
            futures = {pool.submit(one, drive): drive for drive in drives}
            futures.update({pool.submit(bin_of, site): site for site in sites.values()})
            try:
                for future, drive in futures.items():
                    try:
                        future.result()
                    except CleanupError as exc:
                        failures.append(exc)
                        sink.problem(ScanProblem(drive.label, str(exc)))
            except BaseException:
                # interrupted: the other drives stop after their current page, cursors saved
                cancel.set()
                raise
        if failures and len(failures) == len(futures):
            raise failures[0]

    # ---- acting ------------------------------------------------------------------------------

    def _actions(self) -> Actions:
        with self._lock:
            if self._acting is None:
                self._acting = Actions(self._graph_unlocked(write=True))
            return self._acting

    def check_action(
        self, action: str, record: FileRecord, destination: str | None, roots: Sequence[str]
    ) -> None:
        """Raise before anything is done when ``action`` cannot be carried out on ``record``."""
        if action not in ("flag", "trash", "delete", "archive", "trim_versions"):
            raise ProviderError(f"SharePoint items cannot be acted on with {action!r}.")
        if action != "flag" and is_recycle_bin_account(record.account):
            self._actions().refuse_binned(record)

    def fingerprint(self, record: FileRecord) -> str | None:
        return self._actions().fingerprint(record)

    def trash(self, record: FileRecord) -> ActionOutcome:
        return self._actions().trash(record)

    def restore(self, record: FileRecord, undo: Mapping[str, Any]) -> None:
        self._actions().restore(record, undo)

    def archive(self, record: FileRecord, destination: str) -> ActionOutcome:
        return self._actions().archive(record, destination)

    def unarchive(self, record: FileRecord, undo: Mapping[str, Any]) -> None:
        self._actions().unarchive(record, undo)

    def delete(self, record: FileRecord) -> ActionOutcome:
        return self._actions().delete(record)

    def purge(self, record: FileRecord, undo: Mapping[str, Any]) -> ActionOutcome:
        return self._actions().purge(record, undo)

    def trim_versions(
        self, record: FileRecord, keep: int = 1, newer_than: float | None = None
    ) -> ActionOutcome:
        return self._actions().trim_versions(record, keep, newer_than)

    def content_hash(self, record: FileRecord, algo: str) -> str | None:
        """The content hash Graph gives now, to re-verify a kept copy before removing another."""
        return self._actions().content_hash(record, algo)

    def settle(
        self, record: FileRecord, action: str, destination: str | None
    ) -> ActionOutcome | None:
        """After a crash mid-action: what the action did, or None when it did nothing."""
        return self._actions().settle(record, action, destination)
