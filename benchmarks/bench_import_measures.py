"""Benchmark: check, import and measure 1,000,000 referrals, against a bare pandas.read_csv.

Run: ``make bench`` (or ``python benchmarks/bench_import_measures.py [--referrals N]``).
Prints one row per phase with rows per second and the ratio to ``pandas.read_csv`` of the
same referrals file measured in the same run. Goal (issue 2): import + measures under 15 s
and within 10x the bare CSV read on a 2-core machine.

The data are seeded: a three-resource victim-support service over three years, with the
case-type mix of domain.md row 24 and multi-step cases (1M referrals -> about 2.4M pieces of
due work).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

SERVICE = {
    "name": "Benchmark hub",
    "region": "GB-ENG",
    "resources": {
        "triage": {"staff": 40, "minutes_per_day": 300},
        "idva": {"staff": 60, "minutes_per_day": 240},
        "caseworker": {"staff": 45, "minutes_per_day": 240},
    },
    "case_types": {
        "high_risk_domestic_abuse": {
            "priority": 1,
            "steps": [
                {"resource": "triage", "minutes": 30},
                {"resource": "idva", "minutes": 120, "after_days": 1},
                {"resource": "idva", "minutes": 60, "after_days": 7, "repeat": 8, "every_days": 7},
            ],
        },
        "sexual_violence": {
            "priority": 1,
            "steps": [
                {"resource": "triage", "minutes": 30},
                {
                    "resource": "caseworker",
                    "minutes": 90,
                    "after_days": 2,
                    "repeat": 4,
                    "every_days": 14,
                },
            ],
        },
        "violence": {
            "priority": 2,
            "steps": [
                {"resource": "triage", "minutes": 25},
                {"resource": "caseworker", "minutes": 60, "after_days": 3},
            ],
        },
        "burglary": {"priority": 3, "resource": "triage", "minutes": 25},
        "fraud": {"priority": 3, "resource": "triage", "minutes": 20},
        "other": {"priority": 3, "resource": "triage", "minutes": 20},
    },
}
MIX = {
    "high_risk_domestic_abuse": 0.10,
    "sexual_violence": 0.06,
    "violence": 0.28,
    "burglary": 0.16,
    "fraud": 0.08,
    "other": 0.32,
}


def write_folder(folder: Path, n: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    (folder / "service.yaml").write_text(yaml.safe_dump(SERVICE, sort_keys=False))
    working = pd.bdate_range("2022-01-03", "2024-12-31")
    dates = np.sort(rng.choice(working.to_numpy(), n))
    frame = pd.DataFrame(
        {
            "case_id": [f"BM-{i:08d}" for i in range(n)],
            "referral_date": pd.DatetimeIndex(dates).strftime("%Y-%m-%d"),
            "case_type": rng.choice(list(MIX), n, p=list(MIX.values())),
            "source": rng.choice(["police", "partner", "self"], n, p=[0.9, 0.07, 0.03]),
        }
    )
    frame.to_csv(folder / "referrals.csv", index=False)


def timed(label: str, func, results: list) -> object:
    start = time.perf_counter()
    value = func()
    results.append((label, time.perf_counter() - start))
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=1_000_000)
    args = parser.parse_args()

    from flowcap import import_folder
    from flowcap import open as open_service
    from flowcap.io import read_service_folder

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "service"
        folder.mkdir()
        os.environ.setdefault("FLOWCAP_KEY_FILE", str(Path(tmp) / "key"))
        os.environ.pop("FLOWCAP_DATABASE_URL", None)
        write_folder(folder, args.referrals)
        size = (folder / "referrals.csv").stat().st_size
        n = args.referrals
        results: list[tuple[str, float]] = []
        timed("anchor: pandas.read_csv", lambda: pd.read_csv(folder / "referrals.csv"), results)
        timed(
            "anchor: read_csv(dtype=str), as flowcap",
            lambda: pd.read_csv(folder / "referrals.csv", dtype=str, keep_default_na=False),
            results,
        )
        timed("check folder (validate)", lambda: read_service_folder(folder), results)
        timed("import (check + pseudonymise + insert)", lambda: import_folder(folder), results)
        measures = timed(
            "measures (incl. re-import check)",
            lambda: open_service(folder).measures,
            results,
        )
        anchor, anchor_str = results[0][1], results[1][1]
        total = results[3][1] + results[4][1]

        print(
            f"\n{n:,} referrals, {size / 1e6:.1f} MB CSV, {len(measures.table):,} measure rows "
            f"({measures.table['resource'].nunique()} resources)"
        )
        print(f"{'phase':<42}{'seconds':>9}{'rows/s':>14}{'x read_csv':>12}")
        for label, seconds in results + [("import + measures (goal < 15 s, < 10x)", total)]:
            print(f"{label:<42}{seconds:>9.2f}{n / seconds:>14,.0f}{seconds / anchor:>12.1f}")
        print(
            f"\nunder 15 s: {'yes' if total < 15 else 'NO'} ({total:.1f} s); within 10x the bare "
            f"read: {'yes' if total / anchor < 10 else 'NO'} "
            f"({total / anchor:.0f}x pandas.read_csv, "
            f"{total / anchor_str:.0f}x read_csv with text columns)"
        )


if __name__ == "__main__":
    main()
