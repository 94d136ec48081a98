"""The work each case brings (flowcap.measures.work): steps turned into minutes due on dates."""

from __future__ import annotations

import pandas as pd
import pytest

from flowcap.errors import FlowcapError
from flowcap.measures.work import due_work, step_table
from flowcap.model import Service

#: The module's own example: triage 30 today, IDVA 120 tomorrow, then IDVA 60 × 8 weekly.
SERVICE = Service.model_validate(
    {
        "name": "Work test",
        "resources": {
            "triage": {"staff": 1, "minutes_per_day": 240},
            "idva": {"staff": 2, "minutes_per_day": 240},
        },
        "case_types": {
            "hrda": {
                "priority": 1,
                "steps": [
                    {"resource": "triage", "minutes": 30},
                    {"resource": "idva", "minutes": 120, "after_days": 1},
                    {
                        "resource": "idva",
                        "minutes": 60,
                        "after_days": 1,
                        "repeat": 8,
                        "every_days": 7,
                    },
                ],
            },
            "standard": {"priority": 2, "resource": "triage", "minutes": 20},
        },
    }
)


def test_step_table_has_one_row_per_occurrence():
    table = step_table(SERVICE)
    hrda = table[table["case_type"] == "hrda"]
    assert len(hrda) == 10 and (hrda["priority"] == 1).all()
    assert hrda["offset_days"].tolist() == [0, 1, 1, 8, 15, 22, 29, 36, 43, 50]
    assert table[table["case_type"] == "standard"].to_dict("records") == [
        {"case_type": "standard", "offset_days": 0, "resource": "triage", "minutes": 20.0,
         "priority": 2}
    ]  # fmt: skip


def test_a_referral_and_a_waiting_case_fall_due_from_their_own_dates():
    referrals = pd.DataFrame(
        {"case_key": ["A"], "referral_date": pd.to_datetime(["2025-03-03"]), "case_type": ["hrda"]}
    )
    waiting = pd.DataFrame(
        {
            "case_key": ["W"],
            "waiting_since": pd.to_datetime(["2025-02-10"]),
            "case_type": ["standard"],
        }
    )
    work = due_work(SERVICE, referrals, waiting)
    a = work[work["case_key"] == "A"]
    assert a["due_date"].dt.strftime("%m-%d").tolist() == [
        "03-03", "03-04", "03-04", "03-11", "03-18", "03-25", "04-01", "04-08", "04-15", "04-22",
    ]  # fmt: skip
    assert a["resource"].tolist() == ["triage"] + ["idva"] * 9
    assert a["minutes"].tolist() == [30.0, 120.0] + [60.0] * 8
    assert (a["case_date"] == pd.Timestamp("2025-03-03")).all()
    [w] = work[work["case_key"] == "W"].to_dict("records")
    assert w["due_date"] == w["case_date"] == pd.Timestamp("2025-02-10")
    assert (w["resource"], w["minutes"], w["priority"]) == ("triage", 20.0, 2)


def test_a_case_type_the_service_does_not_define_is_an_error():
    referrals = pd.DataFrame(
        {"case_key": ["A"], "referral_date": pd.to_datetime(["2025-03-03"]), "case_type": ["gone"]}
    )
    waiting = referrals.rename(columns={"referral_date": "waiting_since"}).iloc[0:0]
    with pytest.raises(FlowcapError, match="case types that service.yaml does not define: gone"):
        due_work(SERVICE, referrals, waiting)
