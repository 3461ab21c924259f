"""The provider plugin interface, the registry of installed providers, and scan addresses.

A provider is a class registered under the entry-point group ``cleanup.providers``. The
built-in ``local``, ``gdrive`` and ``sharepoint`` providers register in cleanup's own
pyproject.toml exactly as a third-party package would.
"""

from __future__ import annotations

import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar, Protocol

from .errors import ProviderError, UsageError
from .records import FileRecord, Quota, ScanProblem

ENTRY_POINT_GROUP = "cleanup.providers"


@dataclass(slots=True)
class ProviderOptions:
    """Settings that reach a provider from the command line, config or environment."""

    cross_fs: bool = False  # local: descend into other filesystems
    full: bool = False  # ignore incremental cursors and list everything again
    as_user: str | None = None  # admin: act as this user (Drive delegation, Graph user)
    all_accounts: bool = False  # admin: every user, site and shared drive
    settings: dict[str, str] = field(default_factory=dict)  # provider specific (base_url, ...)
    cancel: threading.Event = field(default_factory=threading.Event)


class ScanSink(Protocol):
    """Where a provider puts what it sees. Thread-safe: admin scans run accounts in parallel.

    A scan is made of units (an account, drive or folder tree). ``start_unit`` says whether
    the unit is listed completely (so unseen items are gone) or incrementally (so only
    ``remove`` marks items gone). ``save_cursor`` persists at once, so that an interrupted
    scan resumes from its last page and the next scan can be incremental.
    """

    def previous_cursor(self, account: str, root: str) -> str | None: ...

    def start_unit(self, account: str, root: str, incremental: bool) -> None: ...

    def add(self, record: FileRecord) -> None: ...

    def remove(self, account: str, item_id: str) -> None: ...

    def problem(self, problem: ScanProblem) -> None: ...

    def quota(self, quota: Quota) -> None: ...

    def save_cursor(self, account: str, root: str, cursor: str) -> None: ...

    def finish_unit(self, account: str, root: str, complete: bool) -> None: ...

    # Local folders: a provider that can tell a folder's entries are as last listed skips them.

    def previous_listings(self, account: str, root: str) -> dict[str, int]: ...

    def unchanged(self, account: str, root: str, folder: str, entries: int) -> None: ...

    def progress(self, items: int = 0, nbytes: int = 0) -> None: ...


@dataclass(slots=True)
class ActionOutcome:
    """What an action did, and what undo needs to reverse it."""

    undo: dict[str, Any] = field(default_factory=dict)
    freed_bytes: int = 0  # released now (permanent delete, versions trimmed)
    pending_bytes: int = 0  # moved to a trash or recycle bin: still billed
    pending_until: float | None = None  # when the bin frees them on its own (epoch seconds)
    archived_bytes: int = 0


class Provider(ABC):
    """A storage system cleanup can scan and act on."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    location: ClassVar[str] = "local"  # footprint location class: local, google, microsoft
    read_scopes: ClassVar[tuple[str, ...]] = ()
    act_scopes: ClassVar[tuple[str, ...]] = ()
    trash_retention_days: ClassVar[int | None] = None  # None: kept until emptied by hand

    def __init__(self, options: ProviderOptions | None = None) -> None:
        self.options = options or ProviderOptions()

    @classmethod
    def login(cls, options: ProviderOptions, say: Callable[[str], None]) -> str:
        """Sign in interactively and store the credentials; return who is signed in."""
        raise ProviderError(f"{cls.name} needs no sign-in.")

    @abstractmethod
    def scan(self, target: str, sink: ScanSink) -> None:
        """List everything under ``target`` into ``sink``; never changes anything."""

    # Acting. Each action first re-reads the item and compares its fingerprint with the
    # planned one; a mismatch raises PreconditionFailed and nothing happens.

    def fingerprint(self, record: FileRecord) -> str | None:
        """The item's current fingerprint, or None when it no longer exists."""
        raise ProviderError(f"{self.name} cannot re-check items.")

    def trash(self, record: FileRecord) -> ActionOutcome:
        raise ProviderError(f"{self.name} cannot move items to a trash.")

    def restore(self, record: FileRecord, undo: Mapping[str, Any]) -> None:
        raise ProviderError(f"{self.name} cannot restore items.")

    def archive(self, record: FileRecord, destination: str) -> ActionOutcome:
        raise ProviderError(f"{self.name} cannot archive items.")

    def unarchive(self, record: FileRecord, undo: Mapping[str, Any]) -> None:
        raise ProviderError(f"{self.name} cannot undo an archive.")

    def delete(self, record: FileRecord) -> ActionOutcome:
        raise ProviderError(f"{self.name} cannot delete items permanently.")

    def purge(self, record: FileRecord, undo: Mapping[str, Any]) -> ActionOutcome:
        """Make a trashed item's removal permanent (empty it from the trash)."""
        raise ProviderError(f"{self.name} cannot empty its trash.")

    def trim_versions(
        self, record: FileRecord, keep: int = 1, newer_than: float | None = None
    ) -> ActionOutcome:
        raise ProviderError(f"{self.name} keeps no versions to trim.")


class ProviderRegistry:
    """The installed providers. Each is imported on first use, so a scan of a folder never
    pays for the cloud client libraries, and a broken plugin troubles only who uses it."""

    def __init__(self, entry_points_by_name: Mapping[str, EntryPoint]) -> None:
        self._entry_points = dict(entry_points_by_name)
        self._loaded: dict[str, type[Provider]] = {}
        self._failed: dict[str, str] = {}

    @property
    def names(self) -> list[str]:
        """Every registered provider name, loaded or not."""
        return sorted(self._entry_points)

    def _load(self, name: str) -> None:
        if name in self._loaded or name in self._failed or name not in self._entry_points:
            return
        ep = self._entry_points[name]
        try:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Provider)):
                raise TypeError(f"{ep.value} is not a cleanup Provider subclass")
        except Exception as exc:  # a broken plugin must never stop cleanup
            self._failed[name] = f"{type(exc).__name__}: {exc}"
            return
        self._loaded[name] = cls

    @property
    def providers(self) -> dict[str, type[Provider]]:
        """Every provider that loads (importing them all)."""
        for name in self._entry_points:
            self._load(name)
        return dict(self._loaded)

    @property
    def failures(self) -> dict[str, str]:
        """name -> why it failed, for every provider (importing them all)."""
        for name in self._entry_points:
            self._load(name)
        return dict(self._failed)

    def get(self, name: str) -> type[Provider]:
        """The provider class called ``name``, or an error naming the installed ones."""
        self._load(name)
        if name in self._loaded:
            return self._loaded[name]
        if name in self._failed:
            raise ProviderError(
                f"Provider {name!r} is installed but failed to load: {self._failed[name]}. "
                "Reinstall it, or run `cleanup providers` to see what is available."
            )
        known = ", ".join(self.names) or "none"
        raise UsageError(f"No provider called {name!r}. Installed providers: {known}.")


def load_providers() -> ProviderRegistry:
    """The providers registered under the entry-point group (imported lazily)."""
    return ProviderRegistry({ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)})


_SCHEME = re.compile(r"^(?P<scheme>[a-z][a-z0-9_+-]*):(?P<rest>.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Address:
    """A scan target: ``gdrive:me``, ``sharepoint:contoso/sites/HR`` or a local path."""

    provider: str
    target: str

    def __str__(self) -> str:
        return self.target if self.provider == "local" else f"{self.provider}:{self.target}"


def misread_address(text: str, known: Collection[str]) -> str | None:
    """What to say of an address taken for a local path that does not exist but reads like
    a cloud address: an unknown ``provider:`` prefix, or a provider's bare name."""
    if os.path.lexists(text):
        return None
    m = _SCHEME.match(text)
    if m and len(m["scheme"]) > 1 and m["scheme"] not in known:
        return (
            f"{text} is not a folder, and no provider is called {m['scheme']!r}. "
            f"Installed providers: {', '.join(sorted(known))} (`cleanup providers` says more)."
        )
    if text in known and text != "local":
        return f"{text} is not a folder. For the {text} provider, write e.g. {text}:me."
    return None


def parse_address(text: str, known: Collection[str] | None = None) -> Address:
    """Split ``provider:target``; anything without a known provider prefix is a local path."""
    if not text:
        raise UsageError("An empty address was given. Name a folder, or e.g. gdrive:me.")
    m = _SCHEME.match(text)
    if m and len(m["scheme"]) > 1:  # one letter is a Windows drive, C:\...
        scheme = m["scheme"]
        if known is None or scheme in known or scheme == "local":
            return Address(scheme, m["rest"] or "")
    return Address("local", text)
