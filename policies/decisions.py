"""What the policy engine decides for an item: the contract between policies and plans."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cleanup.inventory import StoredFile

# From least to most destructive. When several policies match, the least destructive wins.
ACTIONS = ("flag", "archive", "trim_versions", "trash", "delete")


@dataclass(slots=True)
class Decision:
    """One proposed action on one item, with the policy and the reason behind it."""

    record: StoredFile
    action: str  # one of ACTIONS
    policy: str  # the [[policy]] name that decided it
    reason: str  # for people: "duplicate of /a/x.txt (kept: oldest copy)"
    destination: str | None = None  # archive: where to move it
    keep: StoredFile | None = None  # duplicates: the copy that stays
    group: str | None = None  # duplicates: the group id from findings
    keep_versions: int | None = None  # trim_versions: keep the newest N
    versions_newer_than: float | None = None  # trim_versions: and those newer than this
    # What carrying it out frees: 0 for a flag, for something that frees nothing, or for one
    # name of a hard-linked file whose other names stay; None when only apply can tell
    # (trimming versions while keeping some). Sum this, not record.storage_bytes.
    reclaimable_bytes: int | None = None


@dataclass(slots=True)
class Limits:
    """Run limits from [defaults]: planning aborts when a plan would exceed any of them."""

    max_items: int | None = None
    max_bytes: int | None = None
    max_percent: float | None = None  # of the inventory's files


@dataclass(slots=True)
class Approvals:
    """Approvals a plan needs before apply will run it."""

    required: int = 0
    second_above_bytes: int | None = None  # a second approval when the plan frees more than this
    second_for_delete: bool = False  # a second approval when the plan deletes permanently


@dataclass(slots=True)
class Evaluation:
    """Everything a policy decided about an inventory."""

    policy_name: str
    policy_hash: str  # sha256 of the policy file's bytes
    decisions: list[Decision] = field(default_factory=list)
    protected: list[tuple[StoredFile, str]] = field(default_factory=list)  # (item, why)
    warnings: list[str] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    approvals: Approvals = field(default_factory=Approvals)
    min_age_days: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
