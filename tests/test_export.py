"""flowcap export: the files read back with pandas equal the library's numbers, and a
recount of the raw CSVs; no raw case id in any file, case keys only with --cases."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from flowcap.cli.main import app
from flowcap.export import export_service
from flowcap.history import open_folder

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
SMALL = {"horizon": 28, "replications": 200, "seed": 0}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The example exported once as CSV and as Parquet (with --cases): (history, folders)."""
    base = tmp_path_factory.mktemp("export")
    folder = base / "victim-support"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWCAP_KEY_FILE", str(base / "key"))
        patch.delenv("FLOWCAP_DATABASE_URL", raising=False)
        history = open_folder(folder)
        export_service(history, base / "csv", "csv", **SMALL)
        export_service(history, base / "parquet", "parquet", cases=True, **SMALL)
    return history, base / "csv", base / "parquet"


def read(folder: Path, name: str) -> pd.DataFrame:
    if folder.name == "csv":
        return pd.read_csv(folder / f"{name}.csv")
    return pd.read_parquet(folder / f"{name}.parquet")


def test_the_measures_read_back_as_the_library_computed_them(exported):
    history, csv, parquet = exported
    table = history.measures.table.reset_index(drop=True)
    for folder in (csv, parquet):
        back = read(folder, "measures")
        assert list(back.columns) == list(table.columns)
        assert pd.to_datetime(back["date"]).equals(table["date"])
        for column in ("demand_minutes", "capacity_minutes", "activity_minutes", "backlog_minutes"):
            pd.testing.assert_series_equal(back[column], table[column], check_dtype=False)


def test_the_measures_demand_matches_a_recount_of_the_referrals_csv(exported):
    """Every case type's first step is a triage call on the referral day: triage's demand
    cases per day are the referrals of the day."""
    _, csv, _ = exported
    back = read(csv, "measures")
    triage = back[back["resource"] == "triage"].set_index("date")["demand_cases"]
    referrals = pd.read_csv(EXAMPLE / "referrals.csv")
    counted = referrals.groupby("referral_date").size()
    assert triage.reindex(counted.index).tolist() == counted.tolist()
    assert triage.sum() == len(referrals)


def test_the_forecast_risk_and_spc_alerts_are_the_librarys(exported):
    from flowcap.forecast import forecast_demand
    from flowcap.plan.risk import assess_risk
    from flowcap.variation import describe_variation

    history, csv, parquet = exported
    forecast = forecast_demand(history, SMALL["horizon"]).forecast.reset_index(drop=True)
    risk = assess_risk(history, horizon=SMALL["horizon"])
    variation = describe_variation(history)
    for folder in (csv, parquet):
        back = read(folder, "forecast")
        assert len(back) == len(forecast) == 3 * SMALL["horizon"]
        for column in ("demand_minutes", "lo80", "hi95"):
            pd.testing.assert_series_equal(back[column], forecast[column], check_dtype=False)
        spc = read(folder, "spc_alerts")
        assert len(spc) == len(variation.alerts) + len(variation.referral_alerts)
        assert set(spc["rule"]) <= {"outside_limits", "trend", "two_of_three", "shift"}
        outside = spc[(spc["chart"] == "referrals violence") & (spc["rule"] == "outside_limits")]
        expected = [
            a
            for a in variation.referral_alerts
            if a["chart"] == "referrals violence" and a["rule"] == "outside_limits"
        ]
        assert len(outside) == len(expected)
        risks = read(folder, "risk")
        assert len(risks) == len(risk.risks) == 9  # 3 resources x k 1, 1.5, 2
        mine = risks[(risks["resource"] == "idva") & (risks["k"] == 1.5)]
        (found,) = [r for r in risk.risks if r.resource == "idva" and r.k == 1.5]
        assert mine["p_per_working_day"].iloc[0] == pytest.approx(found.p_per_working_day)
        assert len(read(folder, "risk_daily")) == len(risk.daily)


def test_the_simulation_summaries_are_the_simulations(exported):
    from flowcap.plan.outlook import simulate_ahead

    history, csv, parquet = exported
    report = simulate_ahead(history, **SMALL)
    document = report.as_json()
    for folder in (csv, parquet):
        scenarios = read(folder, "scenarios")
        assert set(scenarios["scenario"]) == set(document["scenarios"])
        row = scenarios[(scenarios["scenario"] == "baseline") & (scenarios["resource"] == "idva")]
        expected = document["scenarios"]["baseline"]["idva"]
        assert row["final_backlog_p90"].iloc[0] == pytest.approx(expected["final_backlog_p90"])
        assert row["cost"].iloc[0] == pytest.approx(expected["cost"])
        fan = read(folder, "backlog_ahead")
        assert len(fan) == 3 * report.spec.horizon_days
        assert fan["p50"].to_numpy() == pytest.approx(report.fan()["p50"].to_numpy())


def test_no_raw_case_id_in_any_file_and_case_keys_only_with_cases(exported):
    history, csv, parquet = exported
    raw = set(pd.read_csv(EXAMPLE / "referrals.csv")["case_id"])
    assert not (csv / "cases.csv").exists()
    for path in list(csv.iterdir()) + list(parquet.iterdir()):
        frame = read(path.parent, path.stem)
        assert "case_id" not in frame.columns
        for column in frame.columns:
            if frame[column].dtype == object:
                assert not set(frame[column].dropna().astype(str)) & raw, (path.name, column)
    cases = read(parquet, "cases")
    assert len(cases) == len(history.measures.first_contacts)
    assert cases["case_key"].str.fullmatch(r"[0-9a-f]{32}").all()
    statuses = cases["status"].value_counts()
    assert statuses.to_dict() == history.measures.first_contact_counts()
    assert str(cases["referral_date"].dtype).startswith("datetime64")


def test_export_of_a_stored_service_by_name(tmp_path, monkeypatch):
    folder = tmp_path / "victim-support"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".flowcap"))
    monkeypatch.setenv("FLOWCAP_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    runner = CliRunner()
    assert runner.invoke(app, ["import", str(folder)]).exit_code == 0
    name = "Northshire Victim Support Hub"
    result = runner.invoke(
        app,
        [
            "export",
            "--service",
            name,
            "--format",
            "csv",
            "--out",
            str(tmp_path / "out"),
            "--horizon",
            "14",
            "--replications",
            "100",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "measures.csv" in result.output
    back = pd.read_csv(tmp_path / "out" / "measures.csv")
    assert back["demand_cases"][back["resource"] == "triage"].sum() == len(
        pd.read_csv(EXAMPLE / "referrals.csv")
    )


def test_a_bad_format_is_refused_before_any_work(tmp_path):
    result = CliRunner().invoke(app, ["export", str(tmp_path), "--format", "xls"])
    assert result.exit_code == 2
    assert "use csv or parquet" in result.output
