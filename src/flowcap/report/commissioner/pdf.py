"""The report as a PDF: the HTML page printed by WeasyPrint (A4, page numbers, a contents
list with page numbers, tagged headings for screen readers: PDF/UA-1)."""

from __future__ import annotations

from pathlib import Path

from flowcap.errors import FlowcapError
from flowcap.report.commissioner.document import Report
from flowcap.report.commissioner.html import render_html


def pdf_bytes(report: Report) -> bytes:
    """The PDF document's bytes.

    Raises
    ------
    FlowcapError
        When WeasyPrint or the Pango libraries it needs are missing (the message says how to
        install them).
    """
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: Pango's libraries not found
        raise FlowcapError(
            f"writing a PDF needs WeasyPrint and Pango ({exc}); install them with "
            "`pip install weasyprint` and Debian's `apt-get install libpango-1.0-0 "
            "libpangoft2-1.0-0` (scripts/test.sh does both), or write --format html"
        ) from None
    document = HTML(string=render_html(report, for_print=True))
    return document.write_pdf(pdf_variant="pdf/ua-1", pdf_tags=True)


def write_pdf(report: Report, path: str | Path) -> Path:
    data = pdf_bytes(report)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
