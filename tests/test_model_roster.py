"""The roster and the capacity it gives on the days measured (flowcap.model.roster)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from flowcap.model import Service
from flowcap.model.roster import Roster

SERVICE = Service.model_validate(
    {
        "name": "Roster test",
        "resources": {
            "idva": {"staff": 2, "minutes_per_day": 240},
            "triage": {"staff": 1, "minutes_per_day": 180},
        },
        "case_types": {"advocacy": {"priority": 1, "resource": "idva", "minutes": 60}},
    }
)
#: Monday 3 to Sunday 9 March 2025; Monday to Friday are working days.
CALENDAR = pd.DataFrame(
    {
        "date": pd.date_range("2025-03-03", "2025-03-09"),
        "is_working_day": [True] * 5 + [False] * 2,
        "bank_holiday": [""] * 7,
    }
)


def roster(*rows) -> Roster:
    return Roster(
        pd.DataFrame(
            {
                "date": pd.to_datetime([r[0] for r in rows]),
                "resource": [r[1] for r in rows],
                "staff": [float(r[2]) for r in rows],
                "minutes_per_staff": [r[3] for r in rows],
            }
        )
    )


def test_without_rows_a_working_day_has_the_usual_head_count():
    capacity = Roster.empty().capacity_minutes(SERVICE, CALENDAR)
    assert list(capacity) == ["idva", "triage"]
    np.testing.assert_array_equal(capacity["idva"], [480, 480, 480, 480, 480, 0, 0])
    np.testing.assert_array_equal(capacity["triage"], [180, 180, 180, 180, 180, 0, 0])


def test_a_planned_gap_and_weekend_cover_replace_the_usual_capacity():
    rows = roster(
        ("2025-03-05", "idva", 1, np.nan),  # Wednesday: one IDVA away, the other's usual 240
        ("2025-03-08", "idva", 1, 120.0),  # Saturday: one IDVA for two hours
        ("2025-03-06", "triage", 0, np.nan),  # Thursday: nobody at triage
        ("2025-03-12", "idva", 0, np.nan),  # after the calendar: no effect on it
    )
    capacity = rows.capacity_minutes(SERVICE, CALENDAR)
    np.testing.assert_array_equal(capacity["idva"], [480, 480, 240, 480, 480, 120, 0])
    np.testing.assert_array_equal(capacity["triage"], [180, 180, 180, 0, 180, 0, 0])
    assert len(rows) == 4 and len(rows.of("triage")) == 1
