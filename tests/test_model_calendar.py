"""Working days: the service's week less its nation's bank holidays (flowcap.model.calendar)."""

from __future__ import annotations

from datetime import date

from conftest import WORKED_SERVICE
from flowcap.model import Service, bank_holidays, working_calendar


def service(**changes) -> Service:
    return Service.model_validate({**WORKED_SERVICE, **changes})


def test_easter_2025_in_england_and_in_scotland():
    # Thursday 17 to Tuesday 22 April 2025: Good Friday the 18th, Easter Monday the 21st.
    start, end = date(2025, 4, 17), date(2025, 4, 22)
    england = working_calendar(service(), start, end)
    assert england["date"].dt.day.tolist() == [17, 18, 19, 20, 21, 22]
    assert england["is_working_day"].tolist() == [True, False, False, False, False, True]
    assert england["bank_holiday"].tolist() == ["", "Good Friday", "", "", "Easter Monday", ""]
    # Easter Monday is not a bank holiday in Scotland.
    scotland = working_calendar(service(region="GB-SCT"), start, end)
    assert scotland["is_working_day"].tolist() == [True, False, False, False, True, True]
    assert bank_holidays("GB-SCT", start, end) == {date(2025, 4, 18): "Good Friday"}


def test_a_seven_day_service_that_works_bank_holidays_never_closes():
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    calendar = working_calendar(
        service(working_days=every_day, work_bank_holidays=True),
        date(2025, 4, 17),
        date(2025, 4, 22),
    )
    assert calendar["is_working_day"].all()
    assert calendar["bank_holiday"].tolist()[1] == "Good Friday"  # still named


def test_working_bank_holidays_when_the_service_says_so():
    calendar = working_calendar(
        service(work_bank_holidays=True), date(2025, 5, 5), date(2025, 5, 5)
    )
    assert bool(calendar["is_working_day"].iat[0])
    scotland = working_calendar(service(region="GB-SCT"), date(2025, 12, 1), date(2025, 12, 1))
    assert not bool(scotland["is_working_day"].iat[0])  # St Andrew's Day (observed)
