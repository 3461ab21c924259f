"""Listing a Drive into FileRecords: full listings that resume, and the changes feed.

A unit is one My Drive or one shared drive. Its cursor (saved in the inventory after every
page) holds the changes token taken before the listing began, the listing's phase and
page token, and the folder map paths are rebuilt from. An interrupted listing resumes from
its last page; a finished one is followed next time by `changes.list` alone.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from googleapiclient.errors import HttpError

from cleanup.providers import ScanSink
from cleanup.records import MD5, NATIVE_DOC, NOT_OWNED, SHA256, SHORTCUT, TRASHED, FileRecord, Quota

FOLDER_MIME = "application/vnd.google-apps.folder"
SHORTCUT_MIME = "application/vnd.google-apps.shortcut"
GOOGLE_APPS = "application/vnd.google-apps."
FILE_FIELDS = (
    "id,name,mimeType,parents,size,quotaBytesUsed,md5Checksum,sha256Checksum,modifiedTime,createdTime,"
    "viewedByMeTime,trashed,ownedByMe,owners(emailAddress),driveId,headRevisionId,"
    "shortcutDetails(targetId,targetMimeType),capabilities(canTrash,canDelete)"
)
LIST_FIELDS = f"nextPageToken,incompleteSearch,files({FILE_FIELDS})"
CHANGE_FIELDS = f"nextPageToken,newStartPageToken,changes(fileId,removed,file({FILE_FIELDS}))"
CURSOR_VERSION = 1

# Call(account, what, make_request) runs one API call with retries and returns its body.
Call = Callable[[str, str, Callable[[Any], Any]], Any]


@dataclass(slots=True)
class Unit:
    """One My Drive or shared drive, scanned through one user's credentials."""

    account: str  # the inventory account: the user's email, or "drive:<id>" for a shared drive
    acting: str  # whose credentials the calls use
    auth: str  # "user" (staff OAuth token) or "service_account" (delegation)
    drive_id: str | None = None
    drive_name: str | None = None
    owned_only: bool = False  # admin scans: others' files are scanned as theirs, not twice

    @property
    def label(self) -> str:
        return (
            f"shared drive {self.drive_name}" if self.drive_id else f"the Drive of {self.account}"
        )


def epoch(value: str | None) -> float | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def fingerprint_of(f: dict[str, Any]) -> str:
    """What apply re-checks: content hash, modification time and head revision."""
    return f"{f.get('md5Checksum', '')}|{f.get('modifiedTime', '')}|{f.get('headRevisionId', '')}"


class UnitScan:
    """Scan one unit into a sink, incrementally when a cursor allows it."""

    def __init__(
        self,
        unit: Unit,
        sink: ScanSink,
        call: Call,
        *,
        page_size: int,
        full: bool,
        cancelled: Callable[[], bool],
    ) -> None:
        self.unit = unit
        self.sink = sink
        self.call = call
        self.page_size = page_size
        self.full = full
        self.cancelled = cancelled
        self.folders: dict[str, list[Any]] = {}  # id -> [name, parent id, trashed]
        self.root = ""
        self._paths: dict[str, str] = {}
        self.listed = 0  # files.list pages read, for tests and the summary
        self.mode = ""

    # ------------------------------------------------------------------ entry

    def run(self) -> None:
        cursor = None if self.full else self._read_cursor()
        if cursor and cursor.get("state") == "synced":
            if self._incremental(cursor):
                return
            cursor = None
        self._listing(cursor if cursor and cursor.get("state") == "listing" else None)

    def _read_cursor(self) -> dict[str, Any] | None:
        raw = self.sink.previous_cursor(self.unit.account, "")
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        if (
            not isinstance(data, dict)
            or data.get("v") != CURSOR_VERSION
            or data.get("as") != self.unit.acting
        ):
            return None
        return data

    def _save(self, cursor: dict[str, Any]) -> None:
        cursor.update(
            v=CURSOR_VERSION, root=self.root, folders=self.folders, **{"as": self.unit.acting}
        )
        self.sink.save_cursor(self.unit.account, "", json.dumps(cursor, separators=(",", ":")))

    def _scope(self) -> dict[str, Any]:
        if self.unit.drive_id:
            return {
                "corpora": "drive",
                "driveId": self.unit.drive_id,
                "includeItemsFromAllDrives": True,
                "supportsAllDrives": True,
            }
        return {"corpora": "user", "supportsAllDrives": True}

    # ------------------------------------------------------------------ full listing

    def _listing(self, cursor: dict[str, Any] | None) -> None:
        u = self.unit
        resumed = cursor is not None
        self.mode = "resumed listing" if resumed else "listing"
        if cursor is None:
            start = self.call(
                u.acting,
                "the changes start token",
                lambda s: s.changes().getStartPageToken(
                    supportsAllDrives=True, **({"driveId": u.drive_id} if u.drive_id else {})
                ),
            )["startPageToken"]
            if u.drive_id:
                self.root = u.drive_id
            else:
                self.root = self.call(
                    u.acting,
                    "the My Drive folder",
                    lambda s: s.files().get(fileId="root", fields="id"),
                )["id"]
            cursor = {"state": "listing", "start": start, "phase": "folders", "page": None}
        else:
            self.root = cursor.get("root", "")
            self.folders = cursor.get("folders", {})
        # A resumed listing did not see the earlier pages again, so it must not mark them gone.
        self.sink.start_unit(u.account, "", incremental=resumed)
        complete = False
        try:
            if cursor["phase"] == "folders":
                # Folders come first so that every file's path is known when its page arrives.
                # They are few; an interruption here lists them again rather than saving a half map.
                cursor["page"] = None
                found: list[dict[str, Any]] = []
                for page in self._pages("mimeType = 'application/vnd.google-apps.folder'", cursor):
                    found += page
                if self.cancelled():
                    return
                for f in found:
                    self.folders[f["id"]] = [
                        f["name"],
                        (f.get("parents") or [None])[0],
                        bool(f.get("trashed")),
                    ]
                for f in found:
                    self.sink.add(self.record(f))
                cursor.update(phase="files", page=None)
                self._save(cursor)
            for page in self._pages("mimeType != 'application/vnd.google-apps.folder'", cursor):
                for f in page:
                    self.sink.add(self.record(f))
                self.sink.progress(items=len(page))
                self._save(cursor)
            if self.cancelled():
                return
            self._save({"state": "synced", "token": cursor["start"]})
            complete = True
        finally:
            self.sink.finish_unit(u.account, "", complete=complete)

    def _pages(self, kind_q: str, cursor: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        u = self.unit
        q = kind_q + (" and 'me' in owners" if u.owned_only else "")
        while not self.cancelled():
            token = cursor.get("page")

            def request(s: Any, token: str | None = token) -> Any:
                return s.files().list(
                    q=q,
                    pageSize=self.page_size,
                    fields=LIST_FIELDS,
                    pageToken=token,
                    **self._scope(),
                )

            body = self.call(u.acting, f"the file list of {u.label}", request)
            self.listed += 1
            files = body.get("files", [])
            cursor["page"] = body.get("nextPageToken")
            yield files
            if not cursor["page"]:
                return

    # ------------------------------------------------------------------ changes

    def _incremental(self, cursor: dict[str, Any]) -> bool:
        """Apply the changes feed; False when only a full listing can be trusted."""
        u = self.unit
        self.root = cursor.get("root", "")
        self.folders = cursor.get("folders", {})
        token = cursor.get("token")
        changes: list[dict[str, Any]] = []
        try:
            while token:

                def request(s: Any, token: str = token) -> Any:
                    scope = (
                        {"driveId": u.drive_id, "includeItemsFromAllDrives": True}
                        if u.drive_id
                        else {}
                    )
                    return s.changes().list(
                        pageToken=token,
                        pageSize=self.page_size,
                        fields=CHANGE_FIELDS,
                        spaces="drive",
                        includeRemoved=True,
                        supportsAllDrives=True,
                        **scope,
                    )

                body = self.call(u.acting, f"the changes of {u.label}", request)
                changes += body.get("changes", [])
                if "newStartPageToken" in body:
                    new_token = body["newStartPageToken"]
                    break
                token = body.get("nextPageToken")
            else:
                return False
        except HttpError as err:
            if err.status_code in (400, 404):  # token rejected: list again
                return False
            raise
        for c in changes:
            f = c.get("file")
            known = self.folders.get(c["fileId"])
            if known is not None:
                if c.get("removed") or f is None:
                    return False  # a folder went away: what it held is re-read by a listing
                if [f["name"], (f.get("parents") or [None])[0], bool(f.get("trashed"))] != known[
                    :3
                ]:
                    return False  # renamed, moved or (un)trashed: every path below it changed
        self.mode = "changes"
        self.sink.start_unit(u.account, "", incremental=True)
        complete = False
        try:
            for c in changes:
                f = c.get("file")
                if f is not None and f.get("mimeType") == FOLDER_MIME and not c.get("removed"):
                    self.folders[f["id"]] = [
                        f["name"],
                        (f.get("parents") or [None])[0],
                        bool(f.get("trashed")),
                    ]
            self._paths.clear()
            for c in changes:
                f = c.get("file")
                gone = c.get("removed") or f is None or (u.owned_only and not f.get("ownedByMe"))
                if f is not None and u.drive_id is None and f.get("driveId"):
                    continue  # a shared-drive item: its own unit reports it
                if gone or f is None:
                    self.sink.remove(u.account, c["fileId"])
                else:
                    self.sink.add(self.record(f))
            self.sink.progress(items=len(changes))
            self._save({"state": "synced", "token": new_token})
            complete = True
        finally:
            self.sink.finish_unit(u.account, "", complete=complete)
        return True

    # ------------------------------------------------------------------ records

    def path_of(self, name: str, parent: str | None) -> str:
        top = f"Shared drives/{self.unit.drive_name}" if self.unit.drive_id else "My Drive"
        return f"{self._folder_path(parent, top)}/{_safe(name)}"

    def _folder_path(self, folder: str | None, top: str) -> str:
        if folder is None or folder == self.root:
            return top
        if folder in self._paths:
            return self._paths[folder]
        chain: list[str] = []
        node: str | None = folder
        base = "Shared with me"
        while node is not None and len(chain) < 200:
            if node == self.root:
                base = top
                break
            if node in self._paths:
                base = self._paths[node]
                break
            entry = self.folders.get(node)
            if entry is None:
                break
            chain.append(node)
            node = entry[1]
        path = base
        for fid in reversed(chain):
            path = f"{path}/{_safe(self.folders[fid][0])}"
            self._paths[fid] = path
        return self._paths.get(folder, path)

    def record(self, f: dict[str, Any]) -> FileRecord:
        u = self.unit
        mime = f.get("mimeType", "")
        parent = (f.get("parents") or [None])[0]
        folder = mime == FOLDER_MIME
        flags = set()
        if mime == SHORTCUT_MIME:
            flags.add(SHORTCUT)
        elif mime.startswith(GOOGLE_APPS) and not folder:
            flags.add(NATIVE_DOC)
        if f.get("trashed"):
            flags.add(TRASHED)
        caps = f.get("capabilities") or {}
        if not (f.get("ownedByMe") or caps.get("canTrash") or caps.get("canDelete")):
            flags.add(NOT_OWNED)
        size = int(f.get("size") or 0)
        storage = int(f.get("quotaBytesUsed") or 0)
        binary = not mime.startswith(GOOGLE_APPS)
        hashes = {}
        if f.get("md5Checksum"):
            hashes[MD5] = f["md5Checksum"]
        if f.get("sha256Checksum"):
            hashes[SHA256] = f["sha256Checksum"]
        owners = f.get("owners") or []
        extra: dict[str, Any] = {"as": u.acting, "auth": u.auth}
        if u.drive_id:
            extra["drive_id"] = u.drive_id
        if f.get("headRevisionId"):
            extra["head_revision"] = f["headRevisionId"]
        if f.get("shortcutDetails"):
            extra["shortcut_target"] = f["shortcutDetails"].get("targetId")
        return FileRecord(
            provider="gdrive",
            account=u.account,
            item_id=f["id"],
            path=self.path_of(f.get("name", ""), parent),
            name=f.get("name", ""),
            kind="folder" if folder else "file",
            size=size,
            storage_bytes=0 if folder else storage,
            modified=epoch(f.get("modifiedTime")),
            created=epoch(f.get("createdTime")),
            accessed=epoch(f.get("viewedByMeTime")),
            owner=owners[0].get("emailAddress") if owners else None,
            mime=mime,
            hashes=hashes,
            fingerprint=fingerprint_of(f),
            flags=frozenset(flags),
            parent_id=parent,
            version_bytes=max(0, storage - size) if binary and not folder else 0,
            extra=extra,
        )


def _safe(name: str) -> str:
    """A path component: a slash inside a Drive name must not read as a folder boundary."""
    return name.replace("/", "\u2215")


def quota_of(account: str, about: dict[str, Any]) -> Quota:
    q = about.get("storageQuota", {})
    return Quota(
        provider="gdrive",
        account=account,
        total=int(q["limit"]) if q.get("limit") else None,
        used=int(q.get("usage", 0)),
        trash=int(q.get("usageInDriveTrash", 0)),
        extra={"usage_in_drive": int(q.get("usageInDrive", 0))},
    )
