"""The report as Markdown, for a wiki page or an audit file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .report_text import (
    changed_note,
    date_note,
    footprint_headers,
    footprint_rows,
    group_headers,
    group_rows,
    made_by,
    parameter_headers,
    parameter_rows,
    pending_headers,
    pending_rows,
    quota_headers,
    quota_rows,
    sentences,
    state_rows,
    win_headers,
    win_rows,
)
from .report_wording import MODEL, REFERENCES, label, number

_SPECIAL = str.maketrans(
    {c: "\\" + c for c in "\\`*_[]#|!~"}
    | {"<": "&lt;", ">": "&gt;", "&": "&amp;", "\n": " ", "\r": " "}
)


def escape(text: str) -> str:
    """Text that Markdown shows as written: no markup, no raw HTML, no broken table."""
    return str(text).translate(_SPECIAL)


def _table(rows: list[list[str]], headers: list[str]) -> list[str]:
    out = ["| " + " | ".join(escape(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(escape(c) for c in r) + " |" for r in rows]
    return out + [""]


def render_markdown(report: Mapping[str, Any], lang: str = "en") -> str:
    """The whole report, methodology included."""
    out = [f"# {label('title', lang)}", "", f"## {label('summary', lang)}", ""]
    out += [escape(s) for s in sentences(report, lang)]
    out.append("")
    if report["totals"]["items"]:
        out += [f"## {label('totals', lang)}", ""] + _table(
            state_rows(report, lang), [label("state", lang), label("bytes", lang)]
        )
        out += [f"## {label('footprint', lang)}", ""] + _table(
            footprint_rows(report, lang), footprint_headers(lang)
        )
        for section, what in (
            ("by_provider", "provider"),
            ("by_location", "location"),
            ("by_kind", "kind"),
            ("by_team", "team"),
        ):
            if report[section]:
                out += [f"## {label(section, lang)}", ""] + _table(
                    group_rows(report[section], lang, section in ("by_location", "by_kind")),
                    group_headers(lang, what),
                )
        if report["pending"]:
            out += [f"## {label('pending_title', lang)}", ""]
            out += _table(
                pending_rows(report, lang),
                pending_headers(lang),
            )
    if report["quotas"]:
        out += [f"## {label('quotas', lang)}", ""] + _table(
            quota_rows(report, lang), quota_headers(lang)
        )
    if report["biggest_wins"]:
        out += [f"## {label('wins', lang)}", ""] + _table(win_rows(report, lang), win_headers(lang))
    out += [f"## {label('methodology', lang)}", "", escape(label("scope", lang)), ""]
    out += [escape(label("states_text", lang)), ""]
    if not report.get("detailed"):
        out += [escape(label("privacy", lang)), ""]
    out += [f"### {label('formula', lang)}", "", "```", MODEL, "```", ""]
    out += [f"### {label('parameters', lang)}", ""] + _table(
        parameter_rows(report, lang), parameter_headers(lang)
    )
    if changed_note(report, lang):
        out += [escape(changed_note(report, lang)), ""]
    out += [f"### {label('references', lang)}", ""]
    out += _table(
        [
            [
                name,
                number(lo, lang, 3 if lo < 1 else 0) + ("" if hi == lo else "–" + number(hi, lang)),
            ]
            for name, lo, hi in REFERENCES
        ],
        [label("reference", lang), label("value", lang)],
    )
    out += [
        escape(label("references_note", lang)),
        "",
        escape(made_by(report, lang) + " " + date_note(report, lang)),
        "",
    ]
    return "\n".join(out)
