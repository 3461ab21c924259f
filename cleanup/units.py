"""Sizes and ages as people write them: "1 GB", "500 MiB", "3y", "18m", "90d"."""

from __future__ import annotations

import re

from .errors import UsageError

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
}
_AGE_UNITS = {
    "d": 1.0,
    "day": 1.0,
    "days": 1.0,
    "w": 7.0,
    "week": 7.0,
    "weeks": 7.0,
    "m": 30.4375,
    "mo": 30.4375,
    "month": 30.4375,
    "months": 30.4375,
    "y": 365.25,
    "year": 365.25,
    "years": 365.25,
}
_NUMBER_UNIT = re.compile(r"^\s*(?P<n>[-+]?\d+(?:\.\d+)?)\s*(?P<unit>[a-zA-Z]*)\s*$")


def parse_size(text: str | int) -> int:
    """Bytes from "1 GB" (decimal), "1 GiB" (binary) or a plain number."""
    if isinstance(text, int):
        if text < 0:
            raise UsageError(f"A size cannot be negative: {text}.")
        return text
    m = _NUMBER_UNIT.match(text)
    unit = m["unit"].lower() if m else ""
    if not m or unit not in _SIZE_UNITS:
        raise UsageError(f'{text!r} is not a size. Write e.g. "500 MB", "1 GB" or "2 GiB".')
    value = float(m["n"])
    if value < 0:
        raise UsageError(f"A size cannot be negative: {text!r}.")
    return int(value * _SIZE_UNITS[unit])


def parse_age(text: str | int | float) -> float:
    """Days from "90d", "6w", "18m" (months), "3y" or a plain number of days."""
    if isinstance(text, int | float):
        if text < 0:
            raise UsageError(f"An age cannot be negative: {text}.")
        return float(text)
    m = _NUMBER_UNIT.match(text)
    unit = m["unit"].lower() if m else ""
    if not m or (unit and unit not in _AGE_UNITS):
        raise UsageError(f'{text!r} is not an age. Write e.g. "90d", "6w", "18m" (months) or "3y".')
    value = float(m["n"])
    if value < 0:
        raise UsageError(f"An age cannot be negative: {text!r}.")
    return value * _AGE_UNITS[unit] if unit else value
