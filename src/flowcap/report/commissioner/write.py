"""Which writer a format uses, and the default file name of a report."""

from __future__ import annotations

import re
from pathlib import Path

from flowcap.checks import ArgumentError
from flowcap.report.commissioner.document import Report

#: The formats a report is written in, by name and file suffix.
FORMATS = ("html", "pdf", "xlsx")


def report_format(fmt: str | None, out: Path | None) -> str:
    """The format asked for, else ``out``'s suffix, else HTML; an :class:`ArgumentError`
    for another format, or a ``--format`` that contradicts ``out``'s suffix."""
    suffix = out.suffix.lower().lstrip(".") if out is not None else ""
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise ArgumentError("format", f"must be one of {', '.join(FORMATS)}, not {fmt!r}")
        if suffix in FORMATS and suffix != fmt:
            raise ArgumentError("format", f"{fmt} does not match the file {out.name}")
        return fmt
    return suffix if suffix in FORMATS else "html"


def default_name(service_name: str, end, fmt: str) -> str:
    """``<service>-report-<to>.<ext>``: the service's name made safe for a file name."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", service_name).strip("-").lower() or "service"
    return f"{stem}-report-{end:%Y-%m-%d}.{fmt}"


def write_report(report: Report, path: str | Path, fmt: str) -> Path:
    """Write ``report`` to ``path`` as ``fmt`` (html, pdf or xlsx)."""
    if fmt == "html":
        from flowcap.report.commissioner.html import write_html

        return write_html(report, path)
    if fmt == "pdf":
        from flowcap.report.commissioner.pdf import write_pdf

        return write_pdf(report, path)
    if fmt == "xlsx":
        from flowcap.report.commissioner.excel import write_xlsx

        return write_xlsx(report, path)
    raise ArgumentError("format", f"must be one of {', '.join(FORMATS)}, not {fmt!r}")
