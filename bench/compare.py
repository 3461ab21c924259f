"""Benchmark cleanup's local scan against jdupes, rmlint and fdupes on one generated tree.

Usage:
    python bench/compare.py --files 50000

It builds the tree (bench/make_tree.py) unless it exists, reads it once so that every tool
meets a warm page cache, runs each tool in a fresh process (median wall and CPU time of
--repeat interleaved rounds, peak RSS from GNU time or wait4), then checks that all agree
on the duplicate groups compared by inode and that cleanup's reclaimable bytes are computed
from allocated blocks. It prints a table with the ratios to cleanup and whether the targets
hold:

- cleanup's first scan within 2x jdupes's wall time;
- a rescan of the unchanged tree at least 5x faster than the first scan;
- peak memory under 200 MB.

The exit code is 0 when the tools agree and every target holds, 1 otherwise.

Known, explained differences (each tool is compared after them):
- Hardlinks: every tool's groups are reduced to distinct inodes (rmlint lists every name,
  jdupes and fdupes skip extra names by default); a group of one inode is no group.
- Empty files: none of the tools is asked to match them (jdupes without -z; cleanup
  reports them as "empty", not duplicates; rmlint -T df leaves them out; fdupes with -n).
- Hidden files: rmlint skips them unless --hidden, which is passed here.
- Symlinks: no tool follows them (rmlint with -F, the others by default).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from groups import (
    Group,
    cleanup_path,
    inode_groups,
    parse_cleanup,
    parse_fdupes,
    parse_jdupes,
    rmlint_sets,
)
from make_tree import build_tree

TOOLS = ("jdupes", "rmlint", "fdupes")


@dataclass
class Run:
    """One tool's measured runs: wall and CPU seconds per run, the highest peak RSS."""

    name: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    peak_rss: int = 0  # bytes

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    def add(self, wall: float, cpu: float, peak_rss: int) -> None:
        self.walls.append(wall)
        self.cpus.append(cpu)
        self.peak_rss = max(self.peak_rss, peak_rss)


def measure(run: Run, argv: list[str], stdout: Path | None = None, cwd: str | None = None) -> None:
    """Run argv in a fresh process; add its wall time, CPU time and peak RSS to ``run``.

    GNU time launches the tool when present: a child forked from this Python process
    would count this process's memory in its peak until exec. Without it, wait4's figure
    is used, which is never below this script's own RSS.
    """
    timer = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        launch = [timer, "-f", "%M", "-o", rss.name, *argv] if timer else argv
        with open(stdout or os.devnull, "wb") as out:
            start = time.perf_counter()
            proc = subprocess.Popen(launch, stdout=out, stderr=subprocess.PIPE, cwd=cwd)
            err = proc.stderr.read() if proc.stderr else b""
            _pid, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        peak = usage.ru_maxrss * 1024
        if timer:
            lines = [x for x in rss.read().split() if x.isdigit()]
            peak = int(lines[-1]) * 1024 if lines else peak
    if code not in (0, 1) or (code and run.name.startswith("cleanup")):
        sys.stderr.write(err.decode(errors="replace"))
        raise SystemExit(f"{run.name} failed with exit code {code}: {' '.join(argv)}")
    run.add(wall, usage.ru_utime + usage.ru_stime, peak)


# --- tools ---------------------------------------------------------------------------


def ensure_tools() -> list[str]:
    """The tools present; install missing ones with apt-get when running as root, else ask."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"Installing {' '.join(missing)} with apt-get ...", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", *missing], check=False, stdout=subprocess.DEVNULL
        )
        missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        print(
            f"Not installed: {', '.join(missing)}. Install them to compare "
            f"(Debian/Ubuntu: sudo apt-get install -y {' '.join(missing)}); going on without them.",
            file=sys.stderr,
        )
    return [t for t in TOOLS if t not in missing]


def version(tool: str) -> str:
    arg = {"jdupes": "-v", "rmlint": "--version", "fdupes": "--version"}[tool]
    out = subprocess.run([tool, arg], capture_output=True, check=False)
    text = (out.stdout or out.stderr).decode(errors="replace").strip().splitlines()[0]
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# --- checks --------------------------------------------------------------------------


def check_reclaimable(groups: list[dict]) -> list[str]:  # type: ignore[type-arg]
    """Each copy's storage is its allocated blocks; a group frees all copies but the largest."""
    problems = []
    for g in groups:
        storages = []
        for c in g["copies"]:
            st = os.lstat(cleanup_path(c["paths"][0]))
            allocated = st.st_blocks * 512
            if c["storage_bytes"] != allocated:
                problems.append(
                    f"{c['paths'][0]}: storage {c['storage_bytes']} != allocated {allocated}"
                )
            storages.append(allocated)
        # A copy that is a hardlink with names outside the group frees nothing; none planted here.
        expected = sum(storages) - max(storages)
        if g["reclaimable_bytes"] != expected:
            problems.append(f"group {g['id']}: reclaimable {g['reclaimable_bytes']} != {expected}")
    return problems


def describe_difference(a: set[Group], b: set[Group], name_a: str, name_b: str) -> str:
    only_a, only_b = a - b, b - a
    if not only_a and not only_b:
        return f"{name_a} == {name_b}: {len(a):,} groups"
    return (
        f"{name_a} != {name_b}: {len(only_a):,} groups only in {name_a}, "
        f"{len(only_b):,} only in {name_b}"
    )


def planted(root: Path) -> set[Group]:
    manifest = json.loads(Path(f"{root}.manifest.json").read_text(encoding="utf-8"))
    return inode_groups(
        [[os.path.join(os.fsencode(root), os.fsencode(p)) for p in g] for g in manifest["groups"]]
    )


def warm(root: Path) -> int:
    """Read every regular file once, never following links, so the page cache holds the tree."""
    total = 0
    for dirpath, _dirs, names in os.walk(os.fsencode(root)):
        for n in names:
            p = os.path.join(dirpath, n)
            if os.path.islink(p):
                continue
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    total += len(chunk)
    return total


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} CPUs, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def compile_bytecode() -> None:
    """Compile cleanup's modules, as `pip install` does, so no run compiles its own.

    An editable install, or an environment with PYTHONDONTWRITEBYTECODE set, would otherwise
    compile every module from source in every measured run (50 to 70 ms here).
    """
    import importlib.util

    for package in ("cleanup", "providers", "policies"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            for folder in spec.submodule_search_locations:
                subprocess.run([sys.executable, "-m", "compileall", "-q", folder], check=True)


def cleanup_command() -> list[str]:
    """The console script pip installed beside this interpreter, as a user runs it.

    Not whatever `cleanup` is first on PATH: version managers (pyenv, asdf) put a shell
    shim there that starts a few processes of its own before Python (0.1 s here).
    """
    script = Path(sys.executable).parent / ("cleanup.exe" if os.name == "nt" else "cleanup")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "cleanup"]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--files", type=int, default=50_000, help="files in the generated tree (default 50000)"
    )
    parser.add_argument(
        "--work",
        default=None,
        help="folder for the tree and outputs (default: a temporary folder kept for reuse)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per tool; the median wall time is reported"
    )
    parser.add_argument("--seed", type=int, default=2019, help="seed of the generated tree")
    parser.add_argument("--json", dest="json_out", help="also write the results to this JSON file")
    args = parser.parse_args()

    work = Path(args.work or Path(tempfile.gettempdir()) / f"cleanup-bench-{args.files}")
    work.mkdir(parents=True, exist_ok=True)
    tree = work / "tree"
    if not Path(f"{tree}.manifest.json").exists():
        if tree.exists():
            shutil.rmtree(tree)
        print(f"Building {args.files:,} files in {tree} ...", flush=True)
        built = build_tree(tree, args.files, args.seed)
        print(f"  {built.files:,} files, {built.bytes / 1e6:,.0f} MB apparent", flush=True)
    tools = ensure_tools()
    print(f"Warming the page cache: {warm(tree) / 1e6:,.0f} MB read", flush=True)
    compile_bytecode()
    out = work / "out"
    out.mkdir(exist_ok=True)
    root = str(tree)
    cleanup = cleanup_command()

    commands = {
        "jdupes": ["jdupes", "-r", "-q", "-0", root],
        "rmlint": [
            "rmlint",
            "-T",
            "df",
            "--hidden",
            "-F",
            "-o",
            f"json:{out / 'rmlint.json'}",
            root,
        ],
        "fdupes": ["fdupes", "-r", "-q", "-n", root],
    }
    names = ["cleanup scan", "cleanup rescan", "cleanup findings", *tools]
    runs = {n: Run(n) for n in names}
    # Rounds interleave the tools, so that a busy moment on the machine hits them all alike.
    for i in range(args.repeat):
        print(f"Round {i + 1} of {args.repeat}: {', '.join(names)}", flush=True)
        db = out / f"inventory-{i}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        measure(runs["cleanup scan"], [*cleanup, "--db", str(db), "scan", root])
        measure(runs["cleanup rescan"], [*cleanup, "--db", str(db), "scan", root])
        findings = [*cleanup, "--db", str(db), "findings", "--format", "json"]
        measure(runs["cleanup findings"], findings, stdout=out / "cleanup.json")
        for tool in tools:
            measure(runs[tool], commands[tool], stdout=out / f"{tool}.out", cwd=str(out))

    # --- agreement -------------------------------------------------------------------
    ok = True
    cleanup_paths, cleanup_json = parse_cleanup(out / "cleanup.json")
    found = {"cleanup": inode_groups(cleanup_paths), "planted": planted(tree)}
    if "rmlint" in tools:
        found["rmlint"] = inode_groups(rmlint_sets(out / "rmlint.json"))
    if "jdupes" in tools:
        found["jdupes"] = inode_groups(parse_jdupes((out / "jdupes.out").read_bytes()))
    if "fdupes" in tools:
        found["fdupes"] = inode_groups(parse_fdupes((out / "fdupes.out").read_bytes()))
    print("\nDuplicate groups, by inode:")
    for other in ("planted", "rmlint", "jdupes", "fdupes"):
        if other in found:
            line = describe_difference(found["cleanup"], found[other], "cleanup", other)
            ok &= "!=" not in line
            print(f"  {line}")
    reclaim_problems = check_reclaimable(cleanup_json)
    reclaim = sum(g["reclaimable_bytes"] for g in cleanup_json)
    apparent = sum(g["size"] * (len(g["copies"]) - 1) for g in cleanup_json)
    print(
        f"  reclaimable from allocated blocks: {reclaim / 1e6:,.1f} MB "
        f"(apparent sizes would say {apparent / 1e6:,.1f} MB); "
        + (
            "every copy checked against st_blocks"
            if not reclaim_problems
            else f"{len(reclaim_problems)} problems"
        )
    )
    for p in reclaim_problems[:10]:
        print(f"    {p}")
    ok &= not reclaim_problems
    folders = json.loads((out / "cleanup.json").read_text(encoding="utf-8"))["duplicate_folders"]
    photos = [os.path.basename(f) for f in folders[0]["folders"]] if len(folders) == 1 else []
    print(
        "  duplicate folders: "
        + (
            " == ".join(photos) + ", one finding"
            if photos
            else f"{len(folders)} findings, expected 1"
        )
    )
    ok &= photos == ["Photos 2019", "Photos 2019 (copy)"]

    # --- table -------------------------------------------------------------------------
    base = runs["cleanup scan"]
    print(
        f"\n{'tool':<18} {'wall s':>7} {'CPU s':>7} {'peak RSS MB':>12} "
        f"{'wall / cleanup':>15} {'RSS / cleanup':>14}"
    )
    for name, r in runs.items():
        print(
            f"{name:<18} {r.wall:>7.2f} {r.cpu:>7.2f} {r.peak_rss / 2**20:>12.1f} "
            f"{r.wall / base.wall:>14.2f}x {r.peak_rss / base.peak_rss:>13.2f}x"
        )
    targets = []
    if "jdupes" in runs:
        ratio = base.wall / runs["jdupes"].wall
        targets.append((f"first scan within 2x jdupes: {ratio:.2f}x", ratio <= 2))
    speedup = base.wall / runs["cleanup rescan"].wall
    targets.append((f"rescan at least 5x faster than the first scan: {speedup:.1f}x", speedup >= 5))
    peak = max(r.peak_rss for n, r in runs.items() if n.startswith("cleanup")) / 2**20
    targets.append((f"peak memory under 200 MB: {peak:.0f} MB", peak < 200))
    print("\nTargets:")
    for text, held in targets:
        print(f"  [{'ok' if held else 'MISSED'}] {text}")
        ok &= held
    print(f"\nMachine: {machine()}")
    print("Versions: " + "; ".join(version(t) for t in tools))
    print(f"Command: python bench/compare.py --files {args.files} --repeat {args.repeat}")

    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(
                {
                    "files": args.files,
                    "machine": machine(),
                    "versions": {t: version(t) for t in tools},
                    "runs": {
                        n: {"walls": r.walls, "cpus": r.cpus, "peak_rss": r.peak_rss}
                        for n, r in runs.items()
                    },
                    "groups": {k: len(v) for k, v in found.items()},
                    "reclaimable_bytes": reclaim,
                    "apparent_bytes": apparent,
                    "targets": targets,
                    "agree": ok,
                },
                indent=2,
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
