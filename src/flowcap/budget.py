"""A wall-clock budget for a long run: past it, the run stops with a clear error.

``flowcap --time-limit 600 plan ...`` (or ``FLOWCAP_TIME_LIMIT=600``) gives any command ten
minutes. When they are up, :class:`TimeLimitExceeded` is raised in the main thread wherever
the run is (an interval timer's ``SIGALRM``, so the work needs no checks of its own), and it
unwinds like any error: an import's transaction is rolled back, a sweep keeps the cells it
finished (run it again to resume), and the command exits with code 1. Code running inside
one long compiled call (a NumPy operation) is stopped when that call returns.

POSIX only (``signal.setitimer``), and only from the main thread; elsewhere
:func:`start_time_limit` refuses rather than silently running without a limit.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

from flowcap.checks import check_time_limit
from flowcap.errors import FlowcapError


class TimeLimitExceeded(FlowcapError):
    """The run took longer than its wall-clock budget (``seconds``) and was stopped."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        super().__init__(
            f"stopped: the run took longer than its time limit of {seconds:g} s. An import "
            "under way was rolled back; a sweep keeps the cells it finished (run it again to "
            "resume). Allow more time, or ask for less (fewer replications, a shorter horizon)"
        )


def start_time_limit(seconds: float) -> None:
    """Raise :class:`TimeLimitExceeded` in the main thread ``seconds`` from now (wall clock).

    Raises
    ------
    ArgumentError
        For a budget that is not a finite number of seconds more than 0 (at most a week).
    FlowcapError
        Where the platform has no interval timer, or when called off the main thread.
    """
    check_time_limit(seconds)
    if not hasattr(signal, "setitimer"):
        raise FlowcapError("a time limit needs a POSIX system (signal.setitimer)")

    def stop(_signum, _frame):
        raise TimeLimitExceeded(seconds)

    try:
        signal.signal(signal.SIGALRM, stop)
    except ValueError as exc:  # not the main thread
        raise FlowcapError(f"a time limit can only be set from the main thread ({exc})") from None
    signal.setitimer(signal.ITIMER_REAL, seconds)


def cancel_time_limit() -> None:
    """Stop the timer :func:`start_time_limit` set (nothing happens if none is set)."""
    if hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Run the block within ``seconds`` of wall-clock time (no limit when ``None``)."""
    if seconds is None:
        yield
        return
    start_time_limit(seconds)
    try:
        yield
    finally:
        cancel_time_limit()
