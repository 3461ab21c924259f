"""A second process for work that is system calls more than Python, where fork is safe.

A scan's two costly parts are Python and SQLite on one side, and reading or listing files on
the other; with a forked process they run side by side on two cores. The process gets a
copy of the scan's memory for free, talks through two pipes, never touches the inventory
(an SQLite connection must not cross a fork) and leaves with os._exit, so that nothing of
the parent (buffers, atexit handlers, finalizers) runs twice.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection, Pipe
from typing import Any, NoReturn


def available() -> bool:
    """Whether a worker can run here: Linux (macOS's fork is unsafe with its frameworks)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


_INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


def _hold_interrupts() -> Any:
    """Block Ctrl-C and SIGTERM; return the mask to restore (None where masks do not exist)."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)


def _release_interrupts(previous: Any) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _work(
    serve: Callable[[Connection, Connection], None],
    requests: Connection,
    replies: Connection,
    held: Any,
    *theirs: Connection,
) -> NoReturn:
    """The worker's life: ignore Ctrl-C (the scan decides, and closing the pipe stops it),
    serve, and leave without running anything of the parent's."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _release_interrupts(held)
        for conn in theirs:
            conn.close()
        serve(requests, replies)
        code = 0
    except BaseException:  # noqa: BLE001 - its pipe closed, or it was told to stop
        pass
    finally:
        os._exit(code)


def _widen(conn: Connection) -> None:
    """A larger pipe (1 MiB where Linux allows it), so that the sender rarely waits."""
    try:
        import fcntl

        fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass  # the default 64 KiB works, only with more waiting


class Worker:
    """A forked process running ``serve(requests, replies)``; this side sends and receives."""

    def __init__(self, serve: Callable[[Connection, Connection], None]) -> None:
        requests, self._send = Pipe(duplex=False)
        self._receive, replies = Pipe(duplex=False)
        # Ctrl-C is held back across the fork: one arriving in between would otherwise raise
        # in both processes, and the new one would run the scan's own code from there.
        held = _hold_interrupts()
        try:
            self._pid = os.fork()
            if self._pid == 0:
                _work(serve, requests, replies, held, self._send, self._receive)
            requests.close()
            replies.close()
            _widen(self._send)
        finally:
            _release_interrupts(held)

    def send(self, message: Any) -> None:
        """Raises OSError when the worker is gone."""
        self._send.send(message)

    def receive(self) -> Any:
        """Raises EOFError or OSError when the worker is gone."""
        return self._receive.recv()

    def close(self) -> None:
        """Close the pipes (the worker stops when its input closes) and reap the process."""
        self._send.close()
        self._receive.close()
        if self._pid:
            try:
                os.waitpid(self._pid, 0)
            except ChildProcessError:
                pass
            self._pid = 0
