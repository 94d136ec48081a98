"""The scenario planner and the jobs API through HTTP (flowcap.web.planner): the options as
stored, running a simulation or a plan from the page and watching it to its result, the form's
errors, editing scenarios.yaml, and POST /api/services/{name}/jobs → GET /api/jobs/{id} with
the result of the library's own call. The app's worker pool runs the jobs (TestClient runs the
app's lifespan)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from conftest import worked_example
from flowcap.accounts import Accounts
from flowcap.history import open_stored
from flowcap.manage import import_folder
from flowcap.plan import simulate_ahead
from flowcap.store import Store
from flowcap.web import create_app

EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
EXAMPLE = "Northshire Victim Support Hub"
OTHER = "Worked example"
PASSWORD = "correct horse battery staple"
VIEWER = "viewer@northshire.test"
EDITOR = "editor@northshire.test"
OUTSIDER = "admin@worked.test"
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("planner")
    url = f"sqlite:///{folder / 'flowcap.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWCAP_KEY", KEY)
        import_folder(EXAMPLE_DIR, database_url=url)
        import_folder(worked_example(folder / "worked"), database_url=url)
    store = Store.open(url)
    accounts = Accounts(store)
    accounts.add_user(VIEWER, PASSWORD, role="viewer", service=EXAMPLE)
    accounts.add_user(EDITOR, PASSWORD, role="editor", service=EXAMPLE)
    accounts.add_user(OUTSIDER, PASSWORD, role="admin", service=OTHER)
    store.close()
    return url


@pytest.fixture(scope="module")
def web(store_url):
    return create_app(store_url)


@pytest.fixture
def client(web, monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY", KEY)
    with TestClient(web) as client:  # runs the lifespan: the worker pool
        yield client


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def log_in(client, email):
    form = client.get("/login")
    data = {"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text)}
    response = client.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 303
    return csrf_of(client.get("/services").text)


def bearer(store_url, email) -> dict:
    store = Store.open(store_url)
    try:
        accounts = Accounts(store)
        _, secret = accounts.create_api_token(accounts.user(email), "planner tests")
    finally:
        store.close()
    return {"Authorization": f"Bearer {secret}"}


def path_of(name: str, suffix: str = "") -> str:
    return f"/services/{quote(name, safe='')}{suffix}"


def wait_for(client, path, headers=None, timeout=120.0):
    """Poll ``path`` until the job is finished; the last response."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(path, headers=headers or {})
        assert response.status_code == 200, response.text[:500]
        finished = (
            response.json()["status"] in ("done", "failed")
            if path.startswith("/api/")
            else 'id="job-status" hx-get' not in response.text
        )
        if finished or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def audit(store_url, action):
    store = Store.open(store_url)
    try:
        return [e for e in Accounts(store).audit_log(EXAMPLE) if e["action"] == action]
    finally:
        store.close()


# --- the page ---------------------------------------------------------------------------------


def test_a_viewer_sees_the_options_as_stored_and_no_forms(client):
    log_in(client, VIEWER)
    page = client.get(path_of(EXAMPLE, "/planner"))
    assert page.status_code == 200
    assert "<h1>Scenario planner" in page.text
    for option in ("agency IDVA for six weeks over summer", "lose an IDVA for three months"):
        assert option in page.text
    # each change in words, money in pounds (not the stored reprs: "day_rate: 185.0")
    assert "from 3 Jul 2026 to 21 Aug 2026 at £185 a working day each" in page.text
    assert "1 person missing from idva from 2 Feb 2026 to 1 May 2026 (its pay saved)" in page.text
    assert "da_standard&#39;s step 2 (step: 1 in scenarios.yaml" in page.text
    assert "185.0" not in page.text and "False" not in page.text
    assert "scenarios.yaml version 1" in page.text
    assert "Run the simulation" not in page.text and 'name="scenarios"' not in page.text
    csrf = csrf_of(page.text)
    refused = client.post(
        path_of(EXAMPLE, "/planner/run"),
        data={"csrf_token": csrf, "kind": "simulate"},
        follow_redirects=False,
    )
    assert refused.status_code == 403


def test_an_editor_runs_a_simulation_and_sees_the_ranking(client, store_url):
    csrf = log_in(client, EDITOR)
    page = client.get(path_of(EXAMPLE, "/planner"))
    assert "Run the simulation" in page.text and "Run the plan" in page.text
    response = client.post(
        path_of(EXAMPLE, "/planner/run"),
        data={
            "csrf_token": csrf,
            "kind": "simulate",
            "horizon": "30",
            "replications": "60",
            "risk": "0.05",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    job_path = response.headers["location"]
    assert re.fullmatch(re.escape(path_of(EXAMPLE, "/jobs/")) + r"\d+", job_path)
    first = client.get(job_path)
    assert first.status_code == 200
    if 'hx-get="' in first.text:  # still running: the page polls itself
        assert 'hx-trigger="every 1s"' in first.text and "<noscript><meta" in first.text
    done = wait_for(client, job_path)
    assert 'id="ranking"' in done.text, done.text[-2000:]
    assert "Options, best value first" in done.text
    assert "shorter needs assessments for standard domestic abuse" in done.text
    assert 'id="recommendation"' in done.text
    assert 'data-figure="{' in done.text  # the fan chart's figure, drawn by planner.js
    assert "<script>" not in done.text  # no inline script: the CSP refuses it
    runs = client.get(path_of(EXAMPLE, "/planner"))
    assert f'href="{job_path}"' in runs.text and "done" in runs.text
    assert any(
        EDITOR == e["actor"] and "simulate job" in e["detail"] for e in audit(store_url, "run")
    )


def test_an_editor_runs_a_plan(client):
    csrf = log_in(client, EDITOR)
    response = client.post(
        path_of(EXAMPLE, "/planner/run"),
        data={
            "csrf_token": csrf,
            "kind": "plan",
            "target": "20",
            "unit": "cases",
            "risk": "0.1",
            "horizon": "21",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    done = wait_for(client, response.headers["location"])
    assert 'id="plan"' in done.text and "The fewest staff for the target" in done.text
    for resource in ("triage", "idva", "caseworker"):
        assert f'<th scope="row">{resource}</th>' in done.text


@pytest.mark.parametrize(
    "form, field, words",
    [
        ({"replications": "50000"}, "sim-replications", "at most 10,000"),
        ({"replications": "lots"}, "sim-replications", "enter a whole number"),
        ({"horizon": "5000"}, "sim-horizon", "horizon must be"),
        ({"risk": "2"}, "sim-risk", "risk must be between 0 and 1"),
    ],
)
def test_the_form_shows_each_problem_in_the_error_summary(client, form, field, words):
    csrf = log_in(client, EDITOR)
    data = {"csrf_token": csrf, "kind": "simulate", **form}
    response = client.post(path_of(EXAMPLE, "/planner/run"), data=data, follow_redirects=False)
    assert response.status_code == 422
    summary = response.text.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert f'href="#{field}"' in summary and words in summary, summary
    assert f'id="{field}-error"' in response.text
    assert f'id="{field}"' in response.text and 'aria-invalid="true"' in response.text


def test_a_run_without_its_csrf_token_queues_nothing(client):
    log_in(client, EDITOR)
    before = client.get(path_of(EXAMPLE, "/planner")).text.count("/jobs/")
    response = client.post(
        path_of(EXAMPLE, "/planner/run"), data={"kind": "simulate"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert client.get(path_of(EXAMPLE, "/planner")).text.count("/jobs/") == before


def test_a_job_of_another_service_is_not_found(client):
    csrf = log_in(client, EDITOR)
    response = client.post(
        path_of(EXAMPLE, "/planner/run"),
        data={"csrf_token": csrf, "kind": "simulate", "horizon": "7", "replications": "10"},
        follow_redirects=False,
    )
    job_id = response.headers["location"].rsplit("/", 1)[1]
    client.cookies.clear()
    log_in(client, OUTSIDER)
    theirs = client.get(path_of(OTHER, f"/jobs/{job_id}"))
    ours = client.get(path_of(EXAMPLE, f"/jobs/{job_id}"))
    assert theirs.status_code == ours.status_code == 404
    assert EXAMPLE not in theirs.text and "agency" not in theirs.text


# --- editing the options ----------------------------------------------------------------------


def test_editing_the_options_checks_them_as_an_import_does(client, store_url):
    csrf = log_in(client, EDITOR)
    page = client.get(path_of(EXAMPLE, "/planner"))
    original = re.search(r'<textarea id="scenarios"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert "agency IDVA for six weeks over summer" in original.group(1)
    bad = "cover:\n  - agency: {resource: nobody, staff: 1, day_rate: 100, start: 2026-01-05}\n"
    response = client.post(
        path_of(EXAMPLE, "/planner/options"),
        data={"csrf_token": csrf, "scenarios": bad},
        follow_redirects=False,
    )
    assert response.status_code == 422
    summary = response.text.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert 'href="#scenarios"' in summary and "nobody" in summary, summary
    assert "nobody" in response.text.split('<textarea id="scenarios"', 1)[1]  # kept to fix
    good = (
        "overtime for IDVAs:\n  - overtime: {resource: idva, minutes_per_day: 30, "
        "start: 2026-01-05, end: 2026-01-30}\n"
    )
    saved = client.post(
        path_of(EXAMPLE, "/planner/options"),
        data={"csrf_token": csrf, "scenarios": good},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == path_of(EXAMPLE, "/planner?saved=2")
    after = client.get(saved.headers["location"])
    assert "saved as version 2" in after.text and "overtime for IDVAs" in after.text
    assert "agency IDVA for six weeks" not in after.text.split("<h2>Recent runs")[0]
    assert [e["actor"] for e in audit(store_url, "scenarios edit")] == [EDITOR]
    restored = client.post(
        path_of(EXAMPLE, "/planner/options"),
        data={"csrf_token": csrf, "scenarios": html_unescape(original.group(1))},
        follow_redirects=False,
    )
    assert restored.headers["location"] == path_of(EXAMPLE, "/planner?saved=3")


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


# --- the API ----------------------------------------------------------------------------------


def test_the_api_runs_a_job_with_the_library_calls_result(client, store_url):
    headers = bearer(store_url, EDITOR)
    options = {"horizon": 21, "replications": 50, "seed": 11, "risk": 0.1}
    response = client.post(
        f"/api/services/{quote(EXAMPLE)}/jobs",
        json={"kind": "simulate", "options": options},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert set(accepted) == {"id", "status"} and accepted["status"] == "queued"
    done = wait_for(client, f"/api/jobs/{accepted['id']}", headers).json()
    assert done["status"] == "done", done
    assert done["progress"] == 1.0 and done["service"] == EXAMPLE
    report = simulate_ahead(
        open_stored(EXAMPLE, store_url), horizon=21, replications=50, seed=11, risk_target=0.1
    )
    assert done["result"] == json.loads(json.dumps(report.as_json(), allow_nan=False))
    viewer = bearer(store_url, VIEWER)
    assert client.get(f"/api/jobs/{accepted['id']}", headers=viewer).status_code == 200


def test_an_option_over_its_cap_is_a_422_naming_it(client, store_url):
    headers = bearer(store_url, EDITOR)
    response = client.post(
        f"/api/services/{quote(EXAMPLE)}/jobs",
        json={"kind": "simulate", "options": {"replications": 50_000}},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("replications must be at most 10,000")
    unknown = client.post(
        f"/api/services/{quote(EXAMPLE)}/jobs",
        json={"kind": "plan", "options": {"target_backlog_hours": 3}},
        headers=headers,
    )
    assert unknown.status_code == 422 and "target_backlog_hours" in unknown.json()["detail"]


def test_the_api_refuses_a_viewer_and_hides_jobs_from_outsiders(client, store_url):
    viewer = bearer(store_url, VIEWER)
    refused = client.post(
        f"/api/services/{quote(EXAMPLE)}/jobs", json={"kind": "simulate"}, headers=viewer
    )
    assert refused.status_code == 403
    editor = bearer(store_url, EDITOR)
    job = client.post(
        f"/api/services/{quote(EXAMPLE)}/jobs",
        json={"kind": "simulate", "options": {"horizon": 7, "replications": 10}},
        headers=editor,
    ).json()
    outsider = bearer(store_url, OUTSIDER)
    hidden = client.get(f"/api/jobs/{job['id']}", headers=outsider)
    missing = client.get("/api/jobs/987654321", headers=outsider)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    assert client.get(f"/api/jobs/{job['id']}").status_code == 401


# --- every number on a result page is the CLI's ------------------------------------------------


def table_rows(page: str, table_id: str) -> dict[str, list[str]]:
    """The body rows of the table ``table_id``: row header -> its cells' text."""
    import html

    table = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
        head = html.unescape(re.search(r'<th scope="row">(.*?)</th>', row, flags=re.S).group(1))
        rows[head] = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    return rows


def shown(text: str) -> tuple[float, float] | None:
    """A cell's number and the half-unit of its last digit (a percentage as a share);
    ``None`` for a dash."""
    text = text.strip()
    if text == "-":
        return None
    share = text.endswith("%")
    digits = text.replace("£", "").replace(",", "").rstrip("%")
    places = len(digits.split(".")[1]) if "." in digits else 0
    value, half = float(digits), 0.5 * 10**-places
    return (value / 100, half / 100) if share else (value, half)


def agrees(text: str, value) -> bool:
    """The cell shows ``value`` (the CLI's --json number) to its displayed precision."""
    cell = shown(text)
    if cell is None or value is None:
        return cell is None and value is None
    number, half = cell
    return abs(number - value) <= half + 1e-9


def mean_and_p90(text: str) -> tuple[str, str]:
    """``"2.1 / 5"`` as its two cells; a dash (nothing waited) as two dashes."""
    return ("-", "-") if text.strip() == "-" else tuple(text.split(" / "))


def cli_json(store_url, monkeypatch, args):
    from typer.testing import CliRunner

    from flowcap.cli.main import app

    monkeypatch.setenv("FLOWCAP_DATABASE_URL", store_url)
    result = CliRunner().invoke(app, [*args, "--service", EXAMPLE, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def run_from_page(client, data) -> str:
    csrf = log_in(client, EDITOR)
    response = client.post(
        path_of(EXAMPLE, "/planner/run"), data={"csrf_token": csrf, **data}, follow_redirects=False
    )
    assert response.status_code == 303
    done = wait_for(client, response.headers["location"])
    assert "The run failed" not in done.text
    return done.text


def test_every_number_of_a_simulation_page_is_the_clis(client, store_url, monkeypatch):
    page = run_from_page(
        client, {"kind": "simulate", "horizon": "30", "replications": "60", "risk": "0.05"}
    )
    expected = cli_json(
        store_url, monkeypatch, ["simulate", "--horizon", "30", "--replications", "60"]
    )
    assert "30 days ahead, 60 simulated futures, backlog threshold 2,400 minutes" in page
    assert "accepted risk 5%" in page and "{" not in page.split('id="job-status"')[0][-400:]

    labels = [t["label"] for t in expected["step_targets"]["baseline"]]
    assert labels, "the example has a step with a contact target"
    heads = page.split('id="ranking"', 1)[1].split("</thead>", 1)[0]
    for label in labels:
        assert f"P(met) {label}" in heads.replace("&#39;", "'")
    ranking = table_rows(page, "ranking")
    assert list(ranking) == ["(baseline)", *(r["scenario"] for r in expected["ranking"])]
    baseline_met = [t["p_met"] for t in expected["step_targets"]["baseline"]]
    assert ranking["(baseline)"][:2] == ["£0", "-"]
    assert all(agrees(c, v) for c, v in zip(ranking["(baseline)"][4:], baseline_met, strict=True))
    for row in expected["ranking"]:
        cells = ranking[row["scenario"]]
        met = {t["label"]: t["p_met"] for t in row["step_targets"]}
        values = [
            row["extra_cost"],
            row["wait_days_avoided"],
            row["cost_per_wait_day_avoided"],
            row["p_meet_target"],
            *(met[label] for label in labels),
        ]
        assert cells[0].startswith("£")
        assert len(cells) == len(values)
        for cell, value in zip(cells, values, strict=True):
            assert agrees(cell, value), (row["scenario"], cell, value)

    baseline = table_rows(page, "baseline")
    assert list(baseline) == list(expected["scenarios"]["baseline"])
    for resource, row in expected["scenarios"]["baseline"].items():
        cells = baseline[resource]
        wait_mean, wait_p90 = mean_and_p90(cells[4])
        first_mean, first_p90 = mean_and_p90(cells[5])
        pairs = [
            (cells[0], row["final_backlog_mean"]),
            (cells[1], row["final_backlog_p50"]),
            (cells[2], row["final_backlog_p90"]),
            (cells[3], row["p_final_backlog_over_threshold"]),
            (wait_mean, row["mean_wait_days"]),
            (wait_p90, None if wait_mean == "-" else row["p90_wait_days"]),
            (first_mean, row["mean_first_contact_wait_days"]),
            (first_p90, None if first_mean == "-" else row["p90_first_contact_wait_days"]),
            (cells[6], row["days_over_target"]),
            (cells[7], row["cost"]),
        ]
        for cell, value in pairs:
            assert agrees(cell, value), (resource, cell, value)

    targets = table_rows(page, "step-targets")
    for target in expected["step_targets"]["baseline"]:
        cells = targets[target["label"]]
        keys = ["p_met", "days_over_target", "met", "late", "waiting_past_target"]
        for cell, key in zip(cells, keys, strict=True):
            assert agrees(cell, target[key]), (target["label"], key, cell, target[key])


def test_every_number_of_a_plan_page_is_the_clis(client, store_url, monkeypatch):
    page = run_from_page(
        client,
        {"kind": "plan", "target": "20", "unit": "cases", "risk": "0.1", "horizon": "21"},
    )
    expected = cli_json(
        store_url,
        monkeypatch,
        [
            "plan",
            "--target-backlog-cases",
            "20",
            "--risk",
            "0.1",
            "--horizon",
            "21",
            "--replications",
            "1000",
        ],
    )
    rows = table_rows(page, "plan")
    assert list(rows) == [r["resource"] for r in expected]
    for record in expected:
        cells = rows[record["resource"]]
        assert cells[1] == (
            "not found" if record["min_staff"] is None else str(record["min_staff"])
        )
        assert cells[4] == ("yes" if record["stable"] else "no")
        fte, now = cells[7].split(" (")
        pairs = [
            (cells[0], record["target_backlog_minutes"]),
            (cells[2], record["min_capacity_minutes"]),
            (cells[3], record["p_exceed_at_min"]),
            (cells[5], record["min_minutes_per_staff"]),
            (cells[6], record["fewest_capacity_minutes"]),
            (fte, record["fte_needed"]),
            (now.rstrip(")"), record["fte_now"]),
        ]
        for cell, value in pairs:
            assert agrees(cell, value), (record["resource"], cell, value)
