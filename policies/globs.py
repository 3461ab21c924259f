"""Path globs: `*` within a folder name, `**` across folders, `~` for the home folder.

A pattern that starts with `/` or `~` is anchored at the root; any other pattern matches
at any depth, so "*.iso" and "Projects/old/**" match wherever they occur.
"""

from __future__ import annotations

import os
import re


def translate(pattern: str) -> str:
    """The regular expression for one glob pattern."""
    p = os.path.expanduser(pattern) if pattern.startswith("~") else pattern
    if p.endswith("/") and len(p) > 1:
        p += "**"
    out: list[str] = [] if p.startswith("/") else ["(?:.*/)?"]
    i, n = 0, len(p)
    while i < n:
        if p.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif p.startswith("**", i):
            out.append(".*")
            i += 2
        elif p[i] == "*":
            out.append("[^/]*")
            i += 1
        elif p[i] == "?":
            out.append("[^/]")
            i += 1
        elif p[i] == "[" and "]" in p[i + 2 :]:
            end = p.index("]", i + 2)
            body = p[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(p[i]))
            i += 1
    return "".join(out)


class Globs:
    """Several patterns; a path matches when any of them does."""

    def __init__(self, patterns: list[str], case_sensitive: bool = True) -> None:
        self.patterns = patterns
        flags = re.S if case_sensitive else re.S | re.I
        try:
            self._regex = re.compile(
                "(?:" + "|".join(f"(?:{translate(p)})" for p in patterns) + r")\Z", flags
            )
            self._each = [re.compile(translate(p) + r"\Z", flags) for p in patterns]
        except re.error as exc:
            raise ValueError(f"not a valid glob: {exc}") from None

    def match(self, path: str) -> bool:
        return self._regex.match(path) is not None

    def which(self, path: str) -> str | None:
        """The first pattern that matches ``path``."""
        for pattern, regex in zip(self.patterns, self._each, strict=True):
            if regex.match(path):
                return pattern
        return None
