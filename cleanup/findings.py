"""Findings: what in the inventory is wasting space, and how much removing it would free.

Each finding kind is one function over the inventory. Nothing here changes anything.
Sizes are storage bytes (what removal frees), never apparent sizes.
"""

from __future__ import annotations

import fnmatch
import hashlib
import mimetypes
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .inventory import Inventory, StoredFile, _key, to_text
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
_NOT_FREEING = " AND ".join(f"instr(flags, '{f}') = 0" for f in sorted(FREES_NOTHING))


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


def _finding(f: StoredFile, detail: str = "", storage: int | None = None) -> FileFinding:
    return FileFinding(
        f.provider,
        f.account,
        f.item_id,
        f.path,
        f.storage_bytes if storage is None else storage,
        f.modified,
        f.accessed,
        detail,
    )


_JUNK = re.compile("|".join(fnmatch.translate(p) for p in JUNK_PATTERNS))


def is_junk(name: str) -> bool:
    """Office lock files, Thumbs.db, .DS_Store, temporary files and unfinished downloads."""
    return _JUNK.match(name.lower()) is not None


# --- duplicates ----------------------------------------------------------------------


def duplicate_groups(inventory: Inventory) -> list[DuplicateGroup]:
    """Groups of copies proven equal by a full-content hash, within one size."""
    algos = (BLAKE3, MD5, SHA256, QUICKXOR)
    hashed = inventory.db.execute(
        f"SELECT id, {', '.join(algos)} FROM files WHERE {_LIVE_FILE} AND size > 0 "
        f"AND {_NOT_FREEING} AND instr(flags, '{TRASHED}') = 0 "
        f"AND ({' OR '.join(f'{a} IS NOT NULL' for a in algos)})"
    ).fetchall()
    # Only rows sharing a hash value with another row can be in a group; the rest, most of
    # a tree, are never turned into records.
    seen: Counter[tuple[int, str]] = Counter(
        (i, v) for r in hashed for i, v in enumerate(r[1:]) if v
    )
    rows = sorted(r[0] for r in hashed if any(v and seen[(i, v)] > 1 for i, v in enumerate(r[1:])))
    by_size: dict[int, list[StoredFile]] = defaultdict(list)
    for f in _by_rows(inventory, rows):
        by_size[f.size].append(f)
    groups: list[DuplicateGroup] = []
    for size, files in by_size.items():
        for members, proof in _match(files):
            copies = _copies(members)
            if len(copies) > 1:
                gid = hashlib.blake2b(proof.encode(), digest_size=8).hexdigest()
                groups.append(DuplicateGroup(gid, size, proof, copies))
    groups.sort(key=lambda g: (-g.reclaimable_bytes, g.files[0]))
    return groups


def _match(files: list[StoredFile]) -> Iterable[tuple[list[StoredFile], str]]:
    """Union files of one size that share any full-content hash."""
    parent = list(range(len(files)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[tuple[str, str], int] = {}
    for i, f in enumerate(files):
        for algo in (BLAKE3, SHA256, MD5, QUICKXOR):
            value = f.hashes.get(algo)
            if not value:
                continue
            j = first_seen.setdefault((algo, value), i)
            if j != i:
                parent[find(i)] = find(j)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(files)):
        members[find(i)].append(i)
    for idx in members.values():
        if len(idx) < 2:
            continue
        head = files[idx[0]]
        algo = next(a for a in (BLAKE3, SHA256, MD5, QUICKXOR) if head.hashes.get(a))
        yield [files[i] for i in idx], f"{algo}:{head.hashes[algo]}"


def _copies(files: list[StoredFile]) -> list[Copy]:
    by_copy: dict[tuple[Any, ...], list[StoredFile]] = defaultdict(list)
    for f in files:
        key = (
            (f.provider, f.device, f.inode)
            if f.inode is not None
            else (f.provider, f.account, f.item_id)
        )
        by_copy[key].append(f)
    copies = []
    for names in by_copy.values():
        names.sort(key=lambda f: f.path)
        head = names[0]
        # Removing a hardlinked file frees nothing unless every one of its names goes.
        removable = not (HARDLINK in head.flags and len(names) < head.links)
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
    copies.sort(key=lambda c: (c.modified or 0, c.paths[0]))
    return copies


# --- folders -------------------------------------------------------------------------


@dataclass(slots=True)
class _Folder:
    record: StoredFile
    children: list[str] = field(default_factory=list)  # folder ids
    files: int = 0  # direct files (any kind but folders)
    storage: int = 0  # direct files' storage
    total_files: int = 0
    total_storage: int = 0
    signature_parts: list[str] = field(default_factory=list)
    unmatched: int = 0  # direct files with no duplicate elsewhere
    unknown: bool = False  # it, or a folder below it, could not be read
    signature: str | None = None


def _folders(
    inventory: Inventory, content_ids: dict[tuple[str, str, str], str]
) -> dict[tuple[str, str, str], _Folder]:
    folders = {
        (f.provider, f.account, f.item_id): _Folder(f, unknown=UNREADABLE in f.flags)
        for f in inventory.files("kind = 'folder'")
    }
    for prov, acct, parent, name, item_key, storage in inventory.db.execute(
        "SELECT provider, account, parent_id, name, item_id, storage_bytes FROM files "
        "WHERE gone_scan IS NULL AND kind != 'folder' AND parent_id IS NOT NULL"
    ):
        folder = folders.get((prov, acct, parent))
        if folder is None:
            continue
        folder.files += 1
        folder.storage += storage
        content = content_ids.get((prov, acct, item_key))
        if content is not None:
            folder.signature_parts.append(f"f\0{name}\0{content}")
        elif not is_junk(name):
            folder.unmatched += 1
    for key, folder in folders.items():
        parent = folder.record.parent_id
        if parent is not None and (key[0], key[1], parent) in folders and parent != key[2]:
            folders[(key[0], key[1], parent)].children.append(key[2])
    return folders


def _roll_up(folders: dict[tuple[str, str, str], _Folder]) -> None:
    """Totals and content signatures, children before parents."""
    order = sorted(folders, key=lambda k: folders[k].record.path.count("/"), reverse=True)
    for key in order:
        folder = folders[key]
        folder.total_files += folder.files
        folder.total_storage += folder.storage + folder.record.storage_bytes
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
                parts.append(f"d\0{child.record.name}\0{child.signature}")
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
        if all((k[0], k[1], folders[k].record.parent_id) in duplicated for k in keys):
            continue
        members = sorted((folders[k] for k in keys), key=lambda d: d.record.path)
        out.append(
            DuplicateFolder(
                signature[:16],
                provider,
                [d.record.path for d in members],
                [d.total_files for d in members],
                [d.total_storage for d in members],
            )
        )
    out.sort(key=lambda g: -g.reclaimable_bytes)
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


def _by_rows(inventory: Inventory, rows: list[int]) -> Iterator[StoredFile]:
    """Stored records by row id, in the order of ``rows``."""
    for start in range(0, len(rows), 500):
        part = rows[start : start + 500]
        found = {f.row: f for f in inventory.files(f"id IN ({','.join('?' * len(part))})", part)}
        yield from (found[r] for r in part if r in found)


def find(inventory: Inventory, options: FindingOptions | None = None) -> Findings:
    """Compute every finding from the inventory."""
    o = options or FindingOptions()
    out = Findings(o)
    out.duplicates = duplicate_groups(inventory)
    content_ids = {
        (c.provider, c.account, _key(item_id)): g.id
        for g in out.duplicates
        for c in g.copies
        for item_id in c.item_ids
    }
    folders = _folders(inventory, content_ids)
    _roll_up(folders)
    out.duplicate_folders = duplicate_folders(folders)

    cutoff = o.now - o.stale_after_days * DAY
    atime_ok = _meaningful_atime_devices()
    # One pass over every present item: rows stay tuples, and only the items a finding lists
    # become records.
    stale: list[int] = []
    oversized: list[int] = []
    junk: list[int] = []
    mismatched: dict[int, str] = {}
    broken: list[int] = []
    trashed: list[int] = []
    versions: list[int] = []
    kind_cache: dict[tuple[str | None, str | None, str], str] = {}
    files_total = storage_total = 0
    for (
        row,
        kind,
        flags,
        name,
        raw,
        content_kind,
        mime,
        storage,
        version_bytes,
        modified,
        accessed,
        provider,
        device,
    ) in inventory.db.execute(
        "SELECT id, kind, flags, name, path_raw, content_kind, mime, storage_bytes, version_bytes, "
        "modified, accessed, provider, device FROM files WHERE gone_scan IS NULL"
    ):
        in_trash = TRASHED in flags
        if in_trash:
            trashed.append(row)
        if kind == "symlink" and BROKEN_SYMLINK in flags:
            broken.append(row)
        if kind != "file":
            continue
        files_total += 1
        storage_total += storage
        if version_bytes > 0:
            versions.append(row)
        if in_trash:
            continue
        if storage >= o.oversized_bytes:
            oversized.append(row)
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
            stale.append(row)
        if raw is not None:
            name = os.path.basename(os.fsdecode(raw))
        if is_junk(name):
            junk.append(row)
        if content_kind and extension_mismatch(name, content_kind):
            mismatched[row] = content_kind
        cache_key = (content_kind, mime, "" if mime else _name_key(name))
        what = kind_cache.get(cache_key)
        if what is None:
            what = kind_cache[cache_key] = kind_of(content_kind, mime, name)
        out.kinds[what] = out.kinds.get(what, 0) + storage
    out.files_total, out.storage_total = files_total, storage_total
    out.kinds = {k: out.kinds.get(k, 0) for k in KINDS}

    for f in _by_rows(inventory, stale):
        out.stale.append(_finding(f, "not modified since " + (_iso(f.modified) or "?")[:10]))
    out.stale.sort(key=lambda x: x.modified or 0)
    out.oversized = [_finding(f) for f in _by_rows(inventory, oversized)]
    out.oversized.sort(key=lambda x: -x.storage_bytes)
    largest = inventory.db.execute(
        f"SELECT id FROM files WHERE {_LIVE_FILE} ORDER BY storage_bytes DESC LIMIT ?", (o.top,)
    ).fetchall()
    ids = [r[0] for r in largest]
    if ids:
        rows = {f.row: f for f in inventory.files(f"id IN ({','.join('?' * len(ids))})", ids)}
        out.largest_files = [_finding(rows[i]) for i in ids if i in rows]
    top_folders = sorted(folders.values(), key=lambda d: -d.total_storage)
    nested_in: set[str] = set()
    for d in top_folders:
        if len(out.largest_folders) >= o.top:
            break
        out.largest_folders.append(
            _finding(d.record, f"{d.total_files} files", storage=d.total_storage)
        )
        nested_in.add(d.record.path)

    for f in inventory.files(
        f"{_LIVE_FILE} AND size = 0 AND {_NOT_FREEING} AND instr(flags, '{NATIVE_DOC}') = 0"
    ):
        out.empty_files.append(_finding(f))
    for key, d in folders.items():
        parent = d.record.parent_id
        parent_folder = folders.get((key[0], key[1], parent)) if parent else None
        top_most = parent_folder is None or parent_folder.total_files > 0
        if d.total_files == 0 and not d.unknown and top_most and parent is not None:
            out.empty_folders.append(_finding(d.record))
    out.empty_folders.sort(key=lambda x: x.path)

    out.junk = [_finding(f) for f in _by_rows(inventory, junk)]
    out.junk.sort(key=lambda x: x.path)
    for f in _by_rows(inventory, list(mismatched)):
        out.mismatched_extensions.append(_finding(f, f"content is {mismatched[f.row]}"))
    out.mismatched_extensions.sort(key=lambda x: x.path)

    for f in _by_rows(inventory, broken):
        target = ""
        try:
            target = os.readlink(f.path) if f.provider == "local" else ""
        except OSError:
            pass
        out.broken_symlinks.append(_finding(f, f"points to {target}" if target else ""))
    for f in _by_rows(inventory, trashed):
        out.trash_billed.append(_finding(f, "in the trash, still counted against the quota"))
    for f in _by_rows(inventory, versions):
        out.old_versions.append(_finding(f, "older versions", storage=f.version_bytes))
    out.old_versions.sort(key=lambda x: -x.storage_bytes)
    return out
