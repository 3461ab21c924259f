"""Problems found in a policy file, each with where it is: policy name, key, line."""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")


@dataclass(frozen=True, slots=True)
class Issue:
    """One error or warning about a policy file."""

    level: str  # "error" or "warning"
    message: str
    policy: str | None = None  # the [[policy]] name, or a table such as "[defaults]"
    key: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.policy is not None:
            where.append(self.policy if self.policy.startswith("[") else f"policy {self.policy!r}")
        if self.key is not None:
            where.append(f"key {self.key!r}")
        return f"{self.level}: " + (", ".join(where) + ": " if where else "") + self.message


class Lines:
    """Line numbers of tables and keys in TOML text, found by reading it line by line.

    tomllib gives lines only for syntax errors; this finds where a key was written so that
    every other problem can say where it is too.
    """

    def __init__(self, text: str) -> None:
        self._keys: dict[tuple[str, int, str], int] = {}
        self._tables: dict[tuple[str, int], int] = {}
        counts: dict[str, int] = {}
        table, index = "", 0
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                table = header[2]
                top = table.split(".")[0]
                if header[1] == "[[" and table == top:
                    counts[top] = counts.get(top, 0) + 1
                index = counts.get(top, 1) - 1
                self._tables.setdefault((table, index), number)
                continue
            key = _KEY.match(line)
            if key:
                self._keys.setdefault((table, index, key[1]), number)

    def of(self, table: str, index: int = 0, key: str | None = None) -> int | None:
        """The line of ``key`` in the ``index``-th ``table`` (or of the table itself)."""
        if key is not None:
            parts = key.split(".")
            for depth in range(len(parts), 0, -1):
                sub = (
                    ".".join([table, *parts[: depth - 1]])
                    if table
                    else ".".join(parts[: depth - 1])
                )
                found = self._keys.get((sub, index, parts[depth - 1]))
                if found is not None:
                    return found
            sub_table = self._tables.get((".".join(filter(None, [table, key])), index))
            if sub_table is not None:
                return sub_table
        return self._tables.get((table, index))
