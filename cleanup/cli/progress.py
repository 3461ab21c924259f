"""tqdm progress bars for the library's progress callbacks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..scan import ScanProgress

if TYPE_CHECKING:
    from tqdm import tqdm


@contextmanager
def scan_progress(enabled: bool) -> Iterator[ScanProgress]:
    """Bars for files listed and bytes hashed, shown only when ``enabled``."""
    if not enabled:
        yield ScanProgress()
        return
    from tqdm import tqdm  # ~4 ms to import, only worth it for a terminal

    # No monitor thread: a scan forks helper processes (cleanup/forking.py), and a fork is
    # safest from a process with one thread.
    tqdm.monitor_interval = 0

    bars: dict[str, tqdm] = {}

    def bar(name: str, **kw: object) -> tqdm:
        if name not in bars:
            bars[name] = tqdm(leave=False, dynamic_ncols=True, **kw)
        return bars[name]

    def stage(text: str) -> None:
        bar("items", desc="files", unit=" files", unit_scale=True).set_postfix_str(text)

    try:
        yield ScanProgress(
            items=lambda n: bar("items", desc="files", unit=" files", unit_scale=True).update(n),
            hashed_bytes=lambda n: bar(
                "bytes", desc="hashed", unit="B", unit_scale=True, unit_divisor=1024
            ).update(n),
            stage=stage,
        )
    finally:
        for b in bars.values():
            b.close()
