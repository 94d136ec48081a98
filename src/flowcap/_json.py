"""Numbers for ``--json`` output: six significant figures, and ``null`` for what is not finite."""

from __future__ import annotations

import math


def json_number(value) -> float | None:
    """``value`` as a float with 6 significant figures, or ``None`` if it is NaN or infinite."""
    if value is None:
        return None
    value = float(value)
    return float(f"{value:.6g}") if math.isfinite(value) else None
