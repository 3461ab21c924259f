"""Acting on Drive items: each action re-reads the item and compares its fingerprint first."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from googleapiclient.errors import HttpError

from cleanup.errors import ItemGone, PreconditionFailed, ProviderError
from cleanup.providers import ActionOutcome
from cleanup.records import FileRecord

from .client import raise_for_action
from .scan import FOLDER_MIME, fingerprint_of

TRASH_DAYS = 30
CHECK_FIELDS = (
    "id,name,md5Checksum,modifiedTime,headRevisionId,trashed,parents,quotaBytesUsed,size,driveId"
)

# Call(record, what, make_request, expect_body) runs one acting API call with retries.
Call = Callable[..., Any]


def current(call: Call, record: FileRecord) -> dict[str, Any] | None:
    """The item as Drive has it now, or None when it is gone."""
    try:
        return call(
            record,
            f"re-reading {record.path}",
            lambda s: s.files().get(
                fileId=record.item_id, fields=CHECK_FIELDS, supportsAllDrives=True
            ),
        )
    except HttpError as err:
        if err.status_code == 404:
            return None
        raise_for_action(err, f"re-reading {record.path}")
        raise


def checked(call: Call, record: FileRecord) -> dict[str, Any]:
    """The current item, after making sure it is the one that was planned."""
    now = current(call, record)
    if now is None:
        raise ItemGone(f"{record.path} no longer exists in Google Drive.")
    if record.fingerprint and fingerprint_of(now) != record.fingerprint:
        raise PreconditionFailed(
            f"{record.path} changed in Google Drive since it was planned; skipped."
        )
    return now


def _update(call: Call, record: FileRecord, what: str, **kw: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = call(
            record,
            what,
            lambda s: s.files().update(
                fileId=record.item_id, supportsAllDrives=True, fields="id,trashed,parents", **kw
            ),
        )
        return result
    except HttpError as err:
        raise_for_action(err, what)
        raise


def trash(call: Call, record: FileRecord) -> ActionOutcome:
    now = checked(call, record)
    if now.get("trashed"):
        raise PreconditionFailed(f"{record.path} is already in the Drive trash; skipped.")
    _update(call, record, f"moving {record.path} to the trash", body={"trashed": True})
    return ActionOutcome(
        undo={"action": "trash", "file_id": record.item_id},
        pending_bytes=int(now.get("quotaBytesUsed") or record.storage_bytes),
        pending_until=time.time() + TRASH_DAYS * 86400,
    )


def untrash(call: Call, record: FileRecord) -> None:
    now = current(call, record)
    if now is None:
        raise ItemGone(
            f"{record.path} was removed from the Drive trash for good; it cannot be restored."
        )
    if now.get("trashed"):
        _update(call, record, f"restoring {record.path} from the trash", body={"trashed": False})


def delete(call: Call, record: FileRecord, *, recheck: bool = True) -> ActionOutcome:
    now = checked(call, record) if recheck else (current(call, record) or {})
    what = f"deleting {record.path} permanently"
    try:
        call(
            record,
            what,
            lambda s: s.files().delete(fileId=record.item_id, supportsAllDrives=True),
            expect_body=False,
        )
    except HttpError as err:
        raise_for_action(err, what)
    return ActionOutcome(
        undo={}, freed_bytes=int(now.get("quotaBytesUsed") or record.storage_bytes)
    )


def purge(call: Call, record: FileRecord) -> ActionOutcome:
    """Delete for good an item this tool moved to the trash (it must still be there)."""
    now = current(call, record)
    if now is None:
        return ActionOutcome(freed_bytes=0)  # already emptied from the trash
    if not now.get("trashed"):
        raise PreconditionFailed(f"{record.path} was restored from the trash since; not deleted.")
    return delete(call, record, recheck=False)


def folder_id(call: Call, record: FileRecord, destination: str) -> str:
    """The id of the destination folder: `id:<folderId>`, or a path under My Drive made on demand."""
    if destination.startswith("id:"):
        return destination[3:]
    parts = [p for p in destination.strip("/").split("/") if p]
    if parts and parts[0] == "My Drive":
        parts = parts[1:]
    parent = "root"
    for name in parts:
        q = (
            f"'{parent}' in parents and name = '{_quote(name)}' and mimeType = '{FOLDER_MIME}' "
            "and trashed = false"
        )
        found = call(
            record,
            f"finding the archive folder {name}",
            lambda s, q=q: s.files().list(q=q, fields="files(id)", pageSize=10),
        )
        if found.get("files"):
            parent = found["files"][0]["id"]
            continue
        made = call(
            record,
            f"creating the archive folder {name}",
            lambda s, name=name, parent=parent: s.files().create(
                body={"name": name, "mimeType": FOLDER_MIME, "parents": [parent]}, fields="id"
            ),
        )
        parent = made["id"]
    return parent


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def archive(call: Call, record: FileRecord, destination: str) -> ActionOutcome:
    now = checked(call, record)
    target = folder_id(call, record, destination)
    old = now.get("parents") or []
    _update(
        call,
        record,
        f"moving {record.path} to {destination}",
        addParents=target,
        removeParents=",".join(p for p in old if p != target),
    )
    return ActionOutcome(
        undo={
            "action": "archive",
            "file_id": record.item_id,
            "parents": old,
            "archive_folder": target,
        },
        archived_bytes=int(now.get("quotaBytesUsed") or record.storage_bytes),
    )


def unarchive(call: Call, record: FileRecord, undo: Mapping[str, Any]) -> None:
    now = current(call, record)
    if now is None:
        raise ItemGone(f"{record.path} no longer exists; it cannot be moved back.")
    back = [p for p in undo.get("parents", []) if p not in (now.get("parents") or [])]
    away = [p for p in (now.get("parents") or []) if p not in undo.get("parents", [])]
    if back or away:
        _update(
            call,
            record,
            f"moving {record.path} back",
            addParents=",".join(back),
            removeParents=",".join(away),
        )


def trim_versions(
    call: Call,
    batch: Callable[[FileRecord, list[Any]], list[Any]],
    record: FileRecord,
    keep: int = 1,
    newer_than: float | None = None,
) -> ActionOutcome:
    """Unpin revisions kept forever, except the newest `keep` and any newer than `newer_than`."""
    checked(call, record)
    what = f"listing the versions of {record.path}"
    try:
        revs = call(
            record,
            what,
            lambda s: s.revisions().list(
                fileId=record.item_id,
                pageSize=1000,
                fields="revisions(id,keepForever,size,modifiedTime)",
            ),
        )
    except HttpError as err:
        raise_for_action(err, what)
        raise
    revisions = revs.get("revisions", [])
    if not revisions:
        return ActionOutcome()
    older = revisions[:-1]  # oldest first; the head revision always stays
    keep_older = max(0, keep - 1)
    kept_ids = {r["id"] for r in older[len(older) - keep_older :]} if keep_older else set()
    doomed = []
    for r in older:
        if not r.get("keepForever") or r["id"] in kept_ids:
            continue
        when = r.get("modifiedTime")
        if newer_than is not None and when and _epoch(when) > newer_than:
            continue
        doomed.append(r)
    if not doomed:
        return ActionOutcome()
    requests = [
        (
            lambda s, rid=r["id"]: s.revisions().update(
                fileId=record.item_id,
                revisionId=rid,
                body={"keepForever": False},
                fields="id,keepForever",
            )
        )
        for r in doomed
    ]
    results = batch(record, requests)
    failed = [r for r, res in zip(doomed, results, strict=True) if isinstance(res, Exception)]
    done = [r for r, res in zip(doomed, results, strict=True) if not isinstance(res, Exception)]
    if failed and not done:
        raise ProviderError(f"Unpinning the versions of {record.path} failed: {results[0]}")
    return ActionOutcome(
        undo={
            "action": "trim_versions",
            "file_id": record.item_id,
            "revisions": [r["id"] for r in done],
        },
        freed_bytes=sum(int(r.get("size") or 0) for r in done),
    )


def repin(
    call: Call,
    batch: Callable[[FileRecord, list[Any]], list[Any]],
    record: FileRecord,
    undo: Mapping[str, Any],
) -> None:
    requests = [
        (
            lambda s, rid=rid: s.revisions().update(
                fileId=record.item_id, revisionId=rid, body={"keepForever": True}, fields="id"
            )
        )
        for rid in undo.get("revisions", [])
    ]
    errors = [r for r in batch(record, requests) if isinstance(r, Exception)]
    if errors:
        raise ProviderError(
            f"{len(errors)} versions of {record.path} could not be pinned again "
            "(Drive may have removed them already)."
        )


def _epoch(value: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
