"""Keep rules: which copy of a duplicate group stays, tried in the order a policy lists them.

Each rule narrows the copies still in the running; the first rule that leaves exactly one
decides. A rule that would rule out every copy is skipped. When the rules run out with
several copies left, nothing decides and the group is flagged, not acted on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from cleanup.findings import Copy
from cleanup.inventory import StoredFile

from . import values
from .conditions import day
from .globs import Globs
from .registry import BadValue, Registry


@dataclass(slots=True)
class Candidate:
    """One copy of a duplicate group, with the inventory records of its names."""

    copy: Copy
    records: list[StoredFile]

    @property
    def path(self) -> str:
        return self.copy.paths[0]

    @property
    def modified(self) -> float:
        return self.copy.modified if self.copy.modified is not None else float("inf")


class KeepRule:
    """Narrows the copies in the running. Subclasses with a setting parse it in __init__."""

    name: ClassVar[str]
    doc: ClassVar[str]
    example: ClassVar[str]
    setting: ClassVar[dict[str, Any] | None] = None  # JSON Schema of the setting; None: a bare word

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def narrow(self, copies: list[Candidate]) -> list[Candidate]:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def globs(self) -> list[str]:
        return []


keep_rules: Registry[KeepRule] = Registry("keep rule")


def _extreme(copies: list[Candidate], key: Any, largest: bool) -> list[Candidate]:
    best = max(key(c) for c in copies) if largest else min(key(c) for c in copies)
    return [c for c in copies if key(c) == best]


@keep_rules.register("under")
class Under(KeepRule):
    doc = "Keep the copy under one of these folders (path globs), e.g. your canonical folder."
    example = 'keep = [{ under = "~/Documents/**" }, "oldest"]'
    setting = values.TEXTS_SCHEMA

    def __init__(self, value: Any = None) -> None:
        super().__init__(value)
        self.patterns = values.texts(value)
        try:
            self.compiled = Globs(self.patterns)
        except ValueError as exc:
            raise BadValue(f"{value!r}: {exc}") from None

    def narrow(self, copies: list[Candidate]) -> list[Candidate]:
        return [c for c in copies if any(self.compiled.match(p) for p in c.copy.paths)]

    def describe(self) -> str:
        return "under " + " or ".join(self.patterns)

    def globs(self) -> list[str]:
        return self.patterns


@keep_rules.register("oldest")
class Oldest(KeepRule):
    doc = "Keep the copy modified longest ago: usually the original."
    example = 'keep = ["oldest"]'

    def narrow(self, copies: list[Candidate]) -> list[Candidate]:
        return _extreme(copies, lambda c: c.modified, largest=False)

    def describe(self) -> str:
        return "oldest copy"


@keep_rules.register("newest")
class Newest(KeepRule):
    doc = "Keep the copy modified most recently."
    example = 'keep = ["newest"]'

    def narrow(self, copies: list[Candidate]) -> list[Candidate]:
        known = [c for c in copies if c.copy.modified is not None]
        return _extreme(known, lambda c: c.modified, largest=True) if known else []

    def describe(self) -> str:
        return "newest copy"


@keep_rules.register("shortest_path")
class ShortestPath(KeepRule):
    doc = "Keep the copy with the shortest path: usually the least nested."
    example = 'keep = ["oldest", "shortest_path"]'

    def narrow(self, copies: list[Candidate]) -> list[Candidate]:
        return _extreme(copies, lambda c: len(c.path), largest=False)

    def describe(self) -> str:
        return "shortest path"


@keep_rules.register("longest_path")
class LongestPath(KeepRule):
    doc = "Keep the copy with the longest path: usually the most carefully filed."
    example = 'keep = ["longest_path"]'

    def narrow(self, copies: list[Candidate]) -> list[Candidate]:
        return _extreme(copies, lambda c: len(c.path), largest=True)

    def describe(self) -> str:
        return "longest path"


# What file managers and browsers add to a copy's name: "report (1).pdf", "report - Copy.pdf",
# "Copy of report.pdf", "report copy 2.pdf", "Photos 2019 (copy)", and French Windows'
# "rapport - Copie.pdf", "Copie de rapport.pdf".
_COPY_MARK = re.compile(
    r"\(\d+\)(?=\.[^.]*$|$)|\((?:copy|copie)\)|(?:^|[ _-])(?:copy|copie)(?: \d+)?(?=\.[^.]*$|$)"
    r"|^(?:copy|copie) (?:of|de) ",
    re.IGNORECASE,
)


def copy_marks(path: str) -> int:
    """How many of a path's names carry a mark of a copy."""
    return sum(1 for part in path.replace("\\", "/").split("/") if _COPY_MARK.search(part))


@keep_rules.register("original_name")
class OriginalName(KeepRule):
    doc = (
        'Keep the copy whose names do not say "copy": not "report (1).pdf", "report - Copy.pdf", '
        '"Copy of report.pdf" or a folder "Photos (copy)".'
    )
    example = 'keep = ["oldest", "original_name", "shortest_path"]'

    def narrow(self, copies: list[Candidate]) -> list[Candidate]:
        return _extreme(copies, lambda c: copy_marks(c.path), largest=False)

    def describe(self) -> str:
        return "the name without a mark of a copy"


@keep_rules.register("provider")
class Provider(KeepRule):
    doc = "Keep the copy held by one of these providers, e.g. the company drive over a laptop."
    example = 'keep = [{ provider = "sharepoint" }, "oldest"]'
    setting = values.TEXTS_SCHEMA

    def __init__(self, value: Any = None) -> None:
        super().__init__(value)
        self.providers = values.texts(value)

    def narrow(self, copies: list[Candidate]) -> list[Candidate]:
        # Earlier names are preferred: [gdrive, local] keeps a Drive copy if there is one.
        for provider in self.providers:
            found = [c for c in copies if c.copy.provider == provider]
            if found:
                return found
        return []

    def describe(self) -> str:
        return "provider " + " or ".join(self.providers)


def choose(copies: list[Candidate], rules: list[KeepRule]) -> tuple[Candidate | None, str]:
    """The copy to keep and the rule that chose it, or (None, why nothing decided)."""
    left = list(copies)
    if len(left) == 1:
        return left[0], "the only candidate"
    for rule in rules:
        narrowed = rule.narrow(left)
        if narrowed:
            left = narrowed
        if len(left) == 1:
            return left[0], rule.describe()
    tied = ", ".join(f"{c.path} ({day(c.copy.modified)})" for c in left)
    return None, f"no keep rule decides between {len(left)} copies: {tied}"


def parse(value: Any) -> list[KeepRule]:
    """Keep rules from `["oldest"]` or `[{ under = "~/Documents/**" }, "oldest"]`."""
    items = [value] if isinstance(value, str | dict) else value
    if not isinstance(items, list) or not items:
        raise BadValue(
            f"keep should be a list of keep rules, e.g. {Under.example.split(' = ', 1)[1]}."
        )
    rules: list[KeepRule] = []
    for item in items:
        if isinstance(item, str):
            cls = keep_rules.get(item)
            if cls.setting is not None:
                raise BadValue(f"keep rule {item!r} needs a setting: {cls.example}")
            rules.append(cls())
        elif isinstance(item, dict) and len(item) == 1:
            ((name, setting),) = item.items()
            cls = keep_rules.get(name)
            if cls.setting is None:
                raise BadValue(f'keep rule {name!r} takes no setting: write it as "{name}".')
            rules.append(cls(setting))
        else:
            raise BadValue(
                f'{item!r} is not a keep rule. Write a word such as "oldest" or a table such as {{ under = "~/Documents/**" }}.'
            )
    return rules


def schema() -> dict[str, Any]:
    """JSON Schema of the `keep` key, from the registry."""
    bare = [name for name, cls in keep_rules if cls.setting is None]
    tables = [
        {
            "type": "object",
            "description": cls.doc,
            "properties": {name: cls.setting},
            "required": [name],
            "additionalProperties": False,
        }
        for name, cls in keep_rules
        if cls.setting is not None
    ]
    item = {"oneOf": [{"type": "string", "enum": bare}, *tables]}
    return {
        "description": "Duplicates only: which copy stays, rules tried in order.",
        "oneOf": [item, {"type": "array", "items": item, "minItems": 1}],
    }
