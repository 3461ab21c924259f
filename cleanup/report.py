"""The report document: one JSON structure every format is rendered from, and merged from.

A report carries every counted item under a stable identity (a hash of provider, account
and item id), so reports from several people or sites can be merged into one total that
counts a shared item once. The aggregates are always recomputed from the items. By default
a report holds no file name, path, account or personal name: owners and accounts are
pseudonymised with a keyed hash; ``detailed`` keeps them. The format is documented in
docs/reports.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import CleanupError
from .footprint import (
    LOCAL,
    NOTHING,
    Estimate,
    Parameters,
    avoided_purchase,
    car_km,
    estimate,
    lag_factor,
    load_parameters,
)
from .inventory import Inventory
from .tally import TalliedItem, Tally

FORMAT = "cleanup.report/1"
BIGGEST_WINS = 10


class ReportError(CleanupError):
    """A report file is unreadable, not a cleanup report, or cannot be merged."""

    exit_code = 2


# --- pseudonyms ------------------------------------------------------------------------


def report_key(inventory_path: str | os.PathLike[str], given: str | None = None) -> bytes:
    """The key of the pseudonyms: given (e.g. shared across an organisation), else one kept beside the inventory."""
    if given:
        return given.encode("utf-8")
    path = Path(inventory_path).parent / "report.key"
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        pass
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key.hex())
    except OSError as exc:
        raise ReportError(
            f"Cannot keep the pseudonym key at {path}: {exc.strerror}. Give one with --key or CLEANUP_REPORT_KEY."
        ) from exc
    return key


def pseudonym(key: bytes, name: str, prefix: str = "p") -> str:
    """A stable keyed pseudonym: the same name and key always give the same one."""
    message = f"{prefix}\0{name.strip().lower()}".encode("utf-8", "surrogateescape")
    digest = hmac.new(key, message, hashlib.blake2b).hexdigest()
    return f"{prefix}-{digest[:10]}"


# --- building --------------------------------------------------------------------------


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _ts(text: str | None) -> float | None:
    if not text:
        return None
    import calendar

    return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")))


def item_json(item: TalliedItem, detailed: bool, hide: Callable[[str, str], str]) -> dict[str, Any]:
    """One item as a report holds it."""
    out: dict[str, Any] = {
        "id": item.id,
        "provider": item.provider,
        "account": item.account if detailed else hide(item.account, "a"),
        "location": item.location,
        "region": item.region,
        "kind": item.kind,
        "action": item.action,
        "done": _iso(item.done),
        "freed_bytes": item.freed_bytes,
        "versions_bytes": item.versions_bytes,
        "pending_bytes": item.pending_bytes,
        "pending_until": _iso(item.pending_until),
        "archived_bytes": item.archived_bytes,
        "lag_days": round(item.lag_days, 3),
        "backup_freed_bytes": item.backup_freed_bytes,
        "backup_pending_bytes": item.backup_pending_bytes,
        "backup_until": _iso(item.backup_at) if item.backup_pending_bytes else None,
        "backup_lag_days": round(item.backup_lag_days, 3),
        "owner": (item.owner if detailed else hide(item.owner, "p")) if item.owner else None,
        "team": item.team,
    }
    if detailed:
        out["path"] = shown(item.path)
        out["name"] = shown(item.name)
    return out


def shown(text: str) -> str:
    """A name that any output can carry: bytes that are not UTF-8 become \\xNN escapes."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def quotas_json(
    inventory: Inventory,
    items: Sequence[TalliedItem],
    detailed: bool,
    hide: Callable[[str, str], str],
) -> list[dict[str, Any]]:
    """Each drive's latest quota reading, with its use before and after the clean-up."""
    rows = inventory.db.execute(
        "SELECT provider, account, total, used, at, extra FROM quotas q WHERE at = "
        "(SELECT MAX(at) FROM quotas WHERE provider = q.provider AND account = q.account) "
        "ORDER BY provider, account"
    ).fetchall()
    by_drive: dict[tuple[str, str], list[TalliedItem]] = {}
    for i in items:
        by_drive.setdefault((i.provider, i.account), []).append(i)
    out = []
    for provider, account, total, used, at, extra in rows:
        drive = (json.loads(extra) if extra else {}).get("drive")
        mine = by_drive.get((provider, account), [])
        # A reading taken after an item was freed already leaves it out; one taken before still counts it.
        freed_before_reading = sum(
            i.freed_bytes for i in mine if i.freed_at is not None and i.freed_at <= at
        )
        freed_after_reading = sum(
            i.freed_bytes for i in mine if i.freed_at is None or i.freed_at > at
        )
        out.append(
            {
                "provider": provider,
                "account": str(drive or account) if detailed else hide(account, "a"),
                "total": total,
                "before": used + freed_before_reading,
                "after": max(0, used - freed_after_reading),
                "read": _iso(at),
            }
        )
    return out


def build(
    tallied: Tally,
    inventory: Inventory,
    key: bytes,
    detailed: bool = False,
    with_avoided_purchase: bool = False,
    now: float | None = None,
) -> dict[str, Any]:
    """The report of a tally."""

    def hide(name: str, prefix: str) -> str:
        return pseudonym(key, name, prefix)

    items = [item_json(i, detailed, hide) for i in tallied.items]
    return assemble(
        items,
        tallied.params,
        quotas_json(inventory, tallied.items, detailed, hide),
        runs=tallied.runs,
        detailed=detailed,
        with_avoided_purchase=with_avoided_purchase,
        now=tallied.now if now is None else now,
        backup_retention_days=tallied.backup_retention_days,
    )


def assemble(
    items: list[dict[str, Any]],
    params: Parameters,
    quotas: list[dict[str, Any]],
    runs: Sequence[str],
    detailed: bool,
    with_avoided_purchase: bool = False,
    now: float | None = None,
    merged_from: int = 0,
    backup_retention_days: float | None = None,
) -> dict[str, Any]:
    """Every aggregate, recomputed from the items."""
    now = time.time() if now is None else now

    def value(members: Iterable[Mapping[str, Any]]) -> Estimate:
        return footprint_of(members, params)

    per_year = value(items)
    first_year = footprint_of(items, params, "first_year")
    pending_per_year = footprint_of(items, params, "pending")
    local_freed = sum(i["freed_bytes"] for i in items if i["location"] == LOCAL)
    footprint: dict[str, Any] = {
        "per_year": per_year.to_json(),
        "first_year": first_year.to_json(),
        "pending_per_year": pending_per_year.to_json(),
        "car_km": [round(v, 1) for v in car_km(per_year.co2, params).as_list()],
        "backup_retention_days": backup_retention_days,
        "avoided_purchase_kg": round(avoided_purchase(local_freed, params), 3)
        if with_avoided_purchase
        else None,
    }

    def team_of(i: Mapping[str, Any]) -> str:
        return str(i.get("team") or (i.get("owner") or "").lower() or "unknown")

    wins = sorted(items, key=lambda i: (-(i["freed_bytes"] + i["pending_bytes"]), i["id"]))[
        :BIGGEST_WINS
    ]
    return {
        "format": FORMAT,
        "generated": _iso(now),
        "tool": {"name": "cleanup", "version": __version__},
        "detailed": detailed,
        "runs": list(runs),
        "merged_from": merged_from,
        "parameters": params.to_json(),
        "parameters_changed": sorted(_changed_parameters(params)),
        "totals": _bytes(items),
        "footprint": footprint,
        "by_provider": _groups(items, lambda i: i["provider"], value),
        "by_location": _groups(items, lambda i: i["location"], value),
        "by_kind": _groups(items, lambda i: i["kind"], value),
        "by_team": _groups(items, team_of, value)
        if any(i.get("team") or i.get("owner") for i in items)
        else [],
        "pending": _pending(items),
        "quotas": quotas,
        "biggest_wins": [
            _win(i, detailed) for i in wins if i["freed_bytes"] + i["pending_bytes"] > 0
        ],
        "items": sorted(items, key=lambda i: i["id"]),
    }


def _changed_parameters(params: Parameters) -> set[str]:
    """Rows that differ from the shipped table (a --factors file was used)."""
    shipped = load_parameters().to_json()
    return {name for name, row in params.to_json().items() if shipped.get(name) != row}


def footprint_of(
    items: Iterable[Mapping[str, Any]], params: Parameters, which: str = "per_year"
) -> Estimate:
    """The footprint of report items: freed bytes per year or in the first year, or pending bytes with a date.

    The model is linear in bytes, so bytes are summed by location and region first.
    """
    weights: dict[tuple[str, str | None], float] = {}
    for i in items:
        backup_freed = float(i.get("backup_freed_bytes") or 0)
        if which == "pending":
            nbytes = float(i["pending_bytes"]) if i.get("pending_until") else 0.0
            nbytes += float(i.get("backup_pending_bytes") or 0)
        elif which == "first_year":
            nbytes = float(i["freed_bytes"]) * lag_factor(float(i.get("lag_days") or 0))
            nbytes += backup_freed * lag_factor(float(i.get("backup_lag_days") or 0))
        else:
            nbytes = float(i["freed_bytes"]) + backup_freed
        if nbytes:
            key = (i["location"], i.get("region"))
            weights[key] = weights.get(key, 0.0) + nbytes
    return _sum(estimate(b, loc, params, region) for (loc, region), b in weights.items())


def _sum(values: Iterable[Estimate]) -> Estimate:
    total = NOTHING
    for v in values:
        total = total + v
    return total


_BYTE_FIELDS = (
    "freed_bytes",
    "versions_bytes",
    "pending_bytes",
    "archived_bytes",
    "backup_freed_bytes",
    "backup_pending_bytes",
)


def _bytes(items: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    out = {
        "items": 0,
        "freed_bytes": 0,
        "versions_bytes": 0,
        "pending_bytes": 0,
        "archived_bytes": 0,
        "backup_freed_bytes": 0,
        "backup_pending_bytes": 0,
    }
    for i in items:
        out["items"] += 1
        for k in _BYTE_FIELDS:
            out[k] += int(i.get(k) or 0)
    return out


def _groups(
    items: Sequence[Mapping[str, Any]],
    key: Callable[[Mapping[str, Any]], str],
    value: Callable[[Iterable[Mapping[str, Any]]], Estimate],
) -> list[dict[str, Any]]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for i in items:
        groups.setdefault(key(i), []).append(i)
    out: list[dict[str, Any]] = []
    for name, members in groups.items():
        out.append({"name": name, **_bytes(members), **value(members).to_json()})
    out.sort(key=lambda g: (-g["freed_bytes"], -g["pending_bytes"], g["name"]))
    return out


def _pending(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Bytes still in bins (or backups) by the day they will be freed (null: when emptied by hand)."""
    found: dict[tuple[str, str, str], int] = {}
    for i in items:
        for held_by, nbytes, until in (
            ("bin", i["pending_bytes"], i.get("pending_until")),
            ("backup", i.get("backup_pending_bytes") or 0, i.get("backup_until")),
        ):
            if nbytes:
                key = ("" if not until else str(until)[:10], i["provider"], held_by)
                found[key] = found.get(key, 0) + nbytes
    rows = [
        {"until": d or None, "provider": p, "held_by": h, "bytes": b}
        for (d, p, h), b in found.items()
    ]
    return sorted(
        rows, key=lambda r: (r["until"] is None, r["until"] or "", r["provider"], r["held_by"])
    )


def _win(i: Mapping[str, Any], detailed: bool) -> dict[str, Any]:
    out = {
        k: i[k]
        for k in ("id", "provider", "location", "kind", "action", "freed_bytes", "pending_bytes")
    }
    if detailed:
        out["name"] = i.get("name")
        out["path"] = i.get("path")
    return out


# --- reading and merging ---------------------------------------------------------------


def load(path: str | Path) -> dict[str, Any]:
    """A report written by ``cleanup report --format json``."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"Cannot read the report {p}: {exc.strerror}.") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(
            f"{p} is not JSON ({exc}); give reports written with --format json."
        ) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ReportError(
            f"{p} is not a {FORMAT} report; write one with `cleanup report --format json`."
        )
    if not isinstance(data.get("items"), list):
        raise ReportError(f"{p} has no items list; it may have been edited by hand.")
    return data


def merge(reports: Sequence[Mapping[str, Any]], now: float | None = None) -> dict[str, Any]:
    """One total from several reports; an item present in several reports is counted once."""
    if not reports:
        raise ReportError("Give at least one report to merge.")
    table = reports[0]["parameters"]
    for r in reports[1:]:
        if r["parameters"] != table:
            raise ReportError(
                "The reports were made with different footprint factors; make them again with the same --factors."
            )
    params = Parameters.from_json(table)
    items: dict[str, dict[str, Any]] = {}
    for r in reports:
        for i in r["items"]:
            kept = items.get(i["id"])
            # The same item seen twice: keep the furthest outcome (freed beats pending beats archived).
            if kept is None or _progress(i) > _progress(kept):
                items[i["id"]] = dict(i)
    quotas: dict[tuple[str, str], dict[str, Any]] = {}
    for r in sorted(reports, key=lambda r: str(r.get("generated"))):
        for q in r.get("quotas", []):
            quotas[(q["provider"], q["account"])] = q
    runs = sorted({run for r in reports for run in r.get("runs", [])})
    detailed = all(r.get("detailed") for r in reports)
    avoided = any(r.get("footprint", {}).get("avoided_purchase_kg") is not None for r in reports)
    backups = {r.get("footprint", {}).get("backup_retention_days") for r in reports}
    if len(backups) > 1:
        raise ReportError(
            "The reports count backups differently (--backup-retention); make them again with the same setting."
        )
    if not detailed:
        for i in items.values():
            i.pop("path", None)
            i.pop("name", None)
    return assemble(
        list(items.values()),
        params,
        list(quotas.values()),
        runs,
        detailed,
        avoided,
        now,
        merged_from=sum(max(1, int(r.get("merged_from") or 0)) for r in reports),
        backup_retention_days=backups.pop(),
    )


def _progress(i: Mapping[str, Any]) -> tuple[int, int, float]:
    return (
        int(i.get("freed_bytes") or 0),
        int(i.get("pending_bytes") or 0),
        _ts(i.get("done")) or 0.0,
    )
