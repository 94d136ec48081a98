"""Generated bodies for the web app's HTML forms (tests/test_fuzz_web_forms.py).

A body is the form a browser would send (its real field names and a valid value each) with a
few changes a clumsy user or an attacker could make: a value replaced by an odd one (empty,
a number past any limit, negative, ``NaN``/``inf`` as text, a date like 2024-13-45, 100,000
characters, control characters, markup) or by one near a valid value (a number moved by
one or scaled, a date a day or a year off, an email in capitals), a field left out, a field
sent twice (a list where one value is expected), a field the form does not have.

Values that only the running site knows (an alert's id, a day of the last fortnight, a
checked upload waiting for its confirmation) are drawn as :class:`Known` and filled in when
the body is sent, so that the same draws give the same bodies from run to run.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from hypothesis import strategies as st

from fuzz_inputs import nearby, odd_cell

#: Markup a page must never echo as markup: a script, an image whose error runs one, the
#: end of the settings' text box, attribute break-outs with either quote, a link's scheme.
MARKUP = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "</textarea><script>alert(1)</script>",
    '" onmouseover="alert(1)',
    "' onfocus='alert(1)",
    "<svg onload=alert(1)>",
    "javascript:alert(1)",
    "{{ 7 * 7 }}{% raw %}",
)
#: Pieces of :data:`MARKUP` that only an unescaped echo puts in a page (escaping turns ``<``
#: and both quotes into entities).
RAW_MARKERS = (
    "<script>alert(1)",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    'onmouseover="alert(1)',
    "onfocus='alert(1)",
)

#: Odd form texts beyond :data:`fuzz_inputs.ODD_CELLS`: what people type in a box meant for a
#: number or a date, what scripts send, and sizes past every field's limit.
ODD_FORM_TEXTS = (
    "",
    " ",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "Infinity",
    "1e309",
    "-1",
    "0",
    "-0",
    "0.0",
    "1.5",
    "1,000",
    "1_000",
    "+7",
    "٣",  # an Arabic-Indic three: Python's int() reads it
    "²",  # a superscript two: str.isdigit() says a digit, int() refuses it
    "9" * 40,
    "9" * 400,
    "2024-13-45",
    "2024-02-30",
    "0000-00-00",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "31/12/2025",
    "2025-03-04T10:00",
    "\x00",
    "\x01\x02\x1f\x7f",
    "\u202e",
    "\ufeff",
    "a\r\nb",
    "%00",
    "%2e%2e%2f",
    "../../etc/passwd",
    "true",
    "null",
    "[]",
    "{}",
    "- a\n- b",
    "a: b",
    "x" * 100_000,
    "é" * 1_000,
)

_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Known:
    """A value the running site fills in when the body is sent (see the module)."""

    key: str


def odd_value() -> st.SearchStrategy[str]:
    """An odd form value: one of :data:`ODD_FORM_TEXTS` or :data:`MARKUP`, an odd cell of a
    table, a number or date of any size, any short text."""
    return st.one_of(
        st.sampled_from(ODD_FORM_TEXTS),
        st.sampled_from(MARKUP),
        odd_cell(),
        st.text(max_size=40),
    )


def _number_text(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _date(value: str) -> dt.date | None:
    """``value`` as a date when it is a real one written YYYY-MM-DD (2024-13-45 is not)."""
    if not _DATE.match(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _moved(day: dt.date, days: int) -> str:
    """``day`` moved by ``days``, or as it is where that passes year 1 or 9999."""
    try:
        return (day + dt.timedelta(days=days)).isoformat()
    except OverflowError:
        return day.isoformat()


def near_value(value: str) -> st.SearchStrategy[str]:
    """A value near ``value`` (a form's text) that may still be valid."""
    if _INTEGER.match(value) or _NUMBER.match(value):
        written = st.sampled_from(
            [f" {value} ", f"{value}.0", f"+{value}", f"0{value}", f"{value}e0", f"{value},0"]
        )
        if _INTEGER.match(value) and len(value) > 300:
            return written  # past a float: fuzz_inputs.nearby scales by 10**-3 as a float
        number = int(value) if _INTEGER.match(value) else float(value)
        return st.one_of(nearby(number).map(_number_text), written)
    day = _date(value)
    if day is not None:
        moved = st.integers(-800, 800).map(lambda k: _moved(day, k))
        written = st.sampled_from(
            [f"{day:%d/%m/%Y}", f"{day:%Y-%m-%d}T00:00", f"{day.year}-{day.month}-{day.day}"]
            + [f" {value}", f"{day:%Y%m%d}", f"{day:%d %B %Y}"]
        )
        return st.one_of(moved, written)
    return st.one_of(
        nearby(value),
        st.sampled_from([value.upper(), f" {value} ", value + value, value[:-1], ""]),
    )


#: Names of fields no form has, and names like the forms' own with something added.
ODD_NAMES = (
    "",
    " ",
    "csrf_token ",
    "CSRF_TOKEN",
    "email[]",
    "role[0]",
    "__proto__",
    "constructor",
    "action",
    "next",
    "files",
    "upload_id",
    "\x00",
    "a" * 1_000,
    "<script>alert(1)</script>",
)


@st.composite
def mutated_form(
    draw,
    base: list[tuple[str, str | Known]],
    pools: dict[str, list] | None = None,
    names: tuple[str, ...] = (),
    keep: frozenset[str] = frozenset({"csrf_token"}),
    changes: int = 4,
) -> list[tuple[str, str | Known]]:
    """``base`` (a form's fields, in page order) with up to ``changes`` changes: a value
    replaced by an odd one, by one near it or by one of its ``pools`` (the valid values of
    that field: members' emails, known ids), a field left out (once, or every time it is
    sent) or sent twice, a field added
    (named from ``names``, :data:`ODD_NAMES` or any text). Fields in ``keep`` (the CSRF
    token) are left as they are."""
    pools = pools or {}
    items = list(base)
    for _ in range(draw(st.integers(0, changes))):
        kind = draw(
            st.sampled_from(
                ["odd", "odd", "near", "near", "pool", "pool", "drop", "drop_all", "twice"]
                + ["extra", "extra"]
            )
        )
        open_ = [i for i, (name, _) in enumerate(items) if name not in keep]
        if kind == "extra" or not open_:
            name = draw(
                st.one_of(
                    st.sampled_from(names or ODD_NAMES),
                    st.sampled_from(ODD_NAMES),
                    st.text(max_size=15),
                )
            )
            items.insert(draw(st.integers(0, len(items))), (name, draw(odd_value())))
            continue
        at = draw(st.sampled_from(open_))
        name, value = items[at]
        if kind == "odd":
            items[at] = (name, draw(odd_value()))
        elif kind == "near" and isinstance(value, str):
            items[at] = (name, draw(near_value(value)))
        elif kind == "pool" and pools.get(name):
            items[at] = (name, draw(st.sampled_from(pools[name])))
        elif kind == "drop":
            del items[at]
        elif kind == "drop_all":  # every value of the field (each box of a set of checkboxes)
            items = [(n, v) for n, v in items if n != name]
        elif kind == "twice":
            other = draw(st.one_of(odd_value(), st.sampled_from(pools.get(name) or [value])))
            items.insert(at + draw(st.integers(0, 1)), (name, other))
    return items


# --- files for the upload form -------------------------------------------------------------------

#: Names a browser may send for an uploaded file: the service folder's, and odd ones (a
#: path, a hidden extension, markup, nothing, a very long name).
ODD_FILE_NAMES = (
    "",
    "referrals",
    "REFERRALS.CSV",
    "referrals.csv.exe",
    "referrals.csv\x00.txt",
    "../referrals.csv",
    "/etc/passwd",
    "C:\\fakepath\\referrals.csv",
    "<script>alert(1)</script>.csv",
    "a" * 300 + ".csv",
    "notes.txt",
    "events.xes.gz",
    "referrals.xlsx",
)


def with_known(value: str | Known, fill) -> str:
    """``value``, or what the site gives for a :class:`Known` (``fill(key)``)."""
    return fill(value.key) if isinstance(value, Known) else value
