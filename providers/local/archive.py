"""Archive local files: move them under a destination folder, keeping their path below the scan root.

On one filesystem the move is a hard link then an unlink of the old name (never replacing
anything; a crash between the two leaves both names of the same inode). Across
filesystems the file is copied to a ``.cleanup-partial`` name, fsync'd, compared byte for
byte through a hash, renamed into place, and only then removed from where it was.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from typing import Any

import blake3

from cleanup.durability import sync_folder
from cleanup.errors import ItemGone, ProviderError
from cleanup.quickxor import QuickXorHash
from cleanup.records import BLAKE3, MD5, QUICKXOR, SHA1, SHA256

from .trash import RestoreBlocked

PARTIAL = ".cleanup-partial"
_CHUNK = 1 << 20


class ArchiveRefused(ProviderError):
    """The archive destination cannot be used; nothing was moved."""


def file_hash(path: str, algo: str = BLAKE3) -> str:
    """The content hash of a local file, in the form the inventory stores it."""
    hasher: Any
    if algo == BLAKE3:
        hasher = blake3.blake3()
    elif algo in (MD5, SHA1, SHA256):
        hasher = hashlib.new(algo)
    elif algo == QUICKXOR:
        hasher = QuickXorHash()
    else:
        raise ValueError(f"unknown hash algorithm {algo}")
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return str(hasher.b64digest() if algo == QUICKXOR else hasher.hexdigest())


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _nearest_existing(path: str) -> str:
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def check_destination(destination: str, roots: list[str]) -> None:
    """Raise ArchiveRefused when ``destination`` is inside a scanned tree or cannot be written."""
    if not destination or not os.path.isabs(os.path.expanduser(destination)):
        raise ArchiveRefused(
            f"The archive destination {destination!r} is not an absolute folder path."
        )
    destination = os.path.expanduser(destination)
    for root in roots:
        if _inside(destination, root):
            raise ArchiveRefused(
                f"The archive destination {destination} is inside the scanned folder {root}; "
                "archived files would be found again by the next scan. Choose a folder outside it."
            )
    existing = _nearest_existing(destination)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
        raise ArchiveRefused(
            f"The archive destination {destination} cannot be written ({existing} is not a writable folder). "
            "Choose a folder you can write to."
        )


def target_path(path: str, root: str | None, destination: str) -> str:
    """Where ``path`` goes under ``destination``: its path relative to the scan root."""
    destination = os.path.expanduser(destination)
    if root and _inside(path, root) and os.path.abspath(path) != os.path.abspath(root):
        rel = os.path.relpath(path, root)
    else:
        rel = os.path.basename(path)
    return os.path.join(destination, rel)


def _same_inode(a: str, b: str) -> bool:
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _same_content(a: str, b: str) -> bool:
    try:
        sa, sb = os.lstat(a), os.lstat(b)
        return sa.st_size == sb.st_size and file_hash(a) == file_hash(b)
    except OSError:
        return False


def _copy_verified(src: str, dst: str) -> None:
    """Copy ``src`` to ``dst`` by way of a partial file: fsync'd, verified, then renamed."""
    partial = dst + PARTIAL
    try:
        os.unlink(partial)  # left by an earlier crash
    except FileNotFoundError:
        pass
    if os.path.islink(src):
        os.symlink(os.readlink(src), partial)
    else:
        with open(src, "rb") as fin, open(partial, "xb") as fout:
            shutil.copyfileobj(fin, fout, _CHUNK)
            fout.flush()
            os.fsync(fout.fileno())
        shutil.copystat(src, partial)
        if not _same_content(src, partial):
            os.unlink(partial)
            raise ProviderError(
                f"The copy of {src} at {dst} did not match the original; nothing was moved."
            )
    if os.path.lexists(dst):
        os.unlink(partial)
        raise RestoreBlocked(f"{dst} exists; nothing was overwritten.")
    os.rename(partial, dst)
    sync_folder(os.path.dirname(dst))


def move(src: str, dst: str) -> None:
    """Move one file to ``dst``, never replacing anything there; copy and verify across filesystems."""
    if os.path.lexists(dst):
        raise RestoreBlocked(f"{dst} already exists; nothing was overwritten.")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError as exc:
        raise RestoreBlocked(f"{dst} already exists; nothing was overwritten.") from exc
    except FileNotFoundError as exc:
        raise ItemGone(f"{src} no longer exists.") from exc
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            _copy_verified(src, dst)
        else:  # a filesystem without hard links
            if os.path.lexists(dst):
                raise RestoreBlocked(f"{dst} already exists; nothing was overwritten.") from None
            os.rename(src, dst)
            sync_folder(os.path.dirname(dst))
            sync_folder(os.path.dirname(src))
            return
    sync_folder(os.path.dirname(dst))
    os.unlink(src)
    sync_folder(os.path.dirname(src))


def archive(path: str, root: str | None, destination: str) -> dict[str, Any]:
    """Move ``path`` into the archive and return what undo needs."""
    target = target_path(path, root, destination)
    move(path, target)
    st = os.lstat(target)
    return {"archived_to": target, "device": st.st_dev, "inode": st.st_ino}


def settle(path: str, root: str | None, destination: str) -> dict[str, Any] | None:
    """After a crash: finish an archive that was under way; None when it had not begun."""
    target = target_path(path, root, destination)
    partial = target + PARTIAL
    source_there = os.path.lexists(path)
    target_there = os.path.lexists(target)
    if source_there and not target_there:
        if os.path.lexists(partial):
            os.unlink(partial)
        return None
    if source_there and target_there:
        if _same_inode(path, target) or _same_content(path, target):
            os.unlink(path)
            sync_folder(os.path.dirname(path))
        else:
            return None  # someone else's file at the target; the move never happened
    if not os.path.lexists(target):
        raise ItemGone(f"{path} is neither where it was nor at {target}.")
    st = os.lstat(target)
    return {"archived_to": target, "device": st.st_dev, "inode": st.st_ino}


def unarchive(undo: dict[str, Any] | Any, path: str) -> None:
    """Move an archived file back to ``path``, never over something that exists there now."""
    target = str(undo.get("archived_to", ""))
    if not target:
        raise ProviderError("The journal does not say where this file was archived.")
    if os.path.lexists(path):
        if os.path.lexists(target) and (_same_inode(path, target) or _same_content(path, target)):
            os.unlink(target)  # a crash between the two steps of an earlier undo
            return
        if not os.path.lexists(target) and _same_content_as_recorded(path, undo):
            return
        raise RestoreBlocked(f"{path} exists again, so the archived copy was left at {target}.")
    if not os.path.lexists(target):
        raise ItemGone(f"{target} is no longer in the archive; it cannot be restored.")
    move(target, path)


def _same_content_as_recorded(path: str, undo: dict[str, Any] | Any) -> bool:
    st = os.lstat(path)
    return (st.st_dev, st.st_ino) == (undo.get("device"), undo.get("inode"))
