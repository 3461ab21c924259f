"""Duplicate groups as each tool reports them, reduced to distinct inodes for comparison.

Paths are bytes throughout: names that are not UTF-8 and names with a newline must survive
every tool's output format.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

Group = frozenset[tuple[int, int]]  # (device, inode) of each distinct copy


def inode_groups(paths_groups: list[list[bytes]]) -> set[Group]:
    """Groups of paths -> groups of distinct (device, inode), dropping groups of one inode."""
    out: set[Group] = set()
    for paths in paths_groups:
        ids = set()
        for p in paths:
            st = os.lstat(p)
            if st.st_size > 0:
                ids.add((st.st_dev, st.st_ino))
        if len(ids) > 1:
            out.add(frozenset(ids))
    return out


def parse_jdupes(raw: bytes) -> list[list[bytes]]:
    """jdupes -0: names end with NUL, a set ends with an extra NUL."""
    groups: list[list[bytes]] = [[]]
    for part in raw.split(b"\0"):
        if part:
            groups[-1].append(part)
        elif groups[-1]:
            groups.append([])
    return [g for g in groups if g]


def parse_fdupes(raw: bytes) -> list[list[bytes]]:
    """fdupes prints one name a line and a blank line after a set; it has no NUL mode.

    A name holding a newline is split over lines: lines are joined until the name exists.
    """
    groups: list[list[bytes]] = []
    current: list[bytes] = []
    pending = b""
    for line in raw.split(b"\n"):
        if not line and not pending:
            if current:
                groups.append(current)
            current = []
            continue
        name = pending + b"\n" + line if pending else line
        if os.path.lexists(name):
            current.append(name)
            pending = b""
        else:
            pending = name
    if current:
        groups.append(current)
    return groups


def rmlint_sets(path: Path) -> list[list[bytes]]:
    """rmlint's sets in output order: a set starts at each original (is_original)."""
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        items = [i for i in json.load(f) if i.get("type") == "duplicate_file"]
    groups: list[list[bytes]] = []
    for item in items:
        if item["is_original"] or not groups:
            groups.append([])
        groups[-1].append(os.fsencode(item["path"]))
    return groups


_ESCAPED = re.compile(rb"\\x([0-9a-f]{2})")


def cleanup_path(shown: str) -> bytes:
    """A path from cleanup's JSON; names that are not UTF-8 appear with \\xNN escapes."""
    raw = shown.encode("utf-8", "surrogateescape")
    if os.path.lexists(raw):
        return raw
    return _ESCAPED.sub(lambda m: bytes([int(m[1], 16)]), raw)


def parse_cleanup(path: Path) -> tuple[list[list[bytes]], list[dict[str, Any]]]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    groups = data["duplicates"]
    return [[cleanup_path(p) for p in g["files"]] for g in groups], groups
