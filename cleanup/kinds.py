"""The kind of each file (documents, images, video, audio, archives, other).

Local files are recognised by content with libmagic (python-magic), but only where it is
cheap and useful: files at or above ``MAGIC_MIN_SIZE`` and files in duplicate groups. The
rest, and every cloud file, are classified by their MIME type or extension. Without
libmagic everything falls back to extensions, with one warning.

On a first scan, hashing ahead recognises the duplicated contents from the first bytes it
has just read (``recognise_buffer``), in its own process; ``detect_kinds`` does the rest.
"""

from __future__ import annotations

import functools
import json
import mimetypes
import os
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from .inventory import Inventory
from .reading import open_quietly
from .records import PLACEHOLDER

KINDS = ("documents", "images", "video", "audio", "archives", "other")
MAGIC_MIN_SIZE = 1 << 20
HEAD = 8192  # bytes libmagic is given: enough for every format the kinds tell apart

_DOCUMENT_MIMES = (
    "application/pdf",
    "application/msword",
    "application/rtf",
    "application/vnd.ms-",
    "application/vnd.openxmlformats-officedocument",
    "application/vnd.oasis.opendocument",
    "application/vnd.google-apps.document",
    "application/vnd.google-apps.spreadsheet",
    "application/vnd.google-apps.presentation",
    "text/",
    "application/json",
    "application/xml",
    "message/rfc822",
)
_ARCHIVE_MIMES = (
    "application/zip",
    "application/x-zip",
    "application/x-7z",
    "application/x-rar",
    "application/vnd.rar",
    "application/x-tar",
    "application/gzip",
    "application/x-gzip",
    "application/x-bzip2",
    "application/x-xz",
    "application/zstd",
    "application/x-iso9660-image",
    "application/x-apple-diskimage",
    "application/vnd.ms-cab-compressed",
)
_OFFICE_ZIP_EXTS = {".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".epub", ".jar", ".apk"}


def kind_of_mime(mime: str | None) -> str:
    """The report's kind for a MIME type."""
    if not mime:
        return "other"
    major = mime.split("/", 1)[0]
    if major == "image":
        return "images"
    if major == "video":
        return "video"
    if major == "audio":
        return "audio"
    if mime.startswith(_ARCHIVE_MIMES):
        return "archives"
    if mime.startswith(_DOCUMENT_MIMES):
        return "documents"
    return "other"


def kind_of(content_mime: str | None, declared_mime: str | None, name: str) -> str:
    """The report's kind: content first, then the declared MIME type, then the extension."""
    kind = kind_of_mime(content_mime) if content_mime else "other"
    if kind == "other":  # unrecognised content (random bytes are octet-stream): ask the name
        kind = kind_of_mime(declared_mime) if declared_mime else kind_of_name(name)
    elif kind == "archives" and kind_of_name(name) == "documents":
        # An Office document or e-book is a zip inside: libmagic may say only that.
        kind = "documents"
    return kind


def kind_of_name(name: str) -> str:
    """The report's kind guessed from a file name alone."""
    return kind_of_mime(mimetypes.guess_type(name, strict=False)[0])


def extension_mismatch(name: str, detected_mime: str) -> bool:
    """Whether content says one kind and the extension another (a .jpg that is a PDF)."""
    ext = os.path.splitext(name)[1].lower()
    if not ext or detected_mime in ("application/octet-stream", "inode/x-empty"):
        return False
    by_name = kind_of_name(name)
    by_content = kind_of_mime(detected_mime)
    if by_name == by_content or "other" in (by_name, by_content):
        return False
    # Office documents and e-books are zip archives inside.
    return not (by_content == "archives" and ext in _OFFICE_ZIP_EXTS)


_magic_warning_given = False


def _magic() -> object | None:
    global _magic_warning_given
    try:
        import magic

        return magic.Magic(mime=True)
    except (ImportError, OSError) as exc:  # python-magic present but libmagic missing is OSError
        if not _magic_warning_given:
            warnings.warn(
                f"libmagic is not available ({exc}); file kinds are guessed from extensions. "
                "Install libmagic (Debian: libmagic1, macOS: brew install libmagic) for content detection.",
                stacklevel=2,
            )
            _magic_warning_given = True
        return None


@functools.cache
def magic_available() -> bool:
    """Whether libmagic can be used (when it cannot, says so once)."""
    return _magic() is not None


_local = threading.local()


def recognise_buffer(head: bytes) -> str | None:
    """libmagic's MIME type for the first bytes of a file (8 KiB are enough); None without libmagic.

    Thread-safe (one libmagic handle per thread: a handle must not be shared) and reads no file.
    """
    detector = getattr(_local, "detector", None)
    if detector is None:
        if not magic_available():
            return None
        detector = _local.detector = _magic()
    try:
        return str(detector.from_buffer(head))  # type: ignore[union-attr]
    except Exception:  # libmagic can fail on odd content; the extension still classifies it
        return None


def _candidates(inventory: Inventory, duplicates: bool = True) -> Iterator[tuple[list[int], str]]:
    """Rows to recognise, one content at a time: a duplicated content is read once for all its copies."""
    # One pass groups the hashed rows: a content is duplicated when its copies' devices or
    # inodes differ, and the group names its rows still to recognise (no second pass over the
    # table to find them). Large files come from the size index.
    wanted = "+provider = 'local' AND kind = 'file' AND content_kind IS NULL AND instr(flags, ?) = 0 AND size > 0"
    by_content: dict[str, list[int]] = {}
    for b3, ids in (
        ()
        if not duplicates
        else inventory.db.execute(
            f"SELECT blake3, group_concat(CASE WHEN {wanted} THEN id END) FROM files NOT INDEXED "
            "WHERE gone_scan IS NULL AND blake3 IS NOT NULL AND device IS NOT NULL AND inode IS NOT NULL "
            "GROUP BY blake3 HAVING MIN(inode) <> MAX(inode) OR MIN(device) <> MAX(device)",
            (PLACEHOLDER,),
        )
    ):
        if ids:
            by_content[b3] = sorted(int(i) for i in ids.split(","))
    paths = {
        row: os.fsdecode(raw) if raw is not None else text
        for row, text, raw in inventory.db.execute(
            "SELECT id, path, path_raw FROM files WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps([rows[0] for rows in by_content.values()]),),
        )
    }
    contents = {b3: (rows, paths[rows[0]]) for b3, rows in by_content.items() if rows[0] in paths}
    for row, text, raw, b3 in inventory.db.execute(
        f"SELECT id, path, path_raw, blake3 FROM files WHERE gone_scan IS NULL "
        f"AND {wanted} AND size >= ?",
        (PLACEHOLDER, MAGIC_MIN_SIZE),
    ):
        key = b3 or f"row:{row}"
        if key not in contents:
            contents[key] = ([row], os.fsdecode(raw) if raw is not None else text)
        elif row not in contents[key][0]:
            contents[key][0].append(row)
    yield from contents.values()


_BATCH = 32  # contents per task: a task per file costs about as much as recognising it


def _recognise(rows: list[int], path: str) -> list[tuple[int, str]]:
    try:
        fd = open_quietly(path)  # a file replaced by a link since the scan is not followed
        try:
            head = os.read(fd, HEAD)
        finally:
            os.close(fd)
    except OSError:
        return []
    mime = recognise_buffer(head)
    return [] if mime is None else [(row, mime) for row in rows]


def detect_kinds(inventory: Inventory, workers: int = 2, duplicates: bool = True) -> int:
    """Recognise by content the local files worth it; store the MIME type found. Returns how many.

    ``duplicates=False``: only the large files, when the duplicated contents were recognised
    already (by hashing ahead, cleanup/hashing_ahead.py).
    """
    if not magic_available():
        return 0
    todo = list(_candidates(inventory, duplicates))
    # libmagic runs outside the GIL, so threads recognise files side by side.
    found: list[tuple[int, str]] = []
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for part in pool.map(
            lambda part: [f for rows, path in part for f in _recognise(rows, path)],
            [todo[i : i + _BATCH] for i in range(0, len(todo), _BATCH)],
        ):
            found += part
    found.sort()  # in row order, the inventory's pages are visited once each
    inventory.set_content_kinds(found)
    return len(found)
