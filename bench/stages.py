"""Where a cleanup scan spends its time: wall and CPU seconds per stage, first scan and rescan.

Usage:
    python bench/stages.py /tmp/cleanup-bench-50000/tree

It runs the library in this process (no CLI), with a fresh inventory in a temporary
folder: the first scan, then a rescan of the unchanged tree, each followed by the findings.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from cleanup.findings import find
from cleanup.inventory import Inventory
from cleanup.providers import load_providers, parse_address
from cleanup.scan import ScanProgress, scan


class Clock:
    """Wall and CPU time since the last mark."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        self.rows: list[tuple[str, float, float]] = []

    def mark(self, what: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.rows.append((what, wall - self.wall, cpu - self.cpu))
        self.wall, self.cpu = wall, cpu


def run(inventory: Inventory, target: str, title: str) -> None:
    clock = Clock()
    registry = load_providers()
    clock.mark("load providers")
    current = ["start"]

    def stage(name: str) -> None:
        clock.mark(current[0])
        current[0] = name

    address = parse_address(target, registry.names)
    result = scan(inventory, [address], progress=ScanProgress(stage=stage), registry=registry)
    clock.mark(current[0])
    find(inventory)
    clock.mark("findings")
    s = result.summary
    print(
        f"{title}: {s.added:,} new, {s.unchanged:,} unchanged, {result.hashing.bytes_read / 1e6:,.0f} MB read"
    )
    for what, wall, cpu in clock.rows:
        if what != "start":
            print(f"  {what:<28} wall {wall:6.2f} s   CPU {cpu:6.2f} s")
    print(
        f"  {'total':<28} wall {sum(r[1] for r in clock.rows):6.2f} s   CPU {sum(r[2] for r in clock.rows):6.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("tree", help="folder to scan, e.g. one built by bench/make_tree.py")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inventory = Inventory(Path(tmp) / "inventory.sqlite")
        run(inventory, args.tree, "first scan")
        run(inventory, args.tree, "rescan")
        inventory.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
