"""Reports for commissioners and boards: :func:`build_report` gathers the numbers once;
:func:`write_report` writes them as HTML, PDF or an Excel workbook."""

from flowcap.report.commissioner.document import (
    Figure,
    Report,
    Section,
    Table,
    build_report,
    report_period,
)
from flowcap.report.commissioner.write import FORMATS, default_name, report_format, write_report

__all__ = [
    "FORMATS",
    "Figure",
    "Report",
    "Section",
    "Table",
    "build_report",
    "default_name",
    "report_format",
    "report_period",
    "write_report",
]
