"""What a provider reports about one item, whatever the storage system."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["file", "folder", "symlink"]

# Flags a record may carry. Items with any of FREES_NOTHING never count as reclaimable.
SYMLINK = "symlink"
BROKEN_SYMLINK = "broken_symlink"
SHORTCUT = "shortcut"  # Drive shortcut, Windows .lnk is just a file
NATIVE_DOC = "native_doc"  # Google Docs/Sheets/Slides: no bytes, no checksum
TRASHED = "trashed"  # in the provider's trash or recycle bin, still billed
PLACEHOLDER = "placeholder"  # online-only file of a synced cloud folder: never read it
HARDLINK = "hardlink"  # one of several names of the same inode
NOT_OWNED = "not_owned"  # the signed-in account cannot trash or delete it
SHARED_EXTERNALLY = "shared_externally"
UNREADABLE = "unreadable"  # seen, but its content could not be read

FREES_NOTHING = frozenset({SYMLINK, BROKEN_SYMLINK, SHORTCUT, PLACEHOLDER})

# Hash algorithm names used across providers (values are lowercase hex, except quickxor: base64).
BLAKE3 = "blake3"
MD5 = "md5"
SHA1 = "sha1"
SHA256 = "sha256"
QUICKXOR = "quickxor"
HASH_ALGORITHMS = (BLAKE3, MD5, SHA1, SHA256, QUICKXOR)


@dataclass(slots=True)
class FileRecord:
    """One item as a provider saw it during a scan.

    `item_id` is stable for the provider and account (a path for local files, the
    service's id in the cloud). `storage_bytes` is what removing the item would really
    free: allocated blocks on disk, Drive's quotaBytesUsed, SharePoint size plus versions.
    `fingerprint` is compared at apply time; any change means the item is stale.
    """

    provider: str
    account: str
    item_id: str
    path: str
    name: str
    kind: Kind = "file"
    size: int = 0
    storage_bytes: int = 0
    modified: float | None = None
    created: float | None = None
    accessed: float | None = None
    owner: str | None = None
    mime: str | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    flags: frozenset[str] = frozenset()
    parent_id: str | None = None
    version_bytes: int = 0  # storage held by non-current versions / revisions kept forever
    device: int | None = None  # local only: st_dev, st_ino, st_nlink
    inode: int | None = None
    links: int = 1
    extra: dict[str, Any] = field(default_factory=dict)
    listing: int | None = None  # local folders: a checksum of their entries as last listed

    @property
    def reclaimable(self) -> bool:
        """Whether removing this item can free anything at all."""
        return self.kind == "file" and not (self.flags & FREES_NOTHING)


@dataclass(slots=True)
class Quota:
    """Storage quota of one account or drive, as the provider reports it."""

    provider: str
    account: str
    total: int | None  # None when unlimited
    used: int
    trash: int = 0  # bytes in the trash or recycle bin, still billed
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ScanProblem:
    """Something the scan could not read, with where it happened."""

    path: str
    message: str
