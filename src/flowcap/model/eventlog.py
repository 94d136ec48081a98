"""Where a service's event log is and what its events mean (``event_log:`` in service.yaml).

The column names say how to read the log (:func:`flowcap.io.eventlog.read_event_log`);
``activities`` says which events are work, at which resource and for how many minutes, so
that a real log becomes referrals (each case on the day of its first event) and sessions (each
mapped event) that the rest of flowcap measures, forecasts and plans.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flowcap.model.limits import MAX_STEP_MINUTES

_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def inside_folder(file: str) -> bool:
    """Whether ``file`` names a path inside the folder it is taken relative to: not absolute
    (``/data/x.csv``, ``C:\\x.csv``, ``\\\\server\\x.csv``), not from a home folder
    (``~/x.csv``) and with no ``..`` step, on POSIX or Windows spelling."""
    posix, windows = PurePosixPath(file), PureWindowsPath(file)
    return not (
        posix.is_absolute()
        or windows.drive
        or windows.root
        or file.startswith("~")
        or ".." in posix.parts
        or ".." in windows.parts
    )


def check_zone(value: str | None) -> str | None:
    """``value`` if it is a known IANA time zone (or None); ValueError otherwise."""
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name such as Europe/Rome)"
        ) from None
    return value


class ActivityWork(BaseModel):
    """The work one event of an activity stands for: ``minutes`` of ``resource``'s time."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    resource: str
    minutes: float = Field(
        gt=0, le=MAX_STEP_MINUTES, description="Minutes of the resource's time per event."
    )


class EventLogConfig(BaseModel):
    """Where an event log is and which of its columns mean what (``event_log:`` in service.yaml).

    The column names apply to CSV and XLSX and are matched ignoring case and surrounding
    spaces. XES has fixed keys: the trace's and event's ``concept:name``,
    ``time:timestamp``, ``org:resource`` and ``lifecycle:transition``; an XES log has no case
    type column.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    #: The log file. In service.yaml, a path relative to the service folder and inside it
    #: (:func:`inside_folder`); a log given on the command line may be anywhere.
    file: str
    case_id: str = "case_id"
    activity: str = "activity"
    timestamp: str = "timestamp"
    resource: str | None = None
    case_type: str | None = None
    lifecycle: str | None = None
    #: The log's IANA time zone; by default the service's. Offsets in the file are converted.
    timezone: str | None = None
    #: CSV delimiter (one character, or ``tab``); sniffed from the header when not given.
    delimiter: str | None = None
    #: Activity name -> the work one of its events stands for. Events of other activities
    #: are not work (they still appear on the process map).
    activities: dict[str, ActivityWork] = Field(default_factory=dict)
    #: The case type of cases whose log gives none (needed when the service has several).
    default_case_type: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return check_zone(value)

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = _DELIMITER_NAMES.get(value.lower(), value)
        if len(value) != 1 or value in '"\r\n':
            raise ValueError(f"the delimiter must be one character (or 'tab'), not {value!r}")
        return value

    @field_validator("file", "case_id", "activity", "timestamp")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    def path_in(self, folder: Path) -> Path:
        """The log's path: :attr:`file` taken relative to ``folder`` unless it is absolute."""
        path = Path(self.file).expanduser()
        return path if path.is_absolute() else Path(folder) / path
