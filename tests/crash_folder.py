"""A large service folder in two versions, for killing ``flowcap import`` part-way.

Version 1 is what the store holds before the import under test; version 2 is the next month's
export: a tenth of the referrals and sessions dropped and as many new ones added, the waiting
list moved on, a roster that version 1 lacked and a changed ``service.yaml`` (one more IDVA).
So an import of version 2 over version 1 replaces every data table and saves a new settings
version: a kill can land in any of those writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import WORKED_SERVICE, write_folder

#: Referral dates fall in these two years (calendar days from the first).
FIRST_DAY = np.datetime64("2023-01-02")
DAYS = 730


def _cases(start: int, count: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """``count`` case ids from number ``start`` on, and a referral date for each."""
    ids = [f"VS-{number:07d}" for number in range(start, start + count)]
    return ids, (FIRST_DAY + rng.integers(0, DAYS, count)).astype(str)


def write_version(folder: Path, referrals: int, version: int) -> Path:
    """Write version 1 or 2 of the service folder into ``folder``: ``referrals`` rows in
    referrals.csv, half as many in sessions.csv (10 to 90 minutes each), 200 waiting from
    before the first referral.

    Version 2 shifts the window of case ids by a tenth (old cases leave the export, new ones
    arrive), so most rows are shared and every table still changes. Files a version lacks
    are removed, so one folder can be rewritten from one version to the other.
    """
    rng = np.random.default_rng(version)
    ids, dates = _cases((version - 1) * (referrals // 10), referrals, rng)
    sessions = referrals // 2
    minutes = rng.integers(10, 91, sessions)
    # The opening backlog waits from before the first referral date, as the reader requires.
    waiting_since = (FIRST_DAY - 1 - rng.integers(0, 90, 200)).astype(str)
    service = {**WORKED_SERVICE, "resources": {"idva": {**WORKED_SERVICE["resources"]["idva"]}}}
    service["resources"]["idva"]["staff"] = 1 + version
    files = {
        "sessions": "date,case_id,resource,minutes\n"
        + "".join(
            f"{d},{c},idva,{m}\n"
            for c, d, m in zip(ids[:sessions], dates[:sessions], minutes, strict=True)
        ),
        "waiting": "case_id,case_type,waiting_since\n"
        + "".join(f"W{version}-{i:03d},advocacy,{day}\n" for i, day in enumerate(waiting_since)),
    }
    if version == 2:
        files["roster"] = "date,resource,staff\n" + "".join(
            f"{day},idva,{3 + i % 2}\n"
            for i, day in enumerate(np.arange(FIRST_DAY, FIRST_DAY + DAYS).astype(str))
        )
    elif (folder / "roster.csv").exists():
        (folder / "roster.csv").unlink()
    referral_rows = "".join(f"{c},{d},advocacy\n" for c, d in zip(ids, dates, strict=True))
    return write_folder(
        folder, service, referrals="case_id,referral_date,case_type\n" + referral_rows, **files
    )


def erased_case(referrals: int) -> str:
    """A case with a referral and a session in both versions: the one erased before the
    import under test, which must keep it out again."""
    return f"VS-{referrals // 2 - 1:07d}"
