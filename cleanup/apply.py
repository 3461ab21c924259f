"""Apply a plan: re-check every item, act through its provider, journal before and after.

For each entry: the item's fingerprint is read again (a changed item is skipped as stale),
the kept copy of a duplicate is checked to still hold the same content, then an ``intent``
line is made durable, the provider acts, and a ``done``, ``skipped`` or ``failed`` line
follows. A crash leaves at most one intent per run without its outcome; ``resume`` settles
it by looking at the item and finishes the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CleanupError, ItemGone, PlanError, PreconditionFailed
from .inventory import Inventory
from .journal import (
    DONE,
    FAILED,
    IN_PROGRESS,
    PURGED,
    SKIPPED,
    UNDONE,
    Journal,
    Run,
    find_run,
    runs_dir,
)
from .plan import (
    ACTING,
    REMOVING,
    Plan,
    check,
    destination_of,
    load,
    record_of,
    scanned_roots,
)
from .providers import ActionOutcome, Provider, ProviderOptions, ProviderRegistry, load_providers
from .records import BLAKE3, HASH_ALGORITHMS, FileRecord


@dataclass(slots=True)
class ApplyProgress:
    """Callbacks for the CLI's progress bar; all optional."""

    start: Callable[[int], None] = lambda total: None
    item: Callable[[dict[str, Any], str], None] = lambda entry, state: None


@dataclass(slots=True)
class ApplyResult:
    """What a run did, skipped and failed, in plan order."""

    run_id: str  # empty when there was nothing to do, and no run was made
    journal: Path | None
    done: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    failed: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    flagged: int = 0
    freed_bytes: int = 0
    pending_bytes: int = 0
    archived_bytes: int = 0

    @property
    def stale(self) -> list[tuple[dict[str, Any], str]]:
        return [(e, r) for e, r in self.skipped if r.startswith("stale")]


def plan_copy_path(journal_path: Path) -> Path:
    return journal_path.with_suffix(".plan.json")


def _journal_item(entry: dict[str, Any], record: FileRecord, location: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "provider": record.provider,
        "account": record.account,
        "item_id": record.item_id,
        "path": record.path,
        "storage_bytes": record.storage_bytes,
        "size": record.size,
        "owner": record.owner,
        "kind": record.kind,
        "location": location,
        "fingerprint": record.fingerprint,
    }
    for key in ("device", "inode"):
        if entry.get(key) is not None:
            item[key] = entry[key]
    if "root" in record.extra:
        item["root"] = record.extra["root"]
    return item


def _outcome(o: ActionOutcome) -> dict[str, Any]:
    return {
        "freed_bytes": o.freed_bytes,
        "pending_bytes": o.pending_bytes,
        "pending_until": o.pending_until,
        "archived_bytes": o.archived_bytes,
        "undo": o.undo,
    }


class _Runner:
    """One apply or resume of one run."""

    def __init__(
        self,
        plan: Plan,
        inventory: Inventory,
        journal: Journal,
        providers: dict[str, Provider],
        progress: ApplyProgress,
    ) -> None:
        self.plan = plan
        self.inventory = inventory
        self.journal = journal
        self.providers = providers
        self.progress = progress
        self.result = ApplyResult(journal.run_id, journal.path)
        self._kept_hashes: dict[tuple[str, str, str, str, str], str | None] = {}
        ids = inventory.latest_scan_ids()
        self.scan_id = max(ids) if ids else 0

    def provider(self, name: str) -> Provider:
        return self.providers[name]

    def _keep_problem(self, entry: dict[str, Any]) -> str | None:
        """Why the kept copy of a duplicate no longer vouches for this one, or None."""
        keep = entry.get("keep")
        if not keep:
            return None
        record = record_of(keep)
        provider = self.provider(record.provider)
        now = provider.fingerprint(record)
        if now is None:
            return f"kept copy gone: {record.path} no longer exists, so this copy stays"
        content_hash = getattr(provider, "content_hash", None)
        mine = entry.get("hashes") or {}
        kept = keep.get("hashes") or {}
        algo = next((a for a in (BLAKE3, *HASH_ALGORITHMS) if a in mine and a in kept), None)
        if content_hash is not None and (algo or kept):
            algo = algo or next(iter(kept))
            key = (record.provider, record.account, record.item_id, now, algo)
            if key not in self._kept_hashes:
                try:
                    self._kept_hashes[key] = content_hash(record, algo)
                except OSError as exc:
                    return f"kept copy unreadable: {record.path}: {exc.strerror}"
            expected = mine.get(algo) or kept.get(algo)
            if self._kept_hashes[key] != expected:
                return f"kept copy changed: {record.path} no longer has the same content"
            rehash = getattr(self.provider(entry["provider"]), "content_hash", None)
            if rehash is not None and algo in mine:
                # Rewritten in place with its size and mtime kept, a copy may no longer be one.
                try:
                    if rehash(record_of(entry), algo) != mine[algo]:
                        return "stale: its content changed since the plan was made"
                except OSError as exc:
                    return f"unreadable: {exc.strerror}"
            return None
        if now != record.fingerprint:
            return f"kept copy changed: {record.path} changed since planning"
        return None

    def _act(self, provider: Provider, entry: dict[str, Any], record: FileRecord) -> ActionOutcome:
        action = entry["action"]
        if action == "trash":
            return provider.trash(record)
        if action == "archive":
            return provider.archive(record, destination_of(entry) or "")
        if action == "delete":
            return provider.delete(record)
        if action == "trim_versions":
            return provider.trim_versions(
                record, entry.get("keep_versions") or 1, entry.get("versions_newer_than")
            )
        raise PlanError(f"Unknown action {action!r} in the plan; make a new plan.")

    def _line(self, event: str, entry: dict[str, Any], item: dict[str, Any], **fields: Any) -> None:
        destination = destination_of(entry)
        extra = {"destination": destination} if destination else {}
        self.journal.write(
            event, entry=entry["entry"], action=entry["action"], item=item, **extra, **fields
        )

    def _finish(self, entry: dict[str, Any], record: FileRecord, outcome: ActionOutcome) -> None:
        r = self.result
        r.done.append(entry)
        r.freed_bytes += outcome.freed_bytes
        r.pending_bytes += outcome.pending_bytes
        r.archived_bytes += outcome.archived_bytes
        if entry["action"] in REMOVING:
            # Findings stop listing what this run removed.
            self.inventory.mark_gone(
                record.provider, record.account, [record.item_id], self.scan_id
            )
        self.progress.item(entry, DONE)

    def _skip(self, entry: dict[str, Any], item: dict[str, Any], reason: str) -> None:
        self._line("skipped", entry, item, reason=reason)
        self.result.skipped.append((entry, reason))
        self.progress.item(entry, SKIPPED)

    def _fail(self, entry: dict[str, Any], item: dict[str, Any], reason: str) -> None:
        self._line("failed", entry, item, reason=reason)
        self.result.failed.append((entry, reason))
        self.progress.item(entry, FAILED)

    def run_entry(self, entry: dict[str, Any]) -> None:
        record = record_of(entry)
        provider = self.provider(record.provider)
        item = _journal_item(entry, record, provider.location)
        try:
            now = provider.fingerprint(record)
            if now is None:
                return self._skip(entry, item, "gone: no longer exists where it was planned")
            if now != record.fingerprint:
                return self._skip(entry, item, "stale: changed since the plan was made")
            problem = self._keep_problem(entry)
        except (CleanupError, OSError) as exc:
            return self._fail(entry, item, f"could not be re-checked: {exc}")
        if problem:
            return self._skip(entry, item, problem)
        self._line("intent", entry, item)
        try:
            outcome = self._act(provider, entry, record)
        except PreconditionFailed:
            return self._skip(entry, item, "stale: changed since the plan was made")
        except ItemGone:
            return self._skip(entry, item, "gone: no longer exists where it was planned")
        except (CleanupError, OSError) as exc:
            return self._fail(entry, item, str(exc) or type(exc).__name__)
        self._line("done", entry, item, outcome=_outcome(outcome))
        self._finish(entry, record, outcome)
        return None

    def settle_entry(self, entry: dict[str, Any]) -> None:
        """An intent without an outcome: find out what happened, then finish it."""
        record = record_of(entry)
        provider = self.provider(record.provider)
        item = _journal_item(entry, record, provider.location)
        settle = getattr(provider, "settle", None)
        try:
            if settle is not None:
                outcome = settle(record, entry["action"], destination_of(entry))
            else:
                now = provider.fingerprint(record)
                if now is not None and now != record.fingerprint:
                    return self._fail(entry, item, "interrupted, and the item has changed since")
                outcome = ActionOutcome() if now is None else None
        except (CleanupError, OSError) as exc:
            return self._fail(entry, item, f"interrupted, and could not be settled: {exc}")
        if outcome is None:
            return self.run_entry(entry)
        self._line("done", entry, item, outcome=_outcome(outcome), settled=True)
        self._finish(entry, record, outcome)
        return None


def _providers(
    plan: Plan, registry: ProviderRegistry, options: ProviderOptions | None
) -> dict[str, Provider]:
    names = {e["provider"] for e in plan.acting} | {
        e["keep"]["provider"] for e in plan.acting if e.get("keep")
    }
    return {name: registry.get(name)(options) for name in sorted(names)}


def preflight(plan: Plan, inventory: Inventory, providers: dict[str, Provider]) -> None:
    """Raise PlanError when an action cannot be carried out at all; nothing has changed yet."""
    roots_of: dict[str, list[str]] = {}
    seen: set[tuple[str, str, str]] = set()
    for entry in plan.acting:
        provider = providers[entry["provider"]]
        check_action = getattr(provider, "check_action", None)
        if check_action is None:
            continue
        record = record_of(entry)
        # One check per action, destination and folder is enough and keeps big plans fast.
        key = (entry["action"], str(destination_of(entry)), str(Path(record.path).parent))
        if key in seen:
            continue
        seen.add(key)
        roots = roots_of.setdefault(entry["provider"], scanned_roots(inventory, entry["provider"]))
        try:
            check_action(entry["action"], record, destination_of(entry), roots)
        except CleanupError as exc:
            raise PlanError(f"Nothing was done: {exc}") from exc


def _save_copy(plan: Plan, journal: Journal) -> Path:
    copy = plan_copy_path(journal.path)
    Plan(plan.body, plan.approvals).save(copy)
    return copy


def prepare(
    plan: Plan,
    inventory: Inventory,
    *,
    registry: ProviderRegistry | None = None,
    options: ProviderOptions | None = None,
    now: float | None = None,
) -> dict[str, Provider]:
    """Every check before acting (plan, inventory, approvals, trash, archive); raise PlanError."""
    check(plan, inventory, now)
    providers = _providers(plan, registry or load_providers(), options)
    preflight(plan, inventory, providers)
    return providers


def apply(
    plan: Plan,
    inventory: Inventory,
    *,
    registry: ProviderRegistry | None = None,
    options: ProviderOptions | None = None,
    progress: ApplyProgress | None = None,
    now: float | None = None,
) -> ApplyResult:
    """Check the plan, then act on every entry, journalling each action; return what happened.

    A plan that only flags items (or holds none) makes no run: the result's ``run_id`` is
    empty and nothing is journalled.
    """
    providers = prepare(plan, inventory, registry=registry, options=options, now=now)
    if not any(e["action"] in ACTING for e in plan.entries):
        return ApplyResult(run_id="", journal=None, flagged=len(plan.entries))
    directory = runs_dir(inventory.path)
    journal = Journal.create(
        directory,
        plan.sha256,
        str(plan.path.resolve()) if plan.path else "",
        inventory=str(Path(inventory.path).resolve()),
    )
    _save_copy(plan, journal)
    return _run(plan, inventory, journal, providers, progress or ApplyProgress(), None)


def _run(
    plan: Plan,
    inventory: Inventory,
    journal: Journal,
    providers: dict[str, Provider],
    progress: ApplyProgress,
    replayed: Run | None,
) -> ApplyResult:
    runner = _Runner(plan, inventory, journal, providers, progress)
    what = "resume" if replayed else "apply"
    with journal.session(what):
        entries = plan.entries
        runner.result.flagged = sum(1 for e in entries if e["action"] not in ACTING)
        acting = [e for e in entries if e["action"] in ACTING]
        progress.start(len(acting))
        for entry in acting:
            state = replayed.entries.get(entry["entry"]) if replayed else None
            if state is None:
                runner.run_entry(entry)
            elif state.state == IN_PROGRESS:
                runner.settle_entry(entry)
            else:
                _count_replayed(runner, entry, state.state, state.reason, state.outcome)
    return runner.result


def _count_replayed(
    runner: _Runner, entry: dict[str, Any], state: str, reason: str, outcome: dict[str, Any]
) -> None:
    r = runner.result
    if state in (DONE, UNDONE, PURGED):
        r.done.append(entry)
        if state == DONE and entry["action"] in REMOVING:
            record = record_of(entry)
            runner.inventory.mark_gone(
                record.provider, record.account, [record.item_id], runner.scan_id
            )
        r.freed_bytes += int(outcome.get("freed_bytes") or 0)
        r.pending_bytes += int(outcome.get("pending_bytes") or 0)
        r.archived_bytes += int(outcome.get("archived_bytes") or 0)
    elif state == SKIPPED:
        r.skipped.append((entry, reason))
    elif state == FAILED:
        r.failed.append((entry, reason))
    runner.progress.item(entry, state)


def load_run_plan(run: Run) -> Plan:
    """The plan a run applied: its copy beside the journal, else the file it was read from."""
    copy = plan_copy_path(run.path)
    plan = load(copy) if copy.exists() else load(run.header.get("plan_path") or copy)
    if plan.sha256 != run.header.get("plan_hash"):
        raise PlanError(
            f"The plan for run {run.run_id} has changed since the run began (hash mismatch); "
            "it cannot be resumed. Undo it with `cleanup undo` instead."
        )
    return plan


def was_undone(run: Run) -> bool:
    return any(e.get("what") == "undo" for e in run.ends) or any(
        s.state == UNDONE for s in run.entries.values()
    )


def resume(
    inventory: Inventory,
    run_id: str = "last",
    *,
    registry: ProviderRegistry | None = None,
    options: ProviderOptions | None = None,
    progress: ApplyProgress | None = None,
) -> ApplyResult:
    """Finish an interrupted run: settle the intent left without an outcome, then do the rest."""
    run = find_run(runs_dir(inventory.path), run_id, inventory.path)
    if was_undone(run):
        raise PlanError(
            f"Run {run.run_id} was undone; it cannot be resumed. Make a new plan instead."
        )
    if run.status == "complete":
        raise PlanError(
            f"Run {run.run_id} is complete; there is nothing to resume. `cleanup runs` lists runs."
        )
    plan = load_run_plan(run)
    check(plan, inventory, resuming=True)
    providers = _providers(plan, registry or load_providers(), options)
    journal = Journal(run.path)
    journal.lock()
    return _run(plan, inventory, journal, providers, progress or ApplyProgress(), run)


def summary(result: ApplyResult) -> dict[str, Any]:
    """The run's outcome as plain data (the CLI's --format json)."""

    def brief(e: dict[str, Any]) -> dict[str, Any]:
        return {"entry": e["entry"], "path": e["path"], "action": e["action"]}

    return {
        "run": result.run_id or None,  # None: nothing to do, no run made
        "done": [brief(e) for e in result.done],
        "skipped": [{**brief(e), "reason": r} for e, r in result.skipped],
        "failed": [{**brief(e), "reason": r} for e, r in result.failed],
        "flagged": result.flagged,
        "freed_bytes": result.freed_bytes,
        "pending_bytes": result.pending_bytes,
        "archived_bytes": result.archived_bytes,
    }
