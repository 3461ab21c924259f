"""Local drives: folders on this computer, external disks and mounted shares."""

from __future__ import annotations

import os
import socket

from cleanup.errors import UsageError
from cleanup.providers import Provider, ScanSink
from cleanup.records import FileRecord

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
        for batch in walk(
            root,
            account,
            cross_fs=self.options.cross_fs,
            problem=sink.problem,
            cancelled=cancel.is_set,
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
