"""The account and admin pages (flowcap.web.admin) through the app's HTTP interface: a
service's users and roles, its audit log and its settings (admins only), and each user's
own account (API tokens, password). One store per module, on SQLite: the bundled example
and the worked example, each with its own users."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest
import yaml
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from conftest import worked_example
from flowcap.accounts import Accounts
from flowcap.errors import InputError, Problem
from flowcap.io.service_yaml import read_service_yaml
from flowcap.manage import import_folder
from flowcap.store import Store
from flowcap.web import create_app

EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "examples" / "victim-support"
EXAMPLE = "Northshire Victim Support Hub"
WORKED = "Worked example"
PASSWORD = "correct horse battery staple"
ADMIN = "admin@northshire.test"
EDITOR = "editor@northshire.test"
VIEWER = "viewer@northshire.test"
#: The only admin of the worked example (and of nothing else).
SOLO = "solo@worked.test"
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

#: The admin pages: (method, path suffix under /services/{name}).
ADMIN_ROUTES = [
    ("GET", "/users"),
    ("POST", "/users"),
    ("POST", "/users/role"),
    ("POST", "/users/remove"),
    ("GET", "/audit"),
    ("GET", "/settings"),
    ("POST", "/settings"),
    ("GET", "/settings/yaml"),
    ("POST", "/settings/yaml"),
    ("GET", "/settings/versions"),
    ("GET", "/settings/versions?kind=service&version=1"),
    ("POST", "/settings/restore"),
]


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web-admin")
    url = f"sqlite:///{folder / 'flowcap.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWCAP_KEY", KEY)
        import_folder(EXAMPLE_DIR, database_url=url)
        import_folder(worked_example(folder / "worked"), database_url=url)
    store = Store.open(url)
    cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    accounts = Accounts(store, hasher=cheap)
    for email, role in ((ADMIN, "admin"), (EDITOR, "editor"), (VIEWER, "viewer")):
        accounts.add_user(email, PASSWORD, role=role, service=EXAMPLE)
    accounts.add_user(SOLO, PASSWORD, role="admin", service=WORKED)
    store.close()
    return url


@pytest.fixture(scope="module")
def web(store_url):
    return create_app(store_url)


@pytest.fixture
def accounts(web):
    return web.state.accounts


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("FLOWCAP_KEY", KEY)


def new_client(web) -> TestClient:
    return TestClient(web, follow_redirects=False)


@pytest.fixture
def client(web):
    with new_client(web) as client:
        yield client


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def log_in(client, email, password=PASSWORD):
    form = client.get("/login")
    data = {"email": email, "password": password, "csrf_token": csrf_of(form.text)}
    return client.post("/login", data=data)


def signed_in(client, email, password=PASSWORD) -> str:
    """Log ``client`` in; the session's CSRF token."""
    response = log_in(client, email, password)
    assert response.status_code == 303, response.text[:500]
    return csrf_of(client.get("/account").text)


def path_of(name: str, suffix: str = "") -> str:
    return f"/services/{quote(name, safe='')}{suffix}"


def error_summary(page: str) -> list[str]:
    """The error summary's entries: (link target, text)."""
    summary = re.search(r'<div class="error-summary".*?</div>', page, flags=re.S)
    if summary is None:
        return []
    return [
        f"{target} {re.sub(r'<[^>]+>', '', text).strip()}"
        for target, text in re.findall(r'<a href="#([^"]+)">(.*?)</a>', summary.group(0), re.S)
    ]


# --- who may use the admin pages ---------------------------------------------------------------


@pytest.mark.parametrize("who", [EDITOR, VIEWER])
def test_an_editor_or_a_viewer_gets_403_on_every_admin_page(web, who):
    with new_client(web) as client:
        csrf = signed_in(client, who)
        for method, suffix in ADMIN_ROUTES:
            data = {"csrf_token": csrf, "email": VIEWER, "role": "admin"}
            response = client.request(
                method, path_of(EXAMPLE, suffix), data=data if method == "POST" else None
            )
            assert response.status_code == 403, (method, suffix, response.status_code)
            assert "You do not have permission" in response.text
    assert web.state.accounts.user(VIEWER).role_in(EXAMPLE) == "viewer"


def test_an_admin_of_another_service_gets_the_not_found_page(web):
    with new_client(web) as client:
        signed_in(client, SOLO)
        for method, suffix in ADMIN_ROUTES:
            response = client.request(method, path_of(EXAMPLE, suffix))
            assert response.status_code == 404, (method, suffix)
            assert EXAMPLE not in response.text


def test_a_form_without_its_csrf_token_changes_nothing(web, accounts):
    with new_client(web) as client:
        signed_in(client, ADMIN)
        response = client.post(
            path_of(EXAMPLE, "/users/role"), data={"email": VIEWER, "role": "admin"}
        )
        assert response.status_code == 403
    assert accounts.user(VIEWER).role_in(EXAMPLE) == "viewer"


# --- users -------------------------------------------------------------------------------------


def test_the_users_page_lists_the_services_people_and_roles(client):
    signed_in(client, ADMIN)
    page = client.get(path_of(EXAMPLE, "/users"))
    assert page.status_code == 200
    for email in (ADMIN, EDITOR, VIEWER):
        assert email in page.text
    assert SOLO not in page.text  # a user of another service only


def test_an_admin_adds_a_viewer_who_can_then_log_in_and_see_the_service(web, accounts):
    newcomer = "newcomer@northshire.test"
    initial = "a long initial password"
    with new_client(web) as admin:
        csrf = signed_in(admin, ADMIN)
        response = admin.post(
            path_of(EXAMPLE, "/users"),
            data={
                "csrf_token": csrf,
                "email": newcomer,
                "role": "viewer",
                "password": initial,
                "confirm_password": initial,
            },
        )
        assert response.status_code == 303
        assert response.headers["location"] == path_of(EXAMPLE, "/users?done=added")
        page = admin.get(response.headers["location"])
        assert newcomer in page.text and "The person was added" in page.text
    assert accounts.user(newcomer).roles == {EXAMPLE: "viewer"}
    with new_client(web) as person:
        signed_in(person, newcomer, initial)
        assert EXAMPLE in person.get("/services").text
        assert person.get(path_of(EXAMPLE)).status_code == 200
        assert person.get(path_of(EXAMPLE, "/users")).status_code == 403
        assert person.get(path_of(WORKED)).status_code == 404


def test_adding_a_new_person_needs_a_long_enough_password_typed_twice(client, accounts):
    csrf = signed_in(client, ADMIN)
    email = "twice@northshire.test"
    form = {"csrf_token": csrf, "email": email, "role": "editor"}
    cases = [
        ({}, "password", "initial password"),
        ({"password": "one long password", "confirm_password": "another"}, "confirm_password", ""),
        ({"password": "short", "confirm_password": "short"}, "password", "too short"),
        ({"email": "not an email"}, "email", "email address"),
        ({"role": "owner"}, "role", "role"),
    ]
    for extra, field, words in cases:
        response = client.post(path_of(EXAMPLE, "/users"), data=form | extra)
        assert response.status_code == 200
        summary = error_summary(response.text)
        assert summary and summary[0].startswith(field), (extra, summary)
        assert words in summary[0], (extra, summary)
        assert "one long password" not in response.text  # never echoed back
    assert accounts.user(email) is None


def test_adding_someone_who_has_an_account_gives_them_the_role_and_keeps_their_password(
    web, accounts
):
    with new_client(web) as client:
        csrf = signed_in(client, SOLO)
        response = client.post(
            path_of(WORKED, "/users"),
            data={"csrf_token": csrf, "email": VIEWER.upper(), "role": "editor"},
        )
        assert response.status_code == 303
    assert accounts.user(VIEWER).roles == {EXAMPLE: "viewer", WORKED: "editor"}
    with new_client(web) as client:
        signed_in(client, VIEWER)  # the same password
    accounts.revoke(VIEWER, WORKED)


def test_an_admin_changes_a_role_and_removes_a_person(web, accounts):
    email = "changing@northshire.test"
    accounts.add_user(email, PASSWORD, role="viewer", service=EXAMPLE)
    with new_client(web) as client:
        csrf = signed_in(client, ADMIN)
        changed = client.post(
            path_of(EXAMPLE, "/users/role"),
            data={"csrf_token": csrf, "email": email, "role": "editor"},
        )
        assert changed.status_code == 303
        assert accounts.user(email).role_in(EXAMPLE) == "editor"
        removed = client.post(
            path_of(EXAMPLE, "/users/remove"), data={"csrf_token": csrf, "email": email}
        )
        assert removed.status_code == 303
        assert accounts.user(email).roles == {}
        again = client.post(
            path_of(EXAMPLE, "/users/remove"), data={"csrf_token": csrf, "email": email}
        )
        assert again.status_code == 200 and error_summary(again.text)
        # a person of another service cannot be changed from this one
        foreign = client.post(
            path_of(EXAMPLE, "/users/role"),
            data={"csrf_token": csrf, "email": SOLO, "role": "viewer"},
        )
        assert foreign.status_code == 200 and error_summary(foreign.text)
    assert accounts.user(SOLO).roles == {WORKED: "admin"}


def test_the_last_admin_can_be_neither_demoted_nor_removed(web, accounts):
    with new_client(web) as client:
        csrf = signed_in(client, SOLO)
        for suffix, data in (
            ("/users/role", {"email": SOLO, "role": "editor"}),
            ("/users/remove", {"email": SOLO}),
            ("/users", {"email": SOLO, "role": "viewer"}),
        ):
            response = client.post(path_of(WORKED, suffix), data={"csrf_token": csrf, **data})
            assert response.status_code == 200, suffix
            summary = error_summary(response.text)
            assert summary and "last admin" in summary[0], (suffix, summary)
            assert accounts.user(SOLO).role_in(WORKED) == "admin"
        # with a second admin, the first may step down
        second = "second@worked.test"
        accounts.add_user(second, PASSWORD, role="admin", service=WORKED)
        response = client.post(
            path_of(WORKED, "/users/role"),
            data={"csrf_token": csrf, "email": SOLO, "role": "editor"},
        )
        assert response.status_code == 303
        assert response.headers["location"] == path_of(WORKED)  # no longer an admin
        assert client.get(path_of(WORKED, "/users")).status_code == 403
    accounts.grant(SOLO, WORKED, "admin")
    accounts.remove_user(second)


# --- the audit log -----------------------------------------------------------------------------


def test_the_audit_page_lists_the_changes_newest_first(web, accounts):
    email = "audited@northshire.test"
    with new_client(web) as client:
        csrf = signed_in(client, ADMIN)
        client.post(
            path_of(EXAMPLE, "/users"),
            data={
                "csrf_token": csrf,
                "email": email,
                "role": "viewer",
                "password": PASSWORD,
                "confirm_password": PASSWORD,
            },
        )
        client.post(
            path_of(EXAMPLE, "/users/role"),
            data={"csrf_token": csrf, "email": email, "role": "editor"},
        )
        page = client.get(path_of(EXAMPLE, "/audit"))
    assert page.status_code == 200
    text = page.text
    changed = text.index(f"{email}: editor (was viewer)")
    added = text.index(f"{email} as viewer")
    assert changed < added  # newest first
    assert "Role changed" in text and "User added" in text and ADMIN in text
    assert "Worked example" not in text  # only this service's entries


def test_the_audit_log_is_paged(web, accounts):
    for i in range(120):
        accounts.audit("paging_test", actor=SOLO, service=WORKED, detail=f"entry {i:03d}")
    with new_client(web) as client:
        signed_in(client, SOLO)
        first = client.get(path_of(WORKED, "/audit")).text
        second = client.get(path_of(WORKED, "/audit?page=2")).text
        odd = client.get(path_of(WORKED, "/audit?page=nonsense"))
    assert "entry 119" in first and "entry 020" in first and "entry 019" not in first
    assert "entry 019" in second and "entry 119" not in second
    assert "?page=2" in first and "Older entries" in first and "Newer entries" in second
    assert odd.status_code == 200 and "entry 119" in odd.text


# --- API tokens --------------------------------------------------------------------------------


def test_a_token_is_shown_once_works_on_the_api_and_fails_once_revoked(web, accounts):
    with new_client(web) as client:
        csrf = signed_in(client, EDITOR)
        created = client.post("/account/tokens", data={"csrf_token": csrf, "token_name": "nightly"})
        assert created.status_code == 200
        assert "Copy the token now" in created.text
        token = re.search(r'id="token"[^>]*value="([^"]+)"', created.text).group(1)
        account = client.get("/account").text
        assert "nightly" in account and token not in account  # listed, never shown again
        api = client.get("/api/services", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 200 and [s["name"] for s in api.json()] == [EXAMPLE]
        (listed,) = [
            t for t in accounts.api_tokens(accounts.user(EDITOR)) if t["name"] == "nightly"
        ]
        assert listed["last_used_at"] is not None
        assert "never" not in re.search(r"nightly.*?</tr>", client.get("/account").text, re.S)[0]
        revoked = client.post(
            "/account/tokens/revoke", data={"csrf_token": csrf, "token_id": str(listed["id"])}
        )
        assert revoked.status_code == 303
        assert "nightly" not in client.get("/account").text
        after = client.get("/api/services", headers={"Authorization": f"Bearer {token}"})
        assert after.status_code == 401


def test_one_cannot_revoke_another_users_token(web, accounts):
    token_id, token = accounts.create_api_token(accounts.user(VIEWER), "the viewer's")
    with new_client(web) as client:
        csrf = signed_in(client, EDITOR)
        response = client.post(
            "/account/tokens/revoke", data={"csrf_token": csrf, "token_id": str(token_id)}
        )
        assert response.status_code == 200 and error_summary(response.text)
    assert accounts.token_user(token).email == VIEWER
    accounts.revoke_api_token(accounts.user(VIEWER), token_id)


def test_a_token_needs_a_name(client):
    csrf = signed_in(client, VIEWER)
    response = client.post("/account/tokens", data={"csrf_token": csrf, "token_name": "  "})
    assert response.status_code == 200
    assert error_summary(response.text)[0].startswith("token_name")


# --- the account page and the password ---------------------------------------------------------


def test_the_account_page_lists_the_users_services_and_roles(client):
    signed_in(client, ADMIN)
    page = client.get("/account")
    assert page.status_code == 200
    assert EXAMPLE in page.text and "admin" in page.text
    assert WORKED not in page.text


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(web, accounts):
    email, new = "mover@northshire.test", "a brand new password"
    accounts.add_user(email, PASSWORD, role="viewer", service=EXAMPLE)
    with new_client(web) as here, new_client(web) as elsewhere:
        csrf = signed_in(here, email)
        signed_in(elsewhere, email)
        wrong = here.post(
            "/account/password",
            data={
                "csrf_token": csrf,
                "current_password": "not my password at all",
                "new_password": new,
                "confirm_password": new,
            },
        )
        assert wrong.status_code == 200
        assert error_summary(wrong.text)[0].startswith("current_password")
        mismatch = here.post(
            "/account/password",
            data={
                "csrf_token": csrf,
                "current_password": PASSWORD,
                "new_password": new,
                "confirm_password": new + "!",
            },
        )
        assert error_summary(mismatch.text)[0].startswith("confirm_password")
        changed = here.post(
            "/account/password",
            data={
                "csrf_token": csrf,
                "current_password": PASSWORD,
                "new_password": new,
                "confirm_password": new,
            },
        )
        assert (
            changed.status_code == 303 and changed.headers["location"] == "/account?done=password"
        )
        assert here.get("/account").status_code == 200  # a new session here
        gone = elsewhere.get("/account")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    with new_client(web) as client:
        assert log_in(client, email, PASSWORD).status_code == 200  # the old one: refused
        assert log_in(client, email, new).status_code == 303


# --- settings ----------------------------------------------------------------------------------


def stored_yaml(accounts, name: str) -> tuple[str, int]:
    row = accounts.store.settings(name)["service"]
    return row["content"].decode(), row["version"]


def stored_mapping(accounts, name: str) -> dict:
    return yaml.safe_load(stored_yaml(accounts, name)[0])


class _FormReader(HTMLParser):
    """The fields a browser would send for the form posted to ``action`` (no button
    clicked): text and hidden inputs, ticked checkboxes, each select's chosen option and
    textareas (their first newline dropped, as HTML does)."""

    def __init__(self, action: str):
        super().__init__(convert_charrefs=True)
        self.action, self.inside = action, False
        self.fields: list[list[str]] = []
        self.ids: dict[str, str] = {}  # field id -> name
        self._select: list | None = None
        self._textarea: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        if a.get("id") and a.get("name"):
            self.ids[a["id"]] = a["name"]
        if tag == "input" and a.get("type") in ("text", "hidden", None):
            self.fields.append([a["name"], a.get("value", "")])
        elif tag == "input" and a.get("type") == "checkbox" and "checked" in a:
            self.fields.append([a["name"], a.get("value", "on")])
        elif tag == "select":
            self._select = [a["name"], None]
            self.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            if self._select[1] is None or "selected" in a:
                self._select[1] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = [a["name"], ""]
            self.fields.append(self._textarea)

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._textarea[1] = self._textarea[1].removeprefix("\n")
            self._textarea = None


def form_fields(page: str, action: str) -> list[list[str]]:
    reader = _FormReader(action)
    reader.feed(page)
    assert reader.fields, f"no form posted to {action}"
    return reader.fields


def set_field(fields: list[list[str]], name: str, value: str) -> None:
    matches = [field for field in fields if field[0] == name]
    assert len(matches) == 1, (name, matches)
    matches[0][1] = value


def value_of(fields: list[list[str]], name: str) -> str:
    return next(value for key, value in fields if key == name)


def post_form(client, name: str, fields, **extra) -> httpx.Response:
    data = [(key, value) for key, value in fields] + list(extra.items())
    return client.post(
        path_of(name, "/settings"),
        content=urlencode(data),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def library_problems(mapping: dict) -> list[Problem]:
    """What service.yaml's own check says of ``mapping`` (the form must say the same)."""
    with pytest.raises(InputError) as caught:
        read_service_yaml(Path("service.yaml"), yaml.safe_dump(mapping).encode())
    return caught.value.problems


def test_the_settings_page_is_a_form_of_the_stored_service_yaml(client, accounts):
    signed_in(client, ADMIN)
    settings = path_of(EXAMPLE, "/settings")
    page = client.get(settings)
    assert page.status_code == 200
    text, version = stored_yaml(accounts, EXAMPLE)
    assert f"Version {version} of service.yaml" in page.text
    fields = form_fields(page.text, settings)
    # the example's own values, each in a field named by its path
    assert value_of(fields, "resources.idva.staff") == "4"
    assert value_of(fields, "resources.triage.minutes_per_day") == "180"
    assert value_of(fields, "case_types.da_high_risk.steps.1.minutes") == "120"
    assert value_of(fields, "case_types.da_high_risk.steps.1.target_working_days") == "1"
    assert value_of(fields, "case_types.da_high_risk.steps.1.resource") == "idva"
    assert value_of(fields, "case_types.fraud.minutes") == "25"
    assert value_of(fields, "region") == "GB-ENG"
    assert [v for k, v in fields if k == "working_days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert "first_call:" in value_of(fields, "pathway")  # the pathway: YAML of its own
    assert '<select id="f-case_types.fraud.resource"' in page.text
    assert 'id="f-case_types.da_high_risk.steps"' in page.text  # the steps: a table
    # sent back as it is, the form is the stored mapping: nothing saved
    response = post_form(client, EXAMPLE, fields)
    assert response.status_code == 303, error_summary(response.text)
    assert response.headers["location"].endswith("done=unchanged")
    assert stored_yaml(accounts, EXAMPLE) == (text, version)


def test_a_bad_value_gets_the_librarys_message_beside_its_field_and_saves_nothing(web, accounts):
    text, version = stored_yaml(accounts, EXAMPLE)
    settings = path_of(EXAMPLE, "/settings")
    wanted = stored_mapping(accounts, EXAMPLE)
    wanted["resources"]["idva"]["staff"] = "lots"
    wanted["case_types"]["da_high_risk"]["steps"][1]["target_working_days"] = -1
    expected = {p.column: p.message for p in library_problems(wanted)}
    staff = "resources.idva.staff"
    target = "case_types.da_high_risk.steps.1.target_working_days"
    assert set(expected) == {staff, target}
    with new_client(web) as client:
        signed_in(client, ADMIN)
        fields = form_fields(client.get(settings).text, settings)
        set_field(fields, staff, "lots")
        set_field(fields, target, "-1")
        response = post_form(client, EXAMPLE, fields)
    assert response.status_code == 200
    summary = error_summary(response.text)
    assert summary == [
        f"f-{staff} Resource idva, staff: {expected[staff]}",
        f"f-{target} Case type da_high_risk, step 2, target working days: {expected[target]}",
    ]
    page = html.unescape(response.text)
    for path in (staff, target):  # the message beside the field, which is marked invalid
        beside = re.search(rf'id="f-{re.escape(path)}-error"[^>]*>(.*?)</p>', page, re.S)
        assert beside and expected[path] in beside.group(1)
        field = re.search(rf'<input[^>]*id="f-{re.escape(path)}"[^>]*>', page).group(0)
        assert 'aria-invalid="true"' in field and f"f-{path}-error" in field
    kept = form_fields(response.text, settings)  # the values typed are kept
    assert value_of(kept, staff) == "lots" and value_of(kept, target) == "-1"
    assert value_of(kept, "resources.triage.staff") == "3"
    assert stored_yaml(accounts, EXAMPLE) == (text, version)


def test_a_good_change_saves_a_new_version_that_the_measures_use(web, accounts):
    text, version = stored_yaml(accounts, WORKED)
    before_mapping = stored_mapping(accounts, WORKED)
    assert before_mapping["resources"]["idva"]["staff"] == 2
    settings = path_of(WORKED, "/settings")
    _, token = accounts.create_api_token(accounts.user(SOLO), "settings test")
    headers = {"Authorization": f"Bearer {token}"}
    measures = path_of(WORKED, "/measures").replace("/services", "/api/services")
    with new_client(web) as client:
        before = client.get(measures, headers=headers).json()
        signed_in(client, SOLO)
        fields = form_fields(client.get(settings).text, settings)
        set_field(fields, "resources.idva.staff", "3")
        response = post_form(client, WORKED, fields)
        assert response.status_code == 303, error_summary(response.text)
        assert response.headers["location"] == path_of(WORKED, "/settings?done=saved")
        page = client.get(response.headers["location"]).text
        assert f"Version {version + 1} of service.yaml" in page and SOLO in page
        assert value_of(form_fields(page, settings), "resources.idva.staff") == "3"
        again = post_form(client, WORKED, form_fields(page, settings))
        assert again.headers["location"].endswith("done=unchanged")
        after = client.get(measures, headers=headers).json()
        audit = client.get(path_of(WORKED, "/audit")).text
    saved_text, new_version = stored_yaml(accounts, WORKED)
    assert new_version == version + 1
    expected = before_mapping | {"resources": {"idva": {**before_mapping["resources"]["idva"]}}}
    expected["resources"]["idva"]["staff"] = 3
    assert yaml.safe_load(saved_text) == expected  # only the staff changed
    capacity = [
        (day["capacity_minutes"], later["capacity_minutes"])
        for day, later in zip(before, after, strict=True)
    ]
    assert any(now > 0 for now, _ in capacity)
    assert all(later == pytest.approx(now * 1.5) for now, later in capacity)
    assert f"service.yaml version {version + 1}" in audit and "Settings saved" in audit


def test_rows_and_entries_are_added_and_removed_on_the_form_without_saving(web, accounts):
    text, version = stored_yaml(accounts, EXAMPLE)
    settings = path_of(EXAMPLE, "/settings")
    steps = "case_types.da_high_risk.steps"
    with new_client(web) as client:
        signed_in(client, ADMIN)
        fields = form_fields(client.get(settings).text, settings)
        added = post_form(client, EXAMPLE, fields, action=f"row:{steps}")
        assert added.status_code == 200 and "nothing is saved" in added.text
        fields = form_fields(added.text, settings)
        assert value_of(fields, f"{steps}.3.minutes") == ""  # a fourth, empty step
        focused = re.findall(r'<[^>]* id="([^"]+)"[^>]* autofocus', added.text)
        assert focused == [f"f-{steps}.3.resource"]  # the cursor in the new row
        removed = post_form(client, EXAMPLE, fields, action=f"remove:{steps}.0")
        fields = form_fields(removed.text, settings)
        assert value_of(fields, f"{steps}.0.minutes") == "120"  # the triage call went
        assert value_of(fields, f"{steps}.2.minutes") == ""  # the new one moved up
        assert not [k for k, _ in fields if k.startswith(f"{steps}.3.")]
        named = post_form(
            client, EXAMPLE, fields, action="add:resources", **{"new.resources": "outreach"}
        )
        fields = form_fields(named.text, settings)
        assert value_of(fields, "resources.outreach") == "" and any(
            k == "resources.outreach.staff" for k, _ in fields
        )
        twice = post_form(
            client, EXAMPLE, fields, action="add:resources", **{"new.resources": "outreach"}
        )
        assert error_summary(twice.text) == [
            "new-f-resources There is already a resource called outreach"
        ]
        gone = post_form(client, EXAMPLE, fields, action="remove:resources.outreach")
        fields = form_fields(gone.text, settings)
        assert not [k for k, _ in fields if k.startswith("resources.outreach")]
        stepped = post_form(client, EXAMPLE, fields, action="steps:case_types.fraud")
        fields = form_fields(stepped.text, settings)
        assert value_of(fields, "case_types.fraud.steps.0.resource") == "triage"
        assert value_of(fields, "case_types.fraud.steps.0.minutes") == "25"
        assert not [k for k, _ in fields if k == "case_types.fraud.minutes"]
        # saving now is refused by service.yaml's own rule (step 3 has no minutes)...
        refused = post_form(client, EXAMPLE, fields)
        assert any(
            entry.startswith("f-case_types.da_high_risk.steps.2.minutes ")
            for entry in error_summary(refused.text)
        ), error_summary(refused.text)
        bogus = post_form(client, EXAMPLE, fields, action="remove:region")
        assert error_summary(bogus.text) == [
            "settings-form Only a whole entry or row can be removed"
        ]
    assert stored_yaml(accounts, EXAMPLE) == (text, version)  # ... and nothing was saved


def test_the_versions_are_listed_and_an_old_one_restored_as_a_new_version(web, accounts):
    settings = path_of(WORKED, "/settings")
    with new_client(web) as client:
        csrf = signed_in(client, SOLO)
        fields = form_fields(client.get(settings).text, settings)
        set_field(fields, "resources.idva.cost_per_hour", "31.5")
        assert post_form(client, WORKED, fields).status_code == 303
        text, version = stored_yaml(accounts, WORKED)
        first = accounts.store.setting_versions(WORKED)[-1]
        assert (first["kind"], first["version"]) == ("service", 1)
        listing = client.get(path_of(WORKED, "/settings/versions"))
        assert listing.status_code == 200
        rows = re.findall(r"<tr>\s*<td>service.yaml</td>\s*<td class=\"num\">(\d+)", listing.text)
        assert [int(r) for r in rows] == list(range(version, 0, -1))
        assert "(in use)" in listing.text and SOLO in listing.text
        one = client.get(path_of(WORKED, "/settings/versions?kind=service&version=1"))
        assert one.status_code == 200
        page = html.unescape(one.text)
        assert first["content"].decode() in page  # its YAML, read-only
        diff = re.sub(r"<[^>]+>", "", re.search(r'<pre class="diff".*?</pre>', page, re.S)[0])
        changed = [
            line
            for line in diff.splitlines()
            if line[:1] in "+-" and line[:3] not in ("+++", "---")
        ]
        old = yaml.safe_load(first["content"])["resources"]["idva"]
        now = yaml.safe_load(text)["resources"]["idva"]  # (other tests changed the staff)
        expected = [f"-    {k}: {now[k]}" for k in now if now[k] != old.get(k)] + [
            f"+    {k}: {old[k]}" for k in old if now.get(k) != old[k]
        ]
        assert "-    cost_per_hour: 31.5" in expected and sorted(changed) == sorted(expected)
        restored = client.post(
            path_of(WORKED, "/settings/restore"),
            data={"csrf_token": csrf, "kind": "service", "version": "1"},
        )
        assert restored.status_code == 303
        assert restored.headers["location"].endswith("/settings/versions?done=restored")
        nothing = client.post(
            path_of(WORKED, "/settings/restore"),
            data={"csrf_token": csrf, "kind": "service", "version": "9999"},
        )
        assert error_summary(nothing.text) == [
            "versions Choose one of the stored versions to restore"
        ]
        audit = client.get(path_of(WORKED, "/audit")).text
    new_text, new_version = stored_yaml(accounts, WORKED)
    assert new_version == version + 1 and new_text == first["content"].decode()
    assert f"service.yaml version 1 restored as version {version + 1}" in audit
    assert "Settings restored" in audit


def test_the_whole_file_as_yaml_keeps_the_comments_and_lists_errors_by_row(web, accounts):
    text, version = stored_yaml(accounts, EXAMPLE)
    bad = text.replace("staff: 4", "staff: lots", 1)
    row = bad.splitlines().index(next(x for x in bad.splitlines() if "staff: lots" in x)) + 1
    with new_client(web) as client:
        csrf = signed_in(client, ADMIN)
        page = client.get(path_of(EXAMPLE, "/settings/yaml")).text
        assert "# Northshire Victim Support Hub" in page  # the comments are there
        response = client.post(
            path_of(EXAMPLE, "/settings/yaml"), data={"csrf_token": csrf, "content": bad}
        )
        dropped = client.post(
            path_of(EXAMPLE, "/settings/yaml"),
            data={"csrf_token": csrf, "content": text.replace("fraud:", "scams:")},
        )
    assert response.status_code == 200
    summary = error_summary(response.text)
    assert summary and summary[0].startswith("content service.yaml")
    assert f"row {row}" in summary[0] and "staff" in summary[0]
    assert "staff: lots" in response.text
    assert "fraud" in " ".join(error_summary(dropped.text))  # the data names it
    assert stored_yaml(accounts, EXAMPLE) == (text, version)
