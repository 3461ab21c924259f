"""The policy language: TOML in, a checked Policy out, with every problem found at once."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cleanup.errors import PolicyError
from cleanup.inventory import Inventory, StoredFile

from . import actions as action_registry
from . import keep_rules as keep_registry
from . import values
from .actions import APPLIES_TO, REMOVING, Action
from .conditions import Condition, Context, conditions
from .decisions import Approvals, Evaluation, Limits
from .issues import Issue, Lines
from .keep_rules import KeepRule
from .protection import KEYS as PROTECT_KEYS
from .protection import Protection
from .registry import BadValue, did_you_mean

if TYPE_CHECKING:
    from cleanup.findings import Findings

TOP_KEYS = ("name", "description", "protect", "defaults", "policy")
DEFAULT_KEYS: dict[str, dict[str, Any]] = {
    "min_age": {
        **values.AGE_SCHEMA,
        "description": "Nothing younger than this is changed (flagged at most).",
    },
    "max_items": {
        "type": "integer",
        "minimum": 1,
        "description": "Planning aborts when more items would change.",
    },
    "max_bytes": {
        **values.SIZE_SCHEMA,
        "description": "Planning aborts when more storage would be freed.",
    },
    "max_percent": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 100,
        "description": "Planning aborts when more than this percentage of the inventory's files would change.",
    },
    "approvals": {
        "type": "integer",
        "minimum": 0,
        "description": "Approvals a plan needs before apply runs it.",
    },
    "second_approval_above": {
        **values.SIZE_SCHEMA,
        "description": "A second approval when a plan frees more than this.",
    },
    "second_approval_for_delete": {
        "type": "boolean",
        "description": "A second approval when a plan deletes permanently.",
    },
    "archive_to": {
        "type": "string",
        "description": "Where archive actions move items unless they say `to`.",
    },
}
RULE_KEYS: dict[str, dict[str, Any]] = {
    "name": {
        "type": "string",
        "minLength": 1,
        "description": "Unique name, shown in plans and reasons.",
    },
    "description": {"type": "string"},
    "applies_to": {
        "enum": list(APPLIES_TO),
        "default": "files",
        "description": "What the policy looks at.",
    },
    "approvals": {
        "type": "integer",
        "minimum": 0,
        "description": "Approvals a plan needs when this policy changes anything.",
    },
}


@dataclass
class Defaults:
    """The [defaults] table."""

    min_age_days: float = 0.0
    limits: Limits = field(default_factory=Limits)
    approvals: Approvals = field(default_factory=Approvals)
    archive_to: str | None = None


@dataclass
class Rule:
    """One [[policy]] entry."""

    name: str
    index: int
    applies_to: str
    action: Action
    conditions: list[Condition] = field(default_factory=list)
    unless: list[list[Condition]] = field(default_factory=list)  # any group that all holds exempts
    keep: list[KeepRule] = field(default_factory=list)
    approvals: int | None = None
    description: str = ""

    def exemption(self, record: StoredFile, ctx: Context) -> list[Condition] | None:
        """The `unless` group that exempts ``record``, or None."""
        for group in self.unless:
            if all(c.matches(record, ctx) for c in group):
                return group
        return None

    def matches(self, record: StoredFile, ctx: Context) -> bool:
        return (
            all(c.matches(record, ctx) for c in self.conditions)
            and self.exemption(record, ctx) is None
        )

    def reason(self, record: StoredFile, ctx: Context) -> str:
        """Why the conditions hold, for people: 'size at least 1 GB; last modified more than 3y ago'."""
        return "; ".join(c.describe() for c in self.conditions)


@dataclass
class Policy:
    """A checked policy file: protections, defaults and rules."""

    name: str
    source: str
    hash: str  # sha256 of the file's bytes
    protection: Protection = field(default_factory=Protection)
    defaults: Defaults = field(default_factory=Defaults)
    rules: list[Rule] = field(default_factory=list)
    description: str = ""
    warnings: list[Issue] = field(default_factory=list)

    def evaluate(
        self, inventory: Inventory, findings: Findings | None = None, now: float | None = None
    ) -> Evaluation:
        """Decide what to do with every item of the inventory. Changes nothing."""
        from .engine import evaluate

        return evaluate(self, inventory, findings, now)

    def explain(
        self,
        record: StoredFile,
        inventory: Inventory | None = None,
        findings: Findings | None = None,
        now: float | None = None,
    ) -> list[str]:
        """Which protections and policies apply to ``record`` and why, one sentence each."""
        from .explain import explain

        return explain(self, record, inventory, findings, now)

    def globs(self) -> list[tuple[str, str, str]]:
        """(where, key, pattern) of every path glob, for validate's does-it-match-anything check."""
        found = [("[protect]", "paths", p) for p in self.protection.globs()]
        for rule in self.rules:
            for c in rule.conditions:
                found += [(rule.name, c.name, p) for p in c.globs()]
            for group in rule.unless:
                for c in group:
                    found += [(rule.name, f"unless.{c.name}", p) for p in c.globs()]
            for k in rule.keep:
                found += [(rule.name, f"keep.{k.name}", p) for p in k.globs()]
        return found


class _Collector:
    def __init__(self, lines: Lines) -> None:
        self.lines = lines
        self.issues: list[Issue] = []

    def error(
        self,
        message: str,
        table: str = "",
        index: int = 0,
        key: str | None = None,
        policy: str | None = None,
    ) -> None:
        self.issues.append(Issue("error", message, policy, key, self.lines.of(table, index, key)))

    def warning(
        self,
        message: str,
        table: str = "",
        index: int = 0,
        key: str | None = None,
        policy: str | None = None,
    ) -> None:
        self.issues.append(Issue("warning", message, policy, key, self.lines.of(table, index, key)))


def _unknown(key: str, known: Any, where: str) -> str:
    return f"unknown key {key!r} in {where}.{did_you_mean(key, known)}"


def parse(text: str, source: str, digest: str = "") -> tuple[Policy | None, list[Issue]]:
    """A Policy from TOML text and every problem found, or (None, problems) when it has errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"at line (\d+)", str(exc))
        return None, [Issue("error", f"not valid TOML: {exc}", line=int(line[1]) if line else None)]
    out = _Collector(Lines(text))
    for key in data:
        if key not in TOP_KEYS:
            out.error(_unknown(key, TOP_KEYS, "the file"), key=key)
    name = data.get("name", source)
    if not isinstance(name, str) or not name:
        out.error("name should be a text.", key="name")
        name = source
    description = data.get("description", "")
    if not isinstance(description, str):
        out.error("description should be a text.", key="description")
        description = ""

    protection = _protection(data.get("protect", {}), out)
    defaults = _defaults(data.get("defaults", {}), out)
    rules = _rules(data.get("policy"), defaults, out)
    changes = any(r.action.name in REMOVING | {"trim_versions"} for r in rules)
    if (
        changes
        and defaults.min_age_days == 0
        and "min_age" not in _table(data.get("defaults", {}), "", None)
    ):
        out.warning(
            'no min_age in [defaults]: a file written a moment ago could be changed. Set e.g. min_age = "7d".',
            table="defaults",
            policy="[defaults]",
        )
    out.issues.sort(key=lambda i: i.line or 0)
    if any(i.level == "error" for i in out.issues):
        return None, out.issues
    policy = Policy(
        name=name,
        source=source,
        hash=digest or hashlib.sha256(text.encode("utf-8")).hexdigest(),
        protection=protection,
        defaults=defaults,
        rules=rules,
        description=description,
        warnings=list(out.issues),
    )
    return policy, out.issues


def _table(value: Any, name: str, out: _Collector | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        if out is not None:
            out.error(f"[{name}] should be a table.", key=name)
        return {}
    return value


def _protection(value: Any, out: _Collector) -> Protection:
    table = _table(value, "protect", out)
    for key in table:
        if key not in PROTECT_KEYS:
            out.error(
                _unknown(key, PROTECT_KEYS, "[protect]"), "protect", key=key, policy="[protect]"
            )
    good: dict[str, Any] = {}
    for key in PROTECT_KEYS:
        if key in table:
            try:
                Protection.parse({key: table[key]})
                good[key] = table[key]
            except BadValue as exc:
                out.error(str(exc), "protect", key=key, policy="[protect]")
    return Protection.parse(good)


def _defaults(value: Any, out: _Collector) -> Defaults:
    table = _table(value, "defaults", out)
    d = Defaults()
    parsers: dict[str, Any] = {
        "min_age": values.age,
        "max_items": lambda v: values.count(v, 1),
        "max_bytes": values.size,
        "max_percent": values.percent,
        "approvals": values.count,
        "second_approval_above": values.size,
        "second_approval_for_delete": values.boolean,
        "archive_to": values.folder,
    }
    got: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in parsers:
            out.error(
                _unknown(key, parsers, "[defaults]"), "defaults", key=key, policy="[defaults]"
            )
            continue
        try:
            got[key] = parsers[key](raw)
        except BadValue as exc:
            out.error(str(exc), "defaults", key=key, policy="[defaults]")
    d.min_age_days = got.get("min_age", 0.0)
    d.limits = Limits(got.get("max_items"), got.get("max_bytes"), got.get("max_percent"))
    d.approvals = Approvals(
        got.get("approvals", 0),
        got.get("second_approval_above"),
        got.get("second_approval_for_delete", False),
    )
    d.archive_to = got.get("archive_to")
    return d


def _rules(value: Any, defaults: Defaults, out: _Collector) -> list[Rule]:
    if value is None:
        out.error(
            'no [[policy]] entries: add at least one, e.g. [[policy]] name = "junk" applies_to = "junk" action = "trash".'
        )
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        out.error("policy should be written as [[policy]] tables.", key="policy")
        return []
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, table in enumerate(value):
        rule = _rule(table, index, defaults, out, seen)
        if rule is not None:
            rules.append(rule)
    return rules


def _rule(
    table: dict[str, Any], index: int, defaults: Defaults, out: _Collector, seen: set[str]
) -> Rule | None:
    raw_name = table.get("name")
    label = raw_name if isinstance(raw_name, str) and raw_name else f"#{index + 1}"
    errors_before = len(out.issues)

    def error(message: str, key: str | None = None) -> None:
        out.error(message, "policy", index, key, policy=label)

    if not isinstance(raw_name, str) or not raw_name:
        error('every policy needs a name, e.g. name = "trash junk".', "name")
    elif raw_name in seen:
        error(f"another policy is already named {raw_name!r}; names must be unique.", "name")
    seen.add(label)
    known = [*RULE_KEYS, "action", "keep", "unless", *conditions.names()]
    for key in table:
        if key not in known:
            error(_unknown(key, known, "the policy"), key)
    applies_to = table.get("applies_to", "files")
    if applies_to not in APPLIES_TO:
        error(
            f"applies_to cannot be {applies_to!r}.{did_you_mean(str(applies_to), APPLIES_TO)} Choose one of: {', '.join(APPLIES_TO)}.",
            "applies_to",
        )
        applies_to = "files"
    description = table.get("description", "")
    if not isinstance(description, str):
        error("description should be a text.", "description")
    conds: list[Condition] = []
    for key, raw in table.items():
        if key in conditions and key not in RULE_KEYS:
            try:
                conds.append(conditions.get(key)(raw))
            except BadValue as exc:
                error(str(exc), key)
    unless = _unless(table.get("unless"), error)
    action: Action | None = None
    if "action" not in table:
        error(
            f'every policy needs an action: one of {", ".join(action_registry.actions.names())}, e.g. action = "flag".',
            "action",
        )
    else:
        try:
            action = action_registry.parse(table["action"], defaults.archive_to)
        except BadValue as exc:
            error(str(exc), "action")
    if action is not None and applies_to not in action.applies_to:
        usable = [n for n, cls in action_registry.actions if applies_to in cls.applies_to]
        error(
            f"action {action.name!r} cannot apply to {applies_to}; use one of: {', '.join(usable)}.",
            "action",
        )
    keep: list[KeepRule] = []
    if "keep" in table:
        if applies_to != "duplicates":
            error(
                'keep rules choose the copy that stays, so they only belong in a policy with applies_to = "duplicates".',
                "keep",
            )
        else:
            try:
                keep = keep_registry.parse(table["keep"])
            except BadValue as exc:
                error(str(exc), "keep")
    elif applies_to == "duplicates" and action is not None and action.name != "flag":
        error(
            f"a duplicates policy that removes copies needs keep rules, e.g. {keep_registry.Under.example}.",
            "keep",
        )
    approvals = None
    if "approvals" in table:
        try:
            approvals = values.count(table["approvals"])
        except BadValue as exc:
            error(str(exc), "approvals")
    if len(out.issues) > errors_before or action is None:
        return None
    return Rule(label, index, applies_to, action, conds, unless, keep, approvals, description)


def _unless(value: Any, error: Any) -> list[list[Condition]]:
    if value is None:
        return []
    tables = [value] if isinstance(value, dict) else value
    if (
        not isinstance(tables, list)
        or not tables
        or not all(isinstance(t, dict) and t for t in tables)
    ):
        error(
            'unless should be a table of conditions, e.g. unless = { path = "~/Documents/**" }, or a list of them.',
            "unless",
        )
        return []
    groups = []
    for t in tables:
        group = []
        for key, raw in t.items():
            if key not in conditions:
                error(
                    f"unknown condition {key!r} in unless.{did_you_mean(key, conditions.names())}",
                    f"unless.{key}",
                )
                continue
            try:
                group.append(conditions.get(key)(raw))
            except BadValue as exc:
                error(str(exc), f"unless.{key}")
        groups.append(group)
    return groups


def load(source: str) -> Policy:
    """A policy from a TOML file path or the name of a shipped pack; PolicyError lists every problem."""
    from pathlib import Path

    from . import shipped

    path = Path(source).expanduser()
    if path.is_file():
        name = path.stem
    elif source in shipped.names():
        path, name = shipped.path(source), source
    else:
        hint = did_you_mean(source, shipped.names())
        raise PolicyError(
            f"No policy file or shipped pack named {source!r}.{hint} "
            f"Shipped packs: {', '.join(shipped.names())}; or give the path of a .toml file."
        )
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except OSError as exc:
        raise PolicyError(f"Cannot read the policy {source}: {exc.strerror}.") from exc
    except UnicodeDecodeError:
        raise PolicyError(f"The policy {source} is not UTF-8 text; save it as UTF-8.") from None
    policy, issues = parse(text, name, hashlib.sha256(data).hexdigest())
    if policy is None:
        errors = [i for i in issues if i.level == "error"]
        listing = "\n  ".join(str(i) for i in errors)
        raise PolicyError(f"The policy {source} has {len(errors)} problem(s):\n  {listing}")
    return policy
