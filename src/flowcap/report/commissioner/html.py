"""The report as one self-contained, printable HTML page (Jinja2, every text escaped; the
charts inline as data URIs, so it opens offline). The PDF is this page printed."""

from __future__ import annotations

import base64
import math
import numbers
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from flowcap.report.commissioner.document import Figure, Report

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def cell(value, spec: str | None = None) -> str:
    """A table cell as text: ``–`` for a missing value, dates as ``31 Dec 2025``, shares and
    minutes by ``spec`` (a format spec, ``"date"``, or ``"£…"`` for money)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else ""
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return f"{pd.Timestamp(value):%d %b %Y}"
    if spec and spec != "date" and isinstance(value, numbers.Real):
        money = spec.startswith("£")
        try:
            text = format(value, spec.removeprefix("£"))
        except ValueError:
            text = format(value, ",")
        return f"£{text}" if money else text
    if isinstance(value, tuple):
        return " → ".join(str(v) for v in value)
    return str(value)


def heading(column: str) -> str:
    return str(column).replace("_", " ")


def data_uri(figure: Figure) -> str:
    return f"data:{figure.mime};base64,{base64.b64encode(figure.data).decode('ascii')}"


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "html.j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["cell"] = cell
    environment.filters["heading"] = heading
    environment.filters["data_uri"] = data_uri
    return environment


def render_html(report: Report, *, for_print: bool = False) -> str:
    """The report as an HTML document (``for_print``: the PDF's page furniture too)."""
    template = _environment().get_template("commissioner_report.html.j2")
    return template.render(report=report, for_print=for_print)


def write_html(report: Report, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
