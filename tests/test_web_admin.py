"""The account and admin pages (flowcap.web.admin) through the app's HTTP interface: a
service's users and roles, its audit log and its settings (admins only), and each user's
own account (API tokens, password). One store per module, on SQLite: the bundled example
and the worked example, each with its own users."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from conftest import worked_example
from flowcap.accounts import Accounts
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


def test_the_settings_page_shows_the_stored_service_yaml(client, accounts):
    signed_in(client, ADMIN)
    page = client.get(path_of(EXAMPLE, "/settings"))
    assert page.status_code == 200
    text, version = stored_yaml(accounts, EXAMPLE)
    assert f"Version {version} of service.yaml" in page.text
    assert "da_high_risk:" in page.text and "<textarea" in page.text


def test_settings_with_an_error_list_it_by_row_and_save_nothing(web, accounts):
    text, version = stored_yaml(accounts, WORKED)
    bad = text.replace("staff: 2", "staff: lots")
    row = bad.splitlines().index("    staff: lots") + 1
    with new_client(web) as client:
        csrf = signed_in(client, SOLO)
        response = client.post(
            path_of(WORKED, "/settings"), data={"csrf_token": csrf, "content": bad}
        )
    assert response.status_code == 200
    summary = error_summary(response.text)
    assert summary and summary[0].startswith("content service.yaml")
    assert f"row {row}" in summary[0] and "staff" in summary[0]
    assert "staff: lots" in response.text  # the form keeps what was typed
    assert stored_yaml(accounts, WORKED) == (text, version)


def test_settings_that_drop_a_case_type_the_data_uses_are_refused(web, accounts):
    text, version = stored_yaml(accounts, WORKED)
    bad = text.replace("advocacy", "outreach")
    with new_client(web) as client:
        csrf = signed_in(client, SOLO)
        response = client.post(
            path_of(WORKED, "/settings"), data={"csrf_token": csrf, "content": bad}
        )
    assert "advocacy" in " ".join(error_summary(response.text))
    assert stored_yaml(accounts, WORKED) == (text, version)


def test_good_settings_are_saved_as_a_new_version_and_the_dashboard_uses_them(web, accounts):
    text, version = stored_yaml(accounts, WORKED)
    assert "staff: 2" in text
    _, token = accounts.create_api_token(accounts.user(SOLO), "settings test")
    headers = {"Authorization": f"Bearer {token}"}
    with new_client(web) as client:
        before = client.get(
            path_of(WORKED, "/measures").replace("/services", "/api/services"), headers=headers
        )
        csrf = signed_in(client, SOLO)
        good = text.replace("staff: 2", "staff: 3").replace("\n", "\r\n")  # as a browser sends
        response = client.post(
            path_of(WORKED, "/settings"), data={"csrf_token": csrf, "content": good}
        )
        assert response.status_code == 303
        assert response.headers["location"] == path_of(WORKED, "/settings?done=saved")
        page = client.get(response.headers["location"]).text
        assert f"Version {version + 1} of service.yaml" in page and SOLO in page
        again = client.post(
            path_of(WORKED, "/settings"), data={"csrf_token": csrf, "content": good}
        )
        assert again.headers["location"].endswith("done=unchanged")
        after = client.get(
            path_of(WORKED, "/measures").replace("/services", "/api/services"), headers=headers
        )
        audit = client.get(path_of(WORKED, "/audit")).text
    saved, new_version = stored_yaml(accounts, WORKED)
    assert new_version == version + 1 and saved == text.replace("staff: 2", "staff: 3")
    capacity = [
        (day["capacity_minutes"], later["capacity_minutes"])
        for day, later in zip(before.json(), after.json(), strict=True)
    ]
    assert any(later == pytest.approx(now * 1.5) and now > 0 for now, later in capacity)
    assert f"service.yaml version {version + 1}" in audit and "Settings saved" in audit
