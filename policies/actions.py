"""Actions: what a policy does to the items it matches, from least to most destructive.

A policy names its action as a word (`action = "trash"`) or as a table with a `type` and
the action's own keys (`action = { type = "archive", to = "/mnt/archive" }`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from . import values
from .decisions import ACTIONS
from .registry import BadValue, Registry, did_you_mean

# What each kind of item can have done to it: trashed items can only be flagged or deleted,
# old versions only flagged or trimmed.
APPLIES_TO = (
    "files",
    "duplicates",
    "old_versions",
    "trash",
    "junk",
    "empty_files",
    "empty_folders",
    "stale",
    "oversized",
)
REMOVING = frozenset({"archive", "trash", "delete"})  # the item leaves its place


class Action:
    """One action with its settings. Subclasses parse their keys in __init__."""

    name: ClassVar[str]
    doc: ClassVar[str]
    example: ClassVar[str]
    params: ClassVar[dict[str, dict[str, Any]]] = {}  # key -> JSON Schema
    required: ClassVar[tuple[str, ...]] = ()
    applies_to: ClassVar[tuple[str, ...]] = APPLIES_TO

    def __init__(self, settings: dict[str, Any], archive_to: str | None) -> None:
        for key in settings:
            if key not in self.params:
                hint = did_you_mean(key, self.params)
                known = ", ".join(self.params) or "none"
                raise BadValue(
                    f"action {self.name!r} has no setting {key!r}.{hint} Its settings: {known}."
                )
        for key in self.required:
            if key not in settings:
                raise BadValue(f"action {self.name!r} needs {key!r}: {self.example}")

    @property
    def rank(self) -> int:
        """Position in ACTIONS: higher is more destructive."""
        return ACTIONS.index(self.name)

    def describe(self) -> str:
        return self.name

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """The JSON Schema of this action in its table form."""
        return {
            "type": "object",
            "description": cls.doc,
            "properties": {"type": {"const": cls.name}, **cls.params},
            "required": ["type", *cls.required],
            "additionalProperties": False,
        }


actions: Registry[Action] = Registry("action")


@actions.register("flag")
class Flag(Action):
    doc = "List the item in the plan for a person to look at; nothing is changed."
    example = 'action = "flag"'


@actions.register("archive")
class Archive(Action):
    doc = (
        "Move the item to an archive folder, keeping its path below the scanned root. `to` "
        "is the destination; without it, [defaults] archive_to is used."
    )
    example = 'action = { type = "archive", to = "/mnt/archive" }'
    params = {"to": {"type": "string", "description": "Destination folder (absolute, or ~/...)."}}
    applies_to = tuple(a for a in APPLIES_TO if a not in ("old_versions", "trash"))

    def __init__(self, settings: dict[str, Any], archive_to: str | None) -> None:
        super().__init__(settings, archive_to)
        if "to" in settings:
            self.destination = values.folder(settings["to"])
        elif archive_to:
            self.destination = archive_to
        else:
            raise BadValue(
                'archive needs a destination: write action = { type = "archive", to = "/mnt/archive" } '
                "or set archive_to in [defaults]."
            )

    def describe(self) -> str:
        return f"archive to {self.destination}"


@actions.register("trash")
class Trash(Action):
    doc = "Move the item to the trash or recycle bin, from where it can be restored."
    example = 'action = "trash"'
    applies_to = tuple(a for a in APPLIES_TO if a not in ("old_versions", "trash"))


@actions.register("delete")
class Delete(Action):
    doc = (
        "Delete the item permanently, bypassing the trash. For items already in a trash this "
        "empties them from it. Cannot be undone."
    )
    example = 'action = "delete"'
    applies_to = tuple(a for a in APPLIES_TO if a != "old_versions")


@actions.register("trim_versions")
class TrimVersions(Action):
    doc = (
        "Remove a file's older versions (revisions) kept by a cloud drive, keeping the newest "
        "`keep` and any newer than `newer_than`. The current version is never touched."
    )
    example = 'action = { type = "trim_versions", keep = 3, newer_than = "90d" }'
    params = {
        "keep": {
            "type": "integer",
            "minimum": 0,
            "description": "How many of the newest old versions stay.",
        },
        "newer_than": {**values.AGE_SCHEMA, "description": "Old versions younger than this stay."},
    }
    applies_to = ("old_versions",)

    def __init__(self, settings: dict[str, Any], archive_to: str | None) -> None:
        super().__init__(settings, archive_to)
        if "keep" not in settings and "newer_than" not in settings:
            raise BadValue(f"trim_versions needs keep, newer_than or both: {self.example}")
        self.keep = values.count(settings["keep"]) if "keep" in settings else None
        self.newer_than = values.age(settings["newer_than"]) if "newer_than" in settings else None

    def describe(self) -> str:
        parts = []
        if self.keep is not None:
            parts.append(f"keep the newest {self.keep}")
        if self.newer_than is not None:
            parts.append(f"keep those newer than {self.newer_than:g} days")
        return "trim old versions (" + ", ".join(parts) + ")"


def parse(value: Any, archive_to: str | None) -> Action:
    """An action from `"trash"` or `{ type = "archive", to = "..." }`."""
    if isinstance(value, str):
        return actions.get(value)({}, archive_to)
    if isinstance(value, dict):
        settings = dict(value)
        name = settings.pop("type", None)
        if not isinstance(name, str):
            raise BadValue(f"an action table needs a type, e.g. {Archive.example}")
        return actions.get(name)(settings, archive_to)
    raise BadValue(f'{value!r} is not an action. Write e.g. action = "trash" or {Archive.example}.')


def schema() -> dict[str, Any]:
    """JSON Schema of the `action` key, from the registry."""
    return {
        "description": "What the policy does to what it matches.",
        "oneOf": [
            {"type": "string", "enum": actions.names()},
            *(cls.schema() for _, cls in actions),
        ],
    }
