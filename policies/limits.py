"""Run limits: whether an evaluation changes more than [defaults] allows."""

from __future__ import annotations

import humanize

from .decisions import Evaluation


def over_limits(evaluation: Evaluation, files_total: int | None = None) -> list[str]:
    """One sentence per limit the evaluation's changes exceed; empty when within all of them."""
    changing = [d for d in evaluation.decisions if d.action != "flag"]
    limits = evaluation.limits
    total = files_total if files_total is not None else int(evaluation.extra.get("files_total", 0))
    freed = sum(d.reclaimable_bytes or 0 for d in changing)
    out = []
    advice = "Narrow the policy, or raise the limit in [defaults] if this is intended."
    if limits.max_items is not None and len(changing) > limits.max_items:
        out.append(
            f"The plan would change {len(changing):,} items, more than max_items = {limits.max_items:,}. {advice}"
        )
    if limits.max_bytes is not None and freed > limits.max_bytes:
        out.append(
            f"The plan would free {humanize.naturalsize(freed)}, more than max_bytes = "
            f"{humanize.naturalsize(limits.max_bytes)}. {advice}"
        )
    if (
        limits.max_percent is not None
        and total
        and len(changing) * 100 / total > limits.max_percent
    ):
        share = len(changing) * 100 / total
        out.append(
            f"The plan would change {share:.1f}% of the inventory's {total:,} files, more than "
            f"max_percent = {limits.max_percent:g}. {advice}"
        )
    return out
