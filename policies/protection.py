"""Protection: what no policy may touch, checked before any policy is.

Legal holds always protect. Items carrying a label (retention or sensitivity, as the
provider reports it in extra["labels"]) are protected unless [protect] labels narrows
which labels protect. Paths protect the folders they match and everything below them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cleanup.inventory import StoredFile

from . import values
from .globs import Globs
from .registry import BadValue

KEYS: dict[str, dict[str, Any]] = {
    "paths": {
        **values.LIST_SCHEMA,
        "description": "Path globs; what they match and everything below is protected.",
    },
    "owners": {
        **values.LIST_SCHEMA,
        "description": "Owners (globs, ignoring case) whose items are protected.",
    },
    "labels": {
        **values.LIST_SCHEMA,
        "description": 'Labels (globs) that protect an item carrying them; default "*": any label.',
    },
}


def _labels(record: StoredFile) -> list[str]:
    labels = record.extra.get("labels") or []
    if isinstance(labels, str):
        labels = [labels]
    return [str(label) for label in labels]


def _ancestors(path: str) -> list[str]:
    parts = path.rstrip("/").split("/")
    return ["/".join(parts[:i]) or "/" for i in range(len(parts) - 1, 0, -1)]


@dataclass
class Protection:
    """The [protect] table, ready to test items."""

    paths: list[str] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=lambda: ["*"])

    def __post_init__(self) -> None:
        # "X/**" protects X itself too: an empty folder X must not be trashed from under a rule.
        patterns = self.paths + [p[:-3] for p in self.paths if p.endswith("/**") and len(p) > 3]
        try:
            self._paths = Globs(patterns) if patterns else None
            # One test for the path and all its folders: a pattern followed by "/anything".
            self._below = Globs([f"{p.rstrip('/')}/**" for p in patterns]) if patterns else None
            self._owners = Globs(self.owners, case_sensitive=False) if self.owners else None
            self._labels = Globs(self.labels, case_sensitive=False) if self.labels else None
        except ValueError as exc:
            raise BadValue(str(exc)) from None

    @classmethod
    def parse(cls, table: dict[str, Any]) -> Protection:
        """From the keys of [protect]; raises BadValue for a bad value (unknown keys are the caller's)."""
        kwargs = {key: values.texts(table[key], allow_empty=True) for key in KEYS if key in table}
        return cls(**kwargs)

    def reason(self, record: StoredFile) -> str | None:
        """Why ``record`` is protected, or None."""
        if record.extra.get("legal_hold"):
            return "on legal hold"
        if self._labels is not None:
            for label in _labels(record):
                if self._labels.match(label):
                    return f"carries the label {label!r}"
        if self._owners is not None and record.owner and self._owners.match(record.owner):
            return f"owner {record.owner} is protected"
        paths, below = self._paths, self._below
        if (
            paths is not None
            and below is not None
            and (paths.match(record.path) or below.match(record.path))
        ):
            for path in [record.path, *_ancestors(record.path)]:
                if paths.match(path):
                    return f"path matches protected {paths.which(path)!r}"
        return None

    def globs(self) -> list[str]:
        return list(self.paths)
