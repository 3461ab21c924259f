"""Reviewing a plan: a person walks it group by group and keeps what should stay.

The model only records choices; the keys and the screen live in the CLI. Keeping an item
drops it from the plan, which is always safe: a duplicate's kept copy is never an entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .plan import Plan, groups, without


@dataclass(slots=True)
class ReviewGroup:
    """Entries shown together: one duplicate group, or one policy's action."""

    title: str
    entries: list[dict[str, Any]]
    reviewed: bool = False

    @property
    def storage_bytes(self) -> int:
        return sum(e.get("storage_bytes", 0) for e in self.entries)


@dataclass(slots=True)
class Review:
    """The choices made so far over one plan."""

    plan: Plan
    groups: list[ReviewGroup] = field(default_factory=list)
    kept: set[int] = field(
        default_factory=set
    )  # entry numbers the person keeps (drops from the plan)

    @classmethod
    def of(cls, plan: Plan) -> Review:
        return cls(plan, [ReviewGroup(title, entries) for title, entries in groups(plan.entries)])

    def toggle(self, entry: dict[str, Any]) -> bool:
        """Keep the item if it was planned, plan it again if it was kept; return whether it is kept."""
        n = entry["entry"]
        if n in self.kept:
            self.kept.discard(n)
            return False
        self.kept.add(n)
        return True

    def is_kept(self, entry: dict[str, Any]) -> bool:
        return entry["entry"] in self.kept

    def accept(self, group: ReviewGroup) -> None:
        """The group stays as marked."""
        group.reviewed = True

    def skip(self, group: ReviewGroup) -> None:
        """Nothing in the group is acted on."""
        self.kept.update(e["entry"] for e in group.entries)
        group.reviewed = True

    def result(self, reviewer: str | None = None, drop_unreviewed: bool = False) -> Plan:
        """The reviewed plan: a new plan, with its own hash, without the kept items."""
        dropped = set(self.kept)
        if drop_unreviewed:
            for g in self.groups:
                if not g.reviewed:
                    dropped.update(e["entry"] for e in g.entries)
        note: dict[str, Any] = {
            "groups_reviewed": sum(1 for g in self.groups if g.reviewed),
            "groups": len(self.groups),
        }
        if reviewer:
            note["by"] = reviewer
        return without(self.plan, dropped, note)
