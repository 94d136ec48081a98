"""Bundled example services, generated from a seed (see :mod:`flowcap.examples.victim_support`)."""

from __future__ import annotations

from typing import Any

__all__ = ["generate_victim_support"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so ``python -m flowcap.examples.victim_support`` runs the module
    # once rather than after this package has already imported it.
    if name == "generate_victim_support":
        from flowcap.examples.victim_support import generate_victim_support

        return generate_victim_support
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
