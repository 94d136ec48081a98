"""The pathway model built from a service (flowcap.simulate.pathway.build): rota, arrivals,
routing."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import PATHWAY_SERVICE
from flowcap.errors import InputError
from flowcap.io.service_yaml import read_service_yaml
from flowcap.model.service import Service
from flowcap.simulate.pathway.build import (
    arrival_rates,
    build_pathway_spec,
    hour_shares_of,
    on_duty,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def service(**changes) -> Service:
    document = {**PATHWAY_SERVICE, **changes}
    return Service.model_validate(document)


def test_spec_follows_the_pathway_section():
    declared = {**PATHWAY_SERVICE["pathway"], "arrivals": {"high": {"per_hour": 0.5}}}
    spec = build_pathway_spec(service(pathway=declared), start=date(2026, 1, 5), days=14)
    assert spec.steps == ("triage", "assessment", "follow_up")
    assert [spec.resources[r] for r in spec.step_resource] == ["triage", "idva", "idva"]
    assert spec.routing[0, 1] == 0.4 and spec.routing[1, 2] == 0.5
    assert spec.routing[2].sum() == 0
    assert spec.service[1][0].dist == "fixed" and spec.service[1][0].mean == 120
    assert spec.service[1][1].dist == "gamma"
    assert spec.service[2][0].mean == pytest.approx(45)
    assert list(spec.case_priority) == [1, 2]
    assert spec.patience[0].dist == "exponential" and spec.patience[0].mean == 2 * 1440
    assert spec.patience[1] is None
    assert spec.start_hour_of_week == 0  # 5 January 2026 is a Monday


def test_on_duty_follows_working_days_and_bank_holidays():
    # Mon 22 Dec 2025: Christmas Day and Boxing Day are bank holidays, then the weekend.
    times, servers = on_duty(service(), "idva", date(2025, 12, 22), 10)
    day = 1440
    expected_starts = [0, 1, 2, 7, 8, 9]  # Mon, Tue, Wed, then Mon 29, Tue 30, Wed 31
    assert list(times) == [0] + [
        t for d in expected_starts for t in (d * day + 510, d * day + 510 + 420)
    ]
    assert list(servers) == [0] + [3, 0] * len(expected_starts)


def test_roster_rows_replace_the_default_head_count():
    roster = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-01-06"]),
            "resource": ["idva"],
            "staff": [1],
            "minutes_per_staff": [300.0],
        }
    )
    times, servers = on_duty(service(), "idva", date(2026, 1, 5), 2, roster)
    assert list(times) == [0, 510, 930, 1440 + 510, 1440 + 810]
    assert list(servers) == [0, 3, 0, 1, 0]


def test_shifts_past_midnight_and_around_the_clock():
    night = service(
        resources={
            "triage": {"staff": 2, "minutes_per_day": 600, "day_starts": "20:00"},
            "idva": {"staff": 3, "minutes_per_day": 1440, "day_starts": "00:00"},
        },
        working_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        work_bank_holidays=True,
    )
    # Tuesday: Monday night's shift is still on until 06:00.
    times, servers = on_duty(night, "triage", date(2026, 1, 6), 2)
    assert list(times) == [0, 360, 1200, 1800, 2640]
    assert list(servers) == [2, 0, 2, 0, 2]
    times, servers = on_duty(night, "idva", date(2026, 1, 6), 30)
    assert list(times) == [0] and list(servers) == [3]


def test_arrivals_from_history_by_weekday():
    # Two weeks of referrals: 3 every Monday, 1 every Wednesday, none otherwise.
    mondays = pd.to_datetime(["2026-01-05"] * 3 + ["2026-01-12"] * 3)
    wednesdays = pd.to_datetime(["2026-01-07", "2026-01-14"])
    referrals = pd.DataFrame(
        {
            "referral_date": list(mondays) + list(wednesdays) + [pd.Timestamp("2026-01-18")],
            "case_type": ["high"] * 6 + ["standard"] * 2 + ["standard"],
        }
    )
    rates = arrival_rates(service(), referrals, date(2026, 1, 19))
    assert rates.shape == (2, 168)
    assert rates[0, :24].sum() == pytest.approx(3.0)  # Mondays
    assert rates[0, 24:].sum() == pytest.approx(0.0)
    assert rates[1, 48:72].sum() == pytest.approx(1.0)  # Wednesdays
    assert rates[1, 144:168].sum() == pytest.approx(0.5)  # one Sunday in two


def test_declared_arrivals_win_and_profiles_keep_the_mean():
    declared = {
        **PATHWAY_SERVICE["pathway"],
        "arrivals": {"high": {"per_hour": 0.5, "weekday": [2, 1, 1, 1, 1, 0, 1]}},
    }
    rates = arrival_rates(service(pathway=declared), None, date(2026, 1, 5))
    assert rates[0].mean() == pytest.approx(0.5)
    assert rates[0, 0] == pytest.approx(2 * rates[0, 24])
    assert rates[0, 5 * 24 : 6 * 24].sum() == 0
    assert rates[1].sum() == 0  # not listed: does not arrive


def test_no_history_and_no_arrivals_is_a_clear_error():
    with pytest.raises(Exception, match="pathway.arrivals"):
        arrival_rates(service(), None, date(2026, 1, 5))


def test_demand_models_give_flat_rates_without_history():
    folder = read_service_yaml(EXAMPLES / "anchor-lindley" / "service.yaml")
    with_pathway = folder.model_copy(
        update={
            "pathway": Service.model_validate(
                {
                    **PATHWAY_SERVICE,
                    "pathway": {
                        "steps": {"advocacy": {"resource": "idva", "service_minutes": {"mean": 60}}}
                    },
                }
            ).pathway
        }
    )
    rates = arrival_rates(with_pathway, None, date(2026, 1, 5))
    assert np.allclose(rates, 10 / 24)


def test_hour_shares_spread_each_weekday_as_the_times_did():
    times = pd.Series(
        pd.to_datetime(
            ["2026-01-05 09:10", "2026-01-05 09:50", "2026-01-05 14:00", "2026-01-12 09:30"]
        )  # fmt: skip
    )
    shares = hour_shares_of(times)
    assert shares.shape == (7, 24)
    assert shares[0, 9] == pytest.approx(0.75) and shares[0, 14] == pytest.approx(0.25)
    assert np.allclose(shares[1:], 1 / 24)  # no Tuesday-to-Sunday times: even
    mondays = pd.DataFrame(
        {"referral_date": pd.to_datetime(["2026-01-05", "2026-01-12"]), "case_type": "high"}
    )
    rates = arrival_rates(service(), mondays, date(2026, 1, 13), hour_shares=shares)
    assert rates[0, 9] == pytest.approx(0.75) and rates[0, :24].sum() == pytest.approx(1.0)


def test_routing_per_case_type_must_cover_every_type_or_give_a_default(tmp_path):
    document = copy.deepcopy(PATHWAY_SERVICE)
    document["pathway"]["steps"]["triage"]["next"] = {"high": {"assessment": 1.0}}
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(InputError, match="next has no entry for standard and no default"):
        read_service_yaml(path)
    document["pathway"]["steps"]["triage"]["next"]["default"] = {}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    document["pathway"]["arrivals"] = {"high": {"per_hour": 1}}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    spec = build_pathway_spec(read_service_yaml(path), start=date(2026, 1, 5), days=2)
    assert spec.routing.shape == (2, 3, 3)
    assert spec.routing[0, 0, 1] == 1.0 and spec.routing[1, 0].sum() == 0


def test_roster_blanks_and_part_time_head_counts_follow_the_daily_models_rule():
    roster = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-01-05", "2026-01-06"]),
            "resource": ["idva", "idva"],
            "staff": [2.0, 2.5],
            "minutes_per_staff": [np.nan, 300.0],
        }
    )
    times, servers = on_duty(service(), "idva", date(2026, 1, 5), 2, roster)
    # Monday: 2 people for the usual 420 minutes from 08:30; Tuesday: 2.5 x 300 = 750
    # minutes shared by 3 people, 250 each.
    assert list(times) == [0, 510, 930, 1440 + 510, 1440 + 760]
    assert list(servers) == [0, 2, 0, 3, 0]
