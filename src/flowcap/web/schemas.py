"""The API's bodies: the documents of :mod:`flowcap.documents`, one set of models for the
command line's ``--json`` and the API (kept here under the names the routes have used).

``Problem`` here is the API's one-sentence error (``{"detail": ...}``,
:class:`flowcap.documents.Detail`); a file's problem by row and column is
:class:`flowcap.documents.Problem`.
"""

from __future__ import annotations

from flowcap.documents import (
    DailyDay,
    DailyFigures,
    DailyProblems,
    Detail,
    Invalid,
    JobAccepted,
    JobRequest,
    JobStatus,
    MeasuresDay,
    PlanRecord,
    Problems,
    Refused,
    ServiceSummary,
    SimulationDocument,
    Token,
)

Problem = Detail

__all__ = [
    "DailyDay",
    "DailyFigures",
    "DailyProblems",
    "Detail",
    "Invalid",
    "JobAccepted",
    "JobRequest",
    "JobStatus",
    "MeasuresDay",
    "PlanRecord",
    "Problem",
    "Problems",
    "Refused",
    "ServiceSummary",
    "SimulationDocument",
    "Token",
]
