"""Walk a local folder tree with os.scandir and one lstat per entry, never following links."""

from __future__ import annotations

import errno
import marshal
import mimetypes
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache

import blake3

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


_OPEN_FOLDER = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)  # a folder replaced by a link since it was seen is not followed
    | getattr(os, "O_CLOEXEC", 0)
)
_LIST_BY_FD = os.scandir in os.supports_fd  # entries are then lstat'ed relative to the folder
_EXTRA_STAT = tuple(
    name for name in ("st_flags", "st_file_attributes") if hasattr(os.stat_result, name)
)  # where placeholders show (macOS, Windows)
_SKIPPED = ("\0skipped",)  # marks a listing with an entry not taken, so it is never reused


def _entry_key(name: str, st: os.stat_result) -> tuple[object, ...]:
    """What of an entry's lstat its record depends on (not the access time)."""
    key: tuple[object, ...] = (name, st[:7], st.st_mtime_ns, getattr(st, "st_blocks", 0))
    if _EXTRA_STAT:
        key += tuple(getattr(st, field) for field in _EXTRA_STAT)
    return key


def _listing(folder_st: os.stat_result, keys: list[tuple[object, ...]]) -> int:
    """A 64-bit checksum of a folder's own lstat and its entries' (as SQLite stores integers)."""
    body = marshal.dumps((folder_st[:7], folder_st.st_mtime_ns, keys))
    return int.from_bytes(blake3.blake3(body).digest(8), "big", signed=True)


Entries = list[tuple[str, os.stat_result]]


def _list(folder: str) -> tuple[Entries, list[tuple[str, str]]]:
    """A folder's entries with their lstat results, and (name, why) for those that failed.

    An entry that vanished since the folder was read is simply left out.
    """
    if not _LIST_BY_FD:
        with os.scandir(folder) as it:
            return _stat_all(it)
    fd = os.open(folder, _OPEN_FOLDER)
    try:
        with os.scandir(fd) as it:
            return _stat_all(it)
    finally:
        os.close(fd)


def _stat_all(entries: Iterator[os.DirEntry[str]]) -> tuple[Entries, list[tuple[str, str]]]:
    found: Entries = []
    failed: list[tuple[str, str]] = []
    for entry in entries:
        try:
            found.append((entry.name, entry.stat(follow_symlinks=False)))
        except FileNotFoundError:
            continue
        except OSError as exc:
            failed.append((entry.name, exc.strerror or str(exc)))
    return found, failed


def walk(
    root: str,
    account: str,
    *,
    cross_fs: bool = False,
    problem: Callable[[ScanProblem], None],
    cancelled: Callable[[], bool] = lambda: False,
    previous: Mapping[str, int] | None = None,
    unchanged: Callable[[str, int], None] = lambda folder, entries: None,
) -> Iterator[list[FileRecord]]:
    """Yield the records of ``root`` and everything below it, one folder at a time.

    Each folder's record comes with its own entries and carries ``listing``, a checksum of
    its lstat and its entries' lstat results. A folder whose checksum equals ``previous[path]``
    has exactly the entries it had: they are not yielded but counted through ``unchanged``
    (its subfolders are still walked), so a rescan of an unchanged tree builds no record.
    """
    previous = previous or {}
    try:
        root_st = os.lstat(root)
    except OSError as exc:
        problem(ScanProblem(root, exc.strerror or str(exc)))
        return
    name = os.path.basename(root) or root
    if not stat.S_ISDIR(root_st.st_mode):
        yield [describe(root, name, root_st, account)]
        return
    root_dev = root_st.st_dev
    # (path, name, lstat, whether its record is known unchanged: its parent's listing held)
    stack: list[tuple[str, str, os.stat_result, bool]] = [(root, name, root_st, False)]
    while stack:
        if cancelled():
            return
        folder, name, folder_st, known = stack.pop()
        try:
            entries, failed = _list(folder)
        except FileNotFoundError:
            continue  # the folder vanished during the scan
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                problem(ScanProblem(folder, "permission denied: folder not read"))
            else:
                problem(ScanProblem(folder, exc.strerror or str(exc)))
            yield [_unreadable(folder, name, folder_st, account)]
            continue
        prefix = folder if folder.endswith("/") else folder + "/"
        keys: list[tuple[object, ...]] = [(entry_name, *_SKIPPED) for entry_name, _ in failed]
        for entry_name, why in failed:
            problem(ScanProblem(prefix + entry_name, why))
        folders: list[tuple[str, str, os.stat_result]] = []
        others = 0  # entries that are not folders
        for entry_name, st in entries:
            key = _entry_key(entry_name, st)
            mode = st.st_mode
            if stat.S_ISDIR(mode):
                path = prefix + entry_name
                if st.st_dev != root_dev and not cross_fs:
                    problem(
                        ScanProblem(
                            path,
                            "another filesystem (mount point): not entered; use --cross-fs to include it",
                        )
                    )
                    key += _SKIPPED
                else:
                    folders.append((path, entry_name, st))
            else:
                others += 1
                if stat.S_ISLNK(mode):
                    key += (os.path.exists(prefix + entry_name),)  # a link breaks with its target
            keys.append(key)
        listing = _listing(folder_st, keys)
        same = previous.get(folder) == listing
        batch: list[FileRecord] = []
        if not (same and known):
            record = describe(folder, name, folder_st, account)
            record.listing = listing
            batch.append(record)
        if same:
            # Its entries, and itself when its parent's listing held too; subfolders count
            # when they are listed.
            unchanged(folder, others + (1 if known else 0))
        else:
            batch += [
                describe(prefix + entry_name, entry_name, st, account, folder)
                for entry_name, st in entries
                if not stat.S_ISDIR(st.st_mode)
            ]
        stack += [(path, entry_name, st, same) for path, entry_name, st in folders]
        if batch:
            yield batch


def _unreadable(folder: str, name: str, st: os.stat_result, account: str) -> FileRecord:
    """The folder again, marked so that nobody takes it for empty."""
    record = describe(folder, name, st, account)
    record.flags = record.flags | {UNREADABLE}
    return record
