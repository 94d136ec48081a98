"""The changes a contingency option makes (flowcap.model.scenario), checked as they are made."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from flowcap.model.scenario import Agency, Overtime, Scenario, Transfer, Triage


def test_changes_take_iso_dates_and_a_transfer_its_from_key():
    transfer = Transfer.model_validate(
        {"from": "caseworker", "to": "idva", "staff": 1, "start": "2025-08-01", "end": "2025-08-29"}
    )
    assert transfer.from_ == "caseworker" and transfer.start == date(2025, 8, 1)
    assert transfer.kind == "transfer" and transfer.handover_days == 0
    overtime = Overtime(resource="idva", minutes_per_day=60, start="2025-01-06", end="2025-01-31")
    assert (overtime.premium, overtime.sunday_premium) == (1.5, 2.0)
    option = Scenario.of("both", transfer, overtime)
    assert option.name == "both" and option.changes == (transfer, overtime)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: Overtime(resource="idva", minutes_per_day=60, start="2025-02-01",
                             end="2025-01-31"),
            r"end \(2025-01-31\) is before start \(2025-02-01\)",
        ),
        (
            lambda: Transfer.model_validate({"from": "idva", "to": "idva", "staff": 1,
                                             "start": "2025-08-01", "end": "2025-08-29"}),
            "two different resources",
        ),
        (
            lambda: Agency(resource="idva", staff=1, day_rate=185, lead_days=10,
                           start="2025-07-01", end="2025-07-05"),
            "arrive 10 days after start, after end",
        ),
        (
            lambda: Overtime(resource="idva", minutes_per_day=60, start="1/6/2025",
                             end="2025-01-31"),
            "YYYY-MM-DD",
        ),
        (lambda: Triage(case_type="high", minutes=10, colour="red"), "colour"),
    ],
    ids=["end-before-start", "same-resource", "agency-after-end", "not-iso", "unknown-key"],
)  # fmt: skip
def test_a_change_that_cannot_happen_is_refused(make, message):
    with pytest.raises(ValidationError, match=message):
        make()


def test_a_vacancy_and_a_recruitment_with_their_defaults():
    from flowcap.model.scenario import (
        INDUCTION_DAYS,
        INDUCTION_OUTPUT,
        RECRUITMENT_LEAD_DAYS,
        Recruit,
        Vacancy,
    )

    empty = Vacancy(resource="idva", staff=1, start="2026-02-02", end="2026-05-01")
    assert empty.kind == "vacancy" and empty.paid is False  # an empty post saves its pay
    hire = Recruit(resource="idva", staff=2, start="2026-01-05", salary=33_000)
    assert hire.kind == "recruit"
    assert (
        (hire.lead_days, hire.induction_days, hire.induction_output)
        == (
            RECRUITMENT_LEAD_DAYS,
            INDUCTION_DAYS,
            INDUCTION_OUTPUT,
        )
        == (84, 28, 0.5)
    )
    assert hire.joins == date(2026, 3, 30)  # 5 January + 84 days
    with pytest.raises(ValidationError, match="before start"):
        Vacancy(resource="idva", staff=1, start="2026-05-01", end="2026-02-02")
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        Recruit(resource="idva", staff=1, start="2026-01-05", salary=1, induction_output=2)
    with pytest.raises(ValidationError, match="salary"):
        Recruit(resource="idva", staff=1, start="2026-01-05")
