"""Content hashes for local files, computed only where a duplicate is possible.

The stages each shrink the candidate set, as in fclones: files of a size no other file
has are never read; then the first and last 4 KiB; then the whole content with BLAKE3
(256 bits). A local file whose size matches a cloud file also gets the hash that cloud
gives for free (MD5 for Google Drive, QuickXorHash for SharePoint), so a local copy of a
cloud file is found without downloading anything. Every hash is kept with the file's
device, inode, size and mtime_ns (whole-content hashes in the files table, edges in the hash
cache), so an unchanged tree is never read twice.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import blake3

from .inventory import Inventory
from .reading import open_quietly
from .records import BLAKE3, MD5, PLACEHOLDER, QUICKXOR, SHA256

EDGE = 4096  # bytes read at each end of a file in the edge stage
SMALL = 64 * 1024  # at or below this size, hashing the whole file costs no more than its edges
CHUNK = 1 << 20
SHARE_FILES = 256  # files per task given to a hashing thread
SHARE_BYTES = 64 << 20  # or fewer, when they are large, so that progress keeps moving
EDGES = "edges"
_CLOUD_ALGORITHMS = (MD5, SHA256, QUICKXOR)

CacheKey = tuple[int, int, int, int]  # device, inode, size, mtime_ns


@dataclass(slots=True)
class HashStats:
    """How many files each stage looked at, for the summary and the benchmark."""

    size_candidates: int = 0
    edge_hashed: int = 0
    full_hashed: int = 0
    cloud_hashed: int = 0
    cache_hits: int = 0
    bytes_read: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


@dataclass(slots=True)
class _Candidate:
    rows: list[int]  # inventory rows of every name of this inode
    path: str
    key: CacheKey


def mtime_ns_of(fingerprint: str) -> int:
    """The mtime_ns of a local fingerprint "size:mtime_ns:inode" (-1 when malformed)."""
    try:
        return int(fingerprint.split(":")[1])
    except (IndexError, ValueError):
        return -1


class FileChanged(ValueError):
    """The file is no longer the one the scan saw."""


def read_hash(
    path: str, key: CacheKey, algo: str, buffer: bytearray | None = None
) -> tuple[str, int]:
    """Hash one file; raise FileChanged when it is not the file the scan saw.

    One fstat, after reading, tells both: another file (device, inode), or one written to
    before or while it was read (size, mtime).
    """
    fd = open_quietly(path)
    try:
        size = key[2]
        if size <= SMALL and algo != EDGES:
            # One read of the size the scan saw: the check below sees a file that grew meanwhile.
            data = os.read(fd, size)
            while len(data) < size and (more := os.read(fd, size - len(data))):
                data += more
            hasher = _new(algo)
            hasher.update(data)
            digest = hasher.b64digest() if algo == QUICKXOR else hasher.hexdigest()
            read = len(data)
        elif algo == EDGES:
            head = os.pread(fd, EDGE, 0)
            tail = os.pread(fd, EDGE, size - EDGE) if size > EDGE else b""
            digest = blake3.blake3(head + b"\0" + tail).hexdigest()
            read = len(head) + len(tail)
        else:
            # Reading into one reused buffer: a fresh CHUNK-sized bytes per small file costs
            # more than reading and hashing it.
            buf = buffer if buffer is not None else bytearray(CHUNK)
            view = memoryview(buf)
            hasher = _new(algo)
            read = 0
            while n := os.readv(fd, [buf]):
                hasher.update(view[:n])
                read += n
                if read > size:
                    raise FileChanged("changed since it was scanned")  # it grew: stop reading
                if n < len(buf) and read >= size:
                    break  # a short read at the size the scan saw is the end: no call to see EOF
            digest = hasher.b64digest() if algo == QUICKXOR else hasher.hexdigest()
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != key:
            raise FileChanged("changed since it was scanned")
        return digest, read
    finally:
        os.close(fd)


def _new(algo: str) -> Any:
    if algo == BLAKE3:
        return blake3.blake3(max_threads=1)
    if algo == MD5:
        return hashlib.md5(usedforsecurity=False)
    if algo == SHA256:
        return hashlib.sha256()
    if algo == QUICKXOR:
        from .quickxor import QuickXorHash

        return QuickXorHash()
    raise ValueError(algo)


def _shares(todo: list[_Candidate]) -> Iterator[list[_Candidate]]:
    """Batches of files for the workers: a task per small file costs more than reading it."""
    batch: list[_Candidate] = []
    nbytes = 0
    for c in todo:
        batch.append(c)
        nbytes += c.key[2]
        if len(batch) >= SHARE_FILES or nbytes >= SHARE_BYTES:
            yield batch
            batch, nbytes = [], 0
    if batch:
        yield batch


class _Hasher:
    def __init__(
        self, inventory: Inventory, stats: HashStats, progress: Callable[[int], None], workers: int
    ) -> None:
        self.inventory = inventory
        self.stats = stats
        self.progress = progress
        self.workers = workers

    def run(self, candidates: list[_Candidate], algo: str) -> dict[CacheKey, str]:
        """Hash candidates with ``algo`` (cache first); return key -> digest for those that succeeded."""
        cached = self.inventory.cached_hashes((c.key for c in candidates), algo)
        self.stats.cache_hits += len(cached)
        todo = [c for c in candidates if c.key not in cached]

        def one(c: _Candidate, buffer: bytearray) -> tuple[_Candidate, str | None, int, str]:
            try:
                digest, read = read_hash(c.path, c.key, algo, buffer)
                return c, digest, read, ""
            except FileChanged as exc:
                return c, None, 0, str(exc)
            except FileNotFoundError:
                return c, None, 0, "vanished since it was scanned"
            except OSError as exc:
                return c, None, 0, exc.strerror or str(exc)

        local = threading.local()

        def share(part: list[_Candidate]) -> list[tuple[_Candidate, str | None, int, str]]:
            buffer = getattr(local, "buffer", None)
            if buffer is None:
                buffer = local.buffer = bytearray(CHUNK)
            return [one(c, buffer) for c in part]

        fresh: list[tuple[CacheKey, str, str]] = []
        results = dict(cached)

        def take(done: list[tuple[_Candidate, str | None, int, str]]) -> None:
            for c, digest, read, why in done:
                self.stats.bytes_read += read
                self.progress(read)
                if digest is None:
                    self.stats.skipped.append((c.path, why))
                    continue
                results[c.key] = digest
                fresh.append((c.key, algo, digest))

        # Threads pay only for large files: for a small one, open, read and close cost more
        # than hashing, each of those calls hands the GIL over, and several threads end up
        # slower than one. Small files are read here while the threads read the large ones.
        small = [c for c in todo if c.key[2] <= SMALL]
        large = [c for c in todo if c.key[2] > SMALL]
        with ThreadPoolExecutor(max(1, self.workers)) as pool:
            parts = pool.map(share, _shares(large))
            for part in _shares(small):
                take(share(part))
            for done in parts:
                take(done)
        if algo == EDGES:
            # Whole-content hashes live in the files table (the caller stores them there, and
            # cached_hashes finds them again); edges have no column, so they go to the cache.
            self.inventory.cache_hashes(fresh)
        return results


def hash_candidates(
    inventory: Inventory,
    progress: Callable[[int], None] = lambda n: None,
    workers: int = 4,
) -> HashStats:
    """Compute the content hashes findings need for local files, and store them in the inventory."""
    stats = HashStats()
    hasher = _Hasher(inventory, stats, progress, workers)
    db = inventory.db
    # Sizes held by more than one name, from the size index alone; names of one inode and
    # placeholders are told apart below, per candidate.
    sizes = [
        r[0]
        for r in db.execute(
            "SELECT size FROM files WHERE gone_scan IS NULL AND kind = 'file' AND size > 0 "
            "GROUP BY size HAVING COUNT(*) > 1"
        )
    ]
    if not sizes:
        return stats
    db.execute("CREATE TEMP TABLE IF NOT EXISTS candidate_sizes (size INTEGER PRIMARY KEY)")
    db.execute("DELETE FROM candidate_sizes")
    db.executemany("INSERT INTO candidate_sizes VALUES (?)", ((s,) for s in sizes))
    cloud: dict[int, set[str]] = defaultdict(set)
    # Asked through the key index first: most inventories are local only, and the query below
    # would visit every candidate row to find that out.
    if db.execute(
        "SELECT 1 FROM files WHERE provider < 'local' OR provider > 'local' LIMIT 1"
    ).fetchone():
        for size, md5, sha256, qx in db.execute(
            "SELECT size, md5, sha256, quickxor FROM files WHERE gone_scan IS NULL AND kind = 'file' "
            "AND provider != 'local' AND size IN (SELECT size FROM candidate_sizes)"
        ):
            for algo, value in ((MD5, md5), (SHA256, sha256), (QUICKXOR, qx)):
                if value:
                    cloud[size].add(algo)
    # Only sizes with a local file not fully hashed yet (or a cloud file) need any work: on a
    # rescan of an unchanged tree that is a few files whose edges already told them apart.
    work = {
        r[0]
        for r in db.execute(
            "SELECT DISTINCT size FROM files WHERE gone_scan IS NULL AND kind = 'file' "
            "AND provider = 'local' AND blake3 IS NULL AND instr(flags, ?) = 0 "
            "AND size IN (SELECT size FROM candidate_sizes)",
            (PLACEHOLDER,),
        )
    }
    work.update(cloud)
    if not work:
        return stats
    db.execute("DELETE FROM candidate_sizes")
    db.executemany("INSERT INTO candidate_sizes VALUES (?)", ((s,) for s in work))
    local: dict[int, dict[CacheKey, _Candidate]] = defaultdict(dict)
    have_blake3: dict[CacheKey, str] = {}
    lacking_blake3: list[tuple[CacheKey, int]] = []  # a new or changed name of a known inode
    for row, path_text, path_raw, size, device, inode, fp, b3 in db.execute(
        "SELECT id, path, path_raw, size, device, inode, fingerprint, blake3 FROM files "
        "WHERE gone_scan IS NULL AND kind = 'file' AND provider = 'local' AND instr(flags, ?) = 0 "
        "AND size IN (SELECT size FROM candidate_sizes)",
        (PLACEHOLDER,),
    ):
        key = (device, inode, size, mtime_ns_of(fp))
        group = local[size]
        if b3:
            have_blake3[key] = b3
        else:
            lacking_blake3.append((key, row))
        if key in group:
            group[key].rows.append(row)
            continue
        path = os.fsdecode(path_raw) if path_raw is not None else path_text
        group[key] = _Candidate([row], path, key)
    stats.size_candidates = sum(len(g) for size, g in local.items() if len(g) > 1 or size in cloud)

    # Local against local: edges, then the whole content, only among inodes that still collide.
    updates: list[tuple[int, str, str]] = [
        (row, BLAKE3, have_blake3[key]) for key, row in lacking_blake3 if key in have_blake3
    ]
    need_full: list[_Candidate] = []
    edge_sizes: set[int] = set()
    for size, group in local.items():
        if len(group) < 2:
            continue
        for key, c in group.items():
            if key in have_blake3:
                continue
            if size <= SMALL:
                need_full.append(c)
            else:
                edge_sizes.add(size)
    if edge_sizes:
        # Every inode of such a size takes part, those already fully hashed too: a new copy
        # is compared with them by edges (from the cache), not with their full hash.
        need_edges = [c for size in edge_sizes for c in local[size].values()]
        edges = hasher.run(need_edges, EDGES)
        stats.edge_hashed = len(need_edges)
        by_edge: dict[tuple[int, str], list[_Candidate]] = defaultdict(list)
        for c in need_edges:
            value = edges.get(c.key)
            if value:
                by_edge[(c.key[2], value)].append(c)
        need_full += [
            c
            for same in by_edge.values()
            if len(same) > 1
            for c in same
            if c.key not in have_blake3
        ]
    if need_full:
        full = hasher.run(need_full, BLAKE3)
        stats.full_hashed = len(need_full)
        for c in need_full:
            if c.key in full:
                updates += [(row, BLAKE3, full[c.key]) for row in c.rows]

    # Local against cloud: the cloud's own algorithm, only for sizes a cloud file has.
    for size, algos in cloud.items():
        if MD5 in algos:
            algos.discard(SHA256)  # Drive gives both; one is enough to match
        for algo in sorted(algos):
            todo = [c for c in local.get(size, {}).values()]
            if not todo:
                continue
            found = hasher.run(todo, algo)
            stats.cloud_hashed += len(todo)
            for c in todo:
                if c.key in found:
                    updates += [(row, algo, found[c.key]) for row in c.rows]
    if updates:
        inventory.set_hashes(updates)
    return stats
