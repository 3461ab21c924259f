"""Conditions: what an item must be for a policy to act on it, each read as English.

A policy lists conditions as its own keys (`min_size = "1 GB"`); all must hold. `unless`
holds the same conditions and exempts what they match.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, ClassVar

import humanize

from cleanup.inventory import StoredFile
from cleanup.kinds import KINDS, kind_of_mime, kind_of_name
from cleanup.providers import ENTRY_POINT_GROUP
from cleanup.records import SHARED_EXTERNALLY

from . import values
from .globs import Globs
from .registry import BadValue, Registry, did_you_mean

DAY = 86400.0


def day(ts: float | None) -> str:
    """A date for reasons and explanations: 2023-04-01, or 'unknown'."""
    return time.strftime("%Y-%m-%d", time.gmtime(ts)) if ts is not None else "unknown"


def bytes_text(n: int) -> str:
    return humanize.naturalsize(n)


Key = tuple[str, str, str]


@dataclass(slots=True)
class Context:
    """What conditions may know beyond the item: the time, and which findings list which items."""

    now: float
    lists: dict[str, set[Key]] | None = None  # applies_to name -> keys; None: findings unknown

    def listed(self, record: StoredFile, name: str) -> bool | None:
        if self.lists is None or name not in self.lists:
            return None
        return (record.provider, record.account, record.item_id) in self.lists[name]


class Condition:
    """One test on one item. Subclasses parse their value in __init__ and raise BadValue."""

    name: ClassVar[str]
    schema: ClassVar[dict[str, Any]]
    doc: ClassVar[str]
    example: ClassVar[str]

    def __init__(self, value: Any) -> None:
        self.value = value

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        """What the condition asks, for people: 'size at least 1 GB'."""
        raise NotImplementedError

    def fact(self, record: StoredFile, ctx: Context) -> str:
        """What the item has, for people: 'size 1.2 GB'."""
        raise NotImplementedError

    def explain(self, record: StoredFile, ctx: Context) -> tuple[bool, str]:
        """Whether it holds, and a sentence saying why."""
        ok = self.matches(record, ctx)
        return ok, f"{self.describe()}: {'yes' if ok else 'no'} ({self.fact(record, ctx)})"

    def globs(self) -> list[str]:
        """Path globs this condition holds, so validate can warn about ones matching nothing."""
        return []


conditions: Registry[Condition] = Registry("condition")


class _Size(Condition):
    schema = values.SIZE_SCHEMA

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.bytes = values.size(value)

    def fact(self, record: StoredFile, ctx: Context) -> str:
        return f"size {bytes_text(record.size)}"


@conditions.register("min_size")
class MinSize(_Size):
    doc = "The file's size is at least this."
    example = 'min_size = "1 GB"'

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        return record.size >= self.bytes

    def describe(self) -> str:
        return f"size at least {bytes_text(self.bytes)}"


@conditions.register("max_size")
class MaxSize(_Size):
    doc = "The file's size is at most this."
    example = 'max_size = "10 MB"'

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        return record.size <= self.bytes

    def describe(self) -> str:
        return f"size at most {bytes_text(self.bytes)}"


class _Before(Condition):
    schema = values.AGE_SCHEMA
    what: ClassVar[str]

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.days = values.age(value)

    def when(self, record: StoredFile) -> float | None:
        raise NotImplementedError

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        ts = self.when(record)
        return ts is not None and ts < ctx.now - self.days * DAY

    def describe(self) -> str:
        return f"{self.what} more than {self.value} ago"

    def fact(self, record: StoredFile, ctx: Context) -> str:
        return f"{self.what} {day(self.when(record))}, cutoff {day(ctx.now - self.days * DAY)}"


@conditions.register("modified_before")
class ModifiedBefore(_Before):
    doc = (
        "Last modified longer ago than this age. Items with no known modification time never match."
    )
    example = 'modified_before = "3y"'
    what = "last modified"

    def when(self, record: StoredFile) -> float | None:
        return record.modified


@conditions.register("created_before")
class CreatedBefore(_Before):
    doc = "Created longer ago than this age, where the provider records creation times."
    example = 'created_before = "5y"'
    what = "created"

    def when(self, record: StoredFile) -> float | None:
        return record.created


@conditions.register("accessed_before")
class AccessedBefore(_Before):
    doc = (
        "Neither opened nor changed for longer than this age: the later of the access and "
        "modification times is before it. Where the provider records no access time, the "
        "modification time decides."
    )
    example = 'accessed_before = "3y"'
    what = "last used"

    def when(self, record: StoredFile) -> float | None:
        times = [t for t in (record.accessed, record.modified) if t is not None]
        return max(times) if times else None


class _Patterns(Condition):
    schema = values.TEXTS_SCHEMA
    case_sensitive: ClassVar[bool] = True

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.patterns = values.texts(value)
        try:
            self.compiled = Globs(self.patterns, self.case_sensitive)
        except ValueError as exc:
            raise BadValue(f"{value!r}: {exc}") from None

    def listed(self) -> str:
        return " or ".join(repr(p) for p in self.patterns)


@conditions.register("path")
class Path(_Patterns):
    doc = (
        "The item's path matches one of these globs. `*` stays within a folder name, `**` "
        "crosses folders, `~` is the home folder; a pattern not starting with `/` or `~` "
        "matches at any depth."
    )
    example = 'path = ["~/Downloads/**", "**/node_modules/**"]'

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        return self.compiled.match(record.path)

    def describe(self) -> str:
        return f"path matches {self.listed()}"

    def fact(self, record: StoredFile, ctx: Context) -> str:
        return f"path {record.path}"

    def globs(self) -> list[str]:
        return self.patterns


@conditions.register("filename")
class Name(_Patterns):
    doc = "The item's name (not its folder) matches one of these globs, ignoring case."
    example = 'filename = ["*.log", "core.*"]'
    case_sensitive = False

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        return self.compiled.match(record.name)

    def describe(self) -> str:
        return f"name matches {self.listed()}"

    def fact(self, record: StoredFile, ctx: Context) -> str:
        return f"name {record.name}"


@conditions.register("ext")
class Ext(Condition):
    doc = "The name ends with one of these extensions, ignoring case; the dot is optional."
    example = 'ext = ["iso", "dmg", "tar.gz"]'
    schema = values.TEXTS_SCHEMA

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.suffixes = tuple("." + e.lower().lstrip(".") for e in values.texts(value))
        if any(s == "." for s in self.suffixes):
            raise BadValue(f"{value!r}: an extension cannot be empty.")

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        return record.name.lower().endswith(self.suffixes)

    def describe(self) -> str:
        return "extension " + " or ".join(s[1:] for s in self.suffixes)

    def fact(self, record: StoredFile, ctx: Context) -> str:
        return f"name {record.name}"


def content_type(record: StoredFile) -> str:
    """The MIME type found by content, else the one the provider reported."""
    return (record.content_kind or record.mime or "").lower()


@conditions.register("mime")
class Mime(Condition):
    doc = "The MIME type (recognised from content where cleanup did so) matches one of these globs."
    example = 'mime = ["video/*", "application/x-iso9660-image"]'
    schema = values.TEXTS_SCHEMA

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.patterns = [p.lower() for p in values.texts(value)]

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        mime = content_type(record)
        return bool(mime) and any(fnmatch.fnmatchcase(mime, p) for p in self.patterns)

    def describe(self) -> str:
        return "MIME type " + " or ".join(self.patterns)

    def fact(self, record: StoredFile, ctx: Context) -> str:
        return f"MIME type {content_type(record) or 'unknown'}"


def report_kind(record: StoredFile) -> str:
    """The kind the findings report uses: documents, images, video, audio, archives, other."""
    if record.content_kind:
        return kind_of_mime(record.content_kind)
    return kind_of_mime(record.mime) if record.mime else kind_of_name(record.name)


@conditions.register("kind")
class Kind(Condition):
    doc = f"The kind of content, one or more of: {', '.join(KINDS)}."
    example = 'kind = ["video", "archives"]'
    schema = {
        "oneOf": [
            {"type": "string", "enum": list(KINDS)},
            {"type": "array", "items": {"type": "string", "enum": list(KINDS)}, "minItems": 1},
        ]
    }

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.kinds = values.texts(value)
        for k in self.kinds:
            if k not in KINDS:
                raise BadValue(
                    f"unknown kind {k!r}.{did_you_mean(k, KINDS)} Known: {', '.join(KINDS)}."
                )

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        return report_kind(record) in self.kinds

    def describe(self) -> str:
        return "kind " + " or ".join(self.kinds)

    def fact(self, record: StoredFile, ctx: Context) -> str:
        return f"kind {report_kind(record)}"


@conditions.register("owner")
class Owner(_Patterns):
    doc = "The owner (a user name locally, an e-mail address in the cloud) matches one of these globs, ignoring case."
    example = 'owner = ["*@contractor.example", "olduser"]'
    case_sensitive = False

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        return record.owner is not None and self.compiled.match(record.owner)

    def describe(self) -> str:
        return f"owner matches {self.listed()}"

    def fact(self, record: StoredFile, ctx: Context) -> str:
        return f"owner {record.owner or 'unknown'}"


def provider_names() -> list[str]:
    """Names of the installed providers, without importing them."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


@conditions.register("provider")
class Provider(Condition):
    doc = "The item lives in one of these providers: local, gdrive, sharepoint, or any installed plugin."
    example = 'provider = ["gdrive", "sharepoint"]'
    schema = values.TEXTS_SCHEMA

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.providers = values.texts(value)
        known = provider_names()
        for p in self.providers:
            if known and p not in known:
                raise BadValue(
                    f"unknown provider {p!r}.{did_you_mean(p, known)} Installed: {', '.join(known)}."
                )

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        return record.provider in self.providers

    def describe(self) -> str:
        return "provider " + " or ".join(self.providers)

    def fact(self, record: StoredFile, ctx: Context) -> str:
        return f"provider {record.provider}"


@conditions.register("account")
class Account(_Patterns):
    doc = "The account, drive or site (a host name for local files) matches one of these globs, ignoring case."
    example = 'account = "*@org.example"'
    case_sensitive = False

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        return self.compiled.match(record.account)

    def describe(self) -> str:
        return f"account matches {self.listed()}"

    def fact(self, record: StoredFile, ctx: Context) -> str:
        return f"account {record.account}"


@conditions.register("shared_externally")
class SharedExternally(Condition):
    doc = (
        "true: shared with people outside the organisation; false: not known to be. Only cloud "
        "providers report sharing; local files are never shared externally."
    )
    example = "shared_externally = true"
    schema = values.BOOL_SCHEMA

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.wanted = values.boolean(value)

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        return (SHARED_EXTERNALLY in record.flags) == self.wanted

    def describe(self) -> str:
        return "shared externally" if self.wanted else "not shared externally"

    def fact(self, record: StoredFile, ctx: Context) -> str:
        return "shared externally" if SHARED_EXTERNALLY in record.flags else "not shared externally"


# The finding kinds listed_as can name: every applies_to but "files".
LISTS = (
    "duplicates",
    "old_versions",
    "trash",
    "junk",
    "empty_files",
    "empty_folders",
    "stale",
    "oversized",
)


@conditions.register("listed_as")
class ListedAs(Condition):
    doc = (
        "The findings list the item as one of these: " + ", ".join(LISTS) + ". Most useful in "
        "unless, so that a flag does not hold back another policy's action on the same item."
    )
    example = 'unless = { listed_as = ["duplicates", "junk"] }'
    schema = {
        "oneOf": [
            {"type": "string", "enum": list(LISTS)},
            {"type": "array", "items": {"type": "string", "enum": list(LISTS)}, "minItems": 1},
        ]
    }

    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.lists = values.texts(value)
        for name in self.lists:
            if name not in LISTS:
                raise BadValue(
                    f"unknown finding {name!r}.{did_you_mean(name, LISTS)} Known: {', '.join(LISTS)}."
                )

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        return any(ctx.listed(record, name) for name in self.lists)

    def describe(self) -> str:
        return "listed as " + " or ".join(self.lists)

    def fact(self, record: StoredFile, ctx: Context) -> str:
        found = [n for n in LISTS if ctx.listed(record, n)]
        if ctx.lists is None:
            return "findings not computed"
        return "listed as " + ", ".join(found) if found else "not listed in any of these"
