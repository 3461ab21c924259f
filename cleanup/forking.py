"""A second process for work that is system calls more than Python, where fork is safe.

A scan's two costly parts are Python and SQLite on one side, and reading or listing files on
the other; with a forked process they run side by side on two cores. The process gets a
copy of the scan's memory for free, talks through two pipes, never touches the inventory
(an SQLite connection must not cross a fork) and leaves with os._exit, so that nothing of
the parent (buffers, atexit handlers, finalizers) runs twice.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection, Pipe
from typing import Any


def available() -> bool:
    """Whether a worker can run here: Linux (macOS's fork is unsafe with its frameworks)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


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
        self._pid = os.fork()
        if self._pid == 0:
            code = 1
            try:
                self._send.close()
                self._receive.close()
                serve(requests, replies)
                code = 0
            except BaseException:  # noqa: BLE001 - interrupted with the scan, or its pipe closed
                pass
            finally:
                os._exit(code)
        requests.close()
        replies.close()
        _widen(self._send)

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
