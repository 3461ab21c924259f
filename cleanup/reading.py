"""Reading local files without side effects: no link followed, no access time touched.

Reading a file updates its access time on most filesystems, which would make a scan
erase the very signal that tells a stale file from one still in use. Linux's O_NOATIME
prevents that for files the user owns (or with CAP_FOWNER); for the others the kernel
refuses the flag, and the file is opened normally.
"""

from __future__ import annotations

import os

_BASE = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
_NOATIME = getattr(os, "O_NOATIME", 0)


def open_quietly(path: str) -> int:
    """A read-only descriptor for ``path``; a symlink raises OSError rather than being followed."""
    if _NOATIME:
        try:
            return os.open(path, _BASE | _NOATIME)
        except PermissionError:
            pass  # not the owner: O_NOATIME is refused, plain reading is allowed
    return os.open(path, _BASE)
