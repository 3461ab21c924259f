"""Kill `cleanup apply` with SIGKILL at random points, then resume or undo, and count what was lost.

Usage:
    python bench/crash_apply.py --trials 50
    python bench/crash_apply.py --trials 200 --files 200 --seed 7
    python bench/crash_apply.py --trials 50 --archive-on /dev/shm   # archives cross filesystems

Each trial builds a fresh tree (duplicates, old files, junk, names that are not UTF-8) with
its own home and trash, scans it, and makes a plan that trashes duplicates and junk,
archives old files to a folder outside the tree and deletes a few lock files for good. It
runs `cleanup apply --yes` in a child process and kills it with SIGKILL at a random point:
once the journal holds a random number of lines (anywhere from the run line to the last
outcome), plus a random 0-5 ms so that the kill lands inside an action as well as between
journal lines. Then:

- right after the kill, every file must be untouched, in the trash, in the archive, or
  deleted as the plan said (and journalled): nothing else;
- then at random either `cleanup apply --resume` (every entry ends done, skipped or failed,
  every done item is where its action put it) followed by `cleanup undo`, or `cleanup undo`
  straight away;
- after undo, every file that was not deleted as planned is back at its path with the same
  content and modification time, and the journal replays with no entry left in progress.

Prints one line per trial and a summary; exit 0 when no file was lost and every journal
was consistent.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cleanup.findings import duplicate_groups, is_junk  # noqa: E402
from cleanup.inventory import Inventory  # noqa: E402
from cleanup.journal import DONE, FAILED, IN_PROGRESS, SKIPPED, UNDONE, read_run, runs_dir  # noqa: E402
from cleanup.plan import build, decode_name, load  # noqa: E402
from cleanup.providers import parse_address  # noqa: E402
from cleanup.scan import scan  # noqa: E402
from policies.decisions import Decision, Evaluation  # noqa: E402

DAY = 86400


@dataclass
class Original:
    """One file as it was before apply."""

    path: str
    sha: str
    mtime_ns: int
    inode: int


@dataclass
class Trial:
    """One trial's folders and what it found."""

    base: Path
    rng: random.Random
    files: int
    originals: dict[str, Original] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)  # path -> planned action
    targets: dict[str, str] = field(default_factory=dict)  # archived path -> archive path
    problems: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    archive_root: Path | None = None  # another filesystem, to crash copy-verify-remove moves

    @property
    def docs(self) -> Path:
        return self.base / "Documents"

    @property
    def archive(self) -> Path:
        return (self.archive_root or self.base) / "Archive"

    @property
    def db(self) -> Path:
        return self.base / "state" / "inventory.sqlite"

    @property
    def plan(self) -> Path:
        return self.base / "plan.json"

    @property
    def env(self) -> dict[str, str]:
        home = self.base / "home"
        return {
            **os.environ,
            "HOME": str(home),
            "XDG_DATA_HOME": str(home / ".local/share"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        }

    @property
    def trash_files(self) -> Path:
        return self.base / "home/.local/share/Trash/files"


def _sha(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def build_tree(t: Trial) -> None:
    """A small tree of a member of staff's files, every file at least a month old."""
    rng = t.rng
    for sub in ("home/.local/share", "home/.config", "home/.cache", "state"):
        (t.base / sub).mkdir(parents=True, exist_ok=True)
    pool = [rng.randbytes(rng.randint(1, 20_000)) for _ in range(max(4, t.files // 4))]
    folders = ["", "Reports", "Downloads", "Photos/2019", "Old/2015", "Backup/copy"]
    now = time.time()
    for i in range(t.files):
        folder = t.docs / rng.choice(folders)
        folder.mkdir(parents=True, exist_ok=True)
        roll = rng.random()
        if roll < 0.05:
            name = f"~$lock{i}.docx"
        elif roll < 0.10:
            name = f"partial{i}.tmp"
        else:
            name = f"file{i}.dat"
        path = os.path.join(os.fsencode(folder), name.encode())
        if i % 17 == 0:
            path = os.path.join(os.fsencode(folder), f"caf\xe9{i}".encode("latin-1") + b".txt")
        data = rng.choice(pool) if rng.random() < 0.6 else rng.randbytes(rng.randint(0, 30_000))
        with open(path, "wb") as f:
            f.write(data)
        age = rng.choice((40, 400, 2000))
        stamp = now - age * DAY - rng.random() * DAY
        os.utime(path, (stamp, stamp))


def _record_originals(t: Trial) -> None:
    for dirpath, _, names in os.walk(os.fsencode(t.docs)):
        for name in names:
            p = os.fsdecode(os.path.join(dirpath, name))
            st = os.lstat(p)
            t.originals[p] = Original(p, _sha(p), st.st_mtime_ns, st.st_ino)


def make_plan(t: Trial) -> int:
    """Scan and plan: duplicates and junk to the trash, old files archived, lock files deleted."""
    with Inventory(t.db) as inventory:
        scan(inventory, [parse_address(str(t.docs))], hash_workers=1)
        decisions: list[Decision] = []
        chosen: set[str] = set()
        for g in duplicate_groups(inventory):
            head = g.copies[0]
            keep = inventory.get(head.provider, head.account, head.item_ids[0])
            assert keep is not None
            chosen.add(keep.path)
            for c in g.copies[1:]:
                for item_id in c.item_ids:
                    r = inventory.get(c.provider, c.account, item_id)
                    assert r is not None
                    decisions.append(
                        Decision(r, "trash", "duplicates", "duplicate", keep=keep, group=g.id)
                    )
                    chosen.add(r.path)
        for r in inventory.files("kind = 'file'"):
            if r.path in chosen:
                continue
            if r.name.startswith("~$"):
                decisions.append(Decision(r, "delete", "locks", "office lock file"))
            elif is_junk(r.name):
                decisions.append(Decision(r, "trash", "junk", "temporary file"))
            elif (r.modified or 0) < time.time() - 1000 * DAY:
                decisions.append(
                    Decision(r, "archive", "old", "untouched", destination=str(t.archive))
                )
        plan, _ = build(Evaluation("crash", "0" * 64, decisions), inventory)
    plan.save(t.plan)
    for e in load(t.plan).entries:
        path = decode_name(e, "path")
        t.actions[path] = e["action"]
        if e["action"] == "archive":
            rel = os.path.relpath(path, decode_name(e, "root"))
            t.targets[path] = os.path.join(str(t.archive), rel)
    return len(t.actions)


def cleanup(t: Trial, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "cleanup", "--db", str(t.db), "-q", *args]
    done = subprocess.run(cmd, env=t.env, capture_output=True, text=True, timeout=300)
    if check and done.returncode not in (0, 1):
        t.problems.append(
            f"`cleanup {' '.join(args)}` exited {done.returncode}: {done.stderr.strip()[-300:]}"
        )
    return done


def _journal(t: Trial) -> Path | None:
    found = sorted(runs_dir(t.db).glob("*.jsonl")) if runs_dir(t.db).exists() else []
    return found[-1] if found else None


def _lines(path: Path | None) -> int:
    if path is None:
        return 0
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


def apply_and_kill(t: Trial, kill_at_line: int | None, jitter: float = 0.0) -> None:
    """Start apply; SIGKILL it ``jitter`` seconds after its journal reaches ``kill_at_line`` lines."""
    cmd = [sys.executable, "-m", "cleanup", "--db", str(t.db), "-q", "apply", str(t.plan), "--yes"]
    child = subprocess.Popen(cmd, env=t.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while kill_at_line is not None and child.poll() is None and time.monotonic() < deadline:
        if _lines(_journal(t)) >= kill_at_line:
            if jitter:
                time.sleep(jitter)
            break
        time.sleep(0.0002)
    if child.poll() is None and kill_at_line is not None:
        child.send_signal(signal.SIGKILL)
    child.wait()


def _trash_by_inode(t: Trial) -> dict[int, str]:
    out = {}
    if t.trash_files.exists():
        for name in os.listdir(os.fsencode(t.trash_files)):
            p = os.fsdecode(os.path.join(os.fsencode(t.trash_files), name))
            out[os.lstat(p).st_ino] = p
    return out


def _where(t: Trial, o: Original, trash: dict[int, str]) -> str:
    """Where the content of one original file is now: path, trash, archive, deleted or lost."""
    if os.path.lexists(o.path) and _sha(o.path) == o.sha:
        return "path"
    if o.inode in trash and _sha(trash[o.inode]) == o.sha:
        return "trash"
    target = t.targets.get(o.path)
    if target and os.path.lexists(target) and _sha(target) == o.sha:
        return "archive"
    if t.actions.get(o.path) == "delete":
        return "deleted"
    return "lost"


def check_nothing_lost(t: Trial, stage: str) -> dict[str, int]:
    trash = _trash_by_inode(t)
    counts: dict[str, int] = {}
    for o in t.originals.values():
        where = _where(t, o, trash)
        counts[where] = counts.get(where, 0) + 1
        if where == "lost":
            t.problems.append(f"{stage}: {o.path!r} lost")
        elif where != "path" and o.path not in t.actions:
            t.problems.append(f"{stage}: {o.path!r} was moved ({where}) but was not in the plan")
        elif where == "path" and (os.lstat(o.path).st_mtime_ns != o.mtime_ns):
            t.problems.append(f"{stage}: {o.path!r} has another mtime")
    return counts


def check_journal(t: Trial, stage: str, settled: bool) -> dict[str, int]:
    """Replay the journal; after recovery no entry may be left in progress."""
    path = _journal(t)
    if path is None:
        return {}
    run = read_run(path)
    t.notes["torn_lines"] = run.damaged_lines
    if run.damaged_lines > 1:  # only the line being written when the kill came can be cut
        t.problems.append(f"{stage}: {run.damaged_lines} damaged journal lines")
    states: dict[str, int] = {}
    for e in run.entries.values():
        states[e.state] = states.get(e.state, 0) + 1
        if settled and e.state == IN_PROGRESS:
            t.problems.append(f"{stage}: entry {e.entry} still in progress")
    lines = []
    for x in path.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
        try:
            lines.append(json.loads(x))
        except json.JSONDecodeError:
            continue  # a line cut short by the kill; read_run counts it
    seen_intent: set[int] = set()
    for line in lines:
        if line["event"] == "intent":
            seen_intent.add(line["entry"])
        if line["event"] == "done" and line["entry"] not in seen_intent:
            t.problems.append(f"{stage}: entry {line['entry']} done without an intent before it")
    return states


def check_after_resume(t: Trial) -> None:
    path = _journal(t)
    if path is None:
        return
    run = read_run(path)
    trash = _trash_by_inode(t)
    for e in run.entries.values():
        if e.state not in (DONE, SKIPPED, FAILED):
            t.problems.append(f"resume: entry {e.entry} left {e.state}")
        if e.state == FAILED:
            t.problems.append(f"resume: entry {e.entry} failed: {e.reason}")
        if e.state != DONE:
            continue
        o = t.originals.get(e.item["path"])
        if o is None:
            continue
        where = _where(t, o, trash)
        expected = {"trash": "trash", "archive": "archive", "delete": "deleted"}[e.action]
        if where != expected:
            t.problems.append(f"resume: {o.path!r} is {where}, its action was {e.action}")
    if run.status != "complete":
        t.problems.append(f"resume: run status {run.status}")


def check_after_undo(t: Trial) -> None:
    path = _journal(t)
    run = read_run(path) if path else None
    for folder in (t.trash_files, t.trash_files.parent / "info"):
        left = os.listdir(folder) if folder.exists() else []
        if left:
            t.problems.append(f"undo: {len(left)} entries left in {folder}: {left[:3]}")
    for o in t.originals.values():
        if os.path.lexists(o.path):
            st = os.lstat(o.path)
            if _sha(o.path) != o.sha or st.st_mtime_ns != o.mtime_ns:
                t.problems.append(f"undo: {o.path!r} is back with other content or mtime")
        elif t.actions.get(o.path) != "delete":
            t.problems.append(f"undo: {o.path!r} was not restored")
    if run is not None:
        for e in run.entries.values():
            if e.state == DONE and e.action in ("trash", "archive"):
                t.problems.append(f"undo: entry {e.entry} ({e.action}) not undone")
            if e.state == IN_PROGRESS:
                t.problems.append(f"undo: entry {e.entry} still in progress")


def trial(
    base: Path,
    seed: int,
    files: int,
    kill_at: float,
    recovery: str,
    jitter: float = 0.0,
    archive_root: Path | None = None,
) -> Trial:
    """One trial: build, plan, apply killed once ``kill_at`` (0..1) of its journal is written, recover, check."""
    t = Trial(base, random.Random(seed), files, archive_root=archive_root)
    build_tree(t)
    _record_originals(t)
    t.notes["planned"] = make_plan(t)
    # A run writes one run line, then an intent and an outcome per entry.
    t.notes["kill_at_line"] = 1 + int(kill_at * 2 * t.notes["planned"])
    apply_and_kill(t, t.notes["kill_at_line"], jitter)
    t.notes["after_kill"] = check_nothing_lost(t, "after kill")
    states = check_journal(t, "after kill", settled=False)
    path = _journal(t)
    t.notes["interrupted"] = path is not None and read_run(path).status == "interrupted"
    t.notes["pending_intent"] = states.get(IN_PROGRESS, 0)
    t.notes["done_at_kill"] = states.get(DONE, 0)
    t.notes["recovery"] = recovery
    if _journal(t) is None:
        t.notes["recovery"] = "none (killed before the run began)"
        check_nothing_lost(t, "no run")
        return t
    if recovery == "resume" and t.notes["interrupted"]:
        cleanup(t, "apply", "--resume")
        check_journal(t, "after resume", settled=True)
        check_nothing_lost(t, "after resume")
        check_after_resume(t)
    cleanup(t, "undo", "last")
    states = check_journal(t, "after undo", settled=True)
    journal = _journal(t)
    text = journal.read_text(encoding="utf-8", errors="surrogateescape") if journal else ""
    t.notes["settled"] = text.count('"settled": true')
    t.notes["undone"] = states.get(UNDONE, 0)
    check_after_undo(t)
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--files", type=int, default=120, help="files per generated tree")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the trial folders for inspection")
    parser.add_argument(
        "--archive-on",
        metavar="DIR",
        help="archive into a folder under DIR, e.g. /dev/shm, so that moves cross filesystems",
    )
    args = parser.parse_args(argv)
    archive_base = (
        Path(tempfile.mkdtemp(prefix="cleanup-crash-", dir=args.archive_on))
        if args.archive_on
        else None
    )
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="cleanup-crash-"))
    failures = 0
    killed = pending = lost = settled = torn = 0
    try:
        for n in range(args.trials):
            kill_at = rng.random()
            # The jitter lands the kill inside an action, not only between journal lines.
            jitter = rng.uniform(0, 0.005)
            recovery = rng.choice(("resume", "undo"))
            t = trial(
                work / f"trial-{n:03d}",
                rng.randrange(1 << 30),
                args.files,
                kill_at,
                recovery,
                jitter,
                archive_base / f"trial-{n:03d}" if archive_base else None,
            )
            killed += bool(t.notes.get("interrupted"))
            pending += bool(t.notes.get("pending_intent"))
            settled += int(t.notes.get("settled") or 0)
            torn += int(t.notes.get("torn_lines") or 0)
            lost += sum(1 for p in t.problems if "lost" in p)
            failures += bool(t.problems)
            print(
                f"trial {n:3d}: kill at line {t.notes['kill_at_line']:3d} +{jitter * 1000:.1f}ms, "
                f"{t.notes.get('done_at_kill', 0):3d}/{t.notes['planned']} done, "
                f"{'interrupted' if t.notes.get('interrupted') else 'finished   '}, "
                f"intent pending: {t.notes.get('pending_intent', 0)}, recovery: {t.notes['recovery']:<6} "
                f"-> {'OK' if not t.problems else 'PROBLEMS'}"
            )
            for p in t.problems[:10]:
                print("    " + p)
            if not args.keep:
                shutil.rmtree(t.base, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            if archive_base:
                shutil.rmtree(archive_base, ignore_errors=True)
    print(
        f"\n{args.trials} trials: {killed} killed mid-run, {pending} with an intent left pending, "
        f"{settled} actions found done after the kill and settled, {torn} journal lines cut short "
        f"by the kill, {lost} files lost, "
        f"{failures} trials with problems."
    )
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
