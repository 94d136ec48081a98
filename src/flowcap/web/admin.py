"""The pages where people manage who may do what: a service's users and roles, its audit log
and its settings (admins of the service), and each user's own account (their services, API
tokens and password).

Every change goes through :class:`flowcap.accounts.Accounts` (which writes the audit entries
of user, token and password changes itself, naming the admin as the actor) or
:func:`flowcap.manage.save_settings` (checked as ``flowcap validate`` checks a service.yaml,
each save a new version; the audit entry is written here). Every form that changes anything
carries the session's CSRF token. A form with a problem comes back with the error summary at
the top; a change that worked redirects to the page (POST, redirect, GET) with a fixed note
chosen by ``?done=``.
"""

from __future__ import annotations

import difflib
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from flowcap import settings_form
from flowcap.accounts import (
    PASSWORD_MIN_CHARS,
    ROLES,
    AccountError,
    LoginRefused,
    checked_password,
    normal_email,
)
from flowcap.errors import InputError, StoreError
from flowcap.io.safe_yaml import load_yaml
from flowcap.manage import save_settings
from flowcap.store.schema import SETTINGS
from flowcap.web import security
from flowcap.web.deps import AccountsDep, SignedIn, Visitor, page_service, row_id
from flowcap.web.render import FieldError, expired_form, render

router = APIRouter(include_in_schema=False)

#: The path's service, when the signed-in user is one of its admins.
AdminService = Annotated[str, Depends(page_service("admin"))]

#: Audit entries shown a page.
AUDIT_PAGE = 100
#: The longest settings file the form takes (characters): a service.yaml is a few kilobytes.
SETTINGS_MAX_CHARS = 200_000

#: The note a page shows after a change (``?done=``): fixed texts, so a link cannot put words
#: on the page.
DONE = {
    "added": "The person was added to the service.",
    "role": "The role was changed.",
    "removed": "The person was removed from the service.",
    "saved": "The settings were saved as a new version. The dashboard uses them from now on.",
    "unchanged": "The settings were the same as the stored version: nothing was saved.",
    "restored": "The version was saved again as a new version. The dashboard uses it from now on.",
    "revoked": "The API token was revoked: scripts using it can no longer sign in with it.",
    "password": "Your password was changed. You were logged out everywhere else.",
}

Email = Annotated[str, Form(max_length=1000)]
Csrf = Annotated[str, Form(max_length=200)]
Password = Annotated[str, Form(max_length=2000)]


def _service_path(name: str, suffix: str = "") -> str:
    return f"/services/{quote(name, safe='')}{suffix}"


def _done(code: str | None) -> str | None:
    return DONE.get(code or "")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _password_problem(password: str) -> str | None:
    """What is wrong with a new password, as a sentence (the library's one rule)."""
    try:
        checked_password(password)
    except AccountError as error:
        return _sentence(str(error))
    return None


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


# --- a service's users -----------------------------------------------------------------------


@router.get("/services/{name}/users", response_class=HTMLResponse)
def users(
    request: Request,
    name: AdminService,
    visitor: Visitor,
    accounts: AccountsDep,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    return _users_page(request, name, visitor, accounts, done=_done(done))


@router.post("/services/{name}/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    name: AdminService,
    visitor: Visitor,
    accounts: AccountsDep,
    csrf_token: Csrf = "",
    email: Email = "",
    role: Annotated[str, Form(max_length=20)] = "",
    password: Password = "",
    confirm_password: Password = "",
) -> Response:
    """Add a person with a role; someone new to flowcap also needs an initial password,
    typed twice (they change it on their account page)."""
    if not security.tokens_match(csrf_token, visitor.csrf_token):
        return expired_form(request, visitor)
    form = {"email": email, "role": role}
    errors = []
    if not email.strip():
        errors.append(FieldError("email", "Enter the person's email address"))
    else:
        try:
            normal_email(email)
        except AccountError:
            errors.append(
                FieldError(
                    "email", "Enter an email address in the right form, like name@example.org"
                )
            )
    if role not in ROLES:
        errors.append(FieldError("role", "Choose the person's role"))
    if not errors and accounts.user(email) is None:
        if not password:
            errors.append(
                FieldError(
                    "password",
                    "Enter an initial password: this person has no flowcap account yet",
                )
            )
        elif password != confirm_password:
            errors.append(FieldError("confirm_password", "The two passwords are not the same"))
    if not errors:
        try:
            accounts.add_user(
                email,
                password,
                role=role,
                service=name,
                actor=visitor.user.email,
                keep_admin=True,
            )
        except AccountError as error:
            field = "password" if "password" in str(error) else "email"
            errors.append(FieldError(field, _sentence(str(error))))
    if errors:
        return _users_page(request, name, visitor, accounts, errors=errors, form=form)
    return _after_change(name, visitor, accounts, "added")


@router.post("/services/{name}/users/role", response_class=HTMLResponse)
def change_role(
    request: Request,
    name: AdminService,
    visitor: Visitor,
    accounts: AccountsDep,
    csrf_token: Csrf = "",
    email: Email = "",
    role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    if not security.tokens_match(csrf_token, visitor.csrf_token):
        return expired_form(request, visitor)
    field = _member_field(accounts, name, email)
    if field is None:
        problem = FieldError("people", "Choose a person of this service to change their role")
        return _users_page(request, name, visitor, accounts, errors=[problem])
    if role not in ROLES:
        problem = FieldError(field, f"Choose a role for {email.strip().lower()}")
        return _users_page(request, name, visitor, accounts, errors=[problem])
    try:
        accounts.grant(email, name, role, actor=visitor.user.email, keep_admin=True)
    except AccountError as error:
        problem = FieldError(field, _sentence(str(error)))
        return _users_page(request, name, visitor, accounts, errors=[problem])
    return _after_change(name, visitor, accounts, "role")


@router.post("/services/{name}/users/remove", response_class=HTMLResponse)
def remove_user(
    request: Request,
    name: AdminService,
    visitor: Visitor,
    accounts: AccountsDep,
    csrf_token: Csrf = "",
    email: Email = "",
) -> Response:
    """Take the person out of this service (their account and other services stay)."""
    if not security.tokens_match(csrf_token, visitor.csrf_token):
        return expired_form(request, visitor)
    field = _member_field(accounts, name, email)
    if field is None:
        problem = FieldError("people", "Choose a person of this service to remove")
        return _users_page(request, name, visitor, accounts, errors=[problem])
    try:
        accounts.revoke(email, name, actor=visitor.user.email, keep_admin=True)
    except AccountError as error:
        problem = FieldError(field.replace("role-", "remove-"), _sentence(str(error)))
        return _users_page(request, name, visitor, accounts, errors=[problem])
    return _after_change(name, visitor, accounts, "removed")


def _member_field(accounts, name: str, email: str) -> str | None:
    """The id of the role field of the person's row on the users page, or ``None`` when
    ``email`` is no member of the service."""
    user = accounts.user(email) if email.strip() else None
    if user is None or user.role_in(name) is None:
        return None
    members = [member.email for member in accounts.users(name)]
    return f"role-{members.index(user.email) + 1}"


def _after_change(name: str, visitor: SignedIn, accounts, done: str) -> Response:
    """Back to the users page with its note, or, when the admin took away their own admin
    role, to the dashboard (or their services) they may still see."""
    me = accounts.user(visitor.user.email)
    role = me.role_in(name) if me is not None else None
    if role == "admin":
        target = _service_path(name, f"/users?done={done}")
    elif role is not None:
        target = _service_path(name)
    else:
        target = "/services"
    return RedirectResponse(target, status_code=303)


def _users_page(
    request: Request,
    name: str,
    visitor: SignedIn,
    accounts,
    *,
    errors: list[FieldError] | None = None,
    form: dict | None = None,
    done: str | None = None,
) -> Response:
    people = [
        {"email": member.email, "role": member.role_in(name), "you": member.id == visitor.user.id}
        for member in accounts.users(name)
    ]
    return render(
        request,
        "admin_users.html",
        {
            "title": f"Users of {name}",
            "name": name,
            "visitor": visitor,
            "people": people,
            "roles": ROLES,
            "errors": errors or [],
            "form": {"email": "", "role": "viewer", **(form or {})},
            "done": done,
            "password_min": PASSWORD_MIN_CHARS,
            "section": "users",
        },
    )


# --- a service's audit log -------------------------------------------------------------------


@router.get("/services/{name}/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    name: AdminService,
    visitor: Visitor,
    accounts: AccountsDep,
    page: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    number = int(page) if page and page.isdecimal() and 0 < int(page) <= 1_000_000 else 1
    entries = accounts.audit_log(name, limit=AUDIT_PAGE + 1, offset=(number - 1) * AUDIT_PAGE)
    return render(
        request,
        "admin_audit.html",
        {
            "title": f"Audit log of {name}",
            "name": name,
            "visitor": visitor,
            "entries": entries[:AUDIT_PAGE],
            "page": number,
            "older": len(entries) > AUDIT_PAGE,
            "per_page": AUDIT_PAGE,
            "section": "audit",
        },
    )


# --- a service's settings --------------------------------------------------------------------
#
# The settings page is a form made from the stored service.yaml (flowcap.settings_form): a
# field per setting named by its dotted path, read back into the mapping, written as YAML and
# saved through save_settings, whose problems are put beside the fields their paths name. The
# buttons that add or remove an entry or a row send the whole form (action=...), and the page
# comes back with the change made and nothing saved. The whole file stays editable as YAML
# (/settings/yaml); every stored version can be seen and restored (/settings/versions).

#: The most fields the settings form may send (a service with 40 case types of 10 steps).
SETTINGS_MAX_FIELDS = 5_000
#: The form's start: the error summary's target for a problem naming no setting.
SETTINGS_TOP = "settings-form"


async def _form_items(request: Request) -> list[tuple[str, str]]:
    """The posted form's fields in page order (names repeat for a set of checkboxes)."""
    form = await request.form(
        max_files=0, max_fields=SETTINGS_MAX_FIELDS, max_part_size=SETTINGS_MAX_CHARS
    )
    return [(key, value) for key, value in form.multi_items() if isinstance(value, str)]


FormItems = Annotated[list[tuple[str, str]], Depends(_form_items)]


def _stored_file(accounts, name: str, kind: str = "service") -> dict | None:
    """The newest stored version of one settings kind (``None``: the service has none)."""
    return accounts.store.settings(name).get(kind)


def _text_of(content: bytes | None) -> str:
    return "" if content is None else content.decode("utf-8", errors="replace")


def _stored_mapping(row: dict) -> tuple[dict | None, list[FieldError]]:
    data, _, problems = load_yaml(_text_of(row["content"]), row["file_name"])
    if problems or not isinstance(data, dict):
        message = "The stored service.yaml cannot be shown as a form: edit it as YAML"
        return None, [FieldError(SETTINGS_TOP, message)]
    return data, []


@router.get("/services/{name}/settings", response_class=HTMLResponse)
def settings(
    request: Request,
    name: AdminService,
    visitor: Visitor,
    accounts: AccountsDep,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    try:
        row = _stored_file(accounts, name)
    except StoreError as error:
        return _yaml_page(request, name, visitor, accounts, done=_done(done), store_error=error)
    mapping, errors = _stored_mapping(row) if row else (None, [])
    if mapping is None:
        return _yaml_page(request, name, visitor, accounts, errors=errors, done=_done(done))
    return _form_page(request, name, visitor, accounts, mapping, done=_done(done))


@router.post("/services/{name}/settings", response_class=HTMLResponse)
def save_settings_form(
    request: Request,
    name: AdminService,
    visitor: Visitor,
    accounts: AccountsDep,
    items: FormItems,
) -> Response:
    """The settings form: save it as a new version of service.yaml when it passes
    service.yaml's checks (nothing is saved otherwise), or, for a button that adds or
    removes an entry or a row (``action``), show the form again with that change made."""
    fields = dict(items)
    if not security.tokens_match(fields.get("csrf_token", ""), visitor.csrf_token):
        return expired_form(request, visitor)
    submitted = settings_form.read_submission(items)
    mapping, texts = submitted.mapping, submitted.texts
    action = fields.get("action", "")
    if action:
        try:
            focus = _apply(mapping, action, fields)
        except settings_form.ShapeError as error:
            where = _action_field(action)
            return _form_page(
                request, name, visitor, accounts, mapping, texts=texts,
                errors=[FieldError(where, str(error))],
            )  # fmt: skip
        note = "Changed on the form only: nothing is saved until you save a new version."
        return _form_page(
            request, name, visitor, accounts, mapping, texts=texts, focus=focus, note=note
        )
    if submitted.problems:
        return _form_page(
            request, name, visitor, accounts, mapping, texts=texts, problems=submitted.problems
        )
    try:
        stored = _stored_file(accounts, name)
    except StoreError as error:
        return _form_page(
            request, name, visitor, accounts, mapping, texts=texts,
            errors=[FieldError(SETTINGS_TOP, _sentence(str(error)))],
        )  # fmt: skip
    if stored is not None and _stored_mapping(stored)[0] == mapping:
        return RedirectResponse(_service_path(name, "/settings?done=unchanged"), status_code=303)
    text = settings_form.dump_yaml(mapping)
    try:
        version = save_settings(
            name,
            "service",
            text.encode("utf-8"),
            database_url=accounts.store.url,
            saved_by=visitor.user.email,
        )
    except InputError as error:
        return _form_page(
            request, name, visitor, accounts, mapping, texts=texts, problems=error.problems
        )
    except StoreError as error:
        return _form_page(
            request, name, visitor, accounts, mapping, texts=texts,
            errors=[FieldError(SETTINGS_TOP, _sentence(str(error)))],
        )  # fmt: skip
    return _after_save(name, visitor, accounts, version)


def _after_save(name: str, visitor: SignedIn, accounts, version: int | None) -> Response:
    if version is None:
        return RedirectResponse(_service_path(name, "/settings?done=unchanged"), status_code=303)
    detail = f"{SETTINGS['service']} version {version}"
    accounts.audit("settings_saved", actor=visitor.user.email, service=name, detail=detail)
    return RedirectResponse(_service_path(name, "/settings?done=saved"), status_code=303)


def _apply(mapping: dict, action: str, fields: dict[str, str]) -> tuple | None:
    """Make the change a button asks for (``add:SECTION``, ``row:TABLE``, ``remove:PATH``,
    ``steps:CASE_TYPE``); the path of what was added (the cursor goes to its first field)."""
    verb, _, target = action.partition(":")
    path = settings_form.parse_path(target) if target else ()
    if verb == "add" and len(path) == 1:
        return settings_form.add_entry(mapping, str(path[0]), fields.get(f"new.{target}", ""))
    if verb == "row":
        return settings_form.add_row(mapping, path)
    if verb == "remove":
        settings_form.remove(mapping, path)
        return None
    if verb == "steps":
        return settings_form.use_steps(mapping, path)
    raise settings_form.ShapeError("That button is not one of the form's")


def _action_field(action: str) -> str:
    """Where a refused action's problem is shown: a new entry's name field, or the form."""
    verb, _, target = action.partition(":")
    if verb == "add" and target and "." not in target:
        return f"new-{settings_form.field_id((target,))}"
    return SETTINGS_TOP


def _form_page(
    request: Request,
    name: str,
    visitor: SignedIn,
    accounts,
    mapping: dict,
    *,
    texts: dict[str, str] | None = None,
    problems: list | None = None,
    errors: list[FieldError] | None = None,
    done: str | None = None,
    note: str | None = None,
    focus: tuple | None = None,
) -> Response:
    form = settings_form.form_of(mapping, texts)
    placed = settings_form.place_problems(problems or [], form, SETTINGS_TOP)
    errors = [*(errors or []), *(FieldError(p.field_id, p.summary) for p in placed)]
    beside: dict[str, list[str]] = {}
    for problem in placed:
        beside.setdefault(problem.field_id, []).append(problem.message)
    for problem in errors:
        if not any(problem.field == p.field_id for p in placed):
            beside.setdefault(problem.field, []).append(problem.message)
    try:
        row = _stored_file(accounts, name)
    except StoreError:
        row = None
    return render(
        request,
        "admin_settings.html",
        {
            "title": f"Settings of {name}",
            "name": name,
            "visitor": visitor,
            "service": row,
            "form": form,
            "errors": errors,
            "beside": beside,
            "top": SETTINGS_TOP,
            "done": done,
            "note": note,
            "focus": form.first_field_in(focus) if focus else None,
            "section": "settings",
        },
    )


# --- the whole service.yaml as text, for those who know YAML ---------------------------------


@router.get("/services/{name}/settings/yaml", response_class=HTMLResponse)
def settings_yaml(
    request: Request,
    name: AdminService,
    visitor: Visitor,
    accounts: AccountsDep,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    return _yaml_page(request, name, visitor, accounts, done=_done(done))


@router.post("/services/{name}/settings/yaml", response_class=HTMLResponse)
def save_settings_yaml(
    request: Request,
    name: AdminService,
    visitor: Visitor,
    accounts: AccountsDep,
    csrf_token: Csrf = "",
    content: Annotated[str, Form(max_length=SETTINGS_MAX_CHARS)] = "",
) -> Response:
    """Save the service.yaml typed as text as a new version, when it validates as
    ``flowcap validate`` would check it (nothing is saved otherwise); comments are kept."""
    if not security.tokens_match(csrf_token, visitor.csrf_token):
        return expired_form(request, visitor)
    text = content.replace("\r\n", "\n").replace("\r", "\n")  # browsers send CRLF
    errors: list[FieldError] = []
    version = None
    if not text.strip():
        errors.append(FieldError("content", "Enter the service's settings (its service.yaml)"))
    else:
        try:
            version = save_settings(
                name,
                "service",
                text.encode("utf-8"),
                database_url=accounts.store.url,
                saved_by=visitor.user.email,
            )
        except InputError as error:
            errors += [FieldError("content", str(problem)) for problem in error.problems]
        except StoreError as error:
            errors.append(FieldError("content", _sentence(str(error))))
    if errors:
        return _yaml_page(request, name, visitor, accounts, errors=errors, content=text)
    return _after_save(name, visitor, accounts, version)


def _yaml_page(
    request: Request,
    name: str,
    visitor: SignedIn,
    accounts,
    *,
    errors: list[FieldError] | None = None,
    content: str | None = None,
    done: str | None = None,
    store_error: StoreError | None = None,
) -> Response:
    errors = list(errors or [])
    try:
        row = _stored_file(accounts, name) if store_error is None else None
    except StoreError as error:
        store_error = error
    if store_error is not None:
        row = None
        errors.append(FieldError("content", _sentence(str(store_error))))
    return render(
        request,
        "admin_settings_yaml.html",
        {
            "title": f"Settings of {name} as YAML",
            "name": name,
            "visitor": visitor,
            "service": row,
            "content": content if content is not None else _text_of((row or {}).get("content")),
            "errors": errors,
            "done": done,
            "section": "settings",
        },
    )


# --- the stored versions of the settings -----------------------------------------------------


@router.get("/services/{name}/settings/versions", response_class=HTMLResponse)
def settings_versions(
    request: Request,
    name: AdminService,
    visitor: Visitor,
    accounts: AccountsDep,
    kind: Annotated[str | None, Query(max_length=30)] = None,
    version: Annotated[str | None, Query(max_length=10)] = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """Every stored version of the service's settings files; with ``kind`` and ``version``,
    that version's text and how it differs from the one in use, and a button restoring it."""
    if kind is None and version is None:
        return _versions_page(request, name, visitor, accounts, done=_done(done))
    chosen = _version_of(accounts, name, kind, version)
    if chosen is None:
        problem = FieldError("versions", "Choose one of the stored versions to see it")
        return _versions_page(request, name, visitor, accounts, errors=[problem])
    return _version_page(request, name, visitor, accounts, chosen)


@router.post("/services/{name}/settings/restore", response_class=HTMLResponse)
def restore_settings(
    request: Request,
    name: AdminService,
    visitor: Visitor,
    accounts: AccountsDep,
    csrf_token: Csrf = "",
    kind: Annotated[str, Form(max_length=30)] = "",
    version: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Save a stored version again as a new version (checked as any save is: an old
    service.yaml must still fit the data stored since)."""
    if not security.tokens_match(csrf_token, visitor.csrf_token):
        return expired_form(request, visitor)
    chosen = _version_of(accounts, name, kind, version)
    if chosen is None:
        problem = FieldError("versions", "Choose one of the stored versions to restore")
        return _versions_page(request, name, visitor, accounts, errors=[problem])
    try:
        saved = save_settings(
            name,
            chosen["kind"],
            chosen["content"],
            file_name=chosen["file_name"],
            database_url=accounts.store.url,
            saved_by=visitor.user.email,
        )
    except InputError as error:
        problems = [FieldError("restore", str(problem)) for problem in error.problems]
        return _version_page(request, name, visitor, accounts, chosen, errors=problems)
    except StoreError as error:
        problem = FieldError("restore", _sentence(str(error)))
        return _version_page(request, name, visitor, accounts, chosen, errors=[problem])
    if saved is None:
        return RedirectResponse(
            _service_path(name, "/settings/versions?done=unchanged"), status_code=303
        )
    detail = f"{chosen['file_name']} version {chosen['version']} restored as version {saved}"
    accounts.audit("settings_restored", actor=visitor.user.email, service=name, detail=detail)
    return RedirectResponse(
        _service_path(name, "/settings/versions?done=restored"), status_code=303
    )


def _version_of(accounts, name: str, kind: str | None, version: str | None) -> dict | None:
    """The stored version ``version`` of settings ``kind`` (``None``: no such version)."""
    if kind not in SETTINGS or not (version or "").isdecimal():
        return None
    try:
        rows = accounts.store.setting_versions(name)
    except StoreError:
        return None
    return next(
        (row for row in rows if row["kind"] == kind and row["version"] == int(version)), None
    )


def _comparable(row: dict) -> str:
    """A version's text for comparing: a service.yaml as the settings form writes it (so that
    comments and layout, which the form does not keep, do not hide what changed), any other
    file as it is."""
    text = _text_of(row["content"])
    if row["kind"] != "service":
        return text
    data, _, problems = load_yaml(text, row["file_name"])
    if problems or not isinstance(data, dict):
        return text
    return settings_form.dump_yaml(settings_form.in_form_order(data))


def _versions_page(
    request: Request,
    name: str,
    visitor: SignedIn,
    accounts,
    *,
    errors: list[FieldError] | None = None,
    done: str | None = None,
) -> Response:
    try:
        rows = accounts.store.setting_versions(name)
    except StoreError as error:
        rows, errors = [], [*(errors or []), FieldError("versions", _sentence(str(error)))]
    newest: dict[str, int] = {}
    for row in rows:
        newest.setdefault(row["kind"], row["version"])
    return render(
        request,
        "admin_settings_versions.html",
        {
            "title": f"Versions of the settings of {name}",
            "name": name,
            "visitor": visitor,
            "versions": rows,
            "newest": newest,
            "errors": errors or [],
            "done": done,
            "section": "settings",
        },
    )


def _version_page(
    request: Request,
    name: str,
    visitor: SignedIn,
    accounts,
    chosen: dict,
    *,
    errors: list[FieldError] | None = None,
) -> Response:
    rows = [row for row in accounts.store.setting_versions(name) if row["kind"] == chosen["kind"]]
    current = rows[0]
    text = _text_of(chosen["content"])
    diff = difflib.unified_diff(
        _comparable(current).splitlines(),
        _comparable(chosen).splitlines(),
        f"{current['file_name']} version {current['version']} (in use)",
        f"{chosen['file_name']} version {chosen['version']}",
        lineterm="",
    )
    return render(
        request,
        "admin_settings_version.html",
        {
            "title": f"{chosen['file_name']} version {chosen['version']} of {name}",
            "name": name,
            "visitor": visitor,
            "chosen": chosen,
            "current": current,
            "text": text,
            "diff": list(diff),
            "errors": errors or [],
            "section": "settings",
        },
    )


# --- the user's own account ------------------------------------------------------------------


@router.get("/account", response_class=HTMLResponse)
def account(
    request: Request,
    visitor: Visitor,
    accounts: AccountsDep,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    return _account_page(request, visitor, accounts, done=_done(done))


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    visitor: Visitor,
    accounts: AccountsDep,
    csrf_token: Csrf = "",
    token_name: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """A new API token, shown on the page this answers with and never again."""
    if not security.tokens_match(csrf_token, visitor.csrf_token):
        return expired_form(request, visitor)
    if not token_name.strip():
        problem = FieldError("token_name", "Enter a name for the token, such as the script's")
        return _account_page(request, visitor, accounts, errors=[problem], token_name=token_name)
    try:
        _, token = accounts.create_api_token(visitor.user, token_name)
    except AccountError as error:
        problem = FieldError("token_name", _sentence(str(error)))
        return _account_page(request, visitor, accounts, errors=[problem], token_name=token_name)
    return render(
        request,
        "account_token.html",
        {
            "title": "Your new API token",
            "visitor": visitor,
            "token": token,
            "token_name": token_name.strip(),
        },
    )


@router.post("/account/tokens/revoke", response_class=HTMLResponse)
def revoke_token(
    request: Request,
    visitor: Visitor,
    accounts: AccountsDep,
    csrf_token: Csrf = "",
    token_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    if not security.tokens_match(csrf_token, visitor.csrf_token):
        return expired_form(request, visitor)
    try:
        # isdecimal, not isdigit: "²" is a digit that int() refuses; row_id: no database
        # integer is that large.
        if not (token_id.isdecimal() and row_id(int(token_id))):
            raise AccountError("choose one of your API tokens to revoke")
        accounts.revoke_api_token(visitor.user, int(token_id))
    except AccountError:
        problem = FieldError("tokens", "Choose one of your API tokens to revoke")
        return _account_page(request, visitor, accounts, errors=[problem])
    return RedirectResponse("/account?done=revoked", status_code=303)


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    visitor: Visitor,
    accounts: AccountsDep,
    csrf_token: Csrf = "",
    current_password: Password = "",
    new_password: Password = "",
    confirm_password: Password = "",
) -> Response:
    """Change one's own password: the current one first. Every session of the user ends
    (another browser, a stolen cookie); this one goes on in a new session."""
    if not security.tokens_match(csrf_token, visitor.csrf_token):
        return expired_form(request, visitor)
    errors = []
    if not current_password:
        errors.append(FieldError("current_password", "Enter your current password"))
    if not new_password:
        errors.append(FieldError("new_password", "Enter a new password"))
    elif problem := _password_problem(new_password):
        # Checked before the current password is: a refused change must write nothing (it
        # used to log a sign-in, then refuse a new password over the length limit).
        errors.append(FieldError("new_password", problem))
    elif new_password != confirm_password:
        errors.append(FieldError("confirm_password", "The two new passwords are not the same"))
    if not errors:
        try:
            user = accounts.authenticate(
                visitor.user.email, current_password, client=_client(request)
            )
        except LoginRefused as refused:
            message = (
                "Your current password is not right"
                if refused.locked_until is None
                else f"Too many wrong passwords: try again after {refused.locked_until:%H:%M} UTC"
            )
            errors.append(FieldError("current_password", message))
    if not errors:
        try:
            accounts.set_password(user.email, new_password, actor=user.email)
        except AccountError as error:
            errors.append(FieldError("new_password", _sentence(str(error))))
    if errors:
        return _account_page(request, visitor, accounts, errors=errors)
    session_token, _ = accounts.start_session(user)
    response = RedirectResponse("/account?done=password", status_code=303)
    security.set_session_cookie(response, request, session_token)
    return response


def _account_page(
    request: Request,
    visitor: SignedIn,
    accounts,
    *,
    errors: list[FieldError] | None = None,
    done: str | None = None,
    token_name: str = "",
) -> Response:
    return render(
        request,
        "account.html",
        {
            "title": "Your account",
            "visitor": visitor,
            "services": sorted(visitor.user.roles.items()),
            "tokens": accounts.api_tokens(visitor.user),
            "errors": errors or [],
            "done": done,
            "token_name": token_name,
            "password_min": PASSWORD_MIN_CHARS,
        },
    )
