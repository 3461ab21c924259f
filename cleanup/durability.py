"""Making a change on disk survive a power cut: a rename or a new file is durable only once
its folder's entry is flushed too."""

from __future__ import annotations

import os


def sync_folder(path: str | os.PathLike[str]) -> None:
    """fsync a folder, so that entries created, renamed or removed in it are on disk.

    Best effort: a filesystem or platform that cannot fsync a folder (Windows, some network
    shares) is not an error, since the files themselves are flushed.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
