"""The tally: what apply runs really freed, what is still pending, and what that is worth.

Reads the apply journals and the inventory. Each acted-on item ends in one state:

- freed: deleted, purged from a bin, old versions trimmed, or trashed into a bin whose
  retention has passed since;
- pending: in a trash or recycle bin, still billed, with the date the bin frees it;
- archived: moved elsewhere, not freed.

Undone, skipped and failed entries count nothing. The footprint counts freed bytes only;
pending bytes are valued separately, as what they will be worth once the bins empty.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from .errors import UsageError
from .footprint import (
    LOCAL,
    NOTHING,
    Estimate,
    Parameters,
    estimate,
    location_of,
    normalise_region,
)
from .inventory import Inventory
from .journal import DONE, PURGED, Run, find_run, iter_runs, runs_dir
from .kinds import kind_of, kind_of_name

DAY = 86400.0
FREEING_ACTIONS = ("trash", "delete", "trim_versions")


def item_identity(provider: str, account: str, item_id: str) -> str:
    """A stable, non-revealing identity for one item, the same in every report that holds it."""
    key = "\0".join((provider, account, item_id)).encode("utf-8", "surrogateescape")
    return hashlib.blake2b(key, digest_size=12, person=b"cleanup-item").hexdigest()


@dataclass(slots=True)
class TalliedItem:
    """One acted-on item and the bytes it stands for."""

    id: str
    provider: str
    account: str
    item_id: str
    path: str
    owner: str | None
    location: str
    region: str
    kind: str  # documents, images, video, audio, archives, other
    action: str
    run: str
    done: float  # when the action happened
    freed_bytes: int = 0  # includes versions_bytes
    versions_bytes: int = 0
    pending_bytes: int = 0
    pending_until: float | None = None  # None with pending bytes: a bin nobody empties on its own
    archived_bytes: int = 0
    freed_at: float | None = None
    team: str | None = None
    stored_name: str | None = None
    # Opt-in backups: one more logical copy of the freed bytes, gone when the backup retention ends.
    backup_at: float | None = None
    backup_freed_bytes: int = 0
    backup_pending_bytes: int = 0  # the name the provider gave, which may hold a '/'

    @property
    def lag_days(self) -> float:
        """How long the freed bytes stayed billed after the action."""
        if self.freed_at is None:
            return 0.0
        return max(0.0, (self.freed_at - self.done) / DAY)

    @property
    def backup_lag_days(self) -> float:
        """How long the backup copy outlived the action."""
        return 0.0 if self.backup_at is None else max(0.0, (self.backup_at - self.done) / DAY)

    @property
    def name(self) -> str:
        return self.stored_name or os.path.basename(self.path.rstrip("/")) or self.path


@dataclass(slots=True)
class Bytes:
    """Bytes by state, and the footprint of the freed ones."""

    items: int = 0
    freed: int = 0
    versions: int = 0
    pending: int = 0
    archived: int = 0
    per_year: Estimate = NOTHING

    backup_freed: int = 0
    backup_pending: int = 0

    def add(self, item: TalliedItem, value: Estimate) -> None:
        self.items += 1
        self.freed += item.freed_bytes
        self.versions += item.versions_bytes
        self.pending += item.pending_bytes
        self.archived += item.archived_bytes
        self.backup_freed += item.backup_freed_bytes
        self.backup_pending += item.backup_pending_bytes
        self.per_year = self.per_year + value


@dataclass(slots=True)
class Tally:
    """Every counted item of the runs read, with the parameters that value them."""

    items: list[TalliedItem]
    runs: list[str]
    params: Parameters
    now: float
    damaged_lines: int = 0
    backup_retention_days: float | None = None

    def per_year(self) -> Estimate:
        """Freed bytes (and freed backup copies), a full year each: every year after the first."""
        return _sum(
            estimate(i.freed_bytes + i.backup_freed_bytes, i.location, self.params, i.region)
            for i in self.items
        )

    def first_year(self) -> Estimate:
        """Freed bytes in the year of the clean-up, less the days they stayed in a bin or backup."""
        return _sum(
            estimate(i.freed_bytes, i.location, self.params, i.region, lag_days=i.lag_days)
            + estimate(
                i.backup_freed_bytes, i.location, self.params, i.region, lag_days=i.backup_lag_days
            )
            for i in self.items
        )

    def pending_per_year(self) -> Estimate:
        """What the bytes still in bins or backups will be worth per year once they are freed."""
        return _sum(
            estimate(
                (i.pending_bytes if i.pending_until is not None else 0) + i.backup_pending_bytes,
                i.location,
                self.params,
                i.region,
            )
            for i in self.items
        )

    def totals(self) -> Bytes:
        return self.by(lambda i: "all").get("all", Bytes())

    def by(self, key: Callable[[TalliedItem], str]) -> dict[str, Bytes]:
        """Bytes and freed footprint grouped by ``key``, largest freed first."""
        groups: dict[str, Bytes] = {}
        for item in self.items:
            value = estimate(
                item.freed_bytes + item.backup_freed_bytes, item.location, self.params, item.region
            )
            groups.setdefault(key(item), Bytes()).add(item, value)
        return dict(sorted(groups.items(), key=lambda kv: (-kv[1].freed, kv[0])))


def _sum(values: Iterable[Estimate]) -> Estimate:
    total = NOTHING
    for v in values:
        total = total + v
    return total


# --- reading ---------------------------------------------------------------------------


def load_teams(path: str | Path) -> dict[str, str]:
    """Owner -> team from a CSV (owner,team) or TOML ([teams] owner = "team") file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"Cannot read the teams file {p}: {exc.strerror}.") from exc
    if p.suffix.lower() == ".toml":
        try:
            table = tomllib.loads(text).get("teams", {})
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"The teams file {p} is not valid TOML: {exc}.") from exc
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise UsageError(
                f'{p}: write one line per owner under [teams], e.g. "ana@org.example" = "Finance".'
            )
        return {k.lower(): v for k, v in table.items()}
    teams = {}
    for n, row in enumerate(csv.reader(text.splitlines()), 1):
        if (
            not row
            or row[0].startswith("#")
            or (n == 1 and [c.lower() for c in row[:2]] == ["owner", "team"])
        ):
            continue
        if len(row) < 2 or not row[1].strip():
            raise UsageError(f"{p}, line {n}: write owner,team (e.g. ana@org.example,Finance).")
        teams[row[0].strip().lower()] = row[1].strip()
    return teams


class Regions:
    """Where each account's (or item's) data lives, as the providers reported it."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._accounts: dict[tuple[str, str], str] | None = None

    @property
    def accounts(self) -> dict[tuple[str, str], str]:
        """(provider, account) -> region, read on first use: local bytes never ask for one."""
        if self._accounts is None:
            accounts: dict[tuple[str, str], str] = {}
            for q in self.inventory.quotas():
                if q.extra.get("region"):
                    accounts[(q.provider, q.account)] = str(q.extra["region"])
            rows = self.inventory.db.execute(
                "SELECT provider, account, json_extract(extra, '$.region') FROM files "
                "WHERE extra IS NOT NULL AND json_valid(extra) AND json_extract(extra, '$.region') IS NOT NULL "
                "GROUP BY provider, account"
            )
            for provider, account, region in rows:
                accounts.setdefault((provider, account), str(region))
            self._accounts = accounts
        return self._accounts

    def of(self, provider: str, account: str, extra: Mapping[str, Any] | None = None) -> str:
        """The normalised region code; EU when unknown."""
        region = (extra or {}).get("region") or self.accounts.get((provider, account))
        return normalise_region(region)


def _suffixes(name: str) -> str:
    """The last two extensions, lower case: '.tar.gz', '.docx'."""
    return "".join(PurePath(os.path.basename(name)).suffixes[-2:]).lower()


@functools.lru_cache(maxsize=4096)
def _kind_of_extension(extension: str) -> str:
    return kind_of_name("file" + extension)


def _describe(
    inventory: Inventory, item: Mapping[str, Any]
) -> tuple[str, str | None, dict[str, Any]]:
    """Kind of file, name and provider extras of a journal item, from the inventory when it knows it."""
    record = inventory.get(
        str(item.get("provider", "")), str(item.get("account", "")), str(item.get("item_id", ""))
    )
    if record is None:
        return _kind_of_extension(_suffixes(str(item.get("path", "")))), None, {}
    return kind_of(record.content_kind, record.mime, record.name), record.name, record.extra


def _event_times(path: Path) -> dict[tuple[int, str], float]:
    """(entry, 'done' | 'purged') -> when the bytes moved; (entry, 'pending') -> bytes the done line put in a bin.

    The replayed state merges a purge's outcome over the done one, so the bytes first sent
    to the bin are read here.
    """
    times: dict[tuple[int, str], float] = {}
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            if '"done"' not in line and '"purged"' not in line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec.get("event") in ("done", "purged") and "entry" in rec:
                times[(rec["entry"], rec["event"])] = float(rec.get("t", 0.0))
                if rec["event"] == "done":
                    pending = (rec.get("outcome") or {}).get("pending_bytes") or 0
                    times[(rec["entry"], "pending")] = float(pending)
    return times


def _retention_days(
    provider: str, location: str, params: Parameters, cache: dict[str, float | None]
) -> float | None:
    """Days the provider's bin keeps items: its declared retention, else the table's lag."""
    if provider not in cache:
        from .providers import load_providers

        declared: float | None = None
        cls = load_providers().providers.get(provider)
        if cls is not None and cls.trash_retention_days is not None:
            declared = float(cls.trash_retention_days)
        if declared is None and location != LOCAL:
            declared = params.lag_days(location)
        cache[provider] = declared
    return cache[provider]


def select_runs(inventory: Inventory, run_ids: Sequence[str] = ()) -> list[Run]:
    """The runs named (id, prefix or 'last'), or every run beside the inventory."""
    directory = runs_dir(inventory.path)
    if run_ids:
        return [find_run(directory, r, inventory.path) for r in run_ids]
    return list(iter_runs(directory, inventory.path))


def tally(
    inventory: Inventory,
    runs: Sequence[Run],
    params: Parameters,
    teams: Mapping[str, str] | None = None,
    now: float | None = None,
    backup_retention_days: float | None = None,
) -> Tally:
    """Count every acted-on item of ``runs``; a later run's outcome for the same item wins.

    With ``backup_retention_days``, each freed item also had one backup copy, freed that many
    days after the item itself.
    """
    now = time.time() if now is None else now
    regions = Regions(inventory)
    retention: dict[str, float | None] = {}
    found: dict[str, TalliedItem] = {}
    damaged = 0
    for run in sorted(runs, key=lambda r: r.started):
        damaged += run.damaged_lines
        times = _event_times(run.path)
        for entry in run.entries.values():
            if entry.state not in (DONE, PURGED):
                continue  # undone, skipped, failed or never finished: nothing happened
            item = _counted(
                entry.entry, entry.state, entry.action, entry.item, entry.outcome, run, times
            )
            if item is None:
                continue
            item.kind, item.stored_name, extra = _describe(inventory, entry.item)
            item.region = regions.of(item.provider, item.account, extra)
            if item.pending_bytes and item.pending_until is None:
                days = _retention_days(item.provider, item.location, params, retention)
                item.pending_until = None if days is None else item.done + days * DAY
            if item.pending_bytes and item.pending_until is not None and item.pending_until <= now:
                # The bin has freed it on its own since.
                item.freed_bytes += item.pending_bytes
                item.freed_at = item.pending_until
                item.pending_bytes = 0
                item.pending_until = None
            if backup_retention_days is not None and item.freed_bytes and item.freed_at is not None:
                item.backup_at = item.freed_at + backup_retention_days * DAY
                if item.backup_at <= now:
                    item.backup_freed_bytes = item.freed_bytes
                else:
                    item.backup_pending_bytes = item.freed_bytes
            if teams and item.owner:
                item.team = teams.get(item.owner.lower())
            found[item.id] = item
    return Tally(
        list(found.values()), [r.run_id for r in runs], params, now, damaged, backup_retention_days
    )


def _counted(
    entry: int,
    state: str,
    action: str,
    item: Mapping[str, Any],
    outcome: Mapping[str, Any],
    run: Run,
    times: Mapping[tuple[int, str], float],
) -> TalliedItem | None:
    provider = str(item.get("provider", ""))
    account = str(item.get("account", ""))
    item_id = str(item.get("item_id", ""))
    done = times.get((entry, "done"), run.started)
    counted = TalliedItem(
        id=item_identity(provider, account, item_id),
        provider=provider,
        account=account,
        item_id=item_id,
        path=str(item.get("path", "")),
        owner=item.get("owner") or None,
        location=location_of(provider, item.get("location")),
        region="EU",
        kind="other",
        action=action,
        run=run.run_id,
        done=done,
    )
    freed = int(outcome.get("freed_bytes") or 0)
    pending = int(outcome.get("pending_bytes") or 0)
    archived = int(outcome.get("archived_bytes") or 0)
    if state == PURGED:
        # Emptied from the bin: whatever was pending is freed, at the time of the purge.
        counted.freed_bytes = max(freed, pending, int(times.get((entry, "pending"), 0)))
        counted.freed_at = times.get((entry, "purged"), done)
    else:
        counted.freed_bytes = freed
        counted.freed_at = done if freed else None
        counted.pending_bytes = pending
        until = outcome.get("pending_until")
        counted.pending_until = float(until) if isinstance(until, int | float) else None
    counted.archived_bytes = archived
    if "version" in action:
        counted.versions_bytes = counted.freed_bytes
    if not (counted.freed_bytes or counted.pending_bytes or counted.archived_bytes):
        return None
    return counted


# --- potential -------------------------------------------------------------------------


@dataclass(slots=True)
class Potential:
    """What cleaning up a set of items would be worth, with the same model as the tally."""

    storage_bytes: int = 0
    by_location: dict[str, int] = field(default_factory=dict)
    per_year: Estimate = NOTHING
    first_year: Estimate = (
        NOTHING  # if it all goes to the bins, which free it after their retention
    )


def potential_of_items(items: Iterable[Any], inventory: Inventory, params: Parameters) -> Potential:
    """Value items or plan entries (provider, account, item_id, storage_bytes, action?), each once."""
    regions = Regions(inventory)
    seen: set[tuple[str, str, str]] = set()
    out = Potential()
    for it in items:
        get = it.get if isinstance(it, Mapping) else (lambda k, _it=it: getattr(_it, k, None))
        if get("action") not in (None, *FREEING_ACTIONS):
            continue  # kept, flagged or archived: frees nothing
        provider, account = str(get("provider") or ""), str(get("account") or "")
        key = (provider, account, str(get("item_id") or ""))
        if key in seen:
            continue
        seen.add(key)
        _add_potential(
            out, provider, account, int(get("storage_bytes") or 0), get("location"), regions, params
        )
    return out


def potential_of_findings(findings: Any, inventory: Inventory, params: Parameters) -> Potential:
    """Value everything a Findings holds as reclaimable, counting an item listed twice once."""
    regions = Regions(inventory)
    out = Potential()
    seen: set[tuple[str, str, str]] = set()

    def add(provider: str, account: str, item_id: str, nbytes: int) -> None:
        if (provider, account, item_id) in seen:
            return
        seen.add((provider, account, item_id))
        _add_potential(out, provider, account, nbytes, None, regions, params)

    for group in findings.duplicates:
        removable = [c for c in group.copies if c.removable]
        # The kept copy is the first of the largest, as DuplicateGroup.reclaimable_bytes counts.
        kept = (
            max(removable, key=lambda c: c.storage_bytes)
            if len(removable) == len(group.copies)
            else None
        )
        for copy in removable:
            if copy is not kept:
                add(copy.provider, copy.account, copy.item_ids[0], copy.storage_bytes)
    for name in ("stale", "oversized", "junk", "trash_billed"):
        for f in getattr(findings, name):
            add(f.provider, f.account, f.item_id, f.storage_bytes)
    for f in findings.old_versions:
        # An item counted whole already includes its versions in its storage bytes.
        if (f.provider, f.account, f.item_id) not in seen:
            add(f.provider, f.account, f.item_id + "\0versions", f.storage_bytes)
    return out


# A summary values thousands of items of a few providers: each provider's location is
# worked out once.
_location_of = functools.lru_cache(maxsize=256)(location_of)


def _add_potential(
    out: Potential,
    provider: str,
    account: str,
    nbytes: int,
    declared: Any,
    regions: Regions,
    params: Parameters,
) -> None:
    if nbytes <= 0:
        return
    location = _location_of(provider, declared if isinstance(declared, str) else None)
    out.storage_bytes += nbytes
    out.by_location[location] = out.by_location.get(location, 0) + nbytes
    if location == LOCAL:
        return  # local bytes are worth nothing in any region: adding nothing changes nothing
    region = regions.of(provider, account)
    out.per_year = out.per_year + estimate(nbytes, location, params, region)
    lag = params.lag_days(location)
    out.first_year = out.first_year + estimate(nbytes, location, params, region, lag_days=lag)


def describe_potential(p: Potential, lang: str = "en") -> str:
    """One sentence for a summary: what cleaning all of it up would be worth."""
    from .report_wording import label, sentence

    if not p.storage_bytes:
        return label("potential_none", lang)
    if not any(b for loc, b in p.by_location.items() if loc != LOCAL):
        return label("potential_local", lang)
    return sentence("potential", p.per_year.co2, lang)


def findings_potential_sentence(findings: Any, inventory: Inventory, lang: str = "en") -> str:
    """The potential line of the scan summary, with the shipped parameters."""
    from .footprint import load_parameters

    return describe_potential(potential_of_findings(findings, inventory, load_parameters()), lang)


def plan_potential_sentence(entries: Iterable[Any], inventory: Inventory, lang: str = "en") -> str:
    """The potential line of a plan summary: what its trash, delete and trim entries would be worth."""
    from .footprint import load_parameters

    return describe_potential(potential_of_items(entries, inventory, load_parameters()), lang)
