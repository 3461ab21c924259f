"""Walk a local folder tree with os.scandir and one lstat per entry, never following links."""

from __future__ import annotations

import errno
import mimetypes
import os
import stat
from collections.abc import Callable, Iterator
from functools import lru_cache

from cleanup.records import (
    BROKEN_SYMLINK,
    HARDLINK,
    PLACEHOLDER,
    SYMLINK,
    UNREADABLE,
    FileRecord,
    ScanProblem,
)

from .placeholders import is_placeholder

PROVIDER = "local"


@lru_cache(maxsize=256)
def _owner(uid: int) -> str | None:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def fingerprint(st: os.stat_result) -> str:
    """What must not change between plan and apply: size, modification time and inode."""
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def storage_bytes(st: os.stat_result) -> int:
    """Allocated bytes: what deleting the file frees (a sparse file's holes free nothing)."""
    blocks = getattr(st, "st_blocks", None)
    return blocks * 512 if blocks is not None else st.st_size


def _guess_mime(name: str) -> str | None:
    """The MIME type a name's extension suggests, worked out once per extension."""
    dot = name.rfind(".")
    # os.path.splitext's extension: from the last dot, unless only dots come before it.
    ext = name[dot:] if dot > 0 and name[:dot].strip(".") else ""
    lowered = ext.lower()
    if ":" in name or lowered in mimetypes.encodings_map or lowered in mimetypes.suffix_map:
        return mimetypes.guess_type(name, strict=False)[0]  # URL-like names, .tar.gz pairs
    return _mime_of_extension(ext)


@lru_cache(maxsize=4096)
def _mime_of_extension(ext: str) -> str | None:
    return mimetypes.guess_type("x" + ext, strict=False)[0]


_NO_FLAGS: frozenset[str] = frozenset()
_SYMLINK = frozenset({SYMLINK})
_BROKEN_SYMLINK = frozenset({SYMLINK, BROKEN_SYMLINK})
_HAS_BIRTHTIME = hasattr(os.stat_result, "st_birthtime")


def describe(
    path: str, name: str, st: os.stat_result, account: str, parent: str | None = None
) -> FileRecord:
    """A FileRecord for a path from its lstat result (``parent``: its folder, when known)."""
    # Called once per entry of every scan, a rescan included: shared flag sets and no
    # attribute probing keep it cheap.
    mode = st.st_mode
    flags = _NO_FLAGS
    kind: str
    if stat.S_ISLNK(mode):
        kind = "symlink"
        # os.path.exists follows the link: a missing target or a loop is broken.
        flags = _SYMLINK if os.path.exists(path) else _BROKEN_SYMLINK
    elif stat.S_ISDIR(mode):
        kind = "folder"
    else:
        kind = "file"
        hardlink = st.st_nlink > 1
        placeholder = is_placeholder(st)
        if hardlink or placeholder:
            flags = frozenset(
                f for f, present in ((HARDLINK, hardlink), (PLACEHOLDER, placeholder)) if present
            )
    is_file = kind == "file"
    return FileRecord(
        provider=PROVIDER,
        account=account,
        item_id=path,
        path=path,
        name=name,
        kind=kind,  # type: ignore[arg-type]
        size=st.st_size if is_file else 0,
        storage_bytes=storage_bytes(st),
        modified=st.st_mtime,
        created=st.st_birthtime if _HAS_BIRTHTIME else None,  # type: ignore[attr-defined]
        accessed=st.st_atime,
        owner=_owner(st.st_uid),
        mime=_guess_mime(name) if is_file else None,
        fingerprint=f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}",  # as fingerprint() gives
        flags=flags,
        parent_id=os.path.dirname(path) if parent is None else parent,
        device=st.st_dev,
        inode=st.st_ino,
        links=st.st_nlink,
    )


def walk(
    root: str,
    account: str,
    *,
    cross_fs: bool = False,
    problem: Callable[[ScanProblem], None],
    cancelled: Callable[[], bool] = lambda: False,
) -> Iterator[list[FileRecord]]:
    """Yield the records of ``root`` and everything below it, one folder's entries at a time."""
    try:
        root_st = os.lstat(root)
    except OSError as exc:
        problem(ScanProblem(root, exc.strerror or str(exc)))
        return
    yield [describe(root, os.path.basename(root) or root, root_st, account)]
    if not stat.S_ISDIR(root_st.st_mode):
        return
    root_dev = root_st.st_dev
    stack = [root]
    while stack:
        if cancelled():
            return
        folder = stack.pop()
        batch: list[FileRecord] = []
        parent = os.path.dirname(os.path.join(folder, "x"))  # what dirname gives each entry
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # vanished since the folder was listed
                    except OSError as exc:
                        problem(ScanProblem(entry.path, exc.strerror or str(exc)))
                        continue
                    record = describe(entry.path, entry.name, st, account, parent)
                    if record.kind == "folder":
                        if st.st_dev != root_dev and not cross_fs:
                            problem(
                                ScanProblem(
                                    entry.path,
                                    "another filesystem (mount point): not entered; use --cross-fs to include it",
                                )
                            )
                            continue
                        stack.append(entry.path)
                    batch.append(record)
        except FileNotFoundError:
            continue  # the folder vanished during the scan
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                problem(ScanProblem(folder, "permission denied: folder not read"))
            else:
                problem(ScanProblem(folder, exc.strerror or str(exc)))
            yield [_unreadable(folder, account)]
            continue
        yield batch


def _unreadable(folder: str, account: str) -> FileRecord:
    """The folder again, marked so that nobody takes it for empty."""
    try:
        record = describe(folder, os.path.basename(folder), os.lstat(folder), account)
    except OSError:
        record = FileRecord(
            PROVIDER, account, folder, folder, os.path.basename(folder), kind="folder"
        )
    record.flags = record.flags | {UNREADABLE}
    return record
