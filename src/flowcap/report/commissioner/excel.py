"""The report as an Excel workbook the finance team can check: a Summary sheet, then one
sheet per table with typed cells (dates as dates, minutes as numbers), frozen headers,
column widths, an Excel table on each, and native line charts of the daily measures.

Text that a spreadsheet would take for a formula (starting ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return: a resource or option named ``=HYPERLINK(...)``) is written with a
leading apostrophe, as OWASP's advice on CSV injection says, so it stays text wherever the
sheet is copied or saved as CSV.
"""

from __future__ import annotations

import math
import numbers
import re
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.chart.series import SeriesLabel
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table as ExcelTable
from openpyxl.worksheet.table import TableStyleInfo

from flowcap.report.commissioner.document import Report
from flowcap.report.commissioner.document import Table as ReportTable

#: The first characters that make a spreadsheet read text as a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Excel number formats for the report's format specs.
NUMBER_FORMATS = {
    ",.0f": "#,##0",
    ",.1f": "#,##0.0",
    ",d": "#,##0",
    ".0%": "0%",
    ".1%": "0.0%",
    "£,.0f": "£#,##0",
    "date": "yyyy-mm-dd",
}
DATE_FORMAT = "yyyy-mm-dd"
#: The daily measures drawn on the Measures sheet's line charts.
CHARTED = ("demand_minutes", "capacity_minutes", "activity_minutes", "backlog_minutes")
MAX_WIDTH = 60


def safe_text(text: str) -> str:
    """``text``, with a leading apostrophe when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def excel_value(value):
    """A cell's value with its type: dates as dates, numbers as numbers, missing as empty,
    text made safe (:func:`safe_text`)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (pd.Timestamp, datetime)):
        stamp = pd.Timestamp(value)
        return stamp.date() if stamp == stamp.normalize() else stamp.to_pydatetime()
    if isinstance(value, date):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return None if math.isnan(value) else float(value)
    if isinstance(value, tuple):
        value = " → ".join(str(v) for v in value)
    return safe_text(str(value))


def write_frame(sheet, table: ReportTable, *, first_row: int = 1, name: str | None = None):
    """Write ``table``'s frame with its header at ``first_row``; an Excel table over it
    named ``name`` (when it has rows); widths and number formats by column."""
    frame = table.frame
    columns = [str(c) for c in frame.columns]
    for j, column in enumerate(columns, start=1):
        cell = sheet.cell(row=first_row, column=j, value=safe_text(column))
        cell.font = Font(bold=True)
    widths = [len(c) + 2 for c in columns]
    for i, row in enumerate(frame.itertuples(index=False), start=first_row + 1):
        for j, value in enumerate(row, start=1):
            written = excel_value(value)
            cell = sheet.cell(row=i, column=j, value=written)
            spec = table.formats.get(columns[j - 1])
            if isinstance(written, (date, datetime)):
                cell.number_format = DATE_FORMAT
            elif spec in NUMBER_FORMATS and isinstance(written, (int, float)):
                cell.number_format = NUMBER_FORMATS[spec]
            if written is not None:
                shown = 10 if isinstance(written, (date, datetime)) else len(str(written))
                widths[j - 1] = max(widths[j - 1], min(shown + 2, MAX_WIDTH))
    for j, width in enumerate(widths, start=1):
        letter = get_column_letter(j)
        sheet.column_dimensions[letter].width = max(
            sheet.column_dimensions[letter].width or 0, width
        )
    if name and len(frame):
        last = f"{get_column_letter(len(columns))}{first_row + len(frame)}"
        excel = ExcelTable(displayName=name, ref=f"A{first_row}:{last}")
        excel.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
        sheet.add_table(excel)


def _sheet_of_table(workbook, title: str, table: ReportTable | None, missing: str | None):
    sheet = workbook.create_sheet(title)
    if table is None:
        sheet["A1"] = safe_text(missing or "Not available for this service.")
        sheet.column_dimensions["A"].width = 100
        return sheet
    write_frame(sheet, table, name=re.sub(r"\W", "", title.title()))
    sheet.freeze_panes = "A2"
    return sheet


def _summary_sheet(workbook, report: Report) -> None:
    sheet = workbook.active
    sheet.title = "Summary"
    sheet["A1"] = safe_text(report.service_name)
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A2"] = "From"
    sheet["B2"] = report.start
    sheet["A3"] = "To"
    sheet["B3"] = report.end
    for cell in ("B2", "B3"):
        sheet[cell].number_format = DATE_FORMAT
        sheet[cell].alignment = Alignment(horizontal="left")
    sheet["A4"] = "Made"
    sheet["B4"] = report.generated
    sheet["B4"].number_format = "yyyy-mm-dd hh:mm"
    sheet["B4"].alignment = Alignment(horizontal="left")
    sheet["A6"] = "Summary"
    sheet["A6"].font = Font(bold=True)
    row = 7
    for sentence in report.summary:
        cell = sheet.cell(row=row, column=1, value=safe_text(sentence))
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=8)
        sheet.row_dimensions[row].height = 15 * max(1, math.ceil(len(sentence) / 110))
        row += 1
    for column in "ABCDEFGH":
        sheet.column_dimensions[column].width = 16
    sheet.column_dimensions["A"].width = 18
    row += 1
    summary = report.table("summary")
    sheet.cell(row=row, column=1, value=summary.title).font = Font(bold=True)
    write_frame(sheet, summary, first_row=row + 1, name="Summary")


def _measures_charts(sheet, frame: pd.DataFrame) -> None:
    """One line chart per resource of its daily minutes, beside the table (rows of one
    resource are contiguous: the frame is sorted by resource, then date)."""
    columns = list(frame.columns)
    anchor_column = get_column_letter(len(columns) + 2)
    start = 2
    for n, (resource, rows) in enumerate(frame.groupby("resource", sort=False)):
        end = start + len(rows) - 1
        chart = LineChart()
        chart.title = f"{resource}: minutes per day"
        chart.y_axis.title = "minutes"
        chart.x_axis.number_format = "dd mmm"
        chart.height, chart.width = 7.5, 18
        for measure in CHARTED:
            j = columns.index(measure) + 1
            data = Reference(sheet, min_col=j, min_row=start, max_row=end)
            chart.add_data(data, titles_from_data=False)
            series = chart.series[-1]
            series.tx = SeriesLabel(v=measure.replace("_minutes", ""))
            # Straight lines from day to day: a spreadsheet's smoothed curve invents values
            # between the days (and dips below zero after a spike).
            series.smooth = False
        dates = Reference(sheet, min_col=1, min_row=start, max_row=end)
        chart.set_categories(dates)
        sheet.add_chart(chart, f"{anchor_column}{2 + 16 * n}")
        start = end + 1


def alerts_table(report: Report) -> ReportTable | None:
    """The period's SPC alerts on minutes and on referrals, as one table."""
    minutes, referrals = report.table("alerts"), report.table("referral_alerts")
    if minutes is None:
        return None
    a = minutes.frame.assign(chart=minutes.frame["resource"] + " " + minutes.frame["measure"])
    frame = pd.concat([a, referrals.frame], ignore_index=True)
    frame = frame[["date", "chart", "resource", "measure", "rule", "direction", "message"]]
    return ReportTable(
        "spc_alerts", "SPC alerts", frame.sort_values("date", kind="stable"), {"date": "date"}
    )


def workbook(report: Report) -> Workbook:
    """The report as an openpyxl :class:`Workbook` (not saved)."""
    book = Workbook()
    _summary_sheet(book, report)
    daily = report.table("daily")
    order = {r: i for i, r in enumerate(dict.fromkeys(daily.frame["resource"]))}
    daily = ReportTable(
        daily.key,
        daily.title,
        daily.frame.sort_values(
            ["resource", "date"], key=lambda s: s.map(order) if s.name == "resource" else s
        ).reset_index(drop=True),
        daily.formats,
    )
    measures = _sheet_of_table(book, "Measures", daily, None)
    _measures_charts(measures, daily.frame)
    forecast = report.section("forecast")
    options = report.section("options")
    for title, table, missing in (
        ("Weekly", report.table("weekly"), None),
        ("SPC alerts", alerts_table(report), None),
        ("Forecast", report.table("forecast"), forecast.missing),
        ("Risk", report.table("risk"), forecast.missing),
        ("Risk by day", report.table("risk_days"), forecast.missing),
        ("Simulation", report.table("simulation"), options.missing),
        ("Scenarios", report.table("scenarios"), options.missing),
        ("Waiting list", report.table("waiting"), None),
    ):
        _sheet_of_table(book, title, table, missing)
    return book


def write_xlsx(report: Report, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook(report).save(path)
    return path
