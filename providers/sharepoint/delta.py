"""List one drive with Graph's delta query into records, resuming and incremental by delta link."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cleanup.errors import ItemGone
from cleanup.providers import ScanSink
from cleanup.records import QUICKXOR, FileRecord, Quota, ScanProblem

from .discovery import DriveRef
from .graph import MAX_BATCH, Graph, ResyncRequired

PROVIDER = "sharepoint"
SELECT = (
    "id,name,size,eTag,createdDateTime,lastModifiedDateTime,createdBy,lastModifiedBy,"
    "parentReference,file,folder,root,deleted,package"
)


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def etag_version(etag: str) -> int:
    """The change counter at the end of a SharePoint eTag: "{GUID},7" -> 7."""
    try:
        return int(etag.strip('"').rsplit(",", 1)[1])
    except (IndexError, ValueError):
        return 0


@dataclass
class DriveScan:
    """The delta listing of one drive into a sink."""

    graph: Graph
    drive: DriveRef
    sink: ScanSink
    full: bool = False
    versions_min_bytes: int = 256 * 1024
    page_size: int | None = None
    region: str | None = None
    cancelled: Callable[[], bool] = lambda: False
    folders: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # id -> (name, parent)
    paths: dict[str, str] = field(default_factory=dict)  # folder id -> display path
    root_id: str | None = None

    @property
    def account(self) -> str:
        return self.drive.id

    def first_link(self) -> str:
        params = f"?$select={SELECT}"
        if self.page_size:
            params += f"&$top={self.page_size}"
        return f"/drives/{self.drive.id}/root/delta{params}"

    def run(self) -> None:
        """List the drive: from the saved cursor when there is one, else from the start."""
        saved = None if self.full else self.sink.previous_cursor(self.account, "")
        cursor = json.loads(saved) if saved else {}
        if cursor.get("next") or cursor.get("delta"):
            # resuming an interrupted listing, or reading changes: only deletions mark items gone
            link = cursor.get("next") or cursor["delta"]
            incremental = True
        else:
            link, incremental = self.first_link(), False
        try:
            complete = self._listing(link, incremental)
        except ResyncRequired as exc:
            self.sink.finish_unit(self.account, "", complete=False)
            self.sink.problem(
                ScanProblem(self.drive.label, "delta link expired; listing the drive again")
            )
            complete = self._listing(exc.location or self.first_link(), incremental=False)
        if complete:
            self._quota()

    def _listing(self, link: str, incremental: bool) -> bool:
        self.sink.start_unit(self.account, "", incremental=incremental)
        while True:
            body = self.graph.get(link)
            self._page(body.get("value", []))
            next_link = body.get("@odata.nextLink")
            if next_link:
                self.sink.save_cursor(self.account, "", json.dumps({"next": next_link}))
                link = next_link
                if self.cancelled():
                    self.sink.finish_unit(self.account, "", complete=False)
                    return False
                continue
            self.sink.save_cursor(self.account, "", json.dumps({"delta": body["@odata.deltaLink"]}))
            self.sink.finish_unit(self.account, "", complete=True)
            return True

    # ---- one page ------------------------------------------------------------------------

    def _page(self, items: list[dict[str, Any]]) -> None:
        live = []
        for item in items:
            if "deleted" in item:
                self.folders.pop(item["id"], None)
                self.paths.pop(item["id"], None)
                self.sink.remove(self.account, str(item["id"]))
                continue
            parent = (item.get("parentReference") or {}).get("id")
            if "root" in item or parent is None:
                self.root_id = item["id"]
                self.paths[item["id"]] = self.drive.label
            elif "folder" in item:
                self.folders[item["id"]] = (item["name"], parent)
                self.paths.pop(item["id"], None)  # renamed or moved: recompute
            live.append(item)
        versions = self._version_bytes([i for i in live if self._versions_matter(i)])
        records = [self._record(item, versions.get(item["id"], 0)) for item in live]
        for record in records:
            self.sink.add(record)
        self.sink.progress(items=len(records))

    def _path_of(self, folder_id: str) -> str:
        """The display path of a folder, from what this listing saw or, failing that, Graph."""
        chain: list[str] = []
        current: str | None = folder_id
        while current is not None and current not in self.paths:
            known = self.folders.get(current) or self._fetch_folder(current)
            if current in self.paths:  # it was the root
                break
            chain.append(current)
            current = known[1]
        base = self.paths.get(current, self.drive.label) if current else self.drive.label
        for fid in reversed(chain):
            base = f"{base}/{self.folders[fid][0]}"
            self.paths[fid] = base
        return base

    def _fetch_folder(self, folder_id: str) -> tuple[str, str | None]:
        try:
            body = self.graph.get(
                f"/drives/{self.drive.id}/items/{folder_id}",
                params={"$select": "id,name,parentReference,root"},
            )
        except ItemGone:
            self.folders[folder_id] = ("(deleted folder)", None)
            return self.folders[folder_id]
        if "root" in body:
            self.paths[folder_id] = self.drive.label
            self.root_id = folder_id
            return ("", None)
        entry = (str(body["name"]), (body.get("parentReference") or {}).get("id"))
        self.folders[folder_id] = entry
        return entry

    def _record(self, item: dict[str, Any], version_bytes: int) -> FileRecord:
        parent = (item.get("parentReference") or {}).get("id")
        is_root = "root" in item or parent is None
        folder = "folder" in item or "package" in item or is_root
        path = self.drive.label if is_root else f"{self._path_of(str(parent))}/{item['name']}"
        size = int(item.get("size") or 0)
        created_by = (item.get("createdBy") or {}).get("user") or {}
        modified_by = (item.get("lastModifiedBy") or {}).get("user") or {}
        file = item.get("file") or {}
        hashes = file.get("hashes") or {}
        return FileRecord(
            provider=PROVIDER,
            account=self.account,
            item_id=str(item["id"]),
            path=path,
            name=self.drive.name if is_root else str(item.get("name", "")),
            kind="folder" if folder else "file",
            size=0 if folder else size,
            storage_bytes=0 if folder else size + version_bytes,
            modified=parse_time(item.get("lastModifiedDateTime")),
            created=parse_time(item.get("createdDateTime")),
            owner=created_by.get("email") or created_by.get("displayName"),
            mime=file.get("mimeType"),
            hashes={QUICKXOR: hashes["quickXorHash"]} if hashes.get("quickXorHash") else {},
            fingerprint=str(item.get("eTag", "")),
            parent_id=None if is_root else parent,
            version_bytes=version_bytes,
            extra={
                "drive": self.drive.label,
                "modified_by": modified_by.get("email") or modified_by.get("displayName"),
            },
        )

    # ---- versions ------------------------------------------------------------------------

    def _versions_matter(self, item: dict[str, Any]) -> bool:
        """Whether old versions could hold enough to matter: the eTag counts changes since
        upload, so size x (changes) bounds what versions can hold."""
        if "file" not in item:
            return False
        changes = etag_version(str(item.get("eTag", ""))) - 1
        return changes > 0 and int(item.get("size") or 0) * changes >= self.versions_min_bytes

    def _version_bytes(self, items: list[dict[str, Any]]) -> dict[str, int]:
        """Storage held by non-current versions, read through $batch 20 files at a time."""
        held: dict[str, int] = {}
        for start in range(0, len(items), MAX_BATCH):
            group = items[start : start + MAX_BATCH]
            requests_ = [
                {
                    "id": str(n),
                    "method": "GET",
                    "url": f"/drives/{self.drive.id}/items/{item['id']}/versions?$select=id,size",
                }
                for n, item in enumerate(group)
            ]
            replies = self.graph.batch(requests_)
            for n, item in enumerate(group):
                reply = replies.get(str(n))
                if reply is None or reply.status != 200:
                    status = reply.status if reply else "no answer"
                    self.sink.problem(
                        ScanProblem(
                            f"{self.drive.label}/{item.get('name', item['id'])}",
                            f"version history not read ({status}); its old versions are not counted",
                        )
                    )
                    continue
                versions = reply.body.get("value", [])
                # newest first and the current version included: everything after it is old
                held[item["id"]] = sum(int(v.get("size") or 0) for v in versions[1:])
        return held

    def _quota(self) -> None:
        try:
            body = self.graph.get(f"/drives/{self.drive.id}", params={"$select": "quota"})
        except ItemGone:
            return
        quota = body.get("quota") or {}
        self.sink.quota(
            Quota(
                provider=PROVIDER,
                account=self.account,
                total=quota.get("total"),
                used=int(quota.get("used") or 0),
                trash=int(quota.get("deleted") or 0),
                extra={
                    "drive": self.drive.label,
                    "remaining": quota.get("remaining"),
                    "state": quota.get("state"),
                    **({"region": self.region} if self.region else {}),
                },
            )
        )
