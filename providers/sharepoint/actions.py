"""Acting on SharePoint and OneDrive items, each guarded by the eTag seen at plan time."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from cleanup.errors import ItemGone, PreconditionFailed, ProviderError
from cleanup.providers import ActionOutcome
from cleanup.records import QUICKXOR, FileRecord

from .delta import parse_time
from .graph import Graph
from .recycle_bin import is_recycle_bin_account

RECYCLE_BIN_DAYS = 93


def bin_page(site: str) -> str:
    """The recycle bin page of a site or OneDrive given as contoso.sharepoint.com/sites/HR."""
    return f"https://{site}/_layouts/15/RecycleBin.aspx"


class Actions:
    """Trash, delete, move, restore and trim versions through Graph."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._bins: dict[str, str] = {}

    def recycle_bin_url(self, record: FileRecord) -> str:
        """The recycle bin page of the site or OneDrive holding the record."""
        if is_recycle_bin_account(record.account):
            return bin_page(record.path.split("/Recycle Bin/")[0])
        label = str(record.extra.get("drive") or "")
        if label:
            return bin_page(label.rsplit("/", 1)[0])
        if record.account not in self._bins:
            try:
                web = str(
                    self.graph.get(f"/drives/{record.account}", params={"$select": "webUrl"}).get(
                        "webUrl", ""
                    )
                )
            except ProviderError:
                web = ""
            # a library's address less its last part is the site's (or the OneDrive's)
            site = web.split("://", 1)[-1].rsplit("/", 1)[0]
            self._bins[record.account] = bin_page(site) if site else "the site's recycle bin page"
        return self._bins[record.account]

    def _item_url(self, record: FileRecord) -> str:
        return f"/drives/{record.account}/items/{record.item_id}"

    def _guard(self, record: FileRecord) -> dict[str, str]:
        return {"If-Match": record.fingerprint} if record.fingerprint else {}

    def refuse_binned(self, record: FileRecord) -> None:
        """Raise for an entry of a site recycle bin: Graph v1.0 can list those, not act on them."""
        if is_recycle_bin_account(record.account):
            page = self.recycle_bin_url(record)
            raise ProviderError(
                f"{record.path} is already in a recycle bin, which Microsoft Graph cannot empty. "
                f"Delete it for good at {page}, or let SharePoint do it after {RECYCLE_BIN_DAYS} days."
            )

    def fingerprint(self, record: FileRecord) -> str | None:
        if is_recycle_bin_account(record.account):
            return record.fingerprint  # listed with the site; acting on it is refused below
        try:
            body = self.graph.get(self._item_url(record), params={"$select": "id,eTag"})
        except ItemGone:
            return None
        return str(body.get("eTag", ""))

    def _where(self, record: FileRecord) -> tuple[str | None, str]:
        """The item's parent folder id and name as Graph has them now."""
        body = self.graph.get(self._item_url(record), params={"$select": "id,name,parentReference"})
        return (body.get("parentReference") or {}).get("id"), str(body.get("name", record.name))

    def trash(self, record: FileRecord) -> ActionOutcome:
        """To the recycle bin: still billed against the site quota until the bin is emptied."""
        self.refuse_binned(record)
        parent, name = self._where(record)
        self.graph.call("DELETE", self._item_url(record), headers=self._guard(record))
        return ActionOutcome(
            undo={
                "parent_id": parent,
                "name": name,
                "recycle_bin": self.recycle_bin_url(record),
            },
            pending_bytes=record.storage_bytes,
            pending_until=time.time() + RECYCLE_BIN_DAYS * 86400,
        )

    def restore(self, record: FileRecord, undo: Mapping[str, Any]) -> None:
        body: dict[str, Any] = {}
        if undo.get("parent_id"):
            body["parentReference"] = {"id": undo["parent_id"]}
        reply = self.graph.call(
            "POST", self._item_url(record) + "/restore", json=body, ok=(400, 403, 404, 501)
        )
        if reply.status >= 400:
            raise ProviderError(
                f"Microsoft Graph cannot restore {record.path} from a SharePoint or OneDrive for "
                f"Business recycle bin. Restore it by hand at "
                f"{undo.get('recycle_bin') or self.recycle_bin_url(record)} "
                f"(items stay there {RECYCLE_BIN_DAYS} days)."
            )

    def delete(self, record: FileRecord) -> ActionOutcome:
        """Permanently, bypassing the recycle bin: the storage is released at once."""
        self.refuse_binned(record)
        self.graph.call(
            "POST", self._item_url(record) + "/permanentDelete", headers=self._guard(record)
        )
        return ActionOutcome(freed_bytes=record.storage_bytes)

    def purge(self, record: FileRecord, undo: Mapping[str, Any]) -> ActionOutcome:
        raise ProviderError(
            f"Microsoft Graph cannot empty a SharePoint recycle bin. Empty it (both stages) at "
            f"{self.recycle_bin_url(record)}, or let SharePoint do it after {RECYCLE_BIN_DAYS} days."
        )

    def _folder(self, drive_id: str, path: str) -> str:
        """The id of the folder at path in the drive, creating what is missing."""
        parent = "root"
        walked = ""
        for part in [p for p in path.strip("/").split("/") if p]:
            walked = f"{walked}/{part}"
            try:
                parent = str(
                    self.graph.get(
                        f"/drives/{drive_id}/root:{quote(walked)}:", params={"$select": "id,folder"}
                    )["id"]
                )
                continue
            except ItemGone:
                pass
            reply = self.graph.call(
                "POST",
                f"/drives/{drive_id}/items/{parent}/children",
                json={"name": part, "folder": {}, "@microsoft.graph.conflictBehavior": "fail"},
                ok=(409,),
            )
            if reply.status == 409:  # made meanwhile by someone else
                reply.body = self.graph.get(f"/drives/{drive_id}/root:{quote(walked)}:")
            parent = str(reply.body["id"])
        return parent

    def archive(self, record: FileRecord, destination: str) -> ActionOutcome:
        """Move into an archive folder of the same drive; nothing is freed by a move."""
        self.refuse_binned(record)
        # a folder of the item's own drive: /Archive/2026 or sharepoint:/Archive/2026
        folder = self._folder(record.account, destination.removeprefix("sharepoint:"))
        parent, name = self._where(record)
        reply = self.graph.call(
            "PATCH",
            self._item_url(record),
            json={"parentReference": {"id": folder}},
            headers=self._guard(record),
        )
        return ActionOutcome(
            undo={
                "parent_id": parent,
                "name": name,
                "etag": reply.body.get("eTag"),
            },
            archived_bytes=record.storage_bytes,
        )

    def unarchive(self, record: FileRecord, undo: Mapping[str, Any]) -> None:
        headers = {"If-Match": str(undo["etag"])} if undo.get("etag") else {}
        self.graph.call(
            "PATCH",
            self._item_url(record),
            json={
                "parentReference": {"id": undo["parent_id"]},
                "name": undo.get("name", record.name),
            },
            headers=headers,
        )

    def content_hash(self, record: FileRecord, algo: str) -> str | None:
        """The QuickXorHash Graph reports for the item now (no download); None for others."""
        if algo != QUICKXOR or is_recycle_bin_account(record.account):
            return None
        try:
            body = self.graph.get(self._item_url(record), params={"$select": "id,file"})
        except ItemGone:
            return None
        hashes = (body.get("file") or {}).get("hashes") or {}
        return str(hashes["quickXorHash"]) if hashes.get("quickXorHash") else None

    def settle(
        self, record: FileRecord, action: str, destination: str | None
    ) -> ActionOutcome | None:
        """After a crash mid-action: what the action did, or None when it did nothing."""
        try:
            body = self.graph.get(
                self._item_url(record), params={"$select": "id,name,eTag,parentReference"}
            )
        except ItemGone:
            body = None
        if action == "trash":
            if body is not None:
                return None
            return ActionOutcome(
                undo={"recycle_bin": self.recycle_bin_url(record)},
                pending_bytes=record.storage_bytes,
                pending_until=time.time() + RECYCLE_BIN_DAYS * 86400,
            )
        if action == "delete":
            return None if body is not None else ActionOutcome(freed_bytes=record.storage_bytes)
        if action == "archive":
            if body is None:
                raise ItemGone(f"{record.path} is gone and was not archived.")
            wanted = "/drive/root:/" + (destination or "").removeprefix("sharepoint:").strip("/")
            where = str((body.get("parentReference") or {}).get("path", ""))
            if where.rstrip("/") != wanted.rstrip("/"):
                return None
            return ActionOutcome(
                undo={
                    "parent_id": self._planned_parent(record),
                    "name": record.name,
                    "etag": body.get("eTag"),
                },
                archived_bytes=record.storage_bytes,
            )
        return None  # trimming again is harmless: versions already gone are not found again

    def _planned_parent(self, record: FileRecord) -> str | None:
        """The id of the folder the item was in when planned, from its displayed path."""
        web = str(
            self.graph.get(f"/drives/{record.account}", params={"$select": "webUrl"}).get(
                "webUrl", ""
            )
        )
        label = unquote(web.split("://", 1)[-1]).rstrip("/")
        folder = record.path.removeprefix(label).rsplit("/", 1)[0].strip("/")
        if not folder:
            return str(
                self.graph.get(f"/drives/{record.account}/items/root", params={"$select": "id"})[
                    "id"
                ]
            )
        try:
            return str(
                self.graph.get(
                    f"/drives/{record.account}/root:/{quote(folder)}:", params={"$select": "id"}
                )["id"]
            )
        except ItemGone:
            return None

    def trim_versions(
        self, record: FileRecord, keep: int = 1, newer_than: float | None = None
    ) -> ActionOutcome:
        """Delete old versions beyond the newest `keep` (the current one counts) and older
        than `newer_than`. SharePoint moves them to the recycle bin: pending, not freed."""
        self.refuse_binned(record)
        keep = max(1, keep)
        current = self.fingerprint(record)
        if current is None:
            raise ItemGone(f"Not found: {record.path}. It was deleted or moved since the scan.")
        if record.fingerprint and current != record.fingerprint:
            raise PreconditionFailed(f"Changed since it was planned ({record.path}): skipped.")
        versions = self.graph.get(self._item_url(record) + "/versions").get("value", [])
        doomed = [
            v
            for v in versions[keep:]
            if newer_than is None or (parse_time(v.get("lastModifiedDateTime")) or 0) < newer_than
        ]
        released = 0
        removed = []
        for version in doomed:
            self.graph.call(
                "DELETE",
                f"{self._item_url(record)}/versions/{version['id']}",
                headers=self._guard(record),
            )
            released += int(version.get("size") or 0)
            removed.append(version["id"])
        return ActionOutcome(
            undo={
                "versions": removed,
                "note": f"deleted versions wait in {self.recycle_bin_url(record)}",
            },
            pending_bytes=released,
            pending_until=time.time() + RECYCLE_BIN_DAYS * 86400 if released else None,
        )
