"""Hashing ahead: a second process hashes local files while the listing goes on.

A first scan spends as long listing a tree into the inventory as it does reading the files
that might be duplicates, and the two need different things: the listing is Python and
SQLite, the reading is system calls. So, on Linux, a forked process takes the reading:
as soon as the listing meets a second file of some size, both go to it, and every later
file of that size too. It applies the same stages as ``hashing.hash_candidates`` (whole
content up to ``SMALL``, first and last blocks above, whole content where those collide),
so that afterwards the inventory holds exactly what ``hash_candidates`` would have stored.

The process never touches the inventory (an SQLite connection must not cross a fork): it
receives (path, key) pairs through a pipe and sends back the digests when the listing ends.
If it fails, the scan falls back to hashing after the listing, as it does where fork is
not available.
"""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from . import forking
from .hashing import EDGES, SMALL, CacheKey, HashStats, mtime_ns_of, read_hash
from .kinds import HEAD, magic_available, recognise_buffer
from .reading import open_quietly
from .records import BLAKE3, PLACEHOLDER, FileRecord

_BATCH = 512  # files per message: one per file would cost more than some files take to read
_DONE = None


@dataclass(slots=True)
class Outcome:
    """What the hashing process found: whole-content and edge digests by file key."""

    full: dict[CacheKey, str] = field(default_factory=dict)
    edges: dict[CacheKey, str] = field(default_factory=dict)
    stats: HashStats = field(default_factory=HashStats)
    names: dict[CacheKey, list[tuple[str, str]]] = field(default_factory=dict)  # (account, id)
    kinds: dict[str, str] = field(default_factory=dict)  # duplicated content's digest -> MIME type


class HashingAhead:
    """The listing's side: offer each new local file; ``finish`` returns what was hashed."""

    def __init__(self) -> None:
        # size -> the first file of that size, held until a second one comes (then None)
        self._first: dict[int, _Held | None] = {}
        self._names: dict[CacheKey, list[tuple[str, str]]] = {}  # (account, item id)
        self._batch: list[tuple[str, CacheKey]] = []
        # libmagic is asked here first, so that a missing one is said once, by this process.
        self._worker = forking.Worker(functools.partial(_serve, recognise=magic_available()))
        self.broken = False

    def offer(self, record: FileRecord) -> None:
        """A file the listing just wrote: hashed when another file has its size."""
        # Called for every file of a first scan: most have a size of their own, and cost a
        # dictionary look-up; only names of hardlinked inodes need their key at once.
        size = record.size
        if (
            record.kind != "file"
            or size <= 0
            or record.inode is None
            or PLACEHOLDER in record.flags
        ):
            return
        held = _held(record)
        if record.links > 1:
            key = _key(held)
            names = self._names.get(key)
            if names is not None:  # another name of an inode already offered
                names.append((record.account, record.item_id))
                return
            self._names[key] = [(record.account, record.item_id)]
        first = self._first.get(size, _NONE)
        if first is _NONE:
            self._first[size] = held
            return
        if first is not None:
            self._first[size] = None
            self._queue(first)
        self._queue(held)

    def _queue(self, held: _Held) -> None:
        key = _key(held)
        path, account, item_id = held[0], held[1], held[2]
        self._names.setdefault(key, [(account, item_id)])
        self._batch.append((path, key))
        if len(self._batch) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._batch and not self.broken:
            try:
                self._worker.send(self._batch)
            except OSError:
                self.broken = True
        self._batch = []

    def finish(self) -> Outcome | None:
        """Wait for the hashing process; None if it failed (the caller hashes the usual way)."""
        self._flush()
        outcome: Outcome | None = None
        try:
            if not self.broken:
                self._worker.send(_DONE)
                full, edges, stats, kinds = self._worker.receive()
                outcome = Outcome(full, edges, stats, self._names, kinds)
        except (OSError, EOFError):
            outcome = None
        finally:
            self.close()
        return outcome

    def close(self) -> None:
        """Stop the hashing process (it exits when its pipe closes) and reap it."""
        self._worker.close()


# What is kept of a file until it is sent: path, account, item id, fingerprint, device, inode,
# size.
_Held = tuple[str, str, str, str, int, int, int]
_NONE: Any = object()


def _held(record: FileRecord) -> _Held:
    return (
        record.path,
        record.account,
        record.item_id,
        record.fingerprint,
        record.device or 0,
        record.inode or 0,
        record.size,
    )


def _key(held: _Held) -> CacheKey:
    """(device, inode, size, mtime_ns): how hashes are kept (cleanup/hashing.py)."""
    return (held[4], held[5], held[6], mtime_ns_of(held[3]))


def _serve(requests: Connection, replies: Connection, recognise: bool) -> None:
    """The hashing process: the same stages as hash_candidates, as files arrive.

    A content met a second time is a duplicate: its kind is recognised then, from its first
    bytes (cleanup/kinds.py), once for all its copies.
    """
    full: dict[CacheKey, str] = {}
    first_of: dict[str, CacheKey] = {}  # digest -> the first file that had it
    kinds: dict[str, str] = {}
    edges: dict[CacheKey, str] = {}
    stats = HashStats()
    # (size, edge digest) -> the files that have it, so that a match can be hashed whole
    by_edges: dict[tuple[int, str], list[tuple[str, CacheKey]]] = defaultdict(list)
    buffer = bytearray(1 << 20)

    def hash_one(path: str, key: CacheKey, algo: str) -> str | None:
        try:
            digest, read = read_hash(path, key, algo, buffer)
        except FileNotFoundError:
            stats.skipped.append((path, "vanished since it was scanned"))
            return None
        except OSError as exc:
            stats.skipped.append((path, exc.strerror or str(exc)))
            return None
        except ValueError as exc:  # changed since it was scanned
            stats.skipped.append((path, str(exc)))
            return None
        stats.bytes_read += read
        return digest

    def whole(path: str, key: CacheKey) -> None:
        digest = hash_one(path, key, BLAKE3)
        stats.full_hashed += 1
        if digest is None:
            return
        full[key] = digest
        if first_of.setdefault(digest, key) != key and recognise and digest not in kinds:
            mime = _recognise(path)
            if mime is not None:
                kinds[digest] = mime

    while (batch := requests.recv()) is not _DONE:
        for path, key in batch:
            stats.size_candidates += 1
            size = key[2]
            if size <= SMALL:
                whole(path, key)
                continue
            edge = hash_one(path, key, EDGES)
            stats.edge_hashed += 1
            if edge is None:
                continue
            edges[key] = edge
            same = by_edges[(size, edge)]
            same.append((path, key))
            if len(same) == 2:
                whole(*same[0])
            if len(same) >= 2:
                whole(path, key)
    replies.send((full, edges, stats, kinds))


def _recognise(path: str) -> str | None:
    try:
        fd = open_quietly(path)
        try:
            head = os.read(fd, HEAD)
        finally:
            os.close(fd)
    except OSError:
        return None
    return recognise_buffer(head)
