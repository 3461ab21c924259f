"""The report as CSV: one row per group (and per item when detailed), for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

_ESTIMATES = ("kwh", "co2_operational_kg", "co2_embodied_kg", "co2_kg")
HEADER = [
    "section",
    "name",
    "items",
    "freed_bytes",
    "versions_bytes",
    "pending_bytes",
    "archived_bytes",
    *(f"{k}_{b}" for k in _ESTIMATES for b in ("low", "central", "high")),
    "pending_until",
    "path",
    "held_by",
    "backup_freed_bytes",
    "backup_pending_bytes",
]


def _safe(value: object) -> object:
    """Cells a spreadsheet will not run as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def render_csv(report: Mapping[str, Any], lang: str = "en") -> str:
    """Totals, then every group; items only in a detailed report."""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(HEADER)
    totals = {**report["totals"], **report["footprint"]["per_year"]}
    sections = [("total", [{"name": "all", **totals}])]
    sections += [(s, report[s]) for s in ("by_provider", "by_location", "by_kind", "by_team")]
    for section, groups in sections:
        for g in groups:
            out.writerow(
                [
                    section,
                    _safe(g["name"]),
                    g["items"],
                    g["freed_bytes"],
                    g["versions_bytes"],
                    g["pending_bytes"],
                    g["archived_bytes"],
                    *(v for k in _ESTIMATES for v in g[k]),
                    "",
                    "",
                    "",
                    g.get("backup_freed_bytes", 0),
                    g.get("backup_pending_bytes", 0),
                ]
            )
    for p in report["pending"]:
        out.writerow(
            [
                "pending",
                p["provider"],
                "",
                "",
                "",
                p["bytes"],
                "",
                *([""] * 12),
                p["until"] or "",
                "",
                p.get("held_by", "bin"),
                "",
                "",
            ]
        )
    if report.get("detailed"):
        for i in report["items"]:
            out.writerow(
                [
                    "item",
                    _safe(i.get("name") or i["id"]),
                    1,
                    i["freed_bytes"],
                    i["versions_bytes"],
                    i["pending_bytes"],
                    i["archived_bytes"],
                    *([""] * 12),
                    i.get("pending_until") or "",
                    _safe(i.get("path") or ""),
                    "",
                    i.get("backup_freed_bytes", 0),
                    i.get("backup_pending_bytes", 0),
                ]
            )
    return buffer.getvalue()
