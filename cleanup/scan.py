"""Scan: list what providers hold into the inventory, then hash what might be duplicated."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import forking, hashing_ahead
from .errors import CleanupError
from .hashing import EDGES, HashStats, hash_candidates
from .inventory import Inventory, ScanSummary, _key, _signature
from .kinds import detect_kinds
from .providers import Address, Provider, ProviderOptions, ProviderRegistry, load_providers
from .records import FileRecord, Quota, ScanProblem

_FLUSH_EVERY = 2000


@dataclass(slots=True)
class ScanProgress:
    """Callbacks the CLI turns into progress bars; all optional."""

    items: Callable[[int], None] = lambda n: None
    hashed_bytes: Callable[[int], None] = lambda n: None
    stage: Callable[[str], None] = lambda name: None


@dataclass(slots=True)
class ScanResult:
    """What a scan did: per-inventory counts, problems met, and hashing statistics."""

    summary: ScanSummary
    hashing: HashStats = field(default_factory=HashStats)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (address, error message)
    # (address, the address whose scan lists it): given twice, or a folder inside another
    within: list[tuple[str, str]] = field(default_factory=list)


class _Unit:
    __slots__ = (
        "account",
        "root",
        "prefix",
        "incremental",
        "known",
        "previous",
        "listings",
        "relisted",
        "vouched",
    )

    def __init__(self, account: str, root: str, incremental: bool) -> None:
        self.account = account
        self.root = root
        self.prefix = root.rstrip("/") + "/"  # what the paths below the root start with
        self.incremental = incremental
        # item key -> (signature, parent id) of what the inventory held: read when the first
        # record other than the root arrives (a rescan of an unchanged tree never reads it)
        self.known: dict[str, tuple[int, str | None]] | None = None
        self.previous: dict[str, int] = {}  # folder -> checksum of its entries when last listed
        self.listings: dict[str, int] = {}  # folder -> checksum of its entries now
        self.relisted: list[str] = []  # folders with a stored checksum, listed again since
        self.vouched: set[str] = set()  # folders whose entries are all as last listed


class InventorySink:
    """Receives a provider's records and writes only what changed since the last scan."""

    def __init__(
        self,
        inventory: Inventory,
        provider: str,
        summary: ScanSummary,
        progress: ScanProgress,
        ahead: hashing_ahead.HashingAhead | None = None,
    ) -> None:
        self.inventory = inventory
        self.ahead = ahead
        self.provider = provider
        self.summary = summary
        self._progress = progress
        self._lock = threading.Lock()
        self._units: dict[tuple[str, str], _Unit] = {}
        self._pending: list[FileRecord] = []

    def previous_cursor(self, account: str, root: str) -> str | None:
        return self.inventory.get_cursor(self.provider, account, root)

    def start_unit(self, account: str, root: str, incremental: bool) -> None:
        unit = _Unit(account, root, incremental)
        if not incremental:
            unit.previous = self.inventory.previous_listings(self.provider, account, root)
        with self._lock:
            self._units[(account, root)] = unit

    def previous_listings(self, account: str, root: str) -> dict[str, int]:
        """Folder -> checksum of its entries as the last complete scan listed them."""
        unit = self._units.get((account, root))
        return unit.previous if unit else {}

    def unchanged(self, account: str, root: str, folder: str, entries: int) -> None:
        """The provider vouches that ``folder``'s entries are all as last listed."""
        with self._lock:
            unit = self._units[(account, root)]
            unit.vouched.add(folder)
            self.summary.unchanged += entries

    def _unit_for(self, record: FileRecord) -> _Unit | None:
        if len(self._units) == 1:  # the usual case, once per entry: no search
            (unit,) = self._units.values()
            path = record.path
            if unit.account == record.account and (
                not unit.root or path.startswith(unit.prefix) or path == unit.root
            ):
                return unit
            return None
        best: _Unit | None = None
        for unit in self._units.values():
            if unit.account != record.account:
                continue
            if unit.root and not (record.path.startswith(unit.prefix) or record.path == unit.root):
                continue
            if best is None or len(unit.root) > len(best.root):
                best = unit
        return best

    def add(self, record: FileRecord) -> None:
        with self._lock:
            unit = self._unit_for(record)
            if unit is not None and record.listing is not None:
                unit.listings[record.path] = record.listing
                if record.path in unit.previous:
                    unit.relisted.append(record.path)
            old: int | None
            if (
                unit is None
                or unit.incremental
                or (unit.known is None and record.path == unit.root)
            ):
                # A changes feed lists only what changed; ask the inventory what it held.
                old = self.inventory.signature_of(self.provider, record.account, record.item_id)
            else:
                if unit.known is None:
                    unit.known = self.inventory.known_signatures(
                        self.provider, unit.account, unit.root
                    )
                    unit.known.pop(_key(unit.root), None)  # compared on its own, first
                known = unit.known.pop(_key(record.item_id), None)
                old = None if known is None else known[0]
            if old is not None and old == _signature(record):
                self.summary.unchanged += 1
                return
            if old is None:
                self.summary.added += 1
            else:
                self.summary.changed += 1
            self._pending.append(record)
            if self.ahead is not None:
                self.ahead.offer(record)
            if len(self._pending) >= _FLUSH_EVERY:
                self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        with self.inventory.transaction():
            for unit in self._units.values():
                # A folder listed again loses its checksum before any of its entries is
                # rewritten; finish_unit stores the new one once they all are.
                if unit.relisted:
                    self.inventory.set_listings(
                        self.provider, unit.account, ((f, None) for f in unit.relisted)
                    )
                    unit.relisted = []
            self.inventory.upsert(self._pending, self.summary.scan_id)
        self._pending = []

    def remove(self, account: str, item_id: str) -> None:
        with self._lock:
            self._flush()
            self.summary.gone += self.inventory.mark_gone(
                self.provider, account, [item_id], self.summary.scan_id
            )

    def problem(self, problem: ScanProblem) -> None:
        with self._lock:
            self.summary.problems.append(problem)
        self.inventory.record_problem(self.summary.scan_id, self.provider, "", problem)

    def quota(self, quota: Quota) -> None:
        self.inventory.record_quota(self.summary.scan_id, quota)

    def save_cursor(self, account: str, root: str, cursor: str) -> None:
        with self._lock:
            self._flush()  # a cursor must never run ahead of the records it covers
        self.inventory.save_cursor(self.provider, account, root, cursor, self.summary.scan_id)

    def finish_unit(self, account: str, root: str, complete: bool) -> None:
        with self._lock:
            self._flush()
            unit = self._units.pop((account, root), None)
            if unit and complete and not unit.incremental:
                # Unseen items are gone, unless their folder's listing held: those were not
                # listed one by one.
                unseen = [
                    key
                    for key, (_, parent) in (unit.known or {}).items()
                    if parent not in unit.vouched
                ]
                ids = self.inventory.signature_keys_to_ids(unseen)
                self.summary.gone += self.inventory.mark_gone(
                    self.provider, account, ids, self.summary.scan_id
                )
                self.inventory.set_listings(self.provider, account, unit.listings.items())
            if complete and self.inventory.get_cursor(self.provider, account, root) is None:
                self.inventory.save_cursor(self.provider, account, root, "", self.summary.scan_id)
            elif complete:
                self.inventory.db.execute(
                    "UPDATE units SET last_scan = ? WHERE provider = ? AND account = ? AND root = ?",
                    (self.summary.scan_id, self.provider, account, root),
                )

    def progress(self, items: int = 0, nbytes: int = 0) -> None:
        if items:
            self._progress.items(items)

    def close(self) -> None:
        with self._lock:
            self._flush()


def scan(
    inventory: Inventory,
    addresses: Sequence[Address],
    options: ProviderOptions | None = None,
    progress: ScanProgress | None = None,
    registry: ProviderRegistry | None = None,
    hash_workers: int = 4,
    hash_ahead: bool = True,
) -> ScanResult:
    """Scan every address into the inventory, then hash duplicate candidates.

    An address whose provider fails is reported in ``failed`` and the others go on. With
    ``hash_ahead``, a first scan of local folders hashes in a second process while it lists
    (cleanup/hashing_ahead.py); the result is the same either way.
    """
    options = options or ProviderOptions()
    progress = progress or ScanProgress()
    registry = registry or load_providers()
    addresses, within = _each_once(addresses, options.cross_fs)
    summary = ScanSummary(inventory.begin_scan([str(a) for a in addresses]))
    result = ScanResult(summary, within=within)
    status = "failed"
    ahead = _hashing_ahead(inventory, addresses) if hash_ahead else None
    try:
        for address in addresses:
            provider_cls = registry.get(address.provider)
            provider: Provider = provider_cls(options)
            sink = InventorySink(
                inventory,
                address.provider,
                summary,
                progress,
                ahead if address.provider == "local" else None,
            )
            progress.stage(f"listing {address}")
            try:
                provider.scan(address.target, sink)
            except CleanupError as exc:
                if len(addresses) == 1:
                    raise
                result.failed.append((str(address), str(exc)))
            finally:
                sink.close()
        covered = False  # whether hashing ahead did all the hashing there was to do
        if ahead is not None:
            progress.stage("hashing")
            outcome, ahead = ahead.finish(), None
            if outcome is not None:
                _store(inventory, outcome)
                result.hashing = outcome.stats
                progress.hashed_bytes(outcome.stats.bytes_read)
                covered = all(a.provider == "local" for a in addresses)
        if not inventory.hashing_is_current():  # an unchanged inventory has nothing to hash
            if not covered:
                progress.stage("hashing")
                result.hashing = hash_candidates(inventory, progress.hashed_bytes, hash_workers)
            progress.stage("recognising file kinds")
            detect_kinds(inventory, duplicates=not covered)
            if not result.hashing.skipped and not options.cancel.is_set():
                inventory.mark_hashing_current()
        status = "interrupted" if options.cancel.is_set() else "complete"
    finally:
        if ahead is not None:
            ahead.close()
        inventory.finish_scan(summary, status)
    return result


def _each_once(
    addresses: Sequence[Address], cross_fs: bool
) -> tuple[list[Address], list[tuple[str, str]]]:
    """The addresses to scan, each listed once, and (address, where it is listed) for the rest.

    An address given twice is scanned once, and so is a local folder inside another folder
    given: the outer one's walk reaches it, unless it is on another filesystem (without
    ``cross_fs``) or behind a folder the walk cannot read. ``cleanup scan ~ ~/Documents``
    lists ~/Documents once.
    """
    kept: list[Address] = []
    within: list[tuple[str, str]] = []
    for address in addresses:
        outer = next((k for k in kept if _lists(k, address, cross_fs)), None)
        if outer is None:
            # A folder given after one inside it takes the inner one's place.
            inner = [k for k in kept if _lists(address, k, cross_fs)]
            within += [(str(k), str(address)) for k in inner]
            kept = [k for k in kept if k not in inner] + [address]
        else:
            within.append((str(address), str(outer)))
    return kept, within


def _lists(outer: Address, inner: Address, cross_fs: bool) -> bool:
    """Whether scanning ``outer`` lists everything scanning ``inner`` would."""
    if outer.provider != inner.provider:
        return False
    if outer.provider != "local":
        return outer.target == inner.target
    try:
        top = os.path.realpath(os.path.expanduser(outer.target))
        below = os.path.realpath(os.path.expanduser(inner.target))
        if top == below:
            return True
        if not os.path.isdir(top) or os.path.commonpath([top, below]) != top:
            return False
        # Every folder from the outer one down to the inner one: the walk stays on the outer
        # folder's filesystem and lists only folders it can read.
        device = os.stat(top).st_dev
        step = below if os.path.isdir(below) else os.path.dirname(below)
        while True:
            if not os.access(step, os.R_OK | os.X_OK):
                return False
            if not cross_fs and os.stat(step).st_dev != device:
                return False
            if step == top:
                return True
            step = os.path.dirname(step)
    except (OSError, ValueError):
        return False  # what is wrong with it, its own scan says


def _hashing_ahead(
    inventory: Inventory, addresses: Sequence[Address]
) -> hashing_ahead.HashingAhead | None:
    """A hashing process for a first scan of local folders, where one can run.

    Only into an inventory with nothing in it yet: every file it will hold is then listed by
    this scan, so the sizes seen while listing are all the sizes there are.
    """
    if not forking.available():
        return None
    if not any(a.provider == "local" for a in addresses):
        return None
    if inventory.db.execute("SELECT 1 FROM files WHERE gone_scan IS NULL LIMIT 1").fetchone():
        return None
    try:
        return hashing_ahead.HashingAhead()
    except OSError:  # no process to spare: hash after the listing
        return None


def _store(inventory: Inventory, outcome: hashing_ahead.Outcome) -> None:
    """Store what hashing ahead found where hash_candidates would have: the files table and the cache."""
    kinds = outcome.kinds
    with inventory.transaction():  # all or nothing: hashes without their edges would stay so
        inventory.cache_hashes((key, EDGES, digest) for key, digest in outcome.edges.items())
        inventory.set_contents(
            "local",
            (
                (account, item_id, digest, kinds.get(digest))
                for key, digest in outcome.full.items()
                for account, item_id in outcome.names[key]
            ),
        )
