"""The kind of each file (documents, images, video, audio, archives, other).

Local files are recognised by content with libmagic (python-magic), but only where it is
cheap and useful: files at or above ``MAGIC_MIN_SIZE`` and files in duplicate groups. The
rest, and every cloud file, are classified by their MIME type or extension. Without
libmagic everything falls back to extensions, with one warning.

libmagic is asked through ``recognise_buffer``, which answers exactly what
``magic.Magic(mime=True).from_buffer`` answers, but gives libmagic only the rules that may
match the buffer (see "Recognition" below): about 35 µs a file instead of 180 µs.
"""

from __future__ import annotations

import ctypes
import json
import mimetypes
import mmap
import os
import re
import struct
import sys
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


# --- Recognition: libmagic's answer, at a fraction of its cost ----------------------------
#
# libmagic tries its ~3,500 top-level rules in order and the first that matches decides. On
# content that matches none (compressed or encrypted data, most of what is worth recognising
# by content) that is ~180 µs per file, whatever the flags or the buffer size: the cost is the
# rules themselves. But ~2,700 of them only compare a few fixed bytes at a fixed offset ("PK\3\4"
# at 0), which a dict lookup can rule out. So the compiled database is split once: a rule that
# cannot match is left out of the database libmagic is given, and what it answers is exactly
# what the whole database would have answered (rules keep their order; a rule left out could
# not have matched). Buffers that may match a rule left out get a database with that rule back
# (cached per combination), or the whole database. Anything unexpected (another database
# format, local magic files, rules that re-run the database) falls back to the whole database.

_REC = 376  # sizeof(struct magic) in compiled databases of format 18 (file 5.44, Debian 12)
_MGC_MAGIC = 0xF11E041C
_MGC_VERSION = 18
_MIME_TYPE = 0x10  # MAGIC_MIME_TYPE
_GUARD_FLAGS = 0x7FB000  # MAGIC_NO_CHECK_* but _SOFT: every builtin test but the rules themselves
_STRING, _SEARCH, _INDIRECT, _USE = 5, 20, 41, 46
# Numeric tests: the width and byte order of each ("short", "long", "quad" are the host's).
_NUMERIC = {
    1: (1, "little"),
    2: (2, sys.byteorder),
    4: (4, sys.byteorder),
    7: (2, "big"),
    8: (4, "big"),
    10: (2, "little"),
    11: (4, "little"),
    24: (8, sys.byteorder),
    25: (8, "little"),
    26: (8, "big"),
}
_TEXT_TEST, _BIN_TEST = 0x40, 0x20
_NOT_PLAIN = 0x01 | 0x02 | 0x04 | 0x80  # indirect, relative or from-the-end offsets
_PLAIN_STRING_FLAGS = 0x10 | 0x20 | 0x40  # s, t, b: no effect on a comparison
_CASE_FLAGS, _SPACE_FLAGS = 0x04 | 0x08, 0x01 | 0x02
_INDEX_MIN_RULES = 8  # an offset with fewer rules is cheaper for libmagic to try than a lookup
_GUARD_MIN_RANGE = 1024  # search rules scanning this far cost libmagic more than a find()
_CACHED_COMBINATIONS = 16
_UNICODE_MARKS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


class _Lib:
    """libmagic through ctypes, with function objects of our own (python-magic sets its own)."""

    def __init__(self) -> None:
        import magic

        lib = magic.libmagic
        self.open = lib["magic_open"]
        self.open.restype, self.open.argtypes = ctypes.c_void_p, [ctypes.c_int]
        self.close = lib["magic_close"]
        self.close.restype, self.close.argtypes = None, [ctypes.c_void_p]
        self.load = lib["magic_load"]
        self.load.restype, self.load.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]
        try:  # libmagic 5.21 and later
            self.load_buffers = lib["magic_load_buffers"]
        except AttributeError:
            self.load_buffers = None
        else:
            self.load_buffers.restype = ctypes.c_int
            self.load_buffers.argtypes = [
                ctypes.c_void_p,
                ctypes.POINTER(ctypes.c_void_p),
                ctypes.POINTER(ctypes.c_size_t),
                ctypes.c_size_t,
            ]
        self.buffer = lib["magic_buffer"]
        self.buffer.restype = ctypes.c_char_p
        self.buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        self.error = lib["magic_error"]
        self.error.restype, self.error.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
        self.getpath = lib["magic_getpath"]
        self.getpath.restype, self.getpath.argtypes = (
            ctypes.c_char_p,
            [ctypes.c_char_p, ctypes.c_int],
        )


class _Cookie:
    """One libmagic handle: the default database, or compiled databases held in memory."""

    def __init__(
        self,
        lib: _Lib,
        blobs: list[ctypes.Array[ctypes.c_char]] | None = None,
        flags: int = _MIME_TYPE,
    ) -> None:
        self._lib = lib
        self._handle = lib.open(flags)
        if not self._handle:
            raise OSError("magic_open failed")
        if blobs is None:
            failed = lib.load(self._handle, None)
        else:
            # libmagic uses the rules where they are and does not change them once loaded:
            # handles share one copy, kept alive by each handle.
            self._memory = blobs
            pointers = (ctypes.c_void_p * len(blobs))(*(ctypes.addressof(b) for b in blobs))
            sizes = (ctypes.c_size_t * len(blobs))(*(len(b) for b in blobs))
            failed = lib.load_buffers(self._handle, pointers, sizes, len(blobs))
        if failed:
            lib.close(self._handle)
            self._handle = None
            raise OSError("magic_load failed")

    def __call__(self, head: bytes) -> str:
        found = self._lib.buffer(self._handle, head, len(head))
        if found is None:
            error = self._lib.error(self._handle)
            if error is None:  # no answer and no error (UTF-32 noise, say): python-magic's reading
                return "application/octet-stream"
            raise OSError(os.fsdecode(error))
        return found.decode("utf-8", "replace")

    def __del__(self) -> None:
        if getattr(self, "_handle", None):
            self._lib.close(self._handle)


def _memory(blob: bytes) -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(blob, len(blob))


def _compiled_database(lib: _Lib) -> str | None:
    """The one compiled file libmagic loads by default, if the rest of its path adds no rules."""
    raw = lib.getpath(None, 0)
    compiled: list[str] = []
    for part in os.fsdecode(raw or b"").split(":"):
        if not part:
            continue
        mgc = part if part.endswith(".mgc") else part + ".mgc"
        if os.path.isfile(mgc):
            compiled.append(mgc)
        elif os.path.isdir(part):
            if any(not _no_rules(os.path.join(part, n)) for n in os.listdir(part)):
                return None
        elif os.path.exists(part) and not _no_rules(part):
            return None
    return compiled[0] if len(compiled) == 1 else None


def _no_rules(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return all(not line.strip() or line.lstrip().startswith(b"#") for line in f)
    except OSError:
        return False


class _Split:
    """A compiled database split into what a dict lookup can rule out and what it cannot."""

    def __init__(self, path: str) -> None:
        with open(path, "rb") as f:  # mapped: read where needed, shared with libmagic's own
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        magic_no, version, n0, n1 = struct.unpack_from("<4I", data, 0)
        if magic_no != _MGC_MAGIC or version != _MGC_VERSION or len(data) != _REC * (n0 + n1 + 1):
            raise ValueError("unsupported compiled magic database")
        self.data, self.version, self.n0, self.n1 = data, version, n0, n1
        mv = memoryview(data)
        conts = mv[_REC:].cast("H")[:: _REC // 2][: n0 + n1]
        tops = [i for i in range(n0) if conts[i] == 0]
        self.groups = list(zip(tops, tops[1:] + [n0], strict=True))
        names: dict[bytes, tuple[int, int]] = {}
        named_tops = [i for i in range(n0, n0 + n1) if conts[i] == 0]
        for a, b in zip(named_tops, named_tops[1:] + [n0 + n1], strict=True):
            names[self._value(a).split(b"\0", 1)[0]] = (a, b)
        self.names = names
        self.kinds = data[_REC + 6 :: _REC]  # each rule's test type
        rerunning = self._rerunning_names()
        # The named rules (set 1) every database needs, as a database of their own.
        header = struct.pack("<4I", _MGC_MAGIC, version, 0, n1) + data[16:_REC]
        self.named_blob = header + data[_REC * (n0 + 1) :]

        indexed: dict[int, tuple[int, bytes]] = {}
        guarded: dict[int, tuple[int, int, bytes, bool, bool]] = {}
        reruns: set[int] = set()  # groups that may re-run the whole database (indirect)
        for gid, (a, b) in enumerate(self.groups):
            indirect, used = self._uses(a, b)
            if indirect or (used and (used & rerunning or not used <= names.keys())):
                reruns.add(gid)
            rule = self._decidable(a)
            if rule is not None:
                indexed[gid] = rule
                continue
            guard = self._guard(a)
            if guard is not None:
                guarded[gid] = guard
        per_offset: dict[int, int] = {}
        for off, _ in indexed.values():
            per_offset[off] = per_offset.get(off, 0) + 1
        tables: dict[int, dict[bytes, list[tuple[bytes, int]]]] = {}
        for gid, (off, pattern) in indexed.items():
            if per_offset[off] >= _INDEX_MIN_RULES:
                tables.setdefault(off, {}).setdefault(pattern[:2], []).append((pattern, gid))
        self.tables = sorted(tables.items())
        left_out = {gid for t in tables.values() for rules in t.values() for _, gid in rules}
        self.guards = [(gid, *g) for gid, g in guarded.items() if gid not in reruns]
        left_out |= {g[0] for g in self.guards}
        self.residual = [gid for gid in range(len(self.groups)) if gid not in left_out]
        self.reruns = (
            reruns & left_out
        )  # ruled out by the lookup: a hit sends to the whole database
        # Groups kept that may re-run the database: a database without every rule would answer
        # differently inside them, so whether their first test passes is asked of libmagic first.
        kept_reruns = [gid for gid in self.residual if gid in reruns]
        for gid in kept_reruns:
            if data[_REC * (self.groups[gid][0] + 1) + 2] & _TEXT_TEST:
                raise ValueError("a text rule re-runs the database")
        self.rerun_guard_blob = self._first_tests(kept_reruns) if kept_reruns else None

    def _record(self, i: int) -> int:
        return _REC * (i + 1)

    def _value(self, i: int) -> bytes:
        o = self._record(i) + 32
        return self.data[o : o + 128]

    def _uses(self, a: int, b: int) -> tuple[bool, set[bytes]]:
        """Whether rules a..b re-run the database themselves, and the named rules they use."""
        kinds = self.kinds[a:b]
        used = {
            self._value(a + i).split(b"\0", 1)[0].lstrip(b"^")
            for i in range(len(kinds))
            if kinds[i] == _USE
        }
        return _INDIRECT in kinds, used

    def _rerunning_names(self) -> set[bytes]:
        direct: dict[bytes, tuple[bool, set[bytes]]] = {
            n: self._uses(*span) for n, span in self.names.items()
        }
        rerun = {n for n, (ind, used) in direct.items() if ind or not used <= direct.keys()}
        while True:  # a name that uses one that re-runs re-runs too
            more = {n for n, (_, used) in direct.items() if n not in rerun and used & rerun}
            if not more:
                return rerun
            rerun |= more

    def _decidable(self, i: int) -> tuple[int, bytes] | None:
        """(offset, bytes) when the group's first test is "these bytes at this offset"."""
        d, o = self.data, self._record(i)
        flag, reln, vallen, kind, mask_op = d[o + 2], d[o + 4], d[o + 5], d[o + 6], d[o + 9]
        (offset,) = struct.unpack_from("<i", d, o + 12)
        if flag & (_NOT_PLAIN | _TEXT_TEST) or reln != ord("=") or mask_op or offset < 0:
            return None
        if kind == _STRING:
            (str_flags,) = struct.unpack_from("<I", d, o + 28)
            if str_flags & ~_PLAIN_STRING_FLAGS:
                return None
            pattern = d[o + 32 : o + 32 + vallen]
        elif kind in _NUMERIC:
            mask, value = struct.unpack_from("<QQ", d, o + 24)
            if mask:
                return None
            width, order = _NUMERIC[kind]
            pattern = (value & ((1 << 8 * width) - 1)).to_bytes(width, order)
        else:
            return None
        return (offset, pattern) if len(pattern) >= 2 else None

    def _guard(self, i: int) -> tuple[int, int, bytes, bool, bool] | None:
        """(start, end, token, ignore case, also text) that a long search rule's match must contain."""
        d, o = self.data, self._record(i)
        flag, reln, vallen, kind, mask_op = d[o + 2], d[o + 4], d[o + 5], d[o + 6], d[o + 9]
        (offset,) = struct.unpack_from("<i", d, o + 12)
        if kind != _SEARCH or not flag & _BIN_TEST or flag & _NOT_PLAIN or reln != ord("="):
            return None
        if mask_op or offset < 0:
            return None
        str_range, str_flags = struct.unpack_from("<II", d, o + 24)
        if str_range < _GUARD_MIN_RANGE or str_flags & ~(
            _PLAIN_STRING_FLAGS | _CASE_FLAGS | _SPACE_FLAGS
        ):
            return None
        pattern = d[o + 32 : o + 32 + vallen]
        if not pattern or not pattern.isascii():
            return None
        # The match starts within the range; with whitespace that may stretch or vanish, only
        # its first word is sure to be there as it is.
        if str_flags & _SPACE_FLAGS and pattern[:1].isspace():
            return None
        token = pattern.split()[0] if str_flags & _SPACE_FLAGS else pattern
        end = offset + str_range + len(token)
        return offset, end, token, bool(str_flags & _CASE_FLAGS), bool(flag & _TEXT_TEST)

    def _first_tests(self, gids: list[int]) -> bytes:
        """A database of those groups' first tests alone, each answering "x" when it passes."""
        records = []
        for gid in gids:
            o = self._record(self.groups[gid][0])
            rec = bytearray(self.data[o : o + _REC])
            rec[160:224] = b"x".ljust(64, b"\0")  # description
            rec[224:304] = bytes(80)  # no MIME type
            records.append(bytes(rec))
        header = struct.pack("<4I", _MGC_MAGIC, self.version, len(records), 0) + self.data[16:_REC]
        return header + b"".join(records)

    def blob(self, gids: list[int]) -> bytes:
        """A database of these groups, in their order, without the named rules."""
        body = b"".join(
            self.data[self._record(a) : self._record(b)]
            for a, b in (self.groups[g] for g in sorted(gids))
        )
        header = (
            struct.pack("<4I", _MGC_MAGIC, self.version, len(body) // _REC, 0) + self.data[16:_REC]
        )
        return header + body


class _Recogniser:
    """libmagic's MIME type for a buffer, thread-safe: each thread has its own handles."""

    def __init__(self) -> None:
        self._lib = _Lib()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._seen: dict[tuple[int, ...], int] = {}
        self._split: _Split | None = None
        self._blobs: dict[tuple[int, ...], list[ctypes.Array[ctypes.c_char]]] = {}
        try:
            path = _compiled_database(self._lib) if self._lib.load_buffers is not None else None
            if path is not None:
                self._split = _Split(path)
                self._named = _memory(self._split.named_blob)
                self._blobs[()] = [_memory(self._split.blob(self._split.residual)), self._named]
                _Cookie(self._lib, self._blobs[()])  # libmagic accepts what was built
        except (OSError, ValueError, struct.error):
            self._split = None
        if self._split is not None:
            s = self._split
            if s.rerun_guard_blob is not None:
                self._guard_blob = _memory(s.rerun_guard_blob)
            self._guards = [
                (
                    gid,
                    start,
                    end,
                    re.compile(re.escape(token), re.IGNORECASE) if nocase else token,
                    text,
                )
                for gid, start, end, token, nocase, text in s.guards
            ]

    @property
    def fast(self) -> bool:
        return self._split is not None

    def _cookies(self) -> dict[object, _Cookie]:
        cookies = getattr(self._local, "cookies", None)
        if cookies is None:
            cookies = self._local.cookies = {}
        return cookies

    def _full(self) -> _Cookie:
        cookies = self._cookies()
        cookie = cookies.get("full")
        if cookie is None:
            cookie = cookies["full"] = _Cookie(self._lib)
        return cookie

    def _hits(self, head: bytes) -> list[int] | None:
        """Groups left out of the residual database that may match; None: ask the whole database."""
        s = self._split
        assert s is not None
        hits = []
        for off, table in s.tables:
            rules = table.get(head[off : off + 2])
            if rules:
                for pattern, gid in rules:
                    if head.startswith(pattern, off):
                        if gid in s.reruns:
                            return None
                        hits.append(gid)
        binary: bool | None = None
        for gid, start, end, token, text in self._guards:
            if text:
                # A rule for text too is also tried on the text decoded (UTF-16, EBCDIC...): the
                # raw bytes tell nothing, unless a NUL without a UTF-16/32 mark says "not text".
                if binary is None:
                    binary = b"\0" in head and not head.startswith(_UNICODE_MARKS)
                if not binary:
                    hits.append(gid)
                    continue
            if isinstance(token, bytes):
                found = head.find(token, start, end) >= 0
            else:
                found = token.search(head, start, end) is not None
            if found:
                hits.append(gid)
        if s.rerun_guard_blob is not None:
            cookies = self._cookies()
            guard = cookies.get("guard")
            if guard is None:
                guard = cookies["guard"] = _Cookie(self._lib, [self._guard_blob], _GUARD_FLAGS)
            if guard(head) == "x":
                return None
        return hits

    def __call__(self, head: bytes) -> str:
        if self._split is None:
            return self._full()(head)
        hits = self._hits(head)
        if hits is None:
            return self._full()(head)
        key = tuple(sorted(hits))
        cookies = self._cookies()
        cookie = cookies.get(key)
        if cookie is None:
            with self._lock:
                blobs = self._blobs.get(key)
                if blobs is None:
                    # A combination seen once is not worth a database; seen again, it may be common.
                    if len(self._seen) > 4096:  # noise makes combinations seen once
                        self._seen.clear()
                    self._seen[key] = seen = self._seen.get(key, 0) + 1
                    if seen < 2 or len(self._blobs) > _CACHED_COMBINATIONS:
                        blobs = None
                    else:
                        s = self._split
                        blobs = self._blobs[key] = [
                            _memory(s.blob(s.residual + list(key))),
                            self._named,
                        ]
            if blobs is None:
                return self._full()(head)
            cookie = cookies[key] = _Cookie(self._lib, blobs)
        return cookie(head)


_recogniser: _Recogniser | _PlainRecogniser | None = None
_recogniser_lock = threading.Lock()


class _PlainRecogniser:
    """python-magic as it is, one handle per thread: where libmagic cannot be reached directly."""

    fast = False

    def __init__(self) -> None:
        self._local = threading.local()

    def __call__(self, head: bytes) -> str:
        detector = getattr(self._local, "detector", None)
        if detector is None:
            detector = self._local.detector = _magic()
        return str(detector.from_buffer(head))  # type: ignore[union-attr]


def _get_recogniser() -> _Recogniser | _PlainRecogniser | None:
    global _recogniser
    if _recogniser is None:
        with _recogniser_lock:
            if _recogniser is None and _magic() is not None:
                try:
                    _recogniser = _Recogniser()
                except (
                    AttributeError,
                    OSError,
                    TypeError,
                ):  # another python-magic, an old libmagic
                    _recogniser = _PlainRecogniser()
    return _recogniser


def recognise_buffer(head: bytes) -> str | None:
    """libmagic's MIME type for the first bytes of a file (8 KiB are enough); None without libmagic.

    Thread-safe and reads no file. Exactly what ``magic.Magic(mime=True).from_buffer(head)``
    answers, several times faster on content no rule matches.
    """
    recogniser = _get_recogniser()
    if recogniser is None:
        return None
    try:
        return recogniser(head)
    except Exception:  # libmagic can fail on odd content; the extension still classifies it
        return None


def _candidates(inventory: Inventory) -> Iterator[tuple[list[int], str]]:
    """Rows to recognise, one content at a time: a duplicated content is read once for all its copies."""
    # One pass groups the hashed rows: a content is duplicated when its copies' devices or
    # inodes differ, and the group names its rows still to recognise (no second pass over the
    # table to find them). Large files come from the size index.
    # (+provider: not the path index, which would visit every local row to find the large ones)
    wanted = "+provider = 'local' AND kind = 'file' AND content_kind IS NULL AND instr(flags, ?) = 0 AND size > 0"
    by_content: dict[str, list[int]] = {}
    for b3, ids in inventory.db.execute(
        f"SELECT blake3, group_concat(CASE WHEN {wanted} THEN id END) FROM files NOT INDEXED "
        "WHERE gone_scan IS NULL AND blake3 IS NOT NULL AND device IS NOT NULL AND inode IS NOT NULL "
        "GROUP BY blake3 HAVING MIN(inode) <> MAX(inode) OR MIN(device) <> MAX(device)",
        (PLACEHOLDER,),
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


def _recognise(
    recogniser: _Recogniser | _PlainRecogniser, rows: list[int], path: str
) -> list[tuple[int, str]]:
    try:
        fd = open_quietly(path)  # a file replaced by a link since the scan is not followed
        try:
            head = os.read(fd, 8192)
        finally:
            os.close(fd)
        mime = recogniser(head)
    except OSError:
        return []
    except Exception:  # libmagic can fail on odd content; the extension still classifies it
        return []
    if mime is None:
        return []
    return [(row, mime) for row in rows]


def detect_kinds(inventory: Inventory, workers: int = 2) -> int:
    """Recognise by content the local files worth it; store the MIME type found. Returns how many."""
    if _magic() is None:
        return 0
    # libmagic runs outside the GIL, so threads recognise files side by side; each thread has
    # its own handles, since one handle must not be used by two threads at once. The recogniser
    # is prepared (once per process) while the query runs, which also runs outside the GIL.
    with ThreadPoolExecutor(max(1, workers)) as pool:
        ready = pool.submit(_get_recogniser)
        todo = list(_candidates(inventory))
        recogniser = ready.result()
        if recogniser is None:
            return 0

        def batch(part: list[tuple[list[int], str]]) -> list[tuple[int, str]]:
            return [found for rows, path in part for found in _recognise(recogniser, rows, path)]

        found: list[tuple[int, str]] = []
        for part in pool.map(batch, [todo[i : i + _BATCH] for i in range(0, len(todo), _BATCH)]):
            found += part
    found.sort()  # in row order, the inventory's pages are visited once each
    inventory.set_content_kinds(found)
    return len(found)
