"""The policy language's JSON Schema, generated from the registries."""

from __future__ import annotations

from typing import Any

from . import actions, keep_rules
from .conditions import conditions
from .language import DEFAULT_KEYS, RULE_KEYS
from .protection import KEYS as PROTECT_KEYS


def _table(properties: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "additionalProperties": False,
    }


def schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a policy file, as data after TOML parsing."""
    condition_keys = {name: {**cls.schema, "description": cls.doc} for name, cls in conditions}
    unless_table = {
        **_table(condition_keys, "Exempt what all of these conditions match."),
        "minProperties": 1,
    }
    rule = _table(
        {
            **RULE_KEYS,
            "action": actions.schema(),
            "keep": keep_rules.schema(),
            "unless": {
                "oneOf": [unless_table, {"type": "array", "items": unless_table, "minItems": 1}]
            },
            **condition_keys,
        },
        "One policy: what it applies to, the conditions it needs, and its action.",
    )
    rule["required"] = ["name", "action"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://cleanup.invalid/schemas/policy.json",
        "title": "cleanup policy file",
        **_table(
            {
                "name": {"type": "string", "minLength": 1},
                "description": {"type": "string"},
                "protect": _table(PROTECT_KEYS, "What no policy may touch, checked first."),
                "defaults": _table(
                    DEFAULT_KEYS, "Minimum age, run limits, approvals and the archive destination."
                ),
                "policy": {"type": "array", "items": rule, "minItems": 1},
            },
            "A cleanup policy file (TOML).",
        ),
        "required": ["policy"],
    }
