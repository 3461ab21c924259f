"""Local drives: folders on this computer, external disks and mounted shares."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from cleanup.errors import ItemGone, PreconditionFailed, ProviderError, UsageError
from cleanup.providers import ActionOutcome, Provider, ScanSink
from cleanup.records import FileRecord

from . import archive as archiving
from . import trash as trashing
from .walk import fingerprint, walk


def local_account() -> str:
    """The account name for local files: this computer's host name."""
    return socket.gethostname() or "localhost"


def resolve_root(target: str) -> str:
    """An absolute, normalised root for a scan, or a UsageError saying what is wrong."""
    if not target:
        raise UsageError("No folder given. Name the folder to scan, e.g. cleanup scan ~/Documents")
    path = os.path.abspath(os.path.expanduser(target))
    if os.path.islink(path):
        path = os.path.realpath(path)  # the user named the link: scan what it points to
    if not os.path.lexists(path):
        raise UsageError(f"No such file or folder: {target}. Check the path and try again.")
    if not os.path.isdir(path) and not os.path.isfile(path):
        raise UsageError(f"{target} is neither a folder nor a regular file.")
    if os.path.isdir(path) and not os.access(path, os.R_OK | os.X_OK):
        raise UsageError(f"Cannot read the folder {target}: permission denied.")
    return path


class LocalProvider(Provider):
    """Folders on local and mounted filesystems."""

    name = "local"
    description = "Folders on this computer, external disks and mounted shares"
    location = "local"

    def scan(self, target: str, sink: ScanSink) -> None:
        root = resolve_root(target)
        account = local_account()
        sink.start_unit(account, root, incremental=False)
        cancel = self.options.cancel

        def unchanged(folder: str, entries: int) -> None:
            sink.unchanged(account, root, folder, entries)
            sink.progress(items=entries)

        for batch in walk(
            root,
            account,
            cross_fs=self.options.cross_fs,
            problem=sink.problem,
            cancelled=cancel.is_set,
            previous={} if self.options.full else sink.previous_listings(account, root),
            unchanged=unchanged,
        ):
            for record in batch:
                sink.add(record)
            sink.progress(items=len(batch))
        sink.finish_unit(account, root, complete=not cancel.is_set())

    def fingerprint(self, record: FileRecord) -> str | None:
        try:
            return fingerprint(os.lstat(record.path))
        except FileNotFoundError:
            return None

    # --- acting ------------------------------------------------------------------------

    def _check(self, record: FileRecord) -> None:
        """Raise unless the item is still exactly what was planned."""
        now = self.fingerprint(record)
        if now is None:
            raise ItemGone(f"{record.path} no longer exists.")
        if now != record.fingerprint:
            raise PreconditionFailed(f"{record.path} changed since it was planned.")

    def content_hash(self, record: FileRecord, algo: str) -> str | None:
        """The item's content hash now (re-read from disk), or None when it is gone."""
        try:
            return archiving.file_hash(record.path, algo)
        except FileNotFoundError:
            return None

    def check_action(
        self, action: str, record: FileRecord, destination: str | None, roots: Sequence[str]
    ) -> None:
        """Raise before anything is done when ``action`` cannot be carried out on ``record``."""
        if action == "trash":
            trashing.check_available(record.path)
        elif action == "archive":
            archiving.check_destination(destination or "", list(roots))
        elif action not in ("delete", "flag"):
            raise ProviderError(f"Local files cannot be acted on with {action!r}.")

    def trash(self, record: FileRecord) -> ActionOutcome:
        self._check(record)
        nbytes = _frees(record)
        undo = trashing.move_to_trash(record.path)
        return ActionOutcome(undo=undo, pending_bytes=nbytes)

    def restore(self, record: FileRecord, undo: Mapping[str, Any]) -> None:
        trashing.restore(undo, record.path)

    def archive(self, record: FileRecord, destination: str) -> ActionOutcome:
        self._check(record)
        nbytes = _frees(record)
        undo = archiving.archive(record.path, record.extra.get("root"), destination)
        return ActionOutcome(undo=undo, archived_bytes=nbytes)

    def unarchive(self, record: FileRecord, undo: Mapping[str, Any]) -> None:
        archiving.unarchive(undo, record.path)

    def delete(self, record: FileRecord) -> ActionOutcome:
        self._check(record)
        nbytes = _frees(record)
        try:
            os.unlink(record.path)
        except FileNotFoundError as exc:
            raise ItemGone(f"{record.path} no longer exists.") from exc
        except IsADirectoryError as exc:
            raise ProviderError(f"{record.path} is a folder; cleanup deletes files only.") from exc
        return ActionOutcome(freed_bytes=nbytes)

    def purge(self, record: FileRecord, undo: Mapping[str, Any]) -> ActionOutcome:
        freed = trashing.purge(undo, record.path)
        # Emptied from the trash by hand since: the bytes went then, and count as freed now.
        return ActionOutcome(
            undo=dict(undo), freed_bytes=record.storage_bytes if freed is None else freed
        )

    def settle(
        self, record: FileRecord, action: str, destination: str | None
    ) -> ActionOutcome | None:
        """After a crash mid-action: what the action did, or None when the item is untouched."""
        now = self.fingerprint(record)
        if action == "archive":
            undo = archiving.settle(record.path, record.extra.get("root"), destination or "")
            return (
                None
                if undo is None
                else ActionOutcome(undo=undo, archived_bytes=record.storage_bytes)
            )
        if now is not None:
            if action == "trash":
                trashing.forget_unfinished(record.path)
            return None
        if action == "trash":
            device, inode = record.device, _inode(record)
            found = (
                trashing.find(record.path, device, inode) if device is not None and inode else None
            )
            if found is None:
                raise ItemGone(f"{record.path} is gone and not in the trash.")
            return ActionOutcome(
                undo=found.undo(device or 0, inode), pending_bytes=record.storage_bytes
            )
        if action == "delete":
            return ActionOutcome(freed_bytes=record.storage_bytes)
        return None


def _frees(record: FileRecord) -> int:
    """What removing this name frees: nothing while other hard links keep the inode alive."""
    try:
        st = os.lstat(record.path)
    except OSError:
        return 0
    return 0 if st.st_nlink > 1 else record.storage_bytes


def _inode(record: FileRecord) -> int:
    if record.inode:
        return record.inode
    try:
        return int(record.fingerprint.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0
