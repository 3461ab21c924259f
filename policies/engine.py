"""Evaluation: from an inventory and its findings to one decision per item, safely.

Order matters and is fixed: protection first (nothing protected enters a decision), then
every policy proposes, then the least destructive proposal per item wins, then the safety
rules no policy can override downgrade what they must to a flag: items that free nothing,
items not owned, items younger than min_age, and any removal that would leave a duplicate
group without a copy.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cleanup.findings import DuplicateGroup, FindingOptions, Findings, find
from cleanup.inventory import Inventory, StoredFile
from cleanup.records import FREES_NOTHING, NOT_OWNED, TRASHED

from .actions import REMOVING, Archive, TrimVersions
from .conditions import DAY, Context
from .decisions import ACTIONS, Decision, Evaluation
from .keep_rules import Candidate, choose

if TYPE_CHECKING:
    from .language import Policy, Rule

Key = tuple[str, str, str]

# applies_to -> the Findings list that holds its items, and how a reason names them.
FINDING_LISTS = {
    "junk": ("junk", "junk file"),
    "empty_files": ("empty_files", "empty file"),
    "empty_folders": ("empty_folders", "empty folder"),
    "stale": ("stale", "stale file"),
    "oversized": ("oversized", "oversized file"),
    "old_versions": ("old_versions", "file with old versions"),
    "trash": ("trash_billed", "in the trash, still billed"),
}


def key_of(record: StoredFile) -> Key:
    return (record.provider, record.account, record.item_id)


def finding_lists(findings: Findings) -> dict[str, set[Key]]:
    """Keys of the items each finding kind lists, duplicates included (every name of every copy)."""
    lists = {
        name: {(f.provider, f.account, f.item_id) for f in getattr(findings, attr)}
        for name, (attr, _) in FINDING_LISTS.items()
    }
    lists["duplicates"] = {
        (c.provider, c.account, i)
        for g in findings.duplicates
        for c in g.copies
        for i in c.item_ids
    }
    return lists


@dataclass(slots=True)
class _Proposal:
    rule: Rule
    reason: str
    keep: StoredFile | None = None
    group: str | None = None
    action: str = ""

    def __post_init__(self) -> None:
        self.action = self.action or self.rule.action.name


class _Run:
    """One evaluation's working state."""

    def __init__(self, policy: Policy, ctx: Context) -> None:
        self.policy = policy
        self.ctx = ctx
        self.proposals: dict[Key, list[_Proposal]] = defaultdict(list)
        self.records: dict[Key, StoredFile] = {}
        self.protected: dict[Key, tuple[StoredFile, str]] = {}
        self._protection: dict[Key, str | None] = {}

    def protection(self, record: StoredFile) -> str | None:
        k = key_of(record)
        if k not in self._protection:
            self._protection[k] = self.policy.protection.reason(record)
        return self._protection[k]

    def guarded(self, rule: Rule, record: StoredFile) -> bool:
        """True when ``record`` is protected; notes it so the plan can show what was spared."""
        why = self.protection(record)
        if why is None:
            return False
        k = key_of(record)
        if k not in self.protected:
            self.protected[k] = (
                record,
                f"{why}; policy {rule.name!r} would {rule.action.describe()} it",
            )
        return True

    def propose(self, record: StoredFile, proposal: _Proposal) -> None:
        k = key_of(record)
        self.records[k] = record
        self.proposals[k].append(proposal)

    def consider(self, rule: Rule, record: StoredFile, what: str = "") -> None:
        """Propose ``rule``'s action for ``record`` if it matches and is not protected."""
        if not rule.matches(record, self.ctx) or self.guarded(rule, record):
            return
        reason = "; ".join(p for p in (what, rule.reason(record, self.ctx)) if p) or "matches"
        self.propose(record, _Proposal(rule, reason))

    def duplicates(self, rule: Rule, groups: list[DuplicateGroup]) -> None:
        """Keep one copy of each group by the rule's keep rules; propose the action for the rest."""
        for g in groups:
            candidates = []
            for copy in g.copies:
                names = [self.records.get((copy.provider, copy.account, i)) for i in copy.item_ids]
                present = [r for r in names if r is not None]
                if present:
                    candidates.append(Candidate(copy, present))
            if len(candidates) < 2:
                continue
            kept: Candidate | None
            if not rule.keep:
                kept, how = None, f"one of {len(candidates)} copies"
            else:
                # Keeping a copy someone else owns would leave the content in their hands only.
                owned = [c for c in candidates if not any(NOT_OWNED in r.flags for r in c.records)]
                pool = owned if owned and len(owned) < len(candidates) else candidates
                kept, how = choose(pool, rule.keep)
                if pool is owned:
                    how += ", among the copies the account owns"
                if kept is None:
                    safe = [c for c in candidates if any(self.protection(r) for r in c.records)]
                    if safe:
                        # A protected copy stays whatever happens, so it settles a tie safely.
                        kept, how = safe[0], "protected copy, the keep rules tie"
            for c in candidates:
                if c is kept:
                    continue
                for record in c.records:
                    if not rule.matches(record, self.ctx) or self.guarded(rule, record):
                        continue
                    if kept is None:
                        self.propose(
                            record, _Proposal(rule, f"duplicate: {how}", group=g.id, action="flag")
                        )
                        continue
                    reason = f"duplicate of {kept.path} (kept: {how})"
                    if not c.copy.removable and rule.action.name in REMOVING:
                        reason += "; hard-linked to names outside the inventory, so removing it frees nothing"
                        self.propose(record, _Proposal(rule, reason, kept.records[0], g.id, "flag"))
                        continue
                    self.propose(record, _Proposal(rule, reason, kept.records[0], g.id))


def _decision(record: StoredFile, p: _Proposal) -> Decision:
    action = p.rule.action
    d = Decision(record, p.action, p.rule.name, p.reason, keep=p.keep, group=p.group)
    if p.action == "archive" and isinstance(action, Archive):
        d.destination = action.destination
    if p.action == "trim_versions" and isinstance(action, TrimVersions):
        d.keep_versions = action.keep
        d.versions_newer_than = action.newer_than
    return d


def _flagged(d: Decision, why: str) -> Decision:
    if d.action == "flag":
        return d
    return replace(
        d,
        action="flag",
        reason=f"{why}, so flagged instead of {d.action}: {d.reason}",
        destination=None,
        keep_versions=None,
        versions_newer_than=None,
    )


def never_changed(record: StoredFile, min_age_days: float, now: float) -> str | None:
    """Why a safety rule forbids changing ``record`` at all, or None."""
    if record.flags & FREES_NOTHING or record.kind == "symlink":
        what = sorted(record.flags & FREES_NOTHING) or ["symlink"]
        return f"a {what[0].replace('_', ' ')}: removing it frees nothing"
    if NOT_OWNED in record.flags:
        return "not owned by the signed-in account"
    if min_age_days > 0:
        times = [t for t in (record.modified, record.created) if t is not None]
        if not times:
            return "its age is unknown"
        if now - max(times) < min_age_days * DAY:
            return f"younger than min_age ({min_age_days:g} days)"
    return None


def _protect_last_copies(decisions: dict[Key, Decision], groups: list[DuplicateGroup]) -> None:
    """Make sure every duplicate group keeps a copy, and that a recorded kept copy really stays."""
    for key in list(decisions):
        d = decisions[key]  # the current decision: an earlier turn may have flagged it
        if d.keep is None or d.action not in REMOVING:
            continue
        k = key_of(d.keep)
        other = decisions.get(k)
        if other is not None and other.action in REMOVING:
            decisions[k] = _flagged(other, f"it is the copy kept by policy {d.policy!r}")
    for g in groups:
        names = [[(c.provider, c.account, i) for i in c.item_ids] for c in g.copies]

        def removed(keys: list[Key]) -> bool:
            return all(k in decisions and decisions[k].action in REMOVING for k in keys)

        if names and all(removed(keys) for keys in names):
            for k in names[0]:  # copies are ordered oldest first
                decisions[k] = _flagged(decisions[k], "it is the last copy of its content")


def _protect_what_folders_hold(
    decisions: dict[Key, Decision], inventory: Inventory, policy: Policy
) -> None:
    """Removing a folder removes what is below it: a folder holding anything protected stays."""
    for k, d in list(decisions.items()):
        r = d.record
        if r.kind != "folder" or d.action not in REMOVING:
            continue
        prefix = r.path.rstrip("/") + "/"
        below = inventory.files(
            "provider = ? AND account = ? AND substr(path, 1, ?) = ?",
            (r.provider, r.account, len(prefix), prefix),
        )
        held = next((b for b in below if policy.protection.reason(b)), None)
        if held is not None:
            decisions[k] = _flagged(d, f"it holds the protected {held.path}")


def _count_bytes(decisions: list[Decision]) -> None:
    """What each decision frees: nothing for flags or for one name of a still-linked inode."""
    inodes: dict[tuple[str, int | None, int], list[Decision]] = defaultdict(list)
    for d in decisions:
        r = d.record
        if d.action == "flag":
            d.reclaimable_bytes = 0
        elif d.action == "trim_versions":
            trims_all = d.keep_versions in (None, 0) and d.versions_newer_than is None
            d.reclaimable_bytes = r.version_bytes if trims_all else None
        elif r.kind == "folder":
            d.reclaimable_bytes = r.storage_bytes
        elif not r.reclaimable:
            d.reclaimable_bytes = 0
        elif r.inode is not None and r.links > 1:
            inodes[(r.provider, r.device, r.inode)].append(d)
        else:
            d.reclaimable_bytes = r.storage_bytes
    for names in inodes.values():
        names.sort(key=lambda d: d.record.path)
        every_name_goes = len(names) >= names[0].record.links
        for n, d in enumerate(names):
            d.reclaimable_bytes = d.record.storage_bytes if every_name_goes and n == 0 else 0


def evaluate(
    policy: Policy, inventory: Inventory, findings: Findings | None = None, now: float | None = None
) -> Evaluation:
    """Every decision the policy makes about the inventory, under the safety rules."""
    now = time.time() if now is None else now
    if findings is None:
        findings = find(inventory, FindingOptions(now=now))
    lists = finding_lists(findings)
    run = _Run(policy, Context(now, lists))
    rules = policy.rules
    wanted: set[Key] = set().union(*(lists[r.applies_to] for r in rules if r.applies_to != "files"))
    file_rules = [r for r in rules if r.applies_to == "files"]
    found: dict[Key, StoredFile] = {}
    if file_rules:
        for record in inventory.files("" if wanted else "kind = 'file'"):
            k = key_of(record)
            if k in wanted:
                found[k] = record
            if record.kind == "file" and TRASHED not in record.flags:
                for rule in file_rules:
                    run.consider(rule, record)
    else:
        for k in wanted:
            got = inventory.get(*k)
            if got is not None and not got.gone:
                found[k] = got
    run.records.update(found)

    for rule in rules:
        if rule.applies_to in FINDING_LISTS:
            what = FINDING_LISTS[rule.applies_to][1]
            for k in sorted(lists[rule.applies_to]):  # sorted: stable reasons and order
                if k in found:
                    run.consider(rule, found[k], what)
        elif rule.applies_to == "duplicates":
            run.duplicates(rule, findings.duplicates)

    decisions: dict[Key, Decision] = {}
    for k, proposals in run.proposals.items():
        best = min(proposals, key=lambda p: (ACTIONS.index(p.action), p.rule.index))
        d = _decision(run.records[k], best)
        why = (
            never_changed(d.record, policy.defaults.min_age_days, now)
            if d.action != "flag"
            else None
        )
        decisions[k] = _flagged(d, why) if why else d
    _protect_last_copies(decisions, findings.duplicates)
    _protect_what_folders_hold(decisions, inventory, policy)

    ordered = sorted(
        decisions.values(), key=lambda d: (d.record.path, d.record.provider, d.record.account)
    )
    _count_bytes(ordered)
    by_rule: dict[str, dict[str, int]] = {
        r.name: {"items": 0, "reclaimable_bytes": 0} for r in rules
    }
    for d in ordered:
        by_rule[d.policy]["items"] += 1
        by_rule[d.policy]["reclaimable_bytes"] += d.reclaimable_bytes or 0
    acting = {d.policy for d in ordered if d.action != "flag"}
    approvals = replace(policy.defaults.approvals)
    for rule in rules:
        if rule.name in acting and rule.approvals is not None:
            approvals.required = max(approvals.required, rule.approvals)

    return Evaluation(
        policy_name=policy.name,
        policy_hash=policy.hash,
        decisions=ordered,
        protected=sorted(run.protected.values(), key=lambda p: p[0].path),
        warnings=[str(w) for w in policy.warnings] + _destination_warnings(policy, inventory),
        limits=replace(policy.defaults.limits),
        approvals=approvals,
        min_age_days=policy.defaults.min_age_days,
        extra={"now": now, "files_total": findings.files_total, "policies": by_rule},
    )


def _destination_warnings(policy: Policy, inventory: Inventory) -> list[str]:
    from .validate import inside_inventory

    out = []
    for rule in policy.rules:
        if isinstance(rule.action, Archive) and inside_inventory(
            inventory, rule.action.destination
        ):
            out.append(
                f"policy {rule.name!r} archives to {rule.action.destination}, which is inside a scanned "
                "folder: archived files would be found again by the next scan. Choose a destination outside."
            )
    return out
