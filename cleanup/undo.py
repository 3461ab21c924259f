"""Undo a run (put back what it trashed or archived) and purge one (make its trash permanent).

Both replay the run's journal and append to it: ``undo-intent`` then ``undone`` or
``undo-failed``; ``purge-intent`` then ``purged`` (with ``freed_bytes``) or
``purge-failed``. Nothing is ever restored over a file that now exists at the original path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .apply import load_run_plan, was_undone
from .errors import CleanupError, PlanError, ProviderError
from .inventory import Inventory
from .journal import DONE, IN_PROGRESS, Journal, Run, find_run, iter_runs, runs_dir
from .plan import destination_of, record_of
from .providers import Provider, ProviderOptions, ProviderRegistry, load_providers
from .records import FileRecord

UNDOABLE = ("trash", "archive")


@dataclass(slots=True)
class UndoResult:
    """What an undo or purge did, item by item (paths as the journal holds them)."""

    run_id: str
    done: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    freed_bytes: int = 0


def _record(item: dict[str, Any]) -> FileRecord:
    path = str(item.get("path", ""))
    extra = {"root": item["root"]} if item.get("root") else {}
    return FileRecord(
        provider=item["provider"],
        account=item["account"],
        item_id=str(item.get("item_id", path)),
        path=path,
        name=os.path.basename(path),
        kind=item.get("kind", "file"),
        size=int(item.get("size") or 0),
        storage_bytes=int(item.get("storage_bytes") or 0),
        owner=item.get("owner"),
        fingerprint=str(item.get("fingerprint", "")),
        device=item.get("device"),
        inode=item.get("inode"),
        extra=extra,
    )


class _Providers:
    def __init__(self, registry: ProviderRegistry | None, options: ProviderOptions | None) -> None:
        self.registry = registry or load_providers()
        self.options = options
        self.cache: dict[str, Provider] = {}

    def __call__(self, name: str) -> Provider:
        if name not in self.cache:
            self.cache[name] = self.registry.get(name)(self.options)
        return self.cache[name]


def _settle_interrupted(run: Run, journal: Journal, providers: _Providers) -> None:
    """Record what an interrupted action did, so that undo can reverse it."""
    pending = [s for s in run.entries.values() if s.state == IN_PROGRESS]
    if not pending:
        return
    plan = load_run_plan(run)
    entries = {e["entry"]: e for e in plan.entries}
    for state in pending:
        entry = entries.get(state.entry)
        if entry is None:
            continue
        record = record_of(entry)
        provider = providers(record.provider)
        settle = getattr(provider, "settle", None)
        try:
            if settle is not None:
                outcome = settle(record, entry["action"], destination_of(entry))
            elif provider.fingerprint(record) is None:
                raise ProviderError(
                    f"{record.path} is gone, and {record.provider} cannot tell where the interrupted "
                    "action put it: look in its trash or recycle bin."
                )
            else:
                outcome = None
        except (CleanupError, OSError) as exc:
            journal.write(
                "failed", entry=state.entry, action=state.action, item=state.item, reason=str(exc)
            )
            state.state = "failed"
            continue
        if outcome is None:
            reason = "interrupted before acting; the run was undone"
            journal.write(
                "skipped", entry=state.entry, action=state.action, item=state.item, reason=reason
            )
            state.state = "skipped"
            continue
        fields: dict[str, Any] = {
            "freed_bytes": outcome.freed_bytes,
            "pending_bytes": outcome.pending_bytes,
            "pending_until": outcome.pending_until,
            "archived_bytes": outcome.archived_bytes,
            "undo": outcome.undo,
        }
        journal.write(
            "done",
            entry=state.entry,
            action=state.action,
            item=state.item,
            outcome=fields,
            settled=True,
        )
        state.state, state.outcome = DONE, fields


def _chosen(path: str, items: Sequence[str] | None) -> bool:
    if not items:
        return True
    for wanted in items:
        w = os.path.abspath(os.path.expanduser(wanted))
        if path in (wanted, w) or path.startswith(w.rstrip("/") + "/"):
            return True
    return False


def undo(
    inventory: Inventory,
    run_id: str,
    items: Sequence[str] | None = None,
    *,
    registry: ProviderRegistry | None = None,
    options: ProviderOptions | None = None,
    progress: Callable[[str, str], None] = lambda path, state: None,
) -> UndoResult:
    """Restore what a run trashed or archived (all, or the chosen paths and folders)."""
    run = find_run(runs_dir(inventory.path), run_id, inventory.path)
    providers = _Providers(registry, options)
    journal = Journal(run.path)
    journal.lock()
    result = UndoResult(run.run_id)
    ids = inventory.latest_scan_ids()
    scan_id = max(ids) if ids else 0
    with journal.session("undo"):
        _settle_interrupted(run, journal, providers)
        for state in sorted(run.entries.values(), key=lambda s: s.entry):
            path = str(state.item.get("path", ""))
            if state.state != DONE or not _chosen(path, items):
                continue
            if state.action not in UNDOABLE:
                if state.action == "delete":
                    result.skipped.append((path, "deleted permanently; cannot be undone"))
                continue
            record = _record(state.item)
            provider = providers(record.provider)
            undo_info = state.outcome.get("undo") or {}
            journal.write("undo-intent", entry=state.entry, item=state.item)
            try:
                if state.action == "trash":
                    provider.restore(record, undo_info)
                else:
                    provider.unarchive(record, undo_info)
            except (CleanupError, OSError) as exc:
                journal.write("undo-failed", entry=state.entry, item=state.item, reason=str(exc))
                result.failed.append((path, str(exc)))
                progress(path, "failed")
                continue
            journal.write("undone", entry=state.entry, item=state.item)
            result.done.append(path)
            _mark_present(inventory, provider, record, scan_id)
            progress(path, "undone")
    return result


def _mark_present(
    inventory: Inventory, provider: Provider, record: FileRecord, scan_id: int
) -> None:
    """The restored item is back in the inventory, with its fingerprint as it is now."""
    stored = inventory.get(record.provider, record.account, record.item_id)
    if stored is None:
        return
    now = provider.fingerprint(record)
    if now:
        stored.fingerprint = now
    inventory.upsert([stored], scan_id)


def purge(
    inventory: Inventory,
    run_id: str,
    *,
    registry: ProviderRegistry | None = None,
    options: ProviderOptions | None = None,
    progress: Callable[[str, str], None] = lambda path, state: None,
) -> UndoResult:
    """Make what a run moved to the trash permanent; return the bytes freed."""
    run = find_run(runs_dir(inventory.path), run_id, inventory.path)
    if run.status == "interrupted" and not was_undone(run):
        raise PlanError(
            f"Run {run.run_id} was interrupted; finish it with `cleanup apply --resume {run.run_id}` "
            "or undo it before purging."
        )
    providers = _Providers(registry, options)
    journal = Journal(run.path)
    journal.lock()
    result = UndoResult(run.run_id)
    with journal.session("purge"):
        for state in sorted(run.entries.values(), key=lambda s: s.entry):
            if state.state != DONE or state.action != "trash":
                continue
            path = str(state.item.get("path", ""))
            record = _record(state.item)
            provider = providers(record.provider)
            journal.write("purge-intent", entry=state.entry, item=state.item)
            try:
                outcome = provider.purge(record, state.outcome.get("undo") or {})
            except (CleanupError, OSError) as exc:
                journal.write("purge-failed", entry=state.entry, item=state.item, reason=str(exc))
                result.failed.append((path, str(exc)))
                progress(path, "failed")
                continue
            journal.write(
                "purged",
                entry=state.entry,
                item=state.item,
                outcome={"freed_bytes": outcome.freed_bytes, "pending_bytes": 0},
            )
            result.done.append(path)
            result.freed_bytes += outcome.freed_bytes
            progress(path, "purged")
    return result


def runs(inventory: Inventory) -> list[Run]:
    """Every run recorded beside this inventory, oldest first."""
    return list(iter_runs(runs_dir(inventory.path), inventory.path))


def run_path(inventory: Inventory, run_id: str) -> Path:
    return find_run(runs_dir(inventory.path), run_id, inventory.path).path
