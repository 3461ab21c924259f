"""Validation: every problem of a policy file, and warnings that need the inventory to see."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cleanup.inventory import Inventory, to_text

from .globs import Globs
from .issues import Issue, Lines
from .language import parse


def inside_inventory(inventory: Inventory, folder: str) -> bool:
    """Whether the inventory holds a present local item at or below ``folder``."""
    text = to_text(folder.rstrip("/") or "/")[0]
    prefix = text if text.endswith("/") else text + "/"
    row = inventory.db.execute(
        "SELECT 1 FROM files WHERE gone_scan IS NULL AND provider = 'local' "
        "AND (path = ? OR substr(path, 1, ?) = ?) LIMIT 1",
        (text, len(prefix), prefix),
    ).fetchone()
    return row is not None


def writable(folder: str) -> bool:
    """Whether ``folder`` exists and is writable, or could be created; provider addresses pass."""
    if not os.path.isabs(folder):
        return True
    path = Path(folder)
    while not path.exists() and path != path.parent:
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def validate(path: str, inventory: Inventory | None = None) -> list[Issue]:
    """Errors and warnings for the policy file at ``path``; with an inventory, globs matching nothing too."""
    file = Path(path).expanduser()
    try:
        data = file.read_bytes()
        text = data.decode("utf-8")
    except OSError as exc:
        return [Issue("error", f"cannot read {path}: {exc.strerror}.")]
    except UnicodeDecodeError:
        return [Issue("error", f"{path} is not UTF-8 text; save it as UTF-8.")]
    policy, issues = parse(text, file.stem, hashlib.sha256(data).hexdigest())
    if policy is None or inventory is None:
        return issues
    out = list(issues)
    lines = Lines(text)
    index = {r.name: r.index for r in policy.rules}

    def line(where: str, key: str) -> int | None:
        if where == "[protect]":
            return lines.of("protect", 0, key)
        return lines.of("policy", index[where], key)

    globs = policy.globs()
    unmatched = {(where, key, pattern): Globs([pattern]) for where, key, pattern in globs}
    for (p,) in inventory.db.execute("SELECT path FROM files WHERE gone_scan IS NULL"):
        for spec, compiled in list(unmatched.items()):
            if compiled.match(p):
                del unmatched[spec]
        if not unmatched:
            break
    for where, key, pattern in unmatched:
        out.append(
            Issue(
                "warning",
                f"the glob {pattern!r} matches nothing in the inventory; check its spelling, or scan the folder it names.",
                where,
                key,
                line(where, key),
            )
        )
    for rule in policy.rules:
        destination = getattr(rule.action, "destination", None)
        if destination and not writable(destination):
            out.append(
                Issue(
                    "warning",
                    f"the archive destination {destination} cannot be created or written here; apply "
                    "will refuse to archive until it can.",
                    rule.name,
                    "action",
                    line(rule.name, "action"),
                )
            )
        if destination and inside_inventory(inventory, destination):
            out.append(
                Issue(
                    "error",
                    f"the archive destination {destination} is inside a scanned folder; archived files would "
                    "be found again and could be acted on. Choose a folder outside every scanned tree.",
                    rule.name,
                    "action",
                    line(rule.name, "action"),
                )
            )
    return out
