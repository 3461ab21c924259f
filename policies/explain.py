"""Explain: which protections and policies apply to one item, and why, in sentences."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from cleanup.findings import DuplicateGroup, FindingOptions, Findings, find
from cleanup.inventory import Inventory, StoredFile
from cleanup.records import TRASHED

from .conditions import Context
from .engine import FINDING_LISTS, finding_lists, key_of
from .keep_rules import Candidate, choose

if TYPE_CHECKING:
    from .language import Policy, Rule


def explain(
    policy: Policy,
    record: StoredFile,
    inventory: Inventory | None = None,
    findings: Findings | None = None,
    now: float | None = None,
) -> list[str]:
    """One line per protection and policy; with an inventory, the final decision last."""
    now = time.time() if now is None else now
    if findings is None and inventory is not None:
        findings = find(inventory, FindingOptions(now=now))
    k = key_of(record)
    lists = finding_lists(findings) if findings is not None else None
    ctx = Context(now, lists)
    why = policy.protection.reason(record)
    lines = [f"protected: {why}; no policy can touch it" if why else "not protected"]
    in_group = None
    if findings is not None:
        in_group = next(
            (
                g
                for g in findings.duplicates
                for c in g.copies
                if (c.provider, c.account) == k[:2] and k[2] in c.item_ids
            ),
            None,
        )
    for rule in policy.rules:
        head = f"policy {rule.name!r} ({rule.applies_to}, then {rule.action.describe()})"
        applies: bool | None
        if rule.applies_to == "files":
            applies, what = record.kind == "file" and TRASHED not in record.flags, "a file"
        elif findings is None:
            applies, what = None, ""
        elif rule.applies_to == "duplicates":
            applies, what = in_group is not None, "a copy in a duplicate group"
        else:
            applies, what = (
                k in lists[rule.applies_to] if lists else False,
                f"a {FINDING_LISTS[rule.applies_to][1]}",
            )
        if applies is False:
            lines.append(f"{head}: does not apply, it is not {what}")
            continue
        results = [c.explain(record, ctx) for c in rule.conditions]
        exemption = rule.exemption(record, ctx)
        ok = all(r[0] for r in results) and exemption is None
        verdict = "matches" if ok else "does not match"
        if applies is None:
            verdict += f" if it is listed as {rule.applies_to} (scan it to know)"
        lines.append(f"{head}: {verdict}")
        lines += [f"  - {text}" for _, text in results]
        if exemption is not None:
            lines.append("  - exempted by unless: " + "; ".join(c.describe() for c in exemption))
        if rule.applies_to == "duplicates" and in_group is not None:
            lines.append(_keeping(in_group, rule, record, inventory))
    if inventory is not None:
        evaluation = policy.evaluate(inventory, findings, now)
        decision = next((d for d in evaluation.decisions if key_of(d.record) == k), None)
        if decision is not None:
            lines.append(
                f"decision: {decision.action} (policy {decision.policy!r}): {decision.reason}"
            )
        elif why:
            lines.append("decision: nothing, it is protected")
        else:
            lines.append("decision: nothing, no policy acts on it")
    return lines


def _keeping(
    group: DuplicateGroup, rule: Rule, record: StoredFile, inventory: Inventory | None
) -> str:
    """Which copy the rule's keep rules keep, as a sub-line."""
    head = f"  - one of {len(group.copies)} copies"
    if not rule.keep:
        return f"{head}; no keep rules"
    if inventory is None:
        return f"{head}; keep rules: " + ", ".join(r.describe() for r in rule.keep)
    candidates = []
    for copy in group.copies:
        names = [inventory.get(copy.provider, copy.account, i) for i in copy.item_ids]
        present = [n for n in names if n is not None]
        if present:
            candidates.append(Candidate(copy, present))
    kept, how = choose(candidates, rule.keep)
    if kept is None:
        return f"{head}; {how}"
    if key_of(record) in {key_of(r) for r in kept.records}:
        return f"{head}; this is the copy kept ({how})"
    return f"{head}; the copy kept is {kept.path} ({how})"
