"""Bundled example services, generated from a seed: :mod:`flowcap.examples.victim_support`
(flowcap's own tables) and :mod:`flowcap.examples.victim_support_log` (an event log)."""

from __future__ import annotations

from typing import Any

__all__ = ["generate_victim_support", "generate_victim_support_log"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so ``python -m flowcap.examples.victim_support`` runs the module
    # once rather than after this package has already imported it.
    if name == "generate_victim_support":
        from flowcap.examples.victim_support import generate_victim_support

        return generate_victim_support
    if name == "generate_victim_support_log":
        from flowcap.examples.victim_support_log import generate_victim_support_log

        return generate_victim_support_log
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
