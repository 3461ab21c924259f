"""The report as one self-contained HTML page: no script, nothing loaded from the network.

Accessible (headings, captions and header cells on every table, a text alternative for
each chart, contrast above 4.5:1, focusable scrolling regions) and printable. Every name
that reaches the page goes through ``escape``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape as _escape
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
from .report_wording import MODEL, REFERENCES, label, number, scale

_CSS = """
:root { color: #1b1b1b; background: #ffffff; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
body { margin: 0 auto; max-width: 60rem; padding: 1.5rem; }
h1 { font-size: 1.8rem; margin: 0 0 1rem; }
h2 { font-size: 1.35rem; margin: 2rem 0 .75rem; border-bottom: 2px solid #1f5f8b; padding-bottom: .25rem; }
h3 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
.headline { font-size: 1.2rem; font-weight: 600; background: #eef4f8; border-left: .4rem solid #1f5f8b; padding: .75rem 1rem; }
.scroll { overflow-x: auto; }
.scroll:focus { outline: 3px solid #1f5f8b; outline-offset: 2px; }
table { border-collapse: collapse; margin: .5rem 0 1rem; min-width: 50%; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
th, td { border: 1px solid #8a8a8a; padding: .3rem .6rem; vertical-align: top; }
thead th { background: #e8e8e8; text-align: left; }
tbody th { text-align: left; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; }
figcaption { font-size: .95rem; color: #3b3b3b; }
svg text { font: 13px system-ui, sans-serif; fill: #1b1b1b; }
svg .bar { fill: #1f5f8b; }
pre { background: #f4f4f4; padding: .75rem; overflow-x: auto; }
.note { color: #3b3b3b; }
.toc { display: flex; flex-wrap: wrap; gap: .25rem 1.25rem; list-style: none; padding: 0; margin: 0 0 1rem; }
a:focus { outline: 3px solid #1f5f8b; outline-offset: 2px; }
a { color: #0b4f7c; }
@page { size: A4; margin: 15mm; }
@media print {
  :root { font-size: 11pt; background: #fff; color: #000; }
  body { max-width: none; padding: 0; }
  .headline { background: none; border: 1px solid #000; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table, figure, pre { break-inside: avoid; page-break-inside: avoid; }
  .scroll { overflow: visible; }
  nav { display: none; }
  table { width: 100%; box-sizing: border-box; }
  th, td { overflow-wrap: break-word; }
  .n { white-space: nowrap; }
  svg .bar { fill: #444; }
}
"""
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def escape(text: object) -> str:
    """Any text as HTML text or attribute value."""
    return _escape(str(text), quote=True)


_SR_ONLY = ' class="sr-only"'


def _table(
    rows: list[list[str]],
    headers: list[str],
    caption: str,
    lang: str,
    numeric_from: int = 1,
    text_from: int = 99,
    headed: bool = False,
) -> str:
    """A table with its caption; ``headed``: a heading just above says the same, so the
    caption is there for screen readers only."""

    def cls(i: int) -> str:
        return ' class="n"' if numeric_from <= i < text_from else ""

    head = "".join(f'<th scope="col"{cls(i)}>{escape(h)}</th>' for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = [f'<th scope="row">{escape(row[0])}</th>']
        cells += [f"<td{cls(i)}>{escape(c)}</td>" for i, c in enumerate(row[1:], 1)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll" tabindex="0" role="region" aria-label="{escape(label("table", lang).format(caption))}">'
        f"<table><caption{_SR_ONLY if headed else ''}>{escape(caption)}</caption>"
        f"<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def bar_chart(
    groups: list[Mapping[str, Any]], lang: str, what: str, chart_id: str, translate: bool
) -> str:
    """Horizontal bars of bytes freed per group, in the unit that suits the largest (kB to
    TB), with a title and description for assistive technology."""
    rows = [g for g in groups if g["freed_bytes"] > 0]
    if not rows:
        return ""
    top = max(g["freed_bytes"] for g in rows)
    label_w, bar_w, row_h = 220, 320, 30
    height = row_h * len(rows) + 10
    per, unit, unit_name = scale(top, lang)
    alt = label("chart_alt", lang).format(unit=unit_name, what=label(what, lang))
    names = [label(g["name"], lang) if translate else str(g["name"]) for g in rows]

    def amount(g: Mapping[str, Any]) -> str:
        return f"{number(g['freed_bytes'] / per, lang, 0 if per == 1.0 else 2)} {unit}"

    desc = "; ".join(f"{n}: {amount(g)}" for n, g in zip(names, rows, strict=True))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{label_w + bar_w + 110}" height="{height}" '
        f'viewBox="0 0 {label_w + bar_w + 110} {height}" aria-labelledby="{chart_id}-t {chart_id}-d">'
        f'<title id="{chart_id}-t">{escape(alt)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>'
    ]
    for n, (name, g) in enumerate(zip(names, rows, strict=True)):
        y = 5 + n * row_h
        width = max(2.0, bar_w * g["freed_bytes"] / top)
        short = name if len(name) <= 30 else name[:29] + "…"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end">{escape(short)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 4}" width="{width:.1f}" height="{row_h - 10}"></rect>'
            f'<text x="{label_w + width + 6:.1f}" y="{y + 19}">{escape(amount(g))}</text>'
        )
    parts.append("</svg>")
    return f"<figure>{''.join(parts)}<figcaption>{escape(alt)}</figcaption></figure>"


def _section(
    anchor: str,
    title: str,
    lang: str,
    rows: list[list[str]],
    headers: list[str],
    numeric_from: int = 1,
    before: str = "",
) -> str:
    """A section of the page: its heading, what comes ``before`` the table, and the table."""
    heading = escape(label(title, lang))
    return (
        f'<section aria-labelledby="s-{anchor}"><h2 id="s-{anchor}">{heading}</h2>{before}'
        + _table(rows, headers, label(title, lang), lang, numeric_from=numeric_from, headed=True)
        + "</section>"
    )


def render_html(report: Mapping[str, Any], lang: str = "en") -> str:
    """The whole page."""
    lines = sentences(report, lang)
    body = [
        f"<h1>{escape(label('title', lang))}</h1>",
        f'<section aria-labelledby="s-summary"><h2 id="s-summary">{escape(label("summary", lang))}</h2>',
    ]
    body.append(f'<p class="headline">{escape(lines[0])}</p>')
    body += [f"<p>{escape(s)}</p>" for s in lines[1:]]
    if report["totals"]["items"]:
        body.append(
            _table(
                state_rows(report, lang),
                [label("state", lang), label("bytes", lang)],
                label("totals", lang),
                lang,
            )
        )
        body.append(
            _table(
                footprint_rows(report, lang),
                footprint_headers(lang),
                label("footprint", lang),
                lang,
            )
        )
    body.append("</section>")
    if report["totals"]["items"]:
        for section, what, chart in (
            ("by_provider", "provider", "chart_by_provider"),
            ("by_kind", "kind", "chart_by_kind"),
            ("by_location", "location", ""),
            ("by_team", "team", ""),
        ):
            if not report[section]:
                continue
            chart_svg = (
                bar_chart(report[section], lang, chart, f"chart-{section}", section == "by_kind")
                if chart
                else ""
            )
            body.append(
                _section(
                    section,
                    section,
                    lang,
                    group_rows(report[section], lang, section in ("by_location", "by_kind")),
                    group_headers(lang, what),
                    before=chart_svg,
                )
            )
        if report["pending"]:
            body.append(
                _section(
                    "pending",
                    "pending_title",
                    lang,
                    pending_rows(report, lang),
                    pending_headers(lang),
                    numeric_from=3,
                )
            )
    if report["quotas"]:
        body.append(
            _section("quotas", "quotas", lang, quota_rows(report, lang), quota_headers(lang))
        )
    if report["biggest_wins"]:
        body.append(
            _section(
                "wins", "wins", lang, win_rows(report, lang), win_headers(lang), numeric_from=3
            )
        )
    body.append(
        f'<section aria-labelledby="s-method"><h2 id="s-method">{escape(label("methodology", lang))}</h2>'
    )
    body += [
        f"<p>{escape(label('scope', lang))}</p>",
        f"<p>{escape(label('states_text', lang))}</p>",
    ]
    if not report.get("detailed"):
        body.append(f'<p class="note">{escape(label("privacy", lang))}</p>')
    body.append(f"<h3>{escape(label('formula', lang))}</h3><pre>{escape(MODEL)}</pre>")
    body.append(f"<h3>{escape(label('parameters', lang))}</h3>")
    body.append(
        _table(
            parameter_rows(report, lang),
            parameter_headers(lang),
            label("parameters", lang),
            lang,
            text_from=4,
            headed=True,
        )
    )
    if changed_note(report, lang):
        body.append(f'<p class="note">{escape(changed_note(report, lang))}</p>')
    body.append(f"<h3>{escape(label('references', lang))}</h3>")
    refs = [
        [name, number(lo, lang, 3 if lo < 1 else 0) + ("" if hi == lo else "–" + number(hi, lang))]
        for name, lo, hi in REFERENCES
    ]
    body.append(
        _table(
            refs,
            [label("reference", lang), label("value", lang)],
            label("references", lang),
            lang,
            headed=True,
        )
    )
    body.append(f'<p class="note">{escape(label("references_note", lang))}</p>')
    body.append(
        f'<p class="note">{escape(made_by(report, lang) + " " + date_note(report, lang))}</p></section>'
    )
    sections = re.findall(r'<h2 id="(s-[a-z_]+)">(.*?)</h2>', "".join(body))
    links = "".join(f'<li><a href="#{sid}">{title}</a></li>' for sid, title in sections)
    body.insert(
        1, f'<nav aria-label="{escape(label("contents", lang))}"><ul class="toc">{links}</ul></nav>'
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(label('title', lang))}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{chr(10).join(body)}\n</main>\n</body>\n</html>\n"
    )
