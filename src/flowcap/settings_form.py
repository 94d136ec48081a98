"""A service's settings as a web form, and back: the IDVA team's staff in a number box, each
case type's steps as rows of a table, and what the admin sends turned into the very mapping
service.yaml holds.

The form is made from :class:`flowcap.model.Service` itself, so a setting added to the model
appears on the form without a change here. Each field is named by its dotted path in the
mapping (``case_types.da_high_risk.steps.1.minutes``: list positions count from 0, as the
library's problems name them; a ``.`` or ``%`` inside a name is written ``%2E``/``%25``):

- a top-level scalar is one field: text, a number, a choice (a ``Literal``), a yes/no
  checkbox, or a set of checkboxes (``working_days``);
- ``resources``, ``case_types`` and ``spc_targets`` (a mapping of names to models) are
  sections of entries, each entry a fieldset that can be removed, with a way to add one;
- a list of models (a case type's ``steps``) is a table with a row per step;
- a model of scalars (a case type's ``demand``) is a fieldset;
- anything else (``pathway``, ``event_log``, ``patience_days``, ...) is a small YAML text
  box for that part only.

An empty field leaves its setting out (the model's default applies), so a form sent back
unchanged gives the mapping it was made from (:func:`form_of`, :func:`submission`,
:func:`read_submission`). Nothing is validated here beyond reading numbers and YAML: the
rules are service.yaml's own (:func:`flowcap.io.service_yaml.read_service_yaml`), and
:func:`place_problems` puts each of its problems beside the field its path names.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Union
from urllib.parse import unquote

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from flowcap.errors import Problem
from flowcap.io.safe_yaml import load_yaml
from flowcap.model import Service
from flowcap.model.service import CaseType

Path = tuple[str | int, ...]

#: The suffix of the hidden field saying whether a checkbox's setting was in the file.
WAS = "__was"
#: Marks of the kinds of field: scalars, a set of checkboxes, YAML for one part.
SCALARS = ("text", "number", "integer", "choice", "resource", "bool")

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")


# --- names -------------------------------------------------------------------------------------


def field_name(path: Path) -> str:
    """The form field's name of a setting: its path joined with dots (``resources.idva.staff``)."""
    return ".".join(str(part).replace("%", "%25").replace(".", "%2E") for part in path)


def field_id(path: Path) -> str:
    """The field's HTML id: ``f-`` and its name, characters an id or link cannot hold
    written ``%XX``."""
    name = field_name(path)
    return "f-" + "".join(c if c.isalnum() or c in "._-%" else f"%{ord(c):02X}" for c in name)


def path_text(path: Path) -> str:
    """A path as the library's problems name it (``Problem.column``)."""
    return ".".join(map(str, path))


def _split(name: str) -> tuple[str, ...]:
    return tuple(unquote(part) for part in name.split("."))


def _words(key: str) -> str:
    return str(key).replace("_", " ")


# --- what the model says each setting is --------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """What one setting is: ``kind`` (``text``, ``number``, ``integer``, ``choice``, ``bool``,
    ``multi``, ``group``, ``rows``, ``named``, ``yaml``), the model of a group, row or named
    entry, the choices of a choice, whether it is required, its default and the model's
    description of it."""

    kind: str
    model: type[BaseModel] | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    default: Any = None
    description: str = ""


def _without_none(annotation) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _is_model(annotation) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _scalar_kind(annotation) -> tuple[str, tuple[str, ...]] | None:
    annotation, _ = _without_none(annotation)
    if annotation is bool:
        return "bool", ()
    if annotation is int:
        return "integer", ()
    if annotation is float:
        return "number", ()
    if annotation is str:
        return "text", ()
    if typing.get_origin(annotation) is Literal:
        return "choice", tuple(map(str, typing.get_args(annotation)))
    return None


def _all_scalar(model: type[BaseModel]) -> bool:
    return all(_scalar_kind(info.annotation) for info in model.model_fields.values())


def spec_of(model: type[BaseModel], key: str) -> Spec:
    """The :class:`Spec` of ``model``'s setting ``key`` (``yaml`` for one the model lacks)."""
    info = model.model_fields.get(key)
    if info is None:
        return Spec("yaml")
    default = None
    if info.default is not PydanticUndefined:
        default = info.default
    elif info.default_factory is not None:
        default = info.default_factory()
    base = {
        "required": info.is_required(),
        "default": default,
        "description": info.description or "",
    }
    scalar = _scalar_kind(info.annotation)
    if scalar is not None:
        kind, choices = scalar
        if kind == "text" and key == "resource":
            kind = "resource"
        return Spec(kind, choices=choices, **base)
    annotation, _ = _without_none(info.annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _scalar_kind(args[0])
        if item is not None and item[0] == "choice":
            return Spec("multi", choices=item[1], **base)
        if _is_model(args[0]) and _all_scalar(args[0]):
            return Spec("rows", model=args[0], **base)
    if origin is dict and len(args) == 2 and args[0] is str and _is_model(args[1]):
        return Spec("named", model=args[1], **base)
    if _is_model(annotation) and _all_scalar(annotation):
        return Spec("group", model=annotation, **base)
    return Spec("yaml", **base)


def spec_at(path: Path) -> Spec | None:
    """The :class:`Spec` of the setting at ``path`` of a service.yaml mapping, with
    ``named-entry`` and ``row`` for an entry of a named section and a row of a table;
    ``None`` for a path inside a YAML part."""
    spec = Spec("group", model=Service)
    rest = list(path)
    while rest:
        part = rest.pop(0)
        if spec.kind in ("group", "named-entry", "row"):
            assert spec.model is not None
            spec = spec_of(spec.model, str(part))
        elif spec.kind == "named":
            spec = Spec("named-entry", model=spec.model)
        elif spec.kind == "rows":
            if not str(part).isdigit():
                return None
            spec = Spec("row", model=spec.model)
        else:
            return None
    return spec


# --- the form ----------------------------------------------------------------------------------


@dataclass
class Field:
    """One input: ``value`` as the form shows it (a list for ``multi``), ``choices`` of a
    choice, ``present`` whether the setting was in the file (checkboxes), ``optional``
    whether it may be left empty."""

    path: Path
    label: str
    kind: str
    value: Any = ""
    choices: tuple[str, ...] = ()
    hint: str = ""
    present: bool = True
    optional: bool = True
    default: Any = None

    @property
    def name(self) -> str:
        return field_name(self.path)

    @property
    def id(self) -> str:
        return field_id(self.path)

    @property
    def was_name(self) -> str:
        return f"{self.name}.{WAS}"

    @property
    def checked(self) -> bool:
        return self.value == "true"


@dataclass
class Rows:
    """A table: a list of models (a case type's steps), a row per item."""

    path: Path
    label: str
    columns: list[Field]  # the header: label, kind and hint of each column
    rows: list[list[Field]]

    @property
    def name(self) -> str:
        return field_name(self.path)

    @property
    def id(self) -> str:
        return field_id(self.path)

    def row_name(self, index: int) -> str:
        return field_name((*self.path, index))

    def cells(self, index: int) -> list[Field | None]:
        """Row ``index``'s fields in the columns' order (``None``: a column it lacks)."""
        by_key = {cell.path[-1]: cell for cell in self.rows[index]}
        return [by_key.get(column.path[-1]) for column in self.columns]

    def extras(self, index: int) -> list[Field]:
        """Row ``index``'s fields that are no column (settings the model does not know)."""
        keys = {column.path[-1] for column in self.columns}
        return [cell for cell in self.rows[index] if cell.path[-1] not in keys]


@dataclass
class Group:
    """A fieldset: an entry of a named section (a resource, a case type) or a model of
    scalars (a case type's demand). ``entry``: it is an entry (a hidden field keeps it when
    all its fields are empty; it can be removed); ``steps_action``: a case type given by
    ``resource`` + ``minutes`` that could be given steps instead."""

    path: Path
    label: str
    items: list[Field | Rows | Group]
    entry: bool = False
    steps_action: bool = False

    @property
    def name(self) -> str:
        return field_name(self.path)

    @property
    def id(self) -> str:
        return field_id(self.path)


@dataclass
class Section:
    """A mapping of names to models (``resources``, ``case_types``, ``spc_targets``): its
    entries, and the field naming a new one (``new.<name>``)."""

    path: Path
    label: str
    entries: list[Group]
    noun: str
    hint: str = ""

    @property
    def name(self) -> str:
        return field_name(self.path)

    @property
    def id(self) -> str:
        return field_id(self.path)

    @property
    def new_name(self) -> str:
        return f"new.{self.name}"

    @property
    def new_id(self) -> str:
        return f"new-{self.id}"


@dataclass
class SettingsForm:
    """The whole form: the service's scalars, its named sections, its YAML parts."""

    scalars: list[Field]
    sections: list[Section]
    advanced: list[Field]
    #: Every field, table, fieldset and section by its path (as the library's problems
    #: name it): the targets of :func:`place_problems`.
    places: dict[str, tuple[str, str]] = field(default_factory=dict)

    def fields(self) -> list[Field]:
        """Every input of the form, in page order."""
        found: list[Field] = []

        def walk(items) -> None:
            for item in items:
                if isinstance(item, Field):
                    found.append(item)
                elif isinstance(item, Rows):
                    for index in range(len(item.rows)):
                        found.extend(cell for cell in item.cells(index) if cell is not None)
                        found.extend(item.extras(index))
                else:
                    walk(item.items)

        walk(self.scalars)
        for section in self.sections:
            walk(section.entries)
        walk(self.advanced)
        return found

    def first_field_in(self, path: Path) -> str | None:
        """The id of the first input at or under ``path`` (where the cursor goes after a
        row or an entry is added there)."""
        for item in self.fields():
            if item.path[: len(path)] == tuple(path):
                return item.id
        return None


#: Nouns of the named sections (the button "Add a resource").
_NOUNS = {"resources": "resource", "case_types": "case type", "spc_targets": "SPC target"}
_HINTS = {
    "resources": "Each team of people who do one kind of work.",
    "case_types": "Each kind of case and the work one case needs: a resource and minutes, "
    "or steps.",
    "spc_targets": "Targets for the SPC charts, by chart: 'RESOURCE demand', 'RESOURCE "
    "backlog', 'referrals' or 'referrals CASE_TYPE'.",
}


def form_of(mapping: dict, texts: dict[str, str] | None = None) -> SettingsForm:
    """The form showing ``mapping`` (service.yaml's content as loaded); ``texts``: the YAML
    parts as the admin typed them (by field name), shown instead of ``mapping``'s."""
    texts = texts or {}
    resources = mapping.get("resources")
    names = tuple(map(str, resources)) if isinstance(resources, dict) else ()
    form = SettingsForm([], [], [])
    builder = _Builder(names, texts, form.places)
    for key in _keys(Service, mapping):
        spec = spec_of(Service, key)
        path = (key,)
        if spec.kind == "named" and isinstance(mapping.get(key, {}), dict):
            form.sections.append(builder.section(path, spec, mapping.get(key, {})))
        elif spec.kind in SCALARS + ("multi",) and _fits(spec, mapping.get(key)):
            form.scalars.append(builder.field(path, spec, mapping, key))
        else:
            form.advanced.append(builder.yaml(path, mapping, key, spec))
    return form


def _keys(model: type[BaseModel], mapping: dict) -> list[str]:
    """The model's settings in its order, then any the mapping has that it does not know."""
    known = list(model.model_fields)
    return known + [str(k) for k in mapping if k not in model.model_fields]


def _fits(spec: Spec, value) -> bool:
    """Whether a stored value can be shown in a field of ``spec``'s kind (else: YAML)."""
    if value is None:
        return True
    if spec.kind == "multi":
        return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
    if spec.kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, str | int | float) and not isinstance(value, bool)


@dataclass
class _Builder:
    resources: tuple[str, ...]
    texts: dict[str, str]
    places: dict[str, tuple[str, str]]

    def _place(self, path: Path, ident: str, label: str) -> None:
        self.places[path_text(path)] = (ident, label)

    def field(self, path: Path, spec: Spec, parent: dict, key: str, label: str = "") -> Field:
        value = parent.get(key)
        label = label or _words(key).capitalize()
        hint = spec.description
        if spec.default not in (None, (), {}) and spec.kind not in ("bool", "multi"):
            hint = f"{hint} Leave empty for {_show(spec.default)}.".strip()
        if spec.kind == "multi":
            shown = list(value if value is not None else spec.default or ())
        elif spec.kind == "bool":
            shown = "true" if (value if value is not None else spec.default) else "false"
        else:
            shown = "" if value is None else _show(value)
        choices = spec.choices
        if spec.kind == "resource":
            choices = self.resources + ((shown,) if shown and shown not in self.resources else ())
        elif spec.kind == "choice" and shown and shown not in choices:
            choices = (*choices, shown)
        made = Field(
            path,
            label,
            spec.kind,
            shown,
            choices,
            hint,
            present=key in parent,
            optional=not spec.required or value is None,
            default=spec.default,
        )
        self._place(path, made.id, self.where(path))
        return made

    def yaml(self, path: Path, parent: dict, key: str, spec: Spec) -> Field:
        name = field_name(path)
        if name in self.texts:
            text = self.texts[name]
        else:
            text = "" if parent.get(key) is None else dump_yaml(parent[key], depth=len(path))
        hint = (spec.description + " " if spec.description else "") + (
            "YAML, as in service.yaml under this key; leave empty to leave it out."
        )
        made = Field(path, f"{_words(key).capitalize()} (YAML)", "yaml", text, hint=hint)
        self._place(path, made.id, self.where(path))
        return made

    def section(self, path: Path, spec: Spec, entries: dict) -> Section:
        assert spec.model is not None
        noun = _NOUNS.get(str(path[-1]), _words(path[-1]).rstrip("s"))
        groups = []
        for key, entry in entries.items():
            entry_path = (*path, str(key))
            if isinstance(entry, dict):
                groups.append(self.group(entry_path, spec.model, entry, f"{noun} {key}", True))
            else:
                groups.append(Group(entry_path, f"{noun} {key}", [
                    self.yaml(entry_path, entries, key, Spec("yaml"))
                ], entry=True))  # fmt: skip
                self._place(entry_path, groups[-1].id, f"{noun.capitalize()} {key}")
        made = Section(path, _words(path[-1]).capitalize(), groups, noun, _HINTS.get(path[-1], ""))
        self._place(path, made.id, made.label)
        return made

    def group(
        self, path: Path, model: type[BaseModel], mapping: dict, label: str, entry: bool
    ) -> Group:
        items: list[Field | Rows | Group] = []
        by_steps = model is CaseType and "steps" in mapping
        for key in _keys(model, mapping):
            spec = spec_of(model, key)
            value = mapping.get(key)
            if model is CaseType and key in ("resource", "minutes") and by_steps and value is None:
                continue  # given by steps: no shorthand fields
            if spec.kind == "rows" and isinstance(value, list | tuple):
                if all(isinstance(row, dict) for row in value):
                    items.append(self.rows((*path, key), spec, value))
                    continue
            if spec.kind == "rows" and value is None:
                continue  # (a case type's steps: the "use steps" button adds them)
            if spec.kind == "group" and isinstance(value, dict | None):
                assert spec.model is not None
                items.append(self.group((*path, key), spec.model, value or {}, _words(key), False))
            elif spec.kind in SCALARS + ("multi",) and _fits(spec, value):
                items.append(self.field((*path, key), spec, mapping, key))
            else:
                items.append(self.yaml((*path, key), mapping, key, spec))
        made = Group(
            path,
            label,
            items,
            entry=entry,
            steps_action=model is CaseType and not by_steps,
        )
        self._place(path, made.id, label[:1].upper() + label[1:])
        return made

    def rows(self, path: Path, spec: Spec, items: list) -> Rows:
        assert spec.model is not None
        keys = list(spec.model.model_fields)
        columns = []
        for key in keys:
            sub = spec_of(spec.model, key)
            hint = sub.description
            if sub.default is not None:
                hint = f"{hint} Empty: {_show(sub.default)}.".strip()
            columns.append(Field((*path, key), _words(key).capitalize(), sub.kind, hint=hint))
        rows = []
        for index, item in enumerate(items):
            row = []
            for key in _keys(spec.model, item):
                sub = spec_of(spec.model, key)
                if sub.kind in SCALARS and _fits(sub, item.get(key)):
                    made = self.field((*path, index, key), sub, item, key)
                else:
                    made = self.yaml((*path, index, key), item, key, sub)
                made.label = f"{_words(key).capitalize()}, {path[-1].rstrip('s')} {index + 1}"
                row.append(made)
            rows.append(row)
            self._place((*path, index), field_id((*path, index)), self.where((*path, index)))
        made = Rows(path, _words(path[-1]).capitalize(), columns, rows)
        self._place(path, made.id, self.where(path))
        return made

    @staticmethod
    def where(path: Path) -> str:
        """A setting's place in words: ``Case type da_high_risk, step 2, minutes``."""
        parts, rest = [], list(path)
        head = str(rest.pop(0))
        if head in _NOUNS and rest:
            parts.append(f"{_NOUNS[head].capitalize()} {rest.pop(0)}")
        else:
            parts.append(_words(head).capitalize())
        while rest:
            part = rest.pop(0)
            if rest and isinstance(rest[0], int):
                parts.append(f"{_words(part).rstrip('s')} {rest.pop(0) + 1}")
            else:
                parts.append(_words(part))
        return ", ".join(parts)


def _show(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


# --- what a browser sends, and reading it --------------------------------------------------------


def submission(form: SettingsForm) -> list[tuple[str, str]]:
    """The fields a browser sends for ``form`` left as it is, in page order (the template
    writes the same inputs): for tests, and a record of the form's conventions."""
    sent: list[tuple[str, str]] = []

    def one(item: Field) -> None:
        if item.kind == "bool":
            sent.append((item.was_name, "present" if item.present else "absent"))
            if item.checked:
                sent.append((item.name, "true"))
        elif item.kind == "multi":
            sent.append((item.was_name, "present" if item.present else "absent"))
            sent.extend((item.name, value) for value in item.value)
        else:
            sent.append((item.name, item.value))

    def walk(items) -> None:
        for item in items:
            if isinstance(item, Field):
                one(item)
            elif isinstance(item, Rows):
                sent.append((item.name, ""))
                for index, row in enumerate(item.rows):
                    sent.append((item.row_name(index), ""))
                    walk(row)
            else:
                if item.entry:
                    sent.append((item.name, ""))
                walk(item.items)

    walk(form.scalars)
    for section in form.sections:
        walk(section.entries)
    walk(form.advanced)
    return sent


def in_form_order(mapping: dict) -> dict:
    """``mapping`` with its settings in the order the form writes them (the model's), for
    comparing two versions line by line."""
    return read_submission(submission(form_of(mapping))).mapping


@dataclass
class Submitted:
    """What :func:`read_submission` made of a form: the ``mapping``, the YAML parts as typed
    (by field name, for showing them again) and the problems reading them (bad YAML)."""

    mapping: dict
    texts: dict[str, str]
    problems: list[Problem]


def read_submission(
    items: Iterable[tuple[str, str]],
    file: str = "service.yaml",
    ignore: frozenset[str] = frozenset({"csrf_token", "action"}),
) -> Submitted:
    """The mapping a form's fields (name, value pairs in page order) stand for.

    Empty fields are left out; numbers are read as numbers (an int when written as one),
    anything else in a number field is kept as typed so that service.yaml's rules say what
    is wrong with it. The page's own fields (``ignore``, and ``new.*``: the name of a new
    entry) are left out.
    """
    values: dict[tuple[str, ...], list[str]] = {}
    was: dict[tuple[str, ...], str] = {}
    order: list[tuple[str, ...]] = []
    for name, value in items:
        if name in ignore or name.startswith("new."):
            continue
        path = _split(name)
        if path[-1] == WAS:  # a checkbox's, sent whether it is ticked or not
            path = path[:-1]
            was[path] = value
        if path not in values:
            values[path] = []
            order.append(path)
        if name.endswith(WAS):
            continue
        values[path].append(value)
    root: dict = {}
    texts: dict[str, str] = {}
    problems: list[Problem] = []
    for path in order:
        spec = spec_at(path)
        if spec is None or (spec.kind == "group" and spec.model is Service):
            continue
        typed = _typed_path(path)
        if spec.kind in ("named-entry", "row", "rows"):
            _put(root, typed, [] if spec.kind == "rows" else {}, keep=True)
            continue
        got = values[path]
        if spec.kind == "multi":
            chosen = [v for v in got if v]
            if was.get(path) == "absent" and tuple(chosen) == tuple(spec.default or ()):
                continue
            _put(root, typed, chosen)
            continue
        if spec.kind == "bool":
            checked = "true" in got
            if was.get(path) == "absent" and checked == bool(spec.default):
                continue
            _put(root, typed, checked)
            continue
        if not got:  # only a checkbox's hidden "__was" field came: nothing for this setting
            continue
        text = got[-1].replace("\r\n", "\n").replace("\r", "\n")
        if spec.kind in ("yaml", "group", "named"):
            texts[field_name(typed)] = text
            if not text.strip():
                continue
            data, _, found = load_yaml(text, file)
            if found:
                where = _Builder.where(typed)
                problems += [
                    Problem(file, f"{where}: {p.message}", None, path_text(typed)) for p in found
                ]
                continue
            if data is not None:
                _put(root, typed, data)
            continue
        text = text.strip()
        if not text:
            continue
        _put(root, typed, _read_scalar(spec.kind, text))
    return Submitted(_lists(root), texts, problems)


def _typed_path(path: tuple[str, ...]) -> Path:
    """Row positions as ints."""
    typed: list[str | int] = []
    for index, part in enumerate(path):
        spec = spec_at(path[:index])
        typed.append(int(part) if spec is not None and spec.kind == "rows" else part)
    return tuple(typed)


def _read_scalar(kind: str, text: str):
    if kind in ("number", "integer"):
        if _INTEGER.match(text) and len(text) <= 30:  # longer: left as text, refused as such
            return int(text)
        if _NUMBER.match(text):
            return float(text)
    return text


class _RowDict(dict):
    """A table's rows while reading (by position), made a list at the end."""


def _put(root: dict, path: Path, value, keep: bool = False) -> None:
    """Set ``value`` at ``path``, making the mappings (or, before a row position, the table)
    on the way; ``keep``: leave a value already there (a table's or entry's own field)."""
    node: dict = root
    for part, after in zip(path[:-1], path[1:], strict=True):
        child = node.get(part)
        if not isinstance(child, dict):
            child = _RowDict() if isinstance(after, int) else {}
            node[part] = child
        node = child
    last = path[-1]
    if keep and isinstance(node.get(last), dict):
        return
    node[last] = _RowDict() if isinstance(value, list) and keep else value


def _lists(node):
    if isinstance(node, _RowDict):
        return [_lists(node[i]) for i in sorted(node)]
    if isinstance(node, dict):
        return {key: _lists(value) for key, value in node.items()}
    return node


# --- changing the form's shape -------------------------------------------------------------------


class ShapeError(ValueError):
    """An action on the form that does not fit it (an unknown section, a name in use)."""


def add_entry(mapping: dict, section: str, name: str) -> Path:
    """Add an empty entry ``name`` to a named section (``resources``, ``case_types``,
    ``spc_targets``); its path."""
    spec = spec_at((section,))
    if spec is None or spec.kind != "named":
        raise ShapeError(f"{section!r} is not a section of the form")
    name = name.strip()
    noun = _NOUNS.get(section, section)
    if not name:
        raise ShapeError(f"Enter a name for the new {noun}")
    entries = mapping.setdefault(section, {})
    if name in entries:
        raise ShapeError(f"There is already a {noun} called {name}")
    entries[name] = {}
    return (section, name)


def add_row(mapping: dict, path: Path) -> Path:
    """Add an empty row to the table at ``path`` (a case type's steps); the row's path."""
    spec = spec_at(path)
    rows = _at(mapping, path)
    if spec is None or spec.kind != "rows" or not isinstance(rows, list):
        raise ShapeError("That table is not on the form")
    rows.append({})
    return (*path, len(rows) - 1)


def remove(mapping: dict, path: Path) -> None:
    """Take out the entry (a resource, a case type) or the row (a step) at ``path``."""
    spec = spec_at(path)
    parent = _at(mapping, path[:-1])
    if spec is None or spec.kind not in ("named-entry", "row"):
        raise ShapeError("Only a whole entry or row can be removed")
    try:
        del parent[path[-1]]
    except (KeyError, IndexError, TypeError):
        raise ShapeError("That entry is no longer on the form") from None


def use_steps(mapping: dict, path: Path) -> Path:
    """Give the case type at ``path`` steps instead of ``resource`` + ``minutes`` (which
    become its first step); the steps' path."""
    case_type = _at(mapping, path)
    if spec_at(path) is None or spec_at(path).kind != "named-entry" or path[0] != "case_types":
        raise ShapeError("Only a case type has steps")
    if not isinstance(case_type, dict):
        raise ShapeError("That case type is no longer on the form")
    first = {k: case_type.pop(k) for k in ("resource", "minutes") if k in case_type}
    case_type.setdefault("steps", []).append(first)
    return (*path, "steps")


def parse_path(name: str) -> Path:
    """A field name (as in an action) back to its path, row positions as ints."""
    return _typed_path(_split(name))


def _at(mapping, path: Path):
    node = mapping
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


# --- problems beside their fields ---------------------------------------------------------------


@dataclass(frozen=True)
class Placed:
    """A problem put on the form: the id of the field it is about (the error summary links
    to it), where that is in words, and the library's message."""

    field_id: str
    where: str
    message: str

    @property
    def summary(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


def place_problems(problems: Iterable[Problem], form: SettingsForm, top: str) -> list[Placed]:
    """Each problem at the field its path (``Problem.column``) names, or the nearest
    fieldset, table or section holding it; a problem naming no setting at ``top`` (the id
    of the form's start)."""
    placed = []
    for problem in problems:
        target = _nearest(problem.column, form.places)
        if target is None:
            first = re.match(r"^([a-z_]+)[: ]", problem.message)
            target = form.places.get(first.group(1)) if first else None
        if target is None:
            placed.append(Placed(top, "", problem.message))
            continue
        ident, where = target
        message = problem.message
        if message.startswith(where + ": "):
            message = message[len(where) + 2 :]
        placed.append(Placed(ident, where, message))
    return placed


def _nearest(column: str | None, places: dict) -> tuple[str, str] | None:
    if not column:
        return None
    parts = column.split(".")
    for end in range(len(parts), 0, -1):
        found = places.get(".".join(parts[:end]))
        if found is not None:
            return found
    return None


# --- writing the file ------------------------------------------------------------------------


class _Flow(list):
    pass


class _FlowMap(dict):
    pass


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True)
)
_Dumper.add_representer(
    _FlowMap, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True)
)


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _styled(value, depth: int):
    """Lists of scalars, mappings of scalars in a list (a step) and mappings of scalars three
    levels down in flow style (``- {resource: triage, minutes: 30}``), the rest in block
    style."""
    if isinstance(value, dict):
        if depth >= 3 and value and all(_is_scalar(v) for v in value.values()):
            return _FlowMap(value)
        return {k: _styled(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if all(_is_scalar(v) for v in value):
            return _Flow(value)
        return [_styled(v, max(depth + 1, 3)) for v in value]
    return value


def dump_yaml(value, depth: int = 0) -> str:
    """``value`` as YAML text that reads back (:func:`flowcap.io.safe_yaml.load_yaml`) to
    the same value: what the form saves as service.yaml (without the old file's comments)."""
    return yaml.dump(
        _styled(value, depth),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
