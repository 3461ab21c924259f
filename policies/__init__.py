"""The policy engine: policy files in TOML, checked against registries, turned into decisions.

policy = policies.load("staff")            # a file path or a shipped pack
evaluation = policy.evaluate(inventory)    # decisions, protected items, limits, approvals
"""

from __future__ import annotations

from .decisions import ACTIONS, Approvals, Decision, Evaluation, Limits
from .issues import Issue
from .language import Policy, Rule, load
from .limits import over_limits
from .schema import schema
from .shipped import names as packs
from .validate import validate

__all__ = [
    "ACTIONS",
    "Approvals",
    "Decision",
    "Evaluation",
    "Issue",
    "Limits",
    "Policy",
    "Rule",
    "load",
    "over_limits",
    "packs",
    "schema",
    "validate",
]
