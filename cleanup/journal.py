"""The apply journal: one append-only JSON-lines file per run, flushed and fsync'd per line.

Every action is written twice: an ``intent`` line before it happens and a ``done``,
``skipped`` or ``failed`` line after. A crash between the two leaves an intent with no
outcome, which ``apply --resume`` and ``undo`` settle by looking at the item itself.

Line shapes (all carry ``t``, epoch seconds, and ``event``):

- ``{"event": "run", "run", "plan_hash", "plan_path", "tool_version", "user", "host"}`` first
- ``{"event": "intent", "entry", "action", "item"}`` before acting on plan entry ``entry``
- ``{"event": "done", "entry", "action", "item", "outcome"}`` after; ``outcome`` holds
  ``freed_bytes``, ``pending_bytes``, ``pending_until``, ``archived_bytes`` and ``undo``
- ``{"event": "skipped" | "failed", "entry", "action", "item", "reason"}``
- ``{"event": "undo-intent" | "undone" | "undo-failed", "entry", "item", "reason"?}``
- ``{"event": "purge-intent" | "purged" | "purge-failed", "entry", "item", "outcome"?}``
- ``{"event": "end", "status": "complete" | "interrupted" | "aborted", "what"}`` (a run may have
  several ends: apply, resume, undo, purge each close what they opened, and say which in ``what``)

Added fields (readers may ignore them): the run line also carries ``inventory``; the plan as
applied is kept beside the journal as ``RUN.plan.json``; ``intent`` and ``done`` carry
``destination`` for archives; ``item`` also carries ``device``, ``inode`` and ``root`` for
local files; ``done`` carries ``settled: true`` when ``apply --resume`` found the action had
happened before a crash. A line cut short by a kill is ended before the next one is appended,
and counted in ``Run.damaged_lines``.

``item`` is ``{"provider", "account", "item_id", "path", "storage_bytes", "size", "owner",
"kind", "location", "fingerprint"}``.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .durability import sync_folder
from .errors import CleanupError

# The state of a plan entry after replaying its lines, in the order they can happen.
PLANNED, IN_PROGRESS, DONE, SKIPPED, FAILED, UNDONE, PURGED = (
    "planned",
    "in_progress",
    "done",
    "skipped",
    "failed",
    "undone",
    "purged",
)
_STATE_OF_EVENT = {
    "intent": IN_PROGRESS,
    "done": DONE,
    "skipped": SKIPPED,
    "failed": FAILED,
    "undo-intent": DONE,  # still done until undone is written
    "undone": UNDONE,
    "undo-failed": DONE,
    "purge-intent": DONE,
    "purged": PURGED,
    "purge-failed": DONE,
}


class JournalError(CleanupError):
    """A journal is missing or unreadable."""


def runs_dir(inventory_path: str | os.PathLike[str]) -> Path:
    """Journals live beside the inventory, so --db keeps a whole setup together."""
    return Path(inventory_path).parent / "runs"


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


class Journal:
    """Appends lines to one run's journal, durably."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)

    @classmethod
    def create(cls, directory: Path, plan_hash: str, plan_path: str, **extra: Any) -> Journal:
        """Start a new run's journal."""
        run = new_run_id()
        while (directory / f"{run}.jsonl").exists():
            run = new_run_id()
        journal = cls(directory / f"{run}.jsonl")
        journal.lock()
        try:
            user = getpass.getuser()
        except Exception:  # no login name in some containers
            user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
        journal.write(
            "run",
            run=run,
            plan_hash=plan_hash,
            plan_path=plan_path,
            tool_version=__version__,
            user=user,
            host=socket.gethostname(),
            **extra,
        )
        sync_folder(directory)
        return journal

    def lock(self) -> None:
        """Hold the run for this process: a second apply, resume or undo of it is refused."""
        try:
            import fcntl
        except ImportError:  # Windows: one process at a time is the user's to keep
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(self._fd)
                raise JournalError(
                    f"The run {self.path.stem} is in use by another cleanup process; wait for it to finish."
                ) from exc
        self._end_torn_line()

    def _end_torn_line(self) -> None:
        """A kill can cut the last line short: end it, so that the next line is read whole."""
        size = os.fstat(self._fd).st_size
        if size and os.pread(self._fd, 1, size - 1) != b"\n":
            os.write(self._fd, b"\n")
            os.fsync(self._fd)

    @property
    def run_id(self) -> str:
        return self.path.stem

    def write(self, event: str, **fields: Any) -> None:
        """Append one line and make it durable before returning."""
        line = json.dumps({"t": time.time(), "event": event, **fields}, ensure_ascii=False)
        os.write(self._fd, (line + "\n").encode("utf-8", "surrogateescape"))
        os.fsync(self._fd)

    @contextmanager
    def session(self, what: str) -> Iterator[None]:
        """Close the journal with an ``end`` line saying how the work went, then close the file.

        complete when the block finishes, interrupted on Ctrl-C, aborted on any other error.
        """
        status = "aborted"
        try:
            yield
            status = "complete"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            try:
                self.write("end", status=status, what=what)
            finally:
                self.close()

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(slots=True)
class EntryState:
    """Where one plan entry stands after replaying the journal."""

    entry: int
    action: str
    item: dict[str, Any]
    state: str = PLANNED
    outcome: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    updated: float = 0.0


@dataclass(slots=True)
class Run:
    """One apply run, replayed from its journal."""

    run_id: str
    path: Path
    header: dict[str, Any]
    entries: dict[int, EntryState]
    ends: list[dict[str, Any]]
    started: float
    damaged_lines: int = 0

    @property
    def status(self) -> str:
        """complete, interrupted (crashed or stopped: resume or undo), or the last end's status."""
        if not self.ends or any(e.state == IN_PROGRESS for e in self.entries.values()):
            return "interrupted"
        return str(self.ends[-1].get("status", "complete"))

    def count(self, state: str) -> int:
        return sum(1 for e in self.entries.values() if e.state == state)


def read_run(path: Path) -> Run:
    """Replay one journal file. A torn last line (crash mid-write) is counted, not fatal."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise JournalError(f"Cannot read the journal {path}: {exc.strerror}.") from exc
    header: dict[str, Any] = {}
    entries: dict[int, EntryState] = {}
    ends: list[dict[str, Any]] = []
    damaged = 0
    for line in raw.decode("utf-8", "surrogateescape").splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            damaged += 1
            continue
        event = rec.get("event")
        if event == "run":
            header = rec
        elif event == "end":
            ends.append(rec)
        elif event in _STATE_OF_EVENT and "entry" in rec:
            e = entries.get(rec["entry"])
            if e is None:
                e = entries[rec["entry"]] = EntryState(
                    rec["entry"], rec.get("action", ""), rec.get("item", {})
                )
            e.state = _STATE_OF_EVENT[event]
            e.updated = rec.get("t", 0.0)
            if rec.get("action"):
                e.action = rec["action"]
            if event in ("done", "purged") and "outcome" in rec:
                e.outcome = {**e.outcome, **rec["outcome"]} if event == "purged" else rec["outcome"]
            if "reason" in rec:
                e.reason = rec["reason"]
    if not header:
        raise JournalError(f"{path} is not a cleanup journal (no run line).")
    return Run(path.stem, path, header, entries, ends, header.get("t", 0.0), damaged)


def iter_runs(directory: Path, inventory: str | os.PathLike[str] | None = None) -> Iterator[Run]:
    """Every run in a runs directory, oldest first (by start time: ids can share a second).

    With ``inventory``, only the runs made with that inventory (see ``made_with``).
    """
    if not directory.is_dir():
        return
    runs = []
    for path in sorted(directory.glob("*.jsonl")):
        try:
            runs.append(read_run(path))
        except JournalError:
            continue
    runs.sort(key=lambda r: (r.started, r.run_id))
    yield from (r for r in runs if inventory is None or made_with(r, inventory))


def made_with(run: Run, inventory: str | os.PathLike[str]) -> bool:
    """Whether ``run`` belongs to ``inventory``: inventories kept in one folder share its
    runs directory, and each sees only its own runs. A journal from before the inventory
    was recorded, or one whose inventory no longer exists where it was (moved with its
    runs), counts as this inventory's."""
    recorded = run.header.get("inventory")
    if not recorded:
        return True
    return recorded == os.path.realpath(inventory) or not os.path.exists(recorded)


def find_run(directory: Path, run_id: str, inventory: str | os.PathLike[str] | None = None) -> Run:
    """A run by id (or unique prefix, or 'last'); with ``inventory``, among its runs only."""
    if not run_id.strip():
        raise JournalError("No run id given. `cleanup runs` lists them; 'last' is the newest.")
    runs = list(iter_runs(directory, inventory))
    if run_id == "last" and runs:
        return runs[-1]
    matches = [r for r in runs if r.run_id == run_id] or [
        r for r in runs if r.run_id.startswith(run_id)
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        other = [r for r in iter_runs(directory) if r.run_id == run_id]
        if other and inventory is not None:
            raise JournalError(
                f"Run {run_id} was made with the inventory at {other[0].header['inventory']}, "
                "not this one: give that one with --db."
            )
        raise JournalError(f"No run {run_id!r} in {directory}. `cleanup runs` lists them.")
    raise JournalError(f"{run_id!r} matches several runs; give more of the id.")
