"""The inventory: every item every provider has seen, in one SQLite database.

Records are keyed by provider, account and item id. A scan that lists a unit (a folder
tree, a drive) completely marks what it did not see as gone; an incremental scan only
marks what the provider reports removed. Unchanged rows are not rewritten, so a rescan of
an unchanged tree writes almost nothing. A row keeps its content hashes while its
fingerprint (size, mtime_ns, inode) holds, and hashes are looked up by device, inode, size
and mtime_ns, gone rows included, so rescanning an unchanged tree hashes nothing.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import InventoryError
from .records import HASH_ALGORITHMS, FileRecord, Quota, ScanProblem

_MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE scans (
        id INTEGER PRIMARY KEY,
        started REAL NOT NULL,
        finished REAL,
        addresses TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'running',
        tool_version TEXT NOT NULL,
        added INTEGER NOT NULL DEFAULT 0,
        changed INTEGER NOT NULL DEFAULT 0,
        gone INTEGER NOT NULL DEFAULT 0,
        seen INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE units (
        provider TEXT NOT NULL,
        account TEXT NOT NULL,
        root TEXT NOT NULL,
        cursor TEXT,
        last_scan INTEGER,
        complete INTEGER NOT NULL DEFAULT 0,
        incremental INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (provider, account, root)
    );
    CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        provider TEXT NOT NULL,
        account TEXT NOT NULL,
        item_id TEXT NOT NULL,
        path TEXT NOT NULL,
        path_raw BLOB,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        storage_bytes INTEGER NOT NULL DEFAULT 0,
        version_bytes INTEGER NOT NULL DEFAULT 0,
        modified REAL,
        created REAL,
        accessed REAL,
        owner TEXT,
        mime TEXT,
        fingerprint TEXT NOT NULL DEFAULT '',
        flags TEXT NOT NULL DEFAULT '',
        parent_id TEXT,
        device INTEGER,
        inode INTEGER,
        links INTEGER NOT NULL DEFAULT 1,
        blake3 TEXT, md5 TEXT, sha1 TEXT, sha256 TEXT, quickxor TEXT,
        content_kind TEXT,
        extra TEXT,
        signature INTEGER NOT NULL DEFAULT 0,
        first_scan INTEGER NOT NULL,
        last_scan INTEGER NOT NULL,
        gone_scan INTEGER,
        UNIQUE (provider, account, item_id)
    );
    CREATE INDEX files_by_size ON files (size) WHERE gone_scan IS NULL AND kind = 'file';
    CREATE INDEX files_by_path ON files (provider, account, path);
    CREATE TABLE hash_cache (
        device INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        algo TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (device, inode, size, mtime_ns, algo)
    ) WITHOUT ROWID;
    CREATE TABLE problems (
        scan INTEGER NOT NULL,
        provider TEXT NOT NULL,
        account TEXT NOT NULL,
        path TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE TABLE quotas (
        scan INTEGER NOT NULL,
        provider TEXT NOT NULL,
        account TEXT NOT NULL,
        total INTEGER,
        used INTEGER NOT NULL,
        trash INTEGER NOT NULL DEFAULT 0,
        extra TEXT,
        at REAL NOT NULL
    );
    """,
    # 2: a generation counter, bumped by every write to files, and results remembered per generation
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO meta VALUES ('generation', 0), ('hashed_generation', -1);
    CREATE TABLE remembered (
        key TEXT PRIMARY KEY,
        generation INTEGER NOT NULL,
        body TEXT NOT NULL
    );
    """,
    # 3: whole-content hashes are found in the files table (gone rows too); the cache keeps edges
    """
    DELETE FROM hash_cache WHERE algo IN ('blake3', 'md5', 'sha1', 'sha256', 'quickxor');
    """,
    # 4: a checksum of each local folder's entries, so that a rescan skips unchanged folders;
    # the path index goes (no query needs it, and every first scan paid for it per row)
    """
    ALTER TABLE files ADD COLUMN listing INTEGER;
    DROP INDEX files_by_path;
    """,
    # 5: a rescan reads the folders' checksums through an index of the few rows that have one
    """
    CREATE INDEX files_listed ON files (provider, account) WHERE listing IS NOT NULL;
    """,
]

SCHEMA_VERSION = len(_MIGRATIONS)

_FILE_COLUMNS = (
    "provider, account, item_id, path, path_raw, name, kind, size, storage_bytes, version_bytes, "
    "modified, created, accessed, owner, mime, fingerprint, flags, parent_id, device, inode, links, "
    "blake3, md5, sha1, sha256, quickxor, extra, signature"
)
# A row rewritten for another reason (owner, links, flags) keeps the hashes it had
# while its fingerprint says the content is the same, so the file is not read again.
_KEEP_HASH = (
    "CASE WHEN excluded.{c} IS NULL AND files.fingerprint != '' "
    "AND files.fingerprint = excluded.fingerprint AND files.device IS excluded.device "
    "THEN files.{c} ELSE excluded.{c} END"
)
_FILE_UPDATES = ", ".join(
    f"{c} = {_KEEP_HASH.format(c=c) if c in HASH_ALGORITHMS else f'excluded.{c}'}"
    for c in (c.strip() for c in _FILE_COLUMNS.split(","))
    if c not in ("provider", "account", "item_id")
)


# What most local files' rows hold: binding the other columns' empty values costs a third
# of the time SQLite takes to insert a row, and on conflict ``excluded`` gives their defaults.
_PLAIN_COLUMNS = (
    "provider, account, item_id, path, name, kind, size, storage_bytes, modified, accessed, "
    "owner, mime, fingerprint, flags, parent_id, device, inode, links, signature"
)


@functools.cache
def _upsert(columns: str) -> str:
    marks = ", ".join("?" * (columns.count(",") + 3))
    return (
        f"INSERT INTO files ({columns}, first_scan, last_scan) VALUES ({marks}) "
        f"ON CONFLICT (provider, account, item_id) DO UPDATE SET {_FILE_UPDATES}, "
        "last_scan = excluded.last_scan, gone_scan = NULL, content_kind = NULL"
    )


def default_path() -> Path:
    """The inventory's default location: the platform's per-user data directory."""
    from platformdirs import user_data_path

    return user_data_path("cleanup", appauthor=False) / "inventory.sqlite"


def to_text(value: str) -> tuple[str, bytes | None]:
    """A str that SQLite can store, plus the raw bytes when the name is not valid UTF-8."""
    if value.isascii():  # most names: a flag of the string, no encoding
        return value, None
    try:
        value.encode("utf-8")
        return value, None
    except UnicodeEncodeError:
        raw = os.fsencode(value)
        return raw.decode("utf-8", "backslashreplace"), raw


def _key(item_id: str) -> str:
    if item_id.isascii():
        return item_id
    text, raw = to_text(item_id)
    return text if raw is None else "raw:" + raw.hex()


def _unkey(key: str) -> str:
    return os.fsdecode(bytes.fromhex(key[4:])) if key.startswith("raw:") else key


def _signature(r: FileRecord) -> int:
    """A checksum of everything stored about a record: equal means nothing to write."""
    flags = ",".join(sorted(r.flags)) if r.flags else ""
    hashes = repr(sorted(r.hashes.items())) if r.hashes else ""
    text = (
        f"{r.fingerprint}\0{r.size}\0{r.storage_bytes}\0{r.version_bytes}\0{r.links}\0{flags}"
        f"\0{r.owner}\0{r.path}\0{r.modified}\0{hashes}"
    )
    return zlib.crc32(text.encode("utf-8", "surrogateescape"))


@dataclass(slots=True)
class StoredFile(FileRecord):
    """A record as the inventory holds it, with its row id and content kind."""

    row: int = 0
    content_kind: str | None = None
    gone: bool = False


@dataclass(slots=True)
class ScanSummary:
    """What one scan did to the inventory."""

    scan_id: int
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    gone: int = 0
    problems: list[ScanProblem] = field(default_factory=list)


class Inventory:
    """The SQLite inventory. One connection, usable from several threads behind a lock."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA busy_timeout = 10000")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise InventoryError(
                f"Cannot open the inventory at {self.path}: {exc}. "
                "Choose another file with --db, or move this one aside and scan again."
            ) from exc
        except OSError as exc:
            raise InventoryError(
                f"Cannot create the inventory at {self.path}: {exc.strerror}. Choose a writable place with --db."
            ) from exc

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __enter__(self) -> Inventory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise InventoryError(
                f"The inventory at {self.path} was written by a newer cleanup (schema {version}); "
                "upgrade cleanup or use another --db."
            )
        for number in range(version, SCHEMA_VERSION):
            # executescript commits first, so the transaction lives inside the script.
            self.db.executescript(
                f"BEGIN IMMEDIATE; {_MIGRATIONS[number]}; PRAGMA user_version = {number + 1}; COMMIT;"
            )

    def transaction(self) -> _Transaction:
        """A write transaction: BEGIN IMMEDIATE, committed on success, rolled back on error."""
        return _Transaction(self)

    # --- scans -------------------------------------------------------------------------

    def begin_scan(self, addresses: Sequence[str]) -> int:
        """Record the start of a scan and return its id."""
        with self._lock:
            cur = self.db.execute(
                "INSERT INTO scans (started, addresses, tool_version) VALUES (?, ?, ?)",
                (time.time(), json.dumps(list(addresses)), __version__),
            )
            return int(cur.lastrowid or 0)

    def finish_scan(self, summary: ScanSummary, status: str) -> None:
        with self._lock:
            self.db.execute(
                "UPDATE scans SET finished = ?, status = ?, added = ?, changed = ?, gone = ?, seen = ? "
                "WHERE id = ?",
                (
                    time.time(),
                    status,
                    summary.added,
                    summary.changed,
                    summary.gone,
                    summary.added + summary.changed + summary.unchanged,
                    summary.scan_id,
                ),
            )

    def scans(self, limit: int = 20) -> list[dict[str, Any]]:
        """The most recent scans, newest first."""
        cur = self.db.execute("SELECT * FROM scans ORDER BY id DESC LIMIT ?", (limit,))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def latest_scan_ids(self) -> list[int]:
        """Ids of the scans that last touched each unit: what a plan is made from."""
        rows = self.db.execute(
            "SELECT DISTINCT last_scan FROM units WHERE last_scan IS NOT NULL ORDER BY 1"
        )
        return [r[0] for r in rows]

    def get_cursor(self, provider: str, account: str, root: str) -> str | None:
        row = self.db.execute(
            "SELECT cursor FROM units WHERE provider = ? AND account = ? AND root = ?",
            (provider, account, root),
        ).fetchone()
        return row[0] if row else None

    def save_cursor(
        self, provider: str, account: str, root: str, cursor: str, scan_id: int
    ) -> None:
        with self._lock:
            self.db.execute(
                "INSERT INTO units (provider, account, root, cursor, last_scan) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (provider, account, root) DO UPDATE SET cursor = excluded.cursor, "
                "last_scan = excluded.last_scan",
                (provider, account, root, cursor, scan_id),
            )

    def record_problem(
        self, scan_id: int, provider: str, account: str, problem: ScanProblem
    ) -> None:
        with self._lock:
            self.db.execute(
                "INSERT INTO problems VALUES (?, ?, ?, ?, ?)",
                (scan_id, provider, account, to_text(problem.path)[0], problem.message),
            )

    def record_quota(self, scan_id: int, quota: Quota) -> None:
        with self._lock:
            self.db.execute(
                "INSERT INTO quotas VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    scan_id,
                    quota.provider,
                    quota.account,
                    quota.total,
                    quota.used,
                    quota.trash,
                    json.dumps(quota.extra),
                    time.time(),
                ),
            )

    def quotas(self) -> list[Quota]:
        """The latest quota reading of each account."""
        rows = self.db.execute(
            "SELECT provider, account, total, used, trash, extra FROM quotas q WHERE at = "
            "(SELECT MAX(at) FROM quotas WHERE provider = q.provider AND account = q.account)"
        )
        return [Quota(p, a, t, u, tr, json.loads(e or "{}")) for p, a, t, u, tr, e in rows]

    # --- files -------------------------------------------------------------------------

    def signature_of(self, provider: str, account: str, item_id: str) -> int | None:
        """The stored signature of a present item, or None when it is new or gone."""
        row = self.db.execute(
            "SELECT signature FROM files WHERE provider = ? AND account = ? AND item_id = ? "
            "AND gone_scan IS NULL",
            (provider, account, _key(item_id)),
        ).fetchone()
        return None if row is None else int(row[0])

    def known_signatures(
        self, provider: str, account: str, root: str
    ) -> dict[str, tuple[int, str | None]]:
        """item key -> (signature, parent id) of the present items under ``root`` ('' = all)."""
        sql, args = _under(
            "SELECT item_id, signature, parent_id FROM files WHERE provider = ? AND account = ? "
            "AND gone_scan IS NULL",
            [provider, account],
            root,
        )
        return {key: (sig, parent) for key, sig, parent in self.db.execute(sql, args)}

    def previous_listings(self, provider: str, account: str, root: str) -> dict[str, int]:
        """Folder path -> the checksum of its entries when last listed, for present folders under ``root``."""
        sql, args = _under(
            "SELECT path, path_raw, listing FROM files WHERE provider = ? AND account = ? "
            "AND kind = 'folder' AND listing IS NOT NULL AND gone_scan IS NULL",
            [provider, account],
            root,
        )
        return {
            os.fsdecode(raw) if raw is not None else path: listing
            for path, raw, listing in self.db.execute(sql, args)
        }

    def upsert(self, records: Iterable[FileRecord], scan_id: int) -> None:
        """Insert or update records seen by scan ``scan_id``."""
        rows = []
        plain_rows = []  # most local files: no raw name, versions, birth time, hashes or extra
        no_hashes = (None,) * len(HASH_ALGORITHMS)
        for r in records:
            path, path_raw = to_text(r.path)
            if r.item_id == r.path:  # local items: the id is the path, encoded once
                key = path if path_raw is None else "raw:" + path_raw.hex()
            else:
                key = _key(r.item_id)
            hashes = r.hashes
            flags = ",".join(sorted(r.flags)) if r.flags else ""
            if (
                path_raw is None
                and r.created is None
                and not (r.version_bytes or hashes or r.extra)
            ):
                # The same values as the row below, less the empty columns: one tuple
                # projected with itemgetter costs the first scan 10% more in this loop.
                plain_rows.append(
                    (
                        r.provider,
                        r.account,
                        key,
                        path,
                        to_text(r.name)[0],
                        r.kind,
                        r.size,
                        r.storage_bytes,
                        r.modified,
                        r.accessed,
                        r.owner,
                        r.mime,
                        r.fingerprint,
                        flags,
                        r.parent_id,
                        r.device,
                        r.inode,
                        r.links,
                        _signature(r),
                        scan_id,
                        scan_id,
                    )
                )
                continue
            rows.append(
                (
                    r.provider,
                    r.account,
                    key,
                    path,
                    path_raw,
                    to_text(r.name)[0],
                    r.kind,
                    r.size,
                    r.storage_bytes,
                    r.version_bytes,
                    r.modified,
                    r.created,
                    r.accessed,
                    r.owner,
                    r.mime,
                    r.fingerprint,
                    flags,
                    r.parent_id,
                    r.device,
                    r.inode,
                    r.links,
                    *(tuple(hashes.get(a) for a in HASH_ALGORITHMS) if hashes else no_hashes),
                    json.dumps(r.extra) if r.extra else None,
                    _signature(r),
                    scan_id,
                    scan_id,
                )
            )
        with self._lock:
            if plain_rows:
                self.db.executemany(_upsert(_PLAIN_COLUMNS), plain_rows)
            if rows:
                self.db.executemany(_upsert(_FILE_COLUMNS), rows)
            self._touch()

    def mark_gone(self, provider: str, account: str, item_ids: Iterable[str], scan_id: int) -> int:
        """Mark items as gone since ``scan_id``; return how many were present."""
        keys = [(scan_id, provider, account, _key(i)) for i in item_ids]
        with self._lock:
            # The folders that held them are listed again by the next scan, whatever their
            # entries' checksum says: the inventory no longer matches what was listed.
            self.db.executemany(
                "UPDATE files SET listing = NULL WHERE provider = ? AND account = ? AND item_id = "
                "(SELECT parent_id FROM files WHERE provider = ? AND account = ? AND item_id = ?) "
                "AND listing IS NOT NULL",
                [(p, a, p, a, k) for _, p, a, k in keys],
            )
            before = self.db.total_changes
            self.db.executemany(
                "UPDATE files SET gone_scan = ? WHERE provider = ? AND account = ? AND item_id = ? "
                "AND gone_scan IS NULL",
                keys,
            )
            changed = self.db.total_changes - before
            if changed:
                self._touch()
            return changed

    def set_listings(
        self, provider: str, account: str, listings: Iterable[tuple[str, int | None]]
    ) -> None:
        """Store (folder item id, checksum of its entries) pairs; None forgets a checksum.

        A checksum is stored only once the folder's entries are, and cleared before any of
        them is rewritten: an interrupted scan never leaves one that vouches for old rows.
        """
        rows = [(listing, provider, account, _key(item_id)) for item_id, listing in listings]
        with self._lock:
            self.db.executemany(
                "UPDATE files SET listing = ? WHERE provider = ? AND account = ? AND item_id = ?",
                rows,
            )

    def signature_keys_to_ids(self, keys: Iterable[str]) -> list[str]:
        return [_unkey(k) for k in keys]

    def set_hashes(self, values: Iterable[tuple[int, str, str]]) -> None:
        """Store (row, algorithm, value) content hashes computed locally."""
        by_algo: dict[str, list[tuple[str, int]]] = {}
        for row, algo, value in values:
            if algo not in HASH_ALGORITHMS:
                raise ValueError(f"unknown hash algorithm {algo}")
            by_algo.setdefault(algo, []).append((value, row))
        with self._lock, self.transaction():
            for algo, pairs in by_algo.items():
                pairs.sort(key=lambda p: p[1])  # in row order, pages are visited once each
                self.db.executemany(f"UPDATE files SET {algo} = ? WHERE id = ?", pairs)
            if by_algo:
                self._touch()

    def set_contents(
        self, provider: str, values: Iterable[tuple[str, str, str, str | None]]
    ) -> None:
        """Store (account, item id, BLAKE3, content kind or None) of local files, found by key."""
        rows = [
            (blake3, kind, provider, account, _key(item_id))
            for account, item_id, blake3, kind in values
        ]
        with self._lock, self.transaction():
            self.db.executemany(
                "UPDATE files SET blake3 = ?, content_kind = ? "
                "WHERE provider = ? AND account = ? AND item_id = ?",
                rows,
            )
            if rows:
                self._touch()

    def set_content_kinds(self, values: Iterable[tuple[int, str]]) -> None:
        rows = [(k, r) for r, k in values]
        with self._lock, self.transaction():
            self.db.executemany("UPDATE files SET content_kind = ? WHERE id = ?", rows)
            if rows:
                self._touch()

    # --- generations: what was computed from the files table stays valid until it changes ---

    def _touch(self) -> None:
        self.db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")

    def _meta(self, key: str) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    @property
    def generation(self) -> int:
        """A number that changes whenever the files table does."""
        return self._meta("generation")

    def hashing_is_current(self) -> bool:
        """Whether hashes and kinds were computed after the last change to the files."""
        return self._meta("hashed_generation") == self.generation

    def mark_hashing_current(self) -> None:
        with self._lock:
            self.db.execute(
                "UPDATE meta SET value = (SELECT value FROM meta WHERE key = 'generation') "
                "WHERE key = 'hashed_generation'"
            )

    def remember(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()``'s JSON-able result, reused until the files table changes."""
        generation = self.generation
        row = self.db.execute(
            "SELECT body FROM remembered WHERE key = ? AND generation = ?", (key, generation)
        ).fetchone()
        if row is not None:
            return json.loads(row[0])
        value = compute()
        with self._lock:
            self.db.execute(
                "INSERT OR REPLACE INTO remembered VALUES (?, ?, ?)",
                (key, generation, json.dumps(value)),
            )
        return value

    def cached_hashes(
        self, keys: Iterable[tuple[int, int, int, int]], algo: str
    ) -> dict[tuple[int, int, int, int], str]:
        """Known values of ``algo`` for (device, inode, size, mtime_ns) keys of local files."""
        wanted = list(keys)
        if not wanted:
            return {}
        if algo in HASH_ALGORITHMS:
            # The files table is the cache of whole-content hashes: a row keeps its hash while
            # its fingerprint holds, and a gone row (a file moved or renamed) still has it. One
            # pass over the local rows that have one, matched here by device and fingerprint
            # ("size:mtime_ns:inode", providers/local/walk.py): a join would need an index.
            by_fingerprint = {(d, f"{s}:{m}:{i}"): (d, i, s, m) for d, i, s, m in wanted}
            found: dict[tuple[int, int, int, int], str] = {}
            for device, fingerprint, value in self.db.execute(
                f"SELECT device, fingerprint, {algo} FROM files "
                f"WHERE provider = 'local' AND {algo} IS NOT NULL"
            ):
                key = by_fingerprint.get((device, fingerprint))
                if key is not None:
                    found[key] = value
            return found
        if self.db.execute("SELECT 1 FROM hash_cache LIMIT 1").fetchone() is None:
            return {}
        # One join in SQLite instead of one query per key: tens of thousands of keys per scan.
        with self._lock:
            self.db.execute(
                "CREATE TEMP TABLE IF NOT EXISTS wanted_hashes "
                "(device INTEGER, inode INTEGER, size INTEGER, mtime_ns INTEGER)"
            )
            self.db.execute("DELETE FROM wanted_hashes")
            self.db.executemany("INSERT INTO wanted_hashes VALUES (?, ?, ?, ?)", wanted)
            rows = self.db.execute(
                "SELECT h.device, h.inode, h.size, h.mtime_ns, h.value FROM wanted_hashes w CROSS "
                "JOIN hash_cache h ON h.device = w.device AND h.inode = w.inode AND h.size = w.size "
                "AND h.mtime_ns = w.mtime_ns AND h.algo = ?",
                (algo,),
            ).fetchall()
            self.db.execute("DELETE FROM wanted_hashes")
        return {(d, i, s, m): v for d, i, s, m, v in rows}

    def cache_hashes(self, entries: Iterable[tuple[tuple[int, int, int, int], str, str]]) -> None:
        """Remember ((device, inode, size, mtime_ns), algo, value) hashes."""
        rows = sorted((*key, algo, value) for key, algo, value in entries)  # in key order
        with self._lock, self.transaction():
            self.db.executemany("INSERT OR REPLACE INTO hash_cache VALUES (?, ?, ?, ?, ?, ?)", rows)

    def files(
        self, where: str = "", args: Sequence[Any] = (), include_gone: bool = False
    ) -> Iterator[StoredFile]:
        """Stored records matching an SQL condition on the files table."""
        clauses = [] if include_gone else ["gone_scan IS NULL"]
        if where:
            clauses.append(f"({where})")
        sql = "SELECT * FROM files"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        cur = self.db.execute(sql, tuple(args))
        names = [d[0] for d in cur.description]
        for row in cur:
            yield _stored(dict(zip(names, row, strict=True)))

    def get(self, provider: str, account: str, item_id: str) -> StoredFile | None:
        """One record by its key, gone or not."""
        found = list(
            self.files(
                "provider = ? AND account = ? AND item_id = ?",
                (provider, account, _key(item_id)),
                include_gone=True,
            )
        )
        return found[0] if found else None

    def count(self) -> int:
        return int(
            self.db.execute("SELECT COUNT(*) FROM files WHERE gone_scan IS NULL").fetchone()[0]
        )


def _under(sql: str, args: list[Any], root: str) -> tuple[str, list[Any]]:
    """``sql`` and ``args`` narrowed to the paths at or below ``root`` ('' = everything)."""
    if root:
        text = to_text(root)[0]
        sql += " AND (path = ? OR substr(path, 1, ?) = ?)"
        sep = "" if text.endswith("/") else "/"
        args = [*args, text, len(text) + len(sep), text + sep]
    return sql, args


def _stored(row: dict[str, Any]) -> StoredFile:
    path = os.fsdecode(row["path_raw"]) if row["path_raw"] is not None else row["path"]
    return StoredFile(
        provider=row["provider"],
        account=row["account"],
        item_id=_unkey(row["item_id"]),
        path=path,
        name=os.path.basename(path) if row["path_raw"] is not None else row["name"],
        kind=row["kind"],
        size=row["size"],
        storage_bytes=row["storage_bytes"],
        version_bytes=row["version_bytes"],
        modified=row["modified"],
        created=row["created"],
        accessed=row["accessed"],
        owner=row["owner"],
        mime=row["mime"],
        hashes={a: row[a] for a in HASH_ALGORITHMS if row[a]},
        fingerprint=row["fingerprint"],
        flags=frozenset(f for f in row["flags"].split(",") if f),
        parent_id=row["parent_id"],
        device=row["device"],
        inode=row["inode"],
        links=row["links"],
        extra=json.loads(row["extra"]) if row["extra"] else {},
        listing=row["listing"],
        row=row["id"],
        content_kind=row["content_kind"],
        gone=row["gone_scan"] is not None,
    )


class _Transaction:
    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.outer = False

    def __enter__(self) -> None:
        self.inventory._lock.acquire()
        db = self.inventory.db
        self.outer = not db.in_transaction
        if self.outer:
            db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        try:
            if self.outer:
                self.inventory.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.inventory._lock.release()
