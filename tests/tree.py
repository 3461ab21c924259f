"""Small real folder trees for tests: duplicates, hardlinks, sparse files, awkward names."""

from __future__ import annotations

import os
import time
from pathlib import Path

YEAR = 365.25 * 86400


def write(path: Path, data: bytes | str, age_days: float | None = None) -> Path:
    """Create a file (and its folders), optionally dated ``age_days`` in the past."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    if age_days is not None:
        t = time.time() - age_days * 86400
        os.utime(path, (t, t))
    return path


def sparse(path: Path, apparent: int, data: bytes = b"x") -> Path:
    """A file of ``apparent`` bytes holding only ``data`` at its start: almost no blocks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
        f.truncate(apparent)
    return path


def clean_day_tree(root: Path) -> Path:
    """A user's Documents folder as it looks before a clean-up day."""
    report = os.urandom(50_000)
    write(root / "Reports/annual-2023.pdf", report, age_days=900)
    write(root / "Downloads/annual-2023.pdf", report)
    write(root / "Downloads/annual-2023 (1).pdf", report)
    photos = {f"IMG_{i:04d}.jpg": os.urandom(20_000 + i) for i in range(5)}
    for name, data in photos.items():
        write(root / "Photos 2019" / name, data, age_days=2000)
        write(root / "Backup/Photos 2019 (copy)" / name, data, age_days=2000)
    write(root / "Old/minutes-2015.docx", os.urandom(3000), age_days=3000)
    write(root / "Video/holiday.mp4", os.urandom(3_000_000))
    write(root / "~$draft.docx", b"lock")
    write(root / "Photos 2019/Thumbs.db", b"thumbs")
    write(root / "notes/empty.txt", b"")
    (root / "Empty/Nested").mkdir(parents=True)
    os.symlink(root / "does-not-exist", root / "dangling-link")
    return root
