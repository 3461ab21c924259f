"""Findings: what in the inventory is wasting space, and how much removing it would free.

Each finding kind is one function over the inventory. Nothing here changes anything.
Sizes are storage bytes (what removal frees), never apparent sizes.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import mimetypes
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from .inventory import Inventory, _unkey, to_text
from .kinds import KINDS, extension_mismatch, kind_of
from .records import (
    BLAKE3,
    BROKEN_SYMLINK,
    FREES_NOTHING,
    HARDLINK,
    MD5,
    NATIVE_DOC,
    QUICKXOR,
    SHA256,
    TRASHED,
    UNREADABLE,
)

DAY = 86400.0
JUNK_PATTERNS = (
    "~$*",  # Office owner/lock files
    ".~lock.*#",  # LibreOffice lock files
    "thumbs.db",
    "desktop.ini",
    ".ds_store",
    "*.tmp",
    "*.crdownload",  # unfinished Chrome download
    "*.part",  # unfinished Firefox download
)
_LIVE_FILE = "gone_scan IS NULL AND kind = 'file'"


def _without(*flags: str) -> str:
    """SQL: the row has none of ``flags``. Most rows have no flag at all, and that test comes
    first: one comparison instead of a search per flag."""
    return "(flags = '' OR (" + " AND ".join(f"instr(flags, '{f}') = 0" for f in flags) + "))"


def _with(flag: str) -> str:
    """SQL: the row has ``flag``."""
    return f"(flags != '' AND instr(flags, '{flag}') > 0)"


_NOT_FREEING = _without(*sorted(FREES_NOTHING))


@dataclass(slots=True)
class FindingOptions:
    """Thresholds, each with the default the CLI documents."""

    stale_after_days: float = 730.0  # 2 years
    oversized_bytes: int = 10**9  # 1 GB
    top: int = 20
    now: float = field(default_factory=time.time)


@dataclass(slots=True)
class Copy:
    """One copy of a content: one inode (all its names) or one cloud item."""

    provider: str
    account: str
    item_ids: list[str]
    paths: list[str]
    storage_bytes: int
    modified: float | None
    owner: str | None
    removable: bool  # removing every name of it frees its storage

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "account": self.account,
            "item_ids": [_text(i) for i in self.item_ids],
            "paths": [_text(p) for p in self.paths],
            "storage_bytes": self.storage_bytes,
            "modified": _iso(self.modified),
            "owner": self.owner,
        }


@dataclass(slots=True)
class DuplicateGroup:
    """Copies with the same content; all but one could go."""

    id: str
    size: int
    hash: str  # algorithm:value that proved the match
    copies: list[Copy]

    @property
    def reclaimable_bytes(self) -> int:
        """Storage of every copy but one, keeping the largest: never overstated."""
        removable = sorted((c.storage_bytes for c in self.copies if c.removable), reverse=True)
        kept_is_removable = len(removable) == len(self.copies)
        return sum(removable[1:] if kept_is_removable else removable)

    @property
    def files(self) -> list[str]:
        return [p for c in self.copies for p in c.paths]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "size": self.size,
            "hash": self.hash,
            "reclaimable_bytes": self.reclaimable_bytes,
            "files": [_text(p) for p in self.files],
            "copies": [c.to_json() for c in self.copies],
        }


@dataclass(slots=True)
class DuplicateFolder:
    """Folders whose whole content (names and bytes) is the same."""

    id: str
    provider: str
    folders: list[str]
    files: list[int]  # files below each folder (junk files may differ)
    storage_bytes: list[int]  # storage below each folder

    @property
    def reclaimable_bytes(self) -> int:
        """Every copy but the largest: never overstated."""
        return sum(self.storage_bytes) - max(self.storage_bytes)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "folders": [_text(p) for p in self.folders],
            "files": self.files,
            "storage_bytes": self.storage_bytes,
            "reclaimable_bytes": self.reclaimable_bytes,
        }


@dataclass(slots=True)
class FileFinding:
    """A single item and why it is listed."""

    provider: str
    account: str
    item_id: str
    path: str
    storage_bytes: int
    modified: float | None = None
    accessed: float | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "provider": self.provider,
            "account": self.account,
            "item_id": _text(self.item_id),
            "path": _text(self.path),
            "storage_bytes": self.storage_bytes,
            "modified": _iso(self.modified),
        }
        if self.accessed is not None:
            out["accessed"] = _iso(self.accessed)
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(slots=True)
class Findings:
    """Everything ``cleanup findings`` reports."""

    options: FindingOptions
    files_total: int = 0
    storage_total: int = 0
    duplicates: list[DuplicateGroup] = field(default_factory=list)
    duplicate_folders: list[DuplicateFolder] = field(default_factory=list)
    stale: list[FileFinding] = field(default_factory=list)
    oversized: list[FileFinding] = field(default_factory=list)
    largest_files: list[FileFinding] = field(default_factory=list)
    largest_folders: list[FileFinding] = field(default_factory=list)
    empty_files: list[FileFinding] = field(default_factory=list)
    empty_folders: list[FileFinding] = field(default_factory=list)
    junk: list[FileFinding] = field(default_factory=list)
    broken_symlinks: list[FileFinding] = field(default_factory=list)
    mismatched_extensions: list[FileFinding] = field(default_factory=list)
    trash_billed: list[FileFinding] = field(default_factory=list)
    old_versions: list[FileFinding] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)  # storage bytes by kind

    def totals(self) -> dict[str, dict[str, int]]:
        """Count and reclaimable storage bytes per finding kind."""

        def files(items: list[FileFinding]) -> dict[str, int]:
            return {"count": len(items), "storage_bytes": sum(i.storage_bytes for i in items)}

        return {
            "duplicates": {
                "count": len(self.duplicates),
                "storage_bytes": sum(g.reclaimable_bytes for g in self.duplicates),
            },
            "duplicate_folders": {
                "count": len(self.duplicate_folders),
                "storage_bytes": sum(g.reclaimable_bytes for g in self.duplicate_folders),
            },
            "stale": files(self.stale),
            "oversized": files(self.oversized),
            "empty_files": files(self.empty_files),
            "empty_folders": files(self.empty_folders),
            "junk": files(self.junk),
            "broken_symlinks": files(self.broken_symlinks),
            "mismatched_extensions": files(self.mismatched_extensions),
            "trash_billed": files(self.trash_billed),
            "old_versions": files(self.old_versions),
        }

    def to_json(self) -> dict[str, Any]:
        """The documented, stable JSON form (docs/findings.md)."""
        o = self.options
        return {
            "format": "cleanup.findings/1",
            "generated": _iso(o.now),
            "thresholds": {
                "stale_after_days": o.stale_after_days,
                "oversized_bytes": o.oversized_bytes,
            },
            "inventory": {"files": self.files_total, "storage_bytes": self.storage_total},
            "totals": self.totals(),
            "kinds": self.kinds,
            "duplicates": [g.to_json() for g in self.duplicates],
            "duplicate_folders": [g.to_json() for g in self.duplicate_folders],
            **{
                name: [f.to_json() for f in getattr(self, name)]
                for name in (
                    "stale",
                    "oversized",
                    "largest_files",
                    "largest_folders",
                    "empty_files",
                    "empty_folders",
                    "junk",
                    "broken_symlinks",
                    "mismatched_extensions",
                    "trash_billed",
                    "old_versions",
                )
            },
        }


def _text(value: str) -> str:
    """JSON-safe text: bytes that are not UTF-8 appear as \\xNN escapes (docs/findings.md)."""
    return to_text(value)[0]


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


_JUNK = re.compile("|".join(fnmatch.translate(p) for p in JUNK_PATTERNS))


def is_junk(name: str) -> bool:
    """Office lock files, Thumbs.db, .DS_Store, temporary files and unfinished downloads."""
    return _JUNK.match(name.lower()) is not None


def _like(glob: str) -> str:
    """A LIKE pattern matching every name whose lower case matches ``glob``, and maybe more.

    LIKE folds ASCII case only: the letters that other characters lower-case into (the Kelvin
    sign gives 'k', 'İ' gives 'i' and a combining dot) match any one character, and '?'
    (one character once lower-cased, maybe two before) matches any run. A character class
    makes every name a candidate.
    """
    if "[" in glob:
        return "%"
    return "".join("%" if c in "*?" else "_" if c in "ik" else c for c in glob)


# --- reading the inventory -------------------------------------------------------------

# The queries below read most of the table. In row order that costs a third of what the
# planner's own choice for "kind = 'file'" costs: the partial size index, through which
# every row is then fetched again by its id.
_FILES = "files NOT INDEXED"
_HASHES = (BLAKE3, SHA256, MD5, QUICKXOR)  # a group's proof is the first of these its head has
_ITEM_COLUMNS = (
    "id, provider, account, item_id, path, path_raw, storage_bytes, version_bytes, modified, "
    "accessed"
)


def _decoded(path: str, raw: bytes | None) -> str:
    """A path as the inventory's records give it: from its bytes when they are not UTF-8."""
    return path if raw is None else os.fsdecode(raw)


@dataclass(slots=True)
class _Item:
    """What a listed row shows (_ITEM_COLUMNS), decoded as the inventory's records are."""

    row: int
    provider: str
    account: str
    item_id: str
    path: str
    storage_bytes: int
    version_bytes: int
    modified: float | None
    accessed: float | None

    @classmethod
    def of(cls, columns: tuple[Any, ...]) -> _Item:
        row, provider, account, item_id, path, raw, storage, versions, modified, accessed = columns
        return cls(
            row,
            provider,
            account,
            _unkey(item_id),
            _decoded(path, raw),
            storage,
            versions,
            modified,
            accessed,
        )

    def finding(self, detail: str = "", storage: int | None = None) -> FileFinding:
        return FileFinding(
            self.provider,
            self.account,
            self.item_id,
            self.path,
            self.storage_bytes if storage is None else storage,
            self.modified,
            self.accessed,
            detail,
        )


def _by_ids(inventory: Inventory, columns: str, rows: list[int]) -> list[tuple[Any, ...]]:
    """``columns`` of the given rows, in row order, in one query however many they are."""
    if not rows:
        return []
    return inventory.db.execute(
        f"SELECT {columns} FROM files WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
        (json.dumps(rows),),
    ).fetchall()


def _columns(inventory: Inventory, columns: tuple[str, ...], where: str) -> tuple[list[Any], ...]:
    """Each of ``columns`` over the rows matching ``where``, as one list per column.

    SQLite hands each column over as one JSON array: a single crossing into Python, where one
    per row costs more than the rest of such a pass. For text and integers only (JSON would
    round floating-point values).
    """
    arrays = ", ".join(f"json_group_array({c})" for c in columns)
    texts = inventory.db.execute(f"SELECT {arrays} FROM {_FILES} WHERE {where}").fetchone()
    return tuple(json.loads(t) for t in texts)


# --- duplicates ----------------------------------------------------------------------


@dataclass(slots=True)
class _Member:
    """A file sharing a full-content hash with another: what grouping it needs."""

    row: int
    provider: str
    account: str
    item_id: str
    path: str
    name: str  # as stored: folder signatures are made of stored names
    parent_id: str | None
    size: int
    storage_bytes: int
    modified: float | None
    owner: str | None
    hardlink: bool
    links: int
    device: int | None
    inode: int | None
    hashes: tuple[tuple[int, str], ...]  # (index in _HASHES, value) of those it has, in order


_MEMBER_COLUMNS = (
    "id, provider, account, item_id, path, path_raw, name, parent_id, size, storage_bytes, "
    f"modified, owner, flags, links, device, inode, {', '.join(_HASHES)}"
)


def _member(columns: tuple[Any, ...]) -> _Member:
    row, provider, account, item_id, path, raw, name, parent, size, storage = columns[:10]
    modified, owner, flags, links, device, inode = columns[10:16]
    return _Member(
        row,
        provider,
        account,
        _unkey(item_id),
        _decoded(path, raw),
        name,
        parent,
        size,
        storage,
        modified,
        owner,
        HARDLINK in flags.split(","),
        links,
        device,
        inode,
        tuple(filter(itemgetter(1), enumerate(columns[16:]))),
    )


def _sharing_rows(inventory: Inventory) -> list[int]:
    """Rows whose full-content hash another row has too: the only ones a group can hold."""
    ids, *hashes = _columns(
        inventory,
        ("id", *_HASHES),
        f"{_LIVE_FILE} AND size > 0 AND {_without(*sorted(FREES_NOTHING), TRASHED)} "
        f"AND ({' OR '.join(f'{a} IS NOT NULL' for a in _HASHES)})",
    )
    rows: set[int] = set()
    for values in hashes:
        shared = {v for v, n in Counter(values).items() if v and n > 1}
        if shared:
            rows.update(row for row, v in zip(ids, values, strict=True) if v in shared)
    return sorted(rows)


def _duplicates(inventory: Inventory) -> tuple[list[DuplicateGroup], list[tuple[_Member, str]]]:
    """The duplicate groups, and each file in them with its group's id."""
    by_size: dict[int, list[_Member]] = defaultdict(list)
    for columns in _by_ids(inventory, _MEMBER_COLUMNS, _sharing_rows(inventory)):
        member = _member(columns)
        by_size[member.size].append(member)
    groups: list[DuplicateGroup] = []
    grouped: list[tuple[_Member, str]] = []
    for size, files in by_size.items():
        for members, proof in _match(files):
            copies = _copies(members)
            if len(copies) > 1:
                gid = hashlib.blake2b(proof.encode(), digest_size=8).hexdigest()
                groups.append(DuplicateGroup(gid, size, proof, copies))
                grouped.extend((m, gid) for m in members)
    # files[0] is the first copy's first path.
    groups.sort(key=lambda g: (-g.reclaimable_bytes, g.copies[0].paths[0]))
    return groups, grouped


def duplicate_groups(inventory: Inventory) -> list[DuplicateGroup]:
    """Groups of copies proven equal by a full-content hash, within one size."""
    return _duplicates(inventory)[0]


def _match(files: list[_Member]) -> list[tuple[list[_Member], str]]:
    """Union files of one size that share any full-content hash.

    Each group lists its files in their order, and groups come in the order of their first
    file; the proof is the first hash of that file.
    """
    if all(len(f.hashes) == 1 for f in files):
        # Most often each file has one hash: files with the same one are a group.
        same: dict[tuple[int, str], list[_Member]] = defaultdict(list)
        for f in files:
            same[f.hashes[0]].append(f)
        return [(g, _proof(g[0])) for g in same.values() if len(g) > 1]
    parent = list(range(len(files)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[tuple[int, str], int] = {}
    for i, f in enumerate(files):
        for hashed in f.hashes:
            j = first_seen.setdefault(hashed, i)
            if j != i:
                parent[find(i)] = find(j)
    members: dict[int, list[_Member]] = defaultdict(list)
    for i, f in enumerate(files):
        members[find(i)].append(f)
    return [(g, _proof(g[0])) for g in members.values() if len(g) > 1]


def _proof(head: _Member) -> str:
    k, value = head.hashes[0]
    return f"{_HASHES[k]}:{value}"


def _copies(files: list[_Member]) -> list[Copy]:
    by_copy: dict[tuple[Any, ...], list[_Member]] = {}
    for f in files:
        key = (
            (f.provider, f.device, f.inode)
            if f.inode is not None
            else (f.provider, f.account, f.item_id)
        )
        names = by_copy.get(key)
        if names is None:
            by_copy[key] = [f]
        else:
            names.append(f)
    copies = []
    for names in by_copy.values():
        if len(names) > 1:
            names.sort(key=_path)
        head = names[0]
        # Removing a hardlinked file frees nothing unless every one of its names goes.
        removable = not (head.hardlink and len(names) < head.links)
        copies.append(
            Copy(
                head.provider,
                head.account,
                [n.item_id for n in names],
                [n.path for n in names],
                head.storage_bytes,
                head.modified,
                head.owner,
                removable,
            )
        )
    copies.sort(key=_copy_order)
    return copies


def _path(f: _Member) -> str:
    return f.path


def _copy_order(c: Copy) -> tuple[float, str]:
    return (c.modified or 0, c.paths[0])


# --- folders -------------------------------------------------------------------------


@dataclass(slots=True)
class _Folder:
    item: _Item
    name: str  # as its record names it: from the path's bytes when they are not UTF-8
    parent_id: str | None
    unknown: bool  # it, or a folder below it, could not be read
    children: list[str] = field(default_factory=list)  # folder ids
    files: int = 0  # direct files (any kind but folders)
    storage: int = 0  # direct files' storage
    total_files: int = 0
    total_storage: int = 0
    signature_parts: list[str] = field(default_factory=list)
    unmatched: int = 0  # direct files with no duplicate elsewhere
    signature: str | None = None


def _fill_folders(
    inventory: Inventory,
    folders: dict[tuple[str, str, str], _Folder],
    grouped: list[tuple[_Member, str]],
    junk_below: Counter[tuple[str, str, str]],
) -> tuple[int, int]:
    """Direct files, their storage and signature parts, and the links of the folder tree.

    ``junk_below`` counts each folder's direct junk files that are in no duplicate group.
    Returns the count and storage of every present file, which the same pass sums.
    """
    files_total = storage_total = 0
    for parent, provider, account, files, storage, regular, regular_storage in inventory.db.execute(
        "SELECT parent_id, provider, account, count(*), sum(storage_bytes), sum(kind = 'file'), "
        f"sum(CASE WHEN kind = 'file' THEN storage_bytes ELSE 0 END) FROM {_FILES} "
        "WHERE gone_scan IS NULL AND kind != 'folder' GROUP BY parent_id, provider, account"
    ):
        files_total += regular
        storage_total += regular_storage
        key = (provider, account, parent)
        folder = folders.get(key) if parent is not None else None
        if folder is not None:
            folder.files, folder.storage = files, storage
            folder.unmatched = files - junk_below[key]
    for member, gid in grouped:
        folder = folders.get((member.provider, member.account, member.parent_id))  # type: ignore[arg-type]
        if folder is not None:
            folder.signature_parts.append(f"f\0{member.name}\0{gid}")
            folder.unmatched -= 1
    for key, folder in folders.items():
        parent = folder.parent_id
        if parent is not None and (key[0], key[1], parent) in folders and parent != key[2]:
            folders[(key[0], key[1], parent)].children.append(key[2])
    return files_total, storage_total


def _roll_up(folders: dict[tuple[str, str, str], _Folder]) -> None:
    """Totals and content signatures, children before parents."""
    order = sorted(folders, key=lambda k: folders[k].item.path.count("/"), reverse=True)
    for key in order:
        folder = folders[key]
        folder.total_files += folder.files
        folder.total_storage += folder.storage + folder.item.storage_bytes
        parts = list(folder.signature_parts)
        complete = folder.unmatched == 0 and not folder.unknown
        for child_id in folder.children:
            child = folders[(key[0], key[1], child_id)]
            folder.total_files += child.total_files
            folder.total_storage += child.total_storage
            folder.unknown = folder.unknown or child.unknown
            if child.total_files == 0 and not child.unknown:
                continue  # empty subfolders do not make content different
            if child.signature is None:
                complete = False
            else:
                parts.append(f"d\0{child.name}\0{child.signature}")
        if complete and parts and folder.total_files > 0:
            folder.signature = hashlib.blake2b(
                "\n".join(sorted(parts)).encode("utf-8", "surrogateescape"), digest_size=16
            ).hexdigest()


def duplicate_folders(
    folders: dict[tuple[str, str, str], _Folder],
) -> list[DuplicateFolder]:
    """Folder trees with identical content, reported at the top-most level only."""
    by_signature: dict[tuple[str, str], list[tuple[str, str, str]]] = defaultdict(list)
    for key, folder in folders.items():
        if folder.signature:
            by_signature[(key[0], folder.signature)].append(key)
    duplicated = {k for keys in by_signature.values() if len(keys) > 1 for k in keys}
    out = []
    for (provider, signature), keys in by_signature.items():
        if len(keys) < 2:
            continue
        # Skip when every folder's parent is itself a duplicated folder: the parent is the finding.
        if all((k[0], k[1], folders[k].parent_id) in duplicated for k in keys):
            continue
        members = sorted((folders[k] for k in keys), key=lambda d: d.item.path)
        out.append(
            DuplicateFolder(
                signature[:16],
                provider,
                [d.item.path for d in members],
                [d.total_files for d in members],
                [d.total_storage for d in members],
            )
        )
    out.sort(key=lambda g: -g.reclaimable_bytes)
    return out


def _empty_folders(folders: dict[tuple[str, str, str], _Folder]) -> list[FileFinding]:
    """Folders with no file anywhere below them, top-most only."""
    out = []
    for key, d in folders.items():
        parent = d.parent_id
        parent_folder = folders.get((key[0], key[1], parent)) if parent else None
        top_most = parent_folder is None or parent_folder.total_files > 0
        if d.total_files == 0 and not d.unknown and top_most and parent is not None:
            out.append(d.item.finding())
    out.sort(key=lambda x: x.path)
    return out


def _largest_folders(folders: dict[tuple[str, str, str], _Folder], top: int) -> list[FileFinding]:
    out: list[FileFinding] = []
    for d in sorted(folders.values(), key=lambda d: -d.total_storage):
        if len(out) >= top:
            break
        out.append(d.item.finding(f"{d.total_files} files", storage=d.total_storage))
    return out


# --- the rest ------------------------------------------------------------------------


def _meaningful_atime_devices() -> set[int]:
    """Devices whose filesystem records access times (not mounted noatime)."""
    devices: set[int] = set()
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return devices
    for line in lines:
        parts = line.split()
        if len(parts) < 4 or "noatime" in parts[3].split(","):
            continue
        try:
            devices.add(os.stat(parts[1].replace("\\040", " ")).st_dev)
        except OSError:
            continue
    return devices


def _name_key(name: str) -> str:
    """What of a name decides its type by extension: the last suffix, unless more is needed."""
    ext = os.path.splitext(name)[1]
    lowered = ext.lower()
    if ":" in name or lowered in mimetypes.encodings_map or lowered in mimetypes.suffix_map:
        return name  # URL-like names and .tar.gz style pairs: the whole name decides
    return ext


def _kinds(inventory: Inventory) -> dict[str, int]:
    """Storage bytes by kind of the present files outside a trash."""
    # Without a content type, a MIME type decides alone: those rows sum by MIME type, and
    # only the others bring their names (kind_of reads a name with the content type too).
    by_name = "(content_kind != '' OR coalesce(mime, '') = '')"
    content_kinds, mimes, names, raws, storage = _columns(
        inventory,
        (
            "content_kind",
            "mime",
            f"CASE WHEN {by_name} THEN name END",
            f"CASE WHEN {by_name} AND path_raw IS NOT NULL THEN hex(path_raw) END",
            "storage_bytes",
        ),
        f"{_LIVE_FILE} AND {_without(TRASHED)}",
    )
    sums: dict[tuple[str | None, str | None, str | None, str | None], int] = {}
    for key, nbytes in zip(
        zip(content_kinds, mimes, names, raws, strict=True), storage, strict=True
    ):
        sums[key] = sums.get(key, 0) + nbytes
    by_kind: dict[str, int] = {}
    cache: dict[tuple[str | None, str | None, str | None], str] = {}
    for (content_kind, mime, name, raw), nbytes in sums.items():
        if raw is not None:
            name = os.path.basename(os.fsdecode(bytes.fromhex(raw)))
        cache_key = (content_kind, mime, None if name is None else _name_key(name))
        what = cache.get(cache_key)
        if what is None:
            what = cache[cache_key] = kind_of(content_kind, mime, name or "")
        by_kind[what] = by_kind.get(what, 0) + nbytes
    return {k: by_kind.get(k, 0) for k in KINDS}


def _largest_files(inventory: Inventory, top: int) -> list[FileFinding]:
    # Equal storage in the order the size index gave before: by size, then row.
    rows = inventory.db.execute(
        f"SELECT {_ITEM_COLUMNS} FROM {_FILES} WHERE {_LIVE_FILE} "
        "ORDER BY storage_bytes DESC, size, id LIMIT ?",
        (top,),
    )
    return [_Item.of(r).finding() for r in rows]


def _empty_files(inventory: Inventory) -> list[FileFinding]:
    # Through the size index: the empty files are found without reading the others.
    rows = inventory.db.execute(
        f"SELECT {_ITEM_COLUMNS} FROM files WHERE {_LIVE_FILE} AND size = 0 "
        f"AND {_without(*sorted(FREES_NOTHING), NATIVE_DOC)} ORDER BY id"
    )
    return [_Item.of(r).finding() for r in rows]


# The first seven columns decide; the rest (from 7 on) are an _Item's.
_CANDIDATE_COLUMNS = (
    "kind, flags, name, content_kind, parent_id, device, path_raw IS NOT NULL, " + _ITEM_COLUMNS
)


def _candidates(
    inventory: Inventory, o: FindingOptions, cutoff: float
) -> Iterator[tuple[Any, ...]]:
    """Every folder, and every row a per-item finding may list or that may be a junk file.

    A superset: the tests in _survey decide. Most rows of a tree are in none of these findings
    and never leave SQLite.
    """
    junk = " OR ".join("name LIKE ?" for _ in JUNK_PATTERNS)
    return inventory.db.execute(
        f"SELECT {_CANDIDATE_COLUMNS} FROM {_FILES} WHERE gone_scan IS NULL AND ("
        f"kind = 'folder' OR {_with(TRASHED)} OR (kind = 'symlink' AND {_with(BROKEN_SYMLINK)}) "
        "OR (kind = 'file' AND (version_bytes > 0 OR storage_bytes >= ? OR modified < ? "
        f"OR content_kind != '')) OR path_raw IS NOT NULL OR {junk})",
        (o.oversized_bytes, cutoff, *(_like(p) for p in JUNK_PATTERNS)),
    )


_Row = tuple[Any, ...]  # a row of _CANDIDATE_COLUMNS


@dataclass(slots=True)
class _Candidates:
    """The candidate rows sorted out: each per-item finding's rows, as read, and the folders."""

    folders: dict[tuple[str, str, str], _Folder] = field(default_factory=dict)
    junk_below: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # see _fill_folders
    stale: list[_Row] = field(default_factory=list)
    oversized: list[_Row] = field(default_factory=list)
    junk: list[_Row] = field(default_factory=list)
    mismatched: list[tuple[_Row, str]] = field(default_factory=list)  # with the content type
    broken: list[_Row] = field(default_factory=list)
    trashed: list[_Row] = field(default_factory=list)
    versions: list[_Row] = field(default_factory=list)


def _sort_out(inventory: Inventory, o: FindingOptions, in_groups: set[int]) -> _Candidates:
    """The tests of every per-item finding, on the candidate rows (``in_groups``: the rows in
    duplicate groups, which are never junk below a folder)."""
    out = _Candidates()
    cutoff = o.now - o.stale_after_days * DAY
    atime_ok = _meaningful_atime_devices()
    for r in _candidates(inventory, o, cutoff):
        kind, flags, name, content_kind, parent, device, has_raw, row, provider, account = r[:10]
        storage, version_bytes, modified, accessed = r[13:]
        if kind == "folder":
            item = _Item.of(r[7:])
            record_name = os.path.basename(item.path) if has_raw else name
            out.folders[(provider, account, item.item_id)] = _Folder(
                item, record_name, parent, UNREADABLE in flags.split(",")
            )
        elif parent is not None and row not in in_groups and is_junk(name):
            out.junk_below[(provider, account, parent)] += 1
        in_trash = TRASHED in flags
        if in_trash:
            out.trashed.append(r)
        if kind == "symlink" and BROKEN_SYMLINK in flags:
            out.broken.append(r)
        if kind != "file":
            continue
        if version_bytes > 0:
            out.versions.append(r)
        if in_trash:
            continue
        if storage >= o.oversized_bytes:
            out.oversized.append(r)
        if (
            modified is not None
            and modified < cutoff
            and not any(f in flags for f in FREES_NOTHING)
            # Still read, though not modified, where the filesystem records reads.
            and not (
                (provider != "local" or device in atime_ok)
                and accessed is not None
                and accessed >= cutoff
            )
        ):
            out.stale.append(r)
        if has_raw:
            name = os.path.basename(_Item.of(r[7:]).path)
        if is_junk(name):
            out.junk.append(r)
        if content_kind and extension_mismatch(name, content_kind):
            out.mismatched.append((r, content_kind))
    return out


def _listed(rows: list[_Row], detail: str = "") -> list[FileFinding]:
    return [_Item.of(r[7:]).finding(detail) for r in rows]


def _survey(
    inventory: Inventory, o: FindingOptions
) -> tuple[Findings, dict[tuple[str, str, str], _Folder]]:
    """Every finding but what only the full listing shows (see find_totals), and the folders."""
    out = Findings(o)
    out.duplicates, grouped = _duplicates(inventory)
    c = _sort_out(inventory, o, {m.row for m, _ in grouped})
    folders = c.folders
    out.files_total, out.storage_total = _fill_folders(inventory, folders, grouped, c.junk_below)
    _roll_up(folders)
    out.duplicate_folders = duplicate_folders(folders)
    out.empty_folders = _empty_folders(folders)
    out.empty_files = _empty_files(inventory)
    # Details that cost a date conversion or a system call each are find()'s to fill in.
    out.stale = sorted(_listed(c.stale), key=lambda x: x.modified or 0)
    out.oversized = sorted(_listed(c.oversized), key=lambda x: -x.storage_bytes)
    out.junk = sorted(_listed(c.junk), key=lambda x: x.path)
    out.mismatched_extensions = sorted(
        (_Item.of(r[7:]).finding(f"content is {what}") for r, what in c.mismatched),
        key=lambda x: x.path,
    )
    out.broken_symlinks = _listed(c.broken)
    out.trash_billed = _listed(c.trashed, "in the trash, still counted against the quota")
    out.old_versions = sorted(
        (_Item.of(r[7:]).finding("older versions", storage=r[14]) for r in c.versions),
        key=lambda x: -x.storage_bytes,
    )
    return out, folders


def find_totals(inventory: Inventory, options: FindingOptions | None = None) -> Findings:
    """The findings a summary counts: every list whole, as find() gives it, for totals() and
    the potential; but no kinds, no largest files or folders, and no stale or broken-link
    details."""
    return _survey(inventory, options or FindingOptions())[0]


def find(inventory: Inventory, options: FindingOptions | None = None) -> Findings:
    """Compute every finding from the inventory."""
    o = options or FindingOptions()
    out, folders = _survey(inventory, o)
    for f in out.stale:
        f.detail = "not modified since " + (_iso(f.modified) or "?")[:10]
    for f in out.broken_symlinks:
        target = ""
        try:
            target = os.readlink(f.path) if f.provider == "local" else ""
        except OSError:
            pass
        f.detail = f"points to {target}" if target else ""
    out.kinds = _kinds(inventory)
    out.largest_files = _largest_files(inventory, o.top)
    out.largest_folders = _largest_folders(folders, o.top)
    return out
