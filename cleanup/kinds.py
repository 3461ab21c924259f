"""The kind of each file (documents, images, video, audio, archives, other).

Local files are recognised by content with libmagic (python-magic), but only where it is
cheap and useful: files at or above ``MAGIC_MIN_SIZE`` and files in duplicate groups. The
rest, and every cloud file, are classified by their MIME type or extension. Without
libmagic everything falls back to extensions, with one warning.
"""

from __future__ import annotations

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


def _candidates(inventory: Inventory) -> Iterator[tuple[list[int], str]]:
    """Rows to recognise, one content at a time: a duplicated content is read once for all its copies."""
    rows = inventory.db.execute(
        "SELECT id, path, path_raw, blake3 FROM files WHERE gone_scan IS NULL "
        "AND provider = 'local' AND kind = 'file' AND content_kind IS NULL AND instr(flags, ?) = 0 "
        "AND size > 0 AND (size >= ? OR blake3 IN (SELECT blake3 FROM files WHERE gone_scan IS NULL "
        "AND blake3 IS NOT NULL GROUP BY blake3 HAVING COUNT(DISTINCT device || ':' || inode) > 1))",
        (PLACEHOLDER, MAGIC_MIN_SIZE),
    ).fetchall()
    by_content: dict[str, tuple[list[int], str]] = {}
    for row, text, raw, b3 in rows:
        key = b3 or f"row:{row}"
        if key in by_content:
            by_content[key][0].append(row)
        else:
            by_content[key] = ([row], os.fsdecode(raw) if raw is not None else text)
    yield from by_content.values()


_BATCH = 32  # contents per task: a task per file costs about as much as recognising it


def _recognise(detector: object, rows: list[int], path: str) -> list[tuple[int, str]]:
    try:
        fd = open_quietly(path)  # a file replaced by a link since the scan is not followed
        try:
            head = os.read(fd, 8192)
        finally:
            os.close(fd)
        mime = detector.from_buffer(head)  # type: ignore[attr-defined]
    except OSError:
        return []
    except Exception:  # libmagic can fail on odd content; the extension still classifies it
        return []
    return [(row, mime) for row in rows]


def detect_kinds(inventory: Inventory, workers: int = 2) -> int:
    """Recognise by content the local files worth it; store the MIME type found. Returns how many."""
    if _magic() is None:
        return 0
    todo = list(_candidates(inventory))
    # libmagic runs outside the GIL, so threads recognise files side by side; each thread has
    # its own handle, since one handle must not be used by two threads at once.
    local = threading.local()

    def batch(part: list[tuple[list[int], str]]) -> list[tuple[int, str]]:
        detector = getattr(local, "detector", None)
        if detector is None:
            detector = local.detector = _magic()
        return [found for rows, path in part for found in _recognise(detector, rows, path)]

    found: list[tuple[int, str]] = []
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for part in pool.map(batch, [todo[i : i + _BATCH] for i in range(0, len(todo), _BATCH)]):
            found += part
    inventory.set_content_kinds(found)
    return len(found)
