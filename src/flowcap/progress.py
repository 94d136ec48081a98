"""How a long run tells its caller where it is, without knowing who is listening."""

from __future__ import annotations

from collections.abc import Callable

#: Told each step of a long run: ``progress(step)``, or ``progress(step, done, total)`` when
#: the run knows how far along it is (the CLI then fills its bar). Warnings take the same
#: shape: ``warn(text)``.
Progress = Callable[..., None]


def quiet(*_: object) -> None:
    """A :data:`Progress` that tells nobody."""
