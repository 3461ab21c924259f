"""The OS trash for local files: send2trash to move, the freedesktop trash layout to find again.

On Linux and other freedesktop systems a trashed file keeps its inode (it is renamed into
``$XDG_DATA_HOME/Trash/files`` or, on other filesystems, ``$topdir/.Trash/$uid`` or
``$topdir/.Trash-$uid``), so it is found again by device and inode, whatever name the trash
gave it. Undo renames it back; purge removes it and its ``.trashinfo``.

On macOS and Windows send2trash hands the file to the Finder or the Recycle Bin, which do
not say where they put it: undo cannot restore it (put it back from the Finder's Trash or
the Recycle Bin) and purge leaves emptying it to the system.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cleanup.durability import sync_folder
from cleanup.errors import ItemGone, ProviderError

FREEDESKTOP = sys.platform not in ("darwin", "win32")


class TrashUnavailable(ProviderError):
    """No trash can take this file; nothing was moved."""


class RestoreBlocked(ProviderError):
    """Something now exists at the original path; the item stays where it is."""


@dataclass(frozen=True, slots=True)
class TrashedFile:
    """Where one trashed file lies: the trash folder and the name it got there."""

    trash: str
    name: str

    @property
    def file(self) -> str:
        return os.path.join(self.trash, "files", self.name)

    @property
    def info(self) -> str:
        return os.path.join(self.trash, "info", self.name + ".trashinfo")

    def undo(self, device: int, inode: int) -> dict[str, Any]:
        return {"trash": self.trash, "name": self.name, "device": device, "inode": inode}


def _data_home() -> str:
    return os.path.expanduser(os.environ.get("XDG_DATA_HOME") or "~/.local/share")


def home_trash() -> str:
    """The user's home trash folder, as the environment says now."""
    return os.path.join(_data_home(), "Trash")


def _freedesktop_send2trash() -> Any:
    """send2trash's freedesktop mover, pointed at the current XDG_DATA_HOME.

    send2trash reads XDG_DATA_HOME once, at import; cleanup reads it at each call so that a
    changed environment (tests, a service account) is honoured.
    """
    from send2trash import plat_other

    data_home = os.fsencode(_data_home())
    plat_other.XDG_DATA_HOME = data_home
    plat_other.HOMETRASH_B = os.path.join(data_home, b"Trash")
    plat_other.HOMETRASH = os.fsdecode(plat_other.HOMETRASH_B)
    return plat_other


def _mount_point(path: str) -> str:
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _home_device() -> int:
    return os.lstat(os.path.realpath(os.path.expanduser("~"))).st_dev


def _nearest_existing(path: str) -> str:
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _can_create(folder: str) -> bool:
    """Whether ``folder`` exists as a writable folder or could be created."""
    existing = _nearest_existing(folder)
    if not os.path.isdir(existing):
        return False
    return os.access(existing, os.W_OK | os.X_OK)


def candidate_trashes(path: str) -> list[str]:
    """The trash folders a file at ``path`` can end up in, the likeliest first."""
    trashes = [home_trash()]
    try:
        top = _mount_point(os.path.dirname(path) or ".")
    except OSError:
        return trashes
    uid = str(os.getuid()) if hasattr(os, "getuid") else "0"
    trashes += [os.path.join(top, ".Trash", uid), os.path.join(top, ".Trash-" + uid)]
    return trashes


def check_available(path: str) -> None:
    """Raise TrashUnavailable unless a trash can take the file at ``path``."""
    if not FREEDESKTOP:
        return
    parent = os.path.dirname(path) or "."
    try:
        device = os.lstat(parent).st_dev
        same_as_home = device == _home_device()
    except OSError as exc:
        raise TrashUnavailable(f"Cannot reach {parent}: {exc.strerror}.") from exc
    if same_as_home:
        trash = home_trash()
        if not _can_create(os.path.join(trash, "files")) or not _can_create(
            os.path.join(trash, "info")
        ):
            raise TrashUnavailable(
                f"The trash {trash} cannot be created or written, so nothing can be moved there. "
                "Fix XDG_DATA_HOME or the folder's permissions, or use a plan that archives instead."
            )
        return
    top = _mount_point(parent)
    shared = os.path.join(top, ".Trash")
    if (
        os.path.isdir(shared)
        and not os.path.islink(shared)
        and os.lstat(shared).st_mode & stat.S_ISVTX
    ):
        return
    if not _can_create(os.path.join(top, ".Trash-" + str(os.getuid()))):
        raise TrashUnavailable(
            f"{path} is on another filesystem ({top}) that has no trash this user can write. "
            "Archive these files instead, or ask for a .Trash folder on that filesystem."
        )


def _entries(trash: str) -> Iterator[tuple[str, os.stat_result]]:
    files = os.path.join(trash, "files")
    try:
        with os.scandir(files) as it:
            for entry in it:
                try:
                    yield entry.name, entry.stat(follow_symlinks=False)
                except OSError:
                    continue
    except OSError:
        return


def _names(path: str) -> Iterator[str]:
    """The names send2trash tries, in order: ``a.txt``, ``a 1.txt``, ``a 2.txt``..."""
    name = os.path.basename(path)
    base, ext = os.path.splitext(name)
    yield name
    n = 1
    while True:
        yield f"{base} {n}{ext}"
        n += 1


def _by_name(trash: str, path: str, device: int, inode: int) -> TrashedFile | None:
    for name in _names(path):
        candidate = TrashedFile(trash, name)
        try:
            st = os.lstat(candidate.file)
        except OSError:
            if not os.path.lexists(candidate.info):
                return None  # send2trash would have used this free name
            continue
        if st.st_ino == inode and st.st_dev == device:
            return candidate
    return None


def forget_unfinished(path: str) -> int:
    """Remove ``.trashinfo`` files a killed move left for ``path`` with no file beside them."""
    from urllib.parse import unquote_to_bytes

    raw = os.fsencode(path)
    removed = 0
    for trash in candidate_trashes(path):
        for name in _names(path):
            candidate = TrashedFile(trash, name)
            if os.path.lexists(candidate.file):
                continue
            try:
                with open(candidate.info, encoding="utf-8", errors="surrogateescape") as f:
                    info = f.read()
            except OSError:
                break  # the first free name: send2trash went no further
            noted = next(
                (unquote_to_bytes(x[5:]) for x in info.splitlines() if x.startswith("Path=")), b""
            )
            # No Path at all: the kill came before send2trash wrote it; the file is useless.
            if not noted or noted == raw or raw.endswith(b"/" + noted):
                _remove(candidate.info)
                removed += 1
    return removed


def find(path: str, device: int, inode: int) -> TrashedFile | None:
    """The trashed file that is the same inode as the one once at ``path``."""
    found = _by_name(home_trash(), path, device, inode)
    if found is not None:
        return found
    trashes = candidate_trashes(path)
    for trash in trashes[1:]:
        found = _by_name(trash, path, device, inode)
        if found is not None:
            return found
    # Renamed inside the trash by another tool: look at every entry.
    for trash in trashes:
        for name, st in _entries(trash):
            if st.st_ino == inode and st.st_dev == device:
                return TrashedFile(trash, name)
    return None


def move_to_trash(path: str) -> dict[str, Any]:
    """Move a file to the OS trash and return what undo needs to find it."""
    st = os.lstat(path)
    if not FREEDESKTOP:
        import send2trash

        send2trash.send2trash(path)
        return {"platform": sys.platform, "device": st.st_dev, "inode": st.st_ino}
    check_available(path)
    mover = _freedesktop_send2trash()
    try:
        if stat.S_ISLNK(st.st_mode):
            _move_link(mover, path, st)
        else:
            mover.send2trash(path)
    except FileNotFoundError as exc:
        raise ItemGone(f"{path} no longer exists.") from exc
    except OSError as exc:
        raise TrashUnavailable(f"Cannot move {path} to the trash: {exc}.") from exc
    found = find(path, st.st_dev, st.st_ino)
    if found is None:
        # send2trash's cross-device fallback copies into the home trash: a new inode.
        raise ProviderError(f"{path} went to the trash but could not be found there again.")
    # No fsync of the folders here: if a power cut undid the rename, the file is back where
    # it was, and undo and resume recognise it there by its inode.
    return found.undo(st.st_dev, st.st_ino)


def _move_link(mover: Any, path: str, st: os.stat_result) -> None:
    """Trash a symbolic link itself, broken or not, as send2trash would trash a file.

    send2trash checks that the path exists and is writable by following the link, so a
    broken link (a junk finding) would be refused; the move itself never follows it.
    """
    path_b = os.fsencode(path)
    if st.st_dev == _home_device():
        mover.trash_move(path_b, mover.HOMETRASH_B, mover.XDG_DATA_HOME)
        return
    top = mover.find_mount_point(os.path.dirname(path_b))
    mover.trash_move(path_b, mover.find_ext_volume_trash(top), top)


def _trashed(undo: dict[str, Any] | Any) -> TrashedFile:
    if "trash" not in undo or "name" not in undo:
        where = "the Finder's Trash" if undo.get("platform") == "darwin" else "the Recycle Bin"
        raise ProviderError(
            f"cleanup cannot reach into {where}; put the file back from there by hand."
        )
    return TrashedFile(str(undo["trash"]), str(undo["name"]))


def restore(undo: dict[str, Any] | Any, path: str) -> None:
    """Put a trashed file back at ``path``, never over something that exists there now."""
    trashed = _trashed(undo)
    inode, device = undo.get("inode"), undo.get("device")
    if os.path.lexists(path):
        st = os.lstat(path)
        if (st.st_ino, st.st_dev) == (inode, device) and not os.path.lexists(trashed.file):
            _remove(trashed.info)  # restored before a crash; only the info file is left
            return
        raise RestoreBlocked(
            f"{path} exists again, so the trashed copy was left in {trashed.file}."
        )
    if not os.path.lexists(trashed.file):
        raise ItemGone(
            f"{trashed.file} is no longer in the trash (emptied?); it cannot be restored."
        )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _move_no_replace(trashed.file, path)
    _remove(trashed.info)
    sync_folder(os.path.dirname(path))
    sync_folder(os.path.join(trashed.trash, "files"))


def purge(undo: dict[str, Any] | Any, path: str) -> int | None:
    """Remove a trashed file for good; return the bytes freed, None when the trash was emptied already."""
    trashed = _trashed(undo)
    freed: int | None = None
    if os.path.lexists(trashed.file):
        st = os.lstat(trashed.file)
        if (st.st_ino, st.st_dev) != (undo.get("inode"), undo.get("device")):
            raise ProviderError(
                f"{trashed.file} is not the file cleanup put there; it was left alone."
            )
        # Other hard links keep the inode, and its blocks, alive.
        freed = 0 if st.st_nlink > 1 else getattr(st, "st_blocks", 0) * 512 or st.st_size
        if stat.S_ISDIR(st.st_mode):
            import shutil

            shutil.rmtree(trashed.file)
        else:
            os.unlink(trashed.file)
    elif os.path.lexists(path):
        st = os.lstat(path)
        if (st.st_ino, st.st_dev) == (undo.get("inode"), undo.get("device")):
            raise ProviderError(
                f"{path} was put back from the trash outside cleanup; it was not purged."
            )
    _remove(trashed.info)
    sync_folder(os.path.join(trashed.trash, "files"))
    return freed


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _move_no_replace(src: str, dst: str) -> None:
    """Rename ``src`` to ``dst`` without ever replacing a file at ``dst``."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError as exc:
        raise RestoreBlocked(f"{dst} exists; nothing was overwritten.") from exc
    except OSError:
        # Filesystems without hard links: check, then rename (a narrow window, but no link to leave).
        if os.path.lexists(dst):
            raise RestoreBlocked(f"{dst} exists; nothing was overwritten.") from None
        os.rename(src, dst)
        return
    os.unlink(src)
