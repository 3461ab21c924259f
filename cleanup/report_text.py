"""The report as text: the terminal summary, and the sentences every format shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .footprint import LOCAL, Range
from .report_wording import about, date, figure, headline, km, label, number, sentence, size

ESTIMATE_KEYS = ("kwh", "co2_operational_kg", "co2_embodied_kg", "co2_kg")


def rng(values: list[float]) -> Range:
    return Range.of(values)


def sentences(report: Mapping[str, Any], lang: str) -> list[str]:
    """The headline and the sentences that frame it, in FOOTPRINT.md's wording."""
    fp = report["footprint"]
    totals = report["totals"]
    if not totals["items"]:
        return [label("nothing", lang)]
    per_year = rng(fp["per_year"]["co2_kg"])
    out = [headline(per_year, lang) + "."]
    first = rng(fp["first_year"]["co2_kg"])
    if per_year.high > 0 and first.central < per_year.central:
        out.append(sentence("first_year", first, lang))
    pending = rng(fp["pending_per_year"]["co2_kg"])
    still_held = totals["pending_bytes"] + totals.get("backup_pending_bytes", 0)
    if still_held:
        key = "pending_note_backups" if totals.get("backup_pending_bytes") else "pending_note"
        out.append(sentence(key, pending, lang, size=size(still_held, lang)))
    if any(g["name"] == LOCAL and g["freed_bytes"] for g in report["by_location"]):
        out.append(label("local_note", lang))
    if per_year.high > 0:
        out.append(sentence("car", rng(fp["car_km"]), lang, km))
    if fp.get("backup_retention_days") is not None:
        out.append(label("backups", lang).format(days=number(fp["backup_retention_days"], lang)))
    if fp.get("avoided_purchase_kg") is not None:
        out.append(label("avoided", lang).format(kg=about(fp["avoided_purchase_kg"], lang)))
    return out


def state_rows(report: Mapping[str, Any], lang: str) -> list[list[str]]:
    t = report["totals"]
    rows = [
        [label("freed", lang), size(t["freed_bytes"], lang)],
        [label("versions", lang), size(t["versions_bytes"], lang)],
        [label("pending", lang), size(t["pending_bytes"], lang)],
        [label("archived", lang), size(t["archived_bytes"], lang)],
    ]
    if report["footprint"].get("backup_retention_days") is not None:
        rows += [
            [label("backup_freed", lang), size(t.get("backup_freed_bytes", 0), lang)],
            [label("backup_pending", lang), size(t.get("backup_pending_bytes", 0), lang)],
        ]
    return rows


def footprint_rows(report: Mapping[str, Any], lang: str) -> list[list[str]]:
    per_year = report["footprint"]["per_year"]
    return [[label(k, lang), *(figure(v, lang) for v in per_year[k])] for k in ESTIMATE_KEYS]


def footprint_headers(lang: str) -> list[str]:
    return [label("measure", lang), label("low", lang), label("central", lang), label("high", lang)]


def group_headers(lang: str, what: str) -> list[str]:
    return [
        label(what, lang),
        label("items", lang),
        label("freed", lang),
        label("pending", lang),
        label("co2_central", lang),
    ]


def group_rows(
    groups: list[Mapping[str, Any]], lang: str, translate: bool = True
) -> list[list[str]]:
    """Rows of a breakdown; names of locations and kinds are translated, providers' and teams' are not."""
    return [
        [
            label(g["name"], lang) if translate or g["name"] == "unknown" else str(g["name"]),
            number(g["items"], lang),
            size(g["freed_bytes"], lang),
            size(g["pending_bytes"], lang),
            figure(g["co2_kg"][1], lang),
        ]
        for g in groups
    ]


def pending_rows(report: Mapping[str, Any], lang: str) -> list[list[str]]:
    return [
        [
            r["until"] or label("never", lang),
            str(r["provider"]),
            label("held_by_" + r.get("held_by", "bin"), lang),
            size(r["bytes"], lang),
        ]
        for r in report["pending"]
    ]


def pending_headers(lang: str) -> list[str]:
    return [
        label("until", lang),
        label("provider", lang),
        label("held_by", lang),
        label("bytes", lang),
    ]


def quota_rows(report: Mapping[str, Any], lang: str) -> list[list[str]]:
    return [
        [
            f"{q['provider']}: {q['account']}",
            label("unlimited", lang) if q["total"] is None else size(q["total"], lang),
            size(q["before"], lang),
            size(q["after"], lang),
        ]
        for q in report["quotas"]
    ]


def quota_headers(lang: str) -> list[str]:
    return [
        label("drive", lang),
        label("quota_total", lang),
        label("before", lang),
        label("after", lang),
    ]


def win_rows(report: Mapping[str, Any], lang: str) -> list[list[str]]:
    detailed = report.get("detailed")
    return [
        [
            str(w.get("path") or w["id"]) if detailed else w["id"],
            str(w["provider"]),
            label(w["kind"], lang),
            size(w["freed_bytes"], lang),
            size(w["pending_bytes"], lang),
        ]
        for w in report["biggest_wins"]
    ]


def win_headers(lang: str) -> list[str]:
    return [
        label("item", lang),
        label("provider", lang),
        label("kind", lang),
        label("freed", lang),
        label("pending", lang),
    ]


def parameter_rows(report: Mapping[str, Any], lang: str) -> list[list[str]]:
    rows = []
    for p in report["parameters"].values():
        rows.append(
            [
                p["label"],
                *(number(v, lang, _decimals(v)) for v in (p["low"], p["central"], p["high"])),
                p["source"],
                p["edition"],
            ]
        )
    return rows


def changed_note(report: Mapping[str, Any], lang: str) -> str:
    """Which parameters a --factors file changed, or nothing."""
    changed = report.get("parameters_changed") or []
    if not changed:
        return ""
    names = ", ".join(
        report["parameters"][n]["label"] for n in changed if n in report["parameters"]
    )
    return label("changed", lang).format(names=names)


def parameter_headers(lang: str) -> list[str]:
    return [
        label("parameter", lang),
        label("low", lang),
        label("central", lang),
        label("high", lang),
        label("source", lang),
        label("edition", lang),
    ]


def _decimals(v: float) -> int:
    text = f"{v:.6g}"
    return len(text.split(".")[1]) if "." in text else 0


def made_by(report: Mapping[str, Any], lang: str) -> str:
    return label("made_by", lang).format(
        version=report["tool"]["version"], date=str(report["generated"])[:10]
    )


def render_text(report: Mapping[str, Any], lang: str = "en") -> str:
    """The terminal summary."""
    out = [label("title", lang), ""]
    out += sentences(report, lang)
    if report["totals"]["items"]:
        out += [
            "",
            label("totals", lang),
            table(state_rows(report, lang), [label("state", lang), label("bytes", lang)]),
        ]
        out += [
            "",
            label("footprint", lang),
            table(footprint_rows(report, lang), footprint_headers(lang)),
        ]
        for section, what in (
            ("by_provider", "provider"),
            ("by_location", "location"),
            ("by_team", "team"),
        ):
            if report[section]:
                rows = group_rows(report[section], lang, section == "by_location")
                out += ["", label(section, lang), table(rows, group_headers(lang, what))]
        if report["pending"]:
            out += [
                "",
                label("pending_title", lang),
                table(
                    pending_rows(report, lang),
                    pending_headers(lang),
                ),
            ]
    if report["quotas"]:
        out += ["", label("quotas", lang), table(quota_rows(report, lang), quota_headers(lang))]
    out += ["", made_by(report, lang) + " " + date_note(report, lang)]
    return "\n".join(out) + "\n"


def date_note(report: Mapping[str, Any], lang: str) -> str:
    if report.get("merged_from"):
        return label("merged", lang).format(n=report["merged_from"])
    runs = list(report["runs"])
    shown = ", ".join(runs[:5]) + (f" (+{len(runs) - 5})" if len(runs) > 5 else "")
    return label("runs", lang).format(runs=shown or "-")


def table(rows: list[list[str]], headers: list[str]) -> str:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    cells = [headers, *rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(parts).rstrip())
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


__all__ = ["date", "render_text", "sentences", "table"]
