"""A crash at any point of apply (SIGKILL) loses nothing: resume finishes the run, undo puts everything back."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.crash_apply import trial


@pytest.mark.parametrize(
    "fraction,recovery",
    [(0.0, "undo"), (0.3, "resume"), (0.6, "undo"), (0.85, "resume")],
)
def test_apply_killed_then_resumed_or_undone_loses_no_file(
    tmp_path: Path, fraction: float, recovery: str
) -> None:
    t = trial(
        tmp_path / "trial",
        int(fraction * 100) + 5,
        40,
        kill_at=fraction,
        recovery=recovery,
        jitter=0.002,
    )
    assert t.problems == []
    assert t.notes["interrupted"] or fraction == 0.0
    assert t.notes["after_kill"].get("lost", 0) == 0
    assert t.notes["planned"] > 10
