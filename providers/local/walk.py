"""Walk a local folder tree with os.scandir and one lstat per entry, never following links."""

from __future__ import annotations

import errno
import marshal
import mimetypes
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing.connection import Connection
from typing import Any

import blake3

from cleanup import forking
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
    return st.st_blocks * 512 if _HAS_BLOCKS else st.st_size


_HAS_BLOCKS = hasattr(os.stat_result, "st_blocks")  # not on Windows


_BY_EXTENSION: dict[str, str | None] = {}  # extensions that decide alone, as written


def _guess_mime(name: str) -> str | None:
    """The MIME type a name's extension suggests, worked out once per extension."""
    dot = name.rfind(".")
    simple = dot > 0 and name[0] != "." and ":" not in name
    if simple and (found := _BY_EXTENSION.get(name[dot:], _UNKNOWN)) is not _UNKNOWN:
        return found  # called for every file of every first scan: one look-up
    mime = _guess_mime_slowly(name, dot)
    if simple and len(_BY_EXTENSION) < 4096:
        ext = name[dot:].lower()
        if ext not in mimetypes.encodings_map and ext not in mimetypes.suffix_map:
            _BY_EXTENSION[name[dot:]] = mime
    return mime


_UNKNOWN: Any = object()


def _guess_mime_slowly(name: str, dot: int) -> str | None:
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
_PLACEHOLDERS_SHOW = any(
    hasattr(os.stat_result, field) for field in ("st_flags", "st_file_attributes")
)  # macOS and Windows (providers/local/placeholders.py)


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
        placeholder = _PLACEHOLDERS_SHOW and is_placeholder(st)
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
        storage_bytes=st.st_blocks * 512 if _HAS_BLOCKS else st.st_size,  # storage_bytes()
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


@dataclass(slots=True)
class Listed:
    """One folder as read: the checksum of its entries, and what the walk does with them."""

    listing: int
    entries: Entries  # left empty by the read-ahead process when the listing held
    others: int  # entries that are not folders
    folders: list[tuple[str, str, os.stat_result]]  # subfolders to walk: path, name, lstat
    problems: list[ScanProblem]


def read_folder(folder: str, folder_st: os.stat_result, root_dev: int, cross_fs: bool) -> Listed:
    """List a folder, lstat its entries and work out its checksum; raises OSError."""
    entries, failed = _list(folder)
    prefix = folder if folder.endswith("/") else folder + "/"
    problems = [ScanProblem(prefix + name, why) for name, why in failed]
    keys: list[tuple[object, ...]] = [(name, *_SKIPPED) for name, _ in failed]
    folders: list[tuple[str, str, os.stat_result]] = []
    others = 0
    for name, st in entries:
        key = _entry_key(name, st)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            path = prefix + name
            if st.st_dev != root_dev and not cross_fs:
                problems.append(
                    ScanProblem(
                        path,
                        "another filesystem (mount point): not entered; use --cross-fs to include it",
                    )
                )
                key += _SKIPPED
            else:
                folders.append((path, name, st))
        else:
            others += 1
            if stat.S_ISLNK(mode):
                key += (os.path.exists(prefix + name),)  # a link breaks with its target
        keys.append(key)
    return Listed(_listing(folder_st, keys), entries, others, folders, problems)


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
    ahead = read_ahead(previous, root_dev, cross_fs)
    # (path, name, lstat, whether its record is known unchanged: its parent's listing held)
    stack: list[tuple[str, str, os.stat_result, bool]] = [(root, name, root_st, False)]
    while stack:
        if cancelled():
            return
        folder, name, folder_st, known = stack.pop()
        read = ahead.pop(folder, None)
        if read is not None and read[0] == _own_key(folder_st):
            listed = read[1]  # read meanwhile, and the folder is still the one seen
        else:
            try:
                listed = read_folder(folder, folder_st, root_dev, cross_fs)
            except FileNotFoundError:
                continue  # the folder vanished during the scan
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EPERM):
                    problem(ScanProblem(folder, "permission denied: folder not read"))
                else:
                    problem(ScanProblem(folder, exc.strerror or str(exc)))
                yield [_unreadable(folder, name, folder_st, account)]
                continue
        for found in listed.problems:
            problem(found)
        same = previous.get(folder) == listed.listing
        batch: list[FileRecord] = []
        if not (same and known):
            record = describe(folder, name, folder_st, account)
            record.listing = listed.listing
            batch.append(record)
        if same:
            # Its entries, and itself when its parent's listing held too; subfolders count
            # when they are listed.
            unchanged(folder, listed.others + (1 if known else 0))
        else:
            prefix = folder if folder.endswith("/") else folder + "/"
            batch += [
                describe(prefix + entry_name, entry_name, st, account, folder)
                for entry_name, st in listed.entries
                if not stat.S_ISDIR(st.st_mode)
            ]
        stack += [(path, entry_name, st, same) for path, entry_name, st in listed.folders]
        if batch:
            yield batch


# --- reading ahead: a rescan reads the folders it knows in two processes ---------------------

READ_AHEAD_MIN = 256  # known folders; below this a second process costs more than it saves


def _own_key(st: os.stat_result) -> tuple[object, ...]:
    return (st[:7], st.st_mtime_ns)


def read_ahead(
    previous: Mapping[str, int], root_dev: int, cross_fs: bool
) -> dict[str, tuple[tuple[object, ...], Listed]]:
    """Folder -> (its lstat key, Listed), read before the walk for a rescan, in two processes.

    A rescan's time is one lstat per entry; the folders the last scan listed are known, so a
    forked process reads every other one while this one reads the rest. The walk takes a
    result only for a folder it reaches whose lstat is still the one read here; anything else
    it reads itself. The other process sends back only the folders whose listing held, without
    their entries (the walk needs none of those).
    """
    if len(previous) < READ_AHEAD_MIN or not forking.available():
        return {}
    folders = sorted(previous)

    def read(part: list[str], keep_entries: bool) -> dict[str, tuple[tuple[object, ...], Listed]]:
        results = {}
        for folder in part:
            try:
                st = os.lstat(folder)
                if not stat.S_ISDIR(st.st_mode):
                    continue
                listed = read_folder(folder, st, root_dev, cross_fs)
            except OSError:
                continue  # the walk meets it again, and says what is wrong
            if not keep_entries:
                if listed.listing != previous[folder]:
                    continue
                listed.entries = []
            results[folder] = (_own_key(st), listed)
        return results

    def serve(requests: Connection, replies: Connection) -> None:
        replies.send(read(folders[1::2], keep_entries=False))

    try:
        worker = forking.Worker(serve)
    except OSError:
        return {}
    try:
        ours = read(folders[0::2], keep_entries=True)
        try:
            ours.update(worker.receive())
        except (EOFError, OSError):
            pass  # the walk reads the other half itself
    finally:
        worker.close()
    return ours


def _unreadable(folder: str, name: str, st: os.stat_result, account: str) -> FileRecord:
    """The folder again, marked so that nobody takes it for empty."""
    record = describe(folder, name, st, account)
    record.flags = record.flags | {UNREADABLE}
    return record
