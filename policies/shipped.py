"""The policy packs shipped with cleanup, in policies/packs/."""

from __future__ import annotations

import tomllib
from pathlib import Path

PACKS = Path(__file__).parent / "packs"


def names() -> list[str]:
    """Names of the shipped packs, e.g. staff, admin-archive."""
    return sorted(p.stem for p in PACKS.glob("*.toml"))


def path(name: str) -> Path:
    return PACKS / f"{name}.toml"


def description(name: str) -> str:
    """The pack's own one-line description."""
    with path(name).open("rb") as f:
        return str(tomllib.load(f).get("description", ""))
