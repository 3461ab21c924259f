"""Plans: what a policy proposes, as a canonical JSON file with a content hash and approvals.

A plan file holds ``{"format", "sha256", "approvals", "plan"}``. ``sha256`` is the hash of
the canonical JSON of ``plan`` (sorted keys, no spaces, UTF-8); approvals live beside it,
each naming the hash its approver saw, so approving never changes what was approved.
Names that are not valid UTF-8 are written escaped for display in ``path`` (or
``item_id``) with the exact bytes in ``path_b64`` (``item_id_b64``). Nothing here changes
any file but the plan itself.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import PlanError
from .findings import duplicate_groups
from .inventory import Inventory, StoredFile
from .records import FileRecord

FORMAT = "cleanup.plan/1"
DEFAULT_EXPIRY_DAYS = 7.0
# From least to most destructive, as in policies.decisions.ACTIONS.
ACTIONS = ("flag", "archive", "trim_versions", "trash", "delete")
ACTING = frozenset({"archive", "trim_versions", "trash", "delete"})  # apply does something
REMOVING = frozenset({"archive", "trash", "delete"})  # the item leaves where it is


# --- names that may not be UTF-8 ------------------------------------------------------


def encode_name(value: str, key: str) -> dict[str, str]:
    """``{key: text}`` plus ``{key_b64: raw}`` when ``value`` carries undecodable bytes."""
    try:
        value.encode("utf-8")
        return {key: value}
    except UnicodeEncodeError:
        raw = os.fsencode(value)
        return {
            key: raw.decode("utf-8", "backslashreplace"),
            key + "_b64": base64.b64encode(raw).decode("ascii"),
        }


def decode_name(obj: dict[str, Any], key: str) -> str:
    """The exact name stored by encode_name."""
    raw = obj.get(key + "_b64")
    if raw:
        return os.fsdecode(base64.b64decode(raw))
    return str(obj.get(key, ""))


def _text(value: str) -> str:
    """Free text (a reason, a policy name) that may quote an undecodable name: escaped, for display."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def from_iso(text: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))
    except (TypeError, ValueError) as exc:
        raise PlanError(f"{text!r} is not a time this plan format uses; make a new plan.") from exc


def canonical(body: dict[str, Any]) -> bytes:
    """The bytes the content hash is computed over."""
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


# --- the plan --------------------------------------------------------------------------


@dataclass(slots=True)
class Plan:
    """A plan: its hashed body, and the approvals kept beside it."""

    body: dict[str, Any]
    approvals: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(canonical(self.body)).hexdigest()

    @property
    def entries(self) -> list[dict[str, Any]]:
        return list(self.body["entries"])

    @property
    def acting(self) -> list[dict[str, Any]]:
        """Entries apply acts on (everything but flags)."""
        return [e for e in self.body["entries"] if e["action"] in ACTING]

    @property
    def created(self) -> float:
        return from_iso(self.body["created"])

    @property
    def expires(self) -> float:
        return from_iso(self.body["expires"])

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "sha256": self.sha256,
            "approvals": self.approvals,
            "plan": self.body,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the plan file atomically (a temporary name, fsync'd, then renamed)."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        data = json.dumps(self.to_json(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            raise PlanError(
                f"Cannot write the plan to {target}: {exc.strerror}. Choose another -o."
            ) from exc
        self.path = target
        return target


def load(path: str | os.PathLike[str]) -> Plan:
    """Read a plan file and verify its content hash; a hand-edited plan is refused."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PlanError(
            f"No plan at {p}. Make one with `cleanup plan --policy staff -o {p}`."
        ) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"{p} is not a readable cleanup plan ({exc}). Make a new plan.") from exc
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or not isinstance(data.get("plan"), dict)
    ):
        raise PlanError(f"{p} is not a cleanup plan ({FORMAT}). Make one with `cleanup plan`.")
    plan = Plan(data["plan"], list(data.get("approvals") or []), p)
    if plan.sha256 != data.get("sha256"):
        raise PlanError(
            f"{p} was changed after it was made: its content no longer matches its sha256. "
            "Plans cannot be edited by hand; use `cleanup review` to drop items, or make a new plan."
        )
    if not isinstance(plan.body.get("entries"), list):
        raise PlanError(f"{p} has no entries list; make a new plan.")
    return plan


# --- entries ---------------------------------------------------------------------------


def _hashes(r: FileRecord) -> dict[str, str]:
    return dict(sorted(r.hashes.items()))


def _item(r: FileRecord) -> dict[str, Any]:
    return {
        "provider": r.provider,
        "account": r.account,
        **encode_name(r.item_id, "item_id"),
        **encode_name(r.path, "path"),
        "fingerprint": r.fingerprint,
        "hashes": _hashes(r),
    }


def _root_of(r: FileRecord, roots: dict[tuple[str, str], list[str]]) -> str | None:
    best: str | None = None
    for root in roots.get((r.provider, r.account), []):
        inside = bool(root) and (r.path == root or r.path.startswith(root.rstrip("/") + "/"))
        if inside and (best is None or len(root) > len(best)):
            best = root
    return best


def _reclaimable(d: Any) -> int:
    """What carrying the decision out frees: the engine's figure, else what the record says."""
    given = getattr(d, "reclaimable_bytes", None)
    if given is not None:
        return int(given)
    r: StoredFile = d.record
    if d.action == "trim_versions":
        return r.version_bytes
    if d.action not in REMOVING or not r.reclaimable or r.links > 1:
        return 0  # a flag, a link or placeholder, or one name of a hard-linked file
    return r.storage_bytes


def _entry(number: int, d: Any, roots: dict[tuple[str, str], list[str]]) -> dict[str, Any]:
    r: StoredFile = d.record
    entry: dict[str, Any] = {
        "entry": number,
        **_item(r),
        "kind": r.kind,
        "size": r.size,
        "storage_bytes": r.storage_bytes,
        "reclaimable_bytes": _reclaimable(d),
        "modified": r.modified,
        "owner": r.owner,
        "device": r.device,
        "inode": r.inode,
        "action": d.action,
        "policy": _text(d.policy),
        "reason": _text(d.reason),
        "group": d.group,
        "keep": _item(d.keep) if d.keep is not None else None,
        "keep_versions": d.keep_versions,
        "versions_newer_than": d.versions_newer_than,
    }
    root = _root_of(r, roots)
    if root is not None:
        entry.update(encode_name(root, "root"))
    if d.destination is not None:
        entry.update(encode_name(d.destination, "destination"))
    return {k: v for k, v in entry.items() if v is not None}


def destination_of(e: dict[str, Any]) -> str | None:
    """An entry's archive destination, exactly as the policy gave it."""
    return decode_name(e, "destination") if "destination" in e else None


def entry_key(e: dict[str, Any]) -> tuple[str, str, str]:
    return (e["provider"], e["account"], decode_name(e, "item_id"))


def record_of(e: dict[str, Any]) -> FileRecord:
    """The FileRecord apply hands to the provider for a plan entry (or its kept copy)."""
    path = decode_name(e, "path")
    extra: dict[str, Any] = {}
    if "root" in e:
        extra["root"] = decode_name(e, "root")
    return FileRecord(
        provider=e["provider"],
        account=e["account"],
        item_id=decode_name(e, "item_id"),
        path=path,
        name=os.path.basename(path),
        kind=e.get("kind", "file"),
        size=e.get("size", 0),
        storage_bytes=e.get("storage_bytes", 0),
        modified=e.get("modified"),
        owner=e.get("owner"),
        hashes=dict(e.get("hashes") or {}),
        fingerprint=e.get("fingerprint", ""),
        device=e.get("device"),
        inode=e.get("inode"),
        extra=extra,
    )


def totals(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Items, storage bytes and reclaimable bytes, in all and by action and by provider."""
    by_action: dict[str, dict[str, int]] = {}
    by_provider: dict[str, dict[str, int]] = {}
    items = nbytes = reclaimable = 0
    for e in entries:
        for table, key in ((by_action, e["action"]), (by_provider, e["provider"])):
            t = table.setdefault(key, {"items": 0, "storage_bytes": 0, "reclaimable_bytes": 0})
            t["items"] += 1
            t["storage_bytes"] += e.get("storage_bytes", 0)
            t["reclaimable_bytes"] += e.get("reclaimable_bytes", 0)
        if e["action"] in ACTING:
            items += 1
            nbytes += e.get("storage_bytes", 0)
            reclaimable += e.get("reclaimable_bytes", 0)
    return {
        "by_action": by_action,
        "by_provider": by_provider,
        "items": items,
        "storage_bytes": nbytes,
        "reclaimable_bytes": reclaimable,
    }


# --- building --------------------------------------------------------------------------


def _scans(inventory: Inventory) -> list[dict[str, Any]]:
    ids = inventory.latest_scan_ids()
    if not ids:
        return []
    rows = inventory.db.execute(
        f"SELECT id, started FROM scans WHERE id IN ({','.join('?' * len(ids))}) ORDER BY id", ids
    )
    return [{"id": i, "started": s} for i, s in rows]


def _roots(inventory: Inventory) -> dict[tuple[str, str], list[str]]:
    roots: dict[tuple[str, str], list[str]] = {}
    for provider, account, root in inventory.db.execute(
        "SELECT provider, account, root FROM units"
    ):
        roots.setdefault((provider, account), []).append(root)
    return roots


def scanned_roots(inventory: Inventory, provider: str = "local") -> list[str]:
    """Every root the inventory has scanned for a provider: archives may not go inside them."""
    return sorted(
        {r for (p, _), roots in _roots(inventory).items() if p == provider for r in roots if r}
    )


def check_limits(body: dict[str, Any], inventory_files: int) -> None:
    """Raise PlanError when the plan exceeds the policy's run limits."""
    limits = body.get("limits") or {}
    t = body["totals"]
    if limits.get("max_items") is not None and t["items"] > limits["max_items"]:
        raise PlanError(
            f"The plan would act on {t['items']:,} items, over the policy's limit of {limits['max_items']:,} "
            "(max_items). Narrow the policy or raise the limit in [defaults]."
        )
    if limits.get("max_bytes") is not None and t["reclaimable_bytes"] > limits["max_bytes"]:
        raise PlanError(
            f"The plan would free {t['reclaimable_bytes']:,} bytes, over the policy's limit of "
            f"{limits['max_bytes']:,} bytes (max_bytes). Narrow the policy or raise the limit in [defaults]."
        )
    pct = limits.get("max_percent")
    if pct is not None and inventory_files and 100.0 * t["items"] / inventory_files > pct:
        share = 100.0 * t["items"] / inventory_files
        raise PlanError(
            f"The plan would act on {share:.1f}% of the inventory's {inventory_files:,} files, over the "
            f"policy's limit of {pct}% (max_percent). Narrow the policy or raise the limit in [defaults]."
        )


def _least_destructive(decisions: Iterable[Any]) -> list[Any]:
    chosen: dict[tuple[str, str, str], Any] = {}
    for d in decisions:
        r = d.record
        key = (r.provider, r.account, r.item_id)
        if key not in chosen or ACTIONS.index(d.action) < ACTIONS.index(chosen[key].action):
            chosen[key] = d
    return list(chosen.values())


def _files_total(evaluation: Any, inventory: Inventory) -> int:
    """The files max_percent is a share of: what findings counted, as the policy engine does."""
    total = (evaluation.extra or {}).get("files_total")
    if total is None:
        total = inventory.db.execute(
            "SELECT COUNT(*) FROM files WHERE gone_scan IS NULL AND kind = 'file'"
        ).fetchone()[0]
    return int(total)


def _spare_last_copies(
    decisions: list[Any], inventory: Inventory, warnings: list[str]
) -> list[Any]:
    """Drop removals so that every duplicate group keeps one copy, whichever policies matched."""
    removing = {
        (d.record.provider, d.record.account, d.record.item_id)
        for d in decisions
        if d.action in REMOVING
    }
    if not removing:
        return decisions
    spared: set[tuple[str, str, str]] = set()
    for g in duplicate_groups(inventory):
        alive = [
            c
            for c in g.copies
            if any((c.provider, c.account, i) not in removing for i in c.item_ids)
        ]
        if alive:
            continue
        copy = g.copies[0]  # the oldest: findings sort copies by modification time
        spared.update((copy.provider, copy.account, i) for i in copy.item_ids)
        warnings.append(
            f"{copy.paths[0]}: not planned, because it is the last copy of its duplicate group."
        )
    return [
        d
        for d in decisions
        if d.action not in REMOVING
        or (d.record.provider, d.record.account, d.record.item_id) not in spared
    ]


def build(
    evaluation: Any,
    inventory: Inventory,
    *,
    now: float | None = None,
    expires_days: float = DEFAULT_EXPIRY_DAYS,
    policy_source: str = "",
) -> tuple[Plan, list[str]]:
    """A plan from a policy's evaluation, and the warnings met; raise PlanError over the run limits."""
    now = time.time() if now is None else now
    warnings = list(evaluation.warnings)
    protected = {(r.provider, r.account, r.item_id) for r, _ in evaluation.protected}
    decisions = []
    for d in evaluation.decisions:
        if d.action not in ACTIONS:
            raise PlanError(f"Policy {d.policy!r} asked for an unknown action {d.action!r}.")
        if (d.record.provider, d.record.account, d.record.item_id) in protected:
            continue  # protection is evaluated before any policy, whatever the engine returned
        decisions.append(d)
    decisions = _least_destructive(decisions)
    removed = {
        (d.record.provider, d.record.account, d.record.item_id)
        for d in decisions
        if d.action in REMOVING
    }
    safe = []
    for d in decisions:
        k = d.keep
        if d.action in REMOVING and k is not None and (k.provider, k.account, k.item_id) in removed:
            # The kept copy is itself leaving: this one stays, so a copy always survives.
            warnings.append(
                f"{d.record.path}: not planned, because its kept copy {k.path} is planned too."
            )
            continue
        safe.append(d)
    safe = _spare_last_copies(safe, inventory, warnings)
    safe.sort(
        key=lambda d: (d.group or "", d.policy, d.record.provider, d.record.account, d.record.path)
    )
    roots = _roots(inventory)
    entries = [_entry(i, d, roots) for i, d in enumerate(safe)]
    limits, approvals = evaluation.limits, evaluation.approvals
    body: dict[str, Any] = {
        "format": FORMAT,
        "tool_version": __version__,
        "policy": {
            "name": evaluation.policy_name,
            "sha256": evaluation.policy_hash,
            "source": policy_source,
        },
        "inventory": {
            "path": str(Path(inventory.path).resolve()),
            "scan_ids": inventory.latest_scan_ids(),
            "scans": _scans(inventory),
        },
        "inventory_files": _files_total(evaluation, inventory),
        "created": iso(now),
        "expires": iso(now + expires_days * 86400),
        "min_age_days": evaluation.min_age_days,
        "limits": {k: getattr(limits, k) for k in ("max_items", "max_bytes", "max_percent")},
        "approvals_required": {
            k: getattr(approvals, k)
            for k in ("required", "second_above_bytes", "second_for_delete")
        },
        "totals": totals(entries),
        "entries": entries,
    }
    check_limits(body, body["inventory_files"])
    return Plan(body), warnings


def without(plan: Plan, dropped: Iterable[int], note: dict[str, Any] | None = None) -> Plan:
    """A new plan without the given entries (renumbered), its own hash, no approvals."""
    gone = set(dropped)
    body = json.loads(json.dumps(plan.body))
    entries = [e for e in body["entries"] if e["entry"] not in gone]
    for i, e in enumerate(entries):
        e["entry"] = i
    body["entries"] = entries
    body["totals"] = totals(entries)
    body["reviewed"] = {"from": plan.sha256, "dropped": len(gone), **(note or {})}
    return Plan(body)


# --- checks before apply ---------------------------------------------------------------


def check_inventory(plan: Plan, inventory: Inventory) -> None:
    """Raise PlanError when the plan was made from another inventory."""
    scans = plan.body.get("inventory", {}).get("scans") or []
    made_from = plan.body.get("inventory", {}).get("path", "?")
    for s in scans:
        row = inventory.db.execute("SELECT started FROM scans WHERE id = ?", (s["id"],)).fetchone()
        if row is None or row[0] != s["started"]:
            ids = ", ".join(str(x["id"]) for x in scans)
            raise PlanError(
                f"This plan was made from another inventory ({made_from}, scans {ids}), not {inventory.path}. "
                f"Apply it with --db {made_from}, or make a new plan from this inventory."
            )


def approvals_needed(plan: Plan) -> tuple[int, str]:
    """How many distinct approvals the plan needs, and why."""
    req = plan.body.get("approvals_required") or {}
    needed = int(req.get("required") or 0)
    why = f"the policy requires {needed}" if needed else ""
    above = req.get("second_above_bytes")
    if above is not None and plan.body["totals"]["reclaimable_bytes"] > above and needed < 2:
        needed, why = 2, f"the plan frees more than {above:,} bytes"
    deletes = any(e["action"] == "delete" for e in plan.body["entries"])
    if req.get("second_for_delete") and deletes and needed < 2:
        needed, why = 2, "the plan deletes permanently"
    return needed, why


def _person(name: str) -> str:
    """Who a name stands for: 'Ada Lovelace', ' ada  lovelace' and 'ADA LOVELACE' are one."""
    return " ".join(name.split()).casefold()


def valid_approvers(plan: Plan) -> list[str]:
    """Distinct people who approved exactly this plan's content."""
    h = plan.sha256
    seen: dict[str, str] = {}
    for a in plan.approvals:
        by = str(a.get("by") or "")
        if a.get("sha256") == h and _person(by):
            seen.setdefault(_person(by), by)
    return list(seen.values())


def check_approvals(plan: Plan) -> None:
    needed, why = approvals_needed(plan)
    have = valid_approvers(plan)
    if len(have) < needed:
        who = f" (so far: {', '.join(have)})" if have else ""
        raise PlanError(
            f"This plan needs {needed} approvals because {why}; it has {len(have)}{who}. "
            "Each approver runs `cleanup plan approve PLAN --by NAME` after reading `cleanup plan show PLAN`."
        )


def approve(plan: Plan, by: str, now: float | None = None) -> bool:
    """Record an approval of the plan's current hash; False when ``by`` had already approved it."""
    by = " ".join(by.split())
    if not by:
        raise PlanError("An approval needs a name: --by NAME.")
    if _person(by) in {_person(a) for a in valid_approvers(plan)}:
        return False
    plan.approvals.append(
        {"by": by, "at": iso(time.time() if now is None else now), "sha256": plan.sha256}
    )
    return True


def check(
    plan: Plan, inventory: Inventory, now: float | None = None, *, resuming: bool = False
) -> None:
    """Every check apply makes before acting: expiry, inventory, limits, approvals."""
    now = time.time() if now is None else now
    if not resuming and now > plan.expires:
        raise PlanError(
            f"This plan expired on {plan.body['expires']}; files may have changed since. "
            "Make a new plan (`cleanup plan ... --expires` sets how long one stays valid)."
        )
    check_inventory(plan, inventory)
    body = {**plan.body, "totals": totals(plan.body["entries"])}
    check_limits(body, int(plan.body.get("inventory_files") or 0))
    if not resuming:
        check_approvals(plan)


def groups(entries: Sequence[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Entries grouped for people: each duplicate group, then each policy's other items."""
    out: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        if e.get("group"):
            title = (
                f"duplicates {e['group']} (keeping {decode_name(e['keep'], 'path')})"
                if e.get("keep")
                else f"duplicates {e['group']}"
            )
        else:
            title = f"{e['policy']}: {e['action']}"
        out.setdefault(title, []).append(e)
    return list(out.items())
