"""Values as policy files write them, checked, with the JSON Schema fragment for each."""

from __future__ import annotations

import os
from typing import Any

from cleanup.errors import UsageError
from cleanup.units import parse_age, parse_size

from .registry import BadValue

SIZE_SCHEMA: dict[str, Any] = {
    "description": 'A size: "500 MB", "1 GB", "2 GiB" or a number of bytes.',
    "oneOf": [
        {"type": "string", "pattern": r"^\s*\+?\d+(\.\d+)?\s*[A-Za-z]*\s*$"},
        {"type": "integer", "minimum": 0},
    ],
}
AGE_SCHEMA: dict[str, Any] = {
    "description": 'An age: "90d", "6w", "18m" (months), "3y" or a number of days.',
    "oneOf": [
        {"type": "string", "pattern": r"^\s*\+?\d+(\.\d+)?\s*[A-Za-z]*\s*$"},
        {"type": "number", "minimum": 0},
    ],
}
TEXTS_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
    ]
}
LIST_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}},
    ]
}
BOOL_SCHEMA: dict[str, Any] = {"type": "boolean"}


def size(value: Any) -> int:
    """Bytes from "1 GB" or an integer; BadValue for anything else."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BadValue(f'{value!r} is not a size. Write e.g. "500 MB", "1 GB" or "2 GiB".')
    try:
        return parse_size(value)
    except UsageError as exc:
        raise BadValue(str(exc)) from None


def age(value: Any) -> float:
    """Days from "3y", "18m", "90d" or a number; BadValue for anything else."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadValue(f'{value!r} is not an age. Write e.g. "90d", "6w", "18m" (months) or "3y".')
    try:
        return parse_age(value)
    except UsageError as exc:
        raise BadValue(str(exc)) from None


def texts(value: Any, allow_empty: bool = False) -> list[str]:
    """A non-empty string, or a non-empty list of them, as a list."""
    items = [value] if isinstance(value, str) else value
    if (
        not isinstance(items, list)
        or not (items or allow_empty)
        or not all(isinstance(i, str) and i for i in items)
    ):
        raise BadValue(
            f'{value!r} should be a text or a list of texts, e.g. "*.iso" or ["*.iso", "*.dmg"].'
        )
    return list(items)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadValue(f"{value!r} should be true or false.")
    return value


def count(value: Any, least: int = 0) -> int:
    """A whole number no smaller than ``least``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise BadValue(f"{value!r} should be a whole number of at least {least}.")
    return value


def percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
        raise BadValue(f"{value!r} should be a percentage above 0 and at most 100, e.g. 5 or 12.5.")
    return float(value)


def folder(value: Any) -> str:
    """An absolute destination folder; '~' means the home folder."""
    if not isinstance(value, str) or not value.strip():
        raise BadValue(f'{value!r} should be a folder, e.g. "/mnt/archive" or "~/Archive".')
    path = os.path.expanduser(value.strip())
    if not (os.path.isabs(path) or ":" in path):
        raise BadValue(
            f"{value!r} should be an absolute folder (or a provider address such as gdrive:me/Archive)."
        )
    return path
