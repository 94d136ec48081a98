"""Benchmark: how long the ``flowcap`` command takes to start (issue 13, row 1).

Run: ``python benchmarks/bench_cli_startup.py [--runs N]``.
Each row is a whole process, timed from start to exit: ``flowcap --help``, ``flowcap measures
--help``, and ``flowcap measures`` on a folder that does not exist (the error comes after the
command has imported what it needs: the time a real command pays before any work), beside the
anchor ``python -c pass`` (the interpreter alone) in the same run. The table gives the median
of N runs (after one warm-up run each), the ratio to the anchor, and the goal: ``flowcap
--help`` under 0.5 s. Not part of CI.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS = 0.5


def flowcap_command() -> list[str]:
    """The installed ``flowcap`` script beside this interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("flowcap")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "flowcap.cli.main"]


def median_seconds(args: list[str], runs: int, ok: tuple[int, ...] = (0,)) -> float:
    """The median wall-clock seconds of ``runs`` runs of ``args``, after one warm-up run."""
    times = []
    for attempt in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(args, capture_output=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode not in ok:
            raise SystemExit(f"{' '.join(args)} exited {done.returncode}: {done.stderr[-500:]!r}")
        if attempt:
            times.append(elapsed)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="Timed runs per row (median).")
    options = parser.parse_args(argv)
    flowcap = flowcap_command()
    missing = str(Path(tempfile.mkdtemp()) / "no-such-service")
    os.environ.setdefault("FLOWCAP_KEY_FILE", str(Path(tempfile.mkdtemp()) / "key"))
    rows = [
        ("python -c pass (anchor)", [sys.executable, "-c", "pass"], (0,)),
        ("flowcap --help", [*flowcap, "--help"], (0,)),
        ("flowcap measures --help", [*flowcap, "measures", "--help"], (0,)),
        ("flowcap measures MISSING (imports, then error)", [*flowcap, "measures", missing], (1,)),
    ]
    results = [(label, median_seconds(args, options.runs, ok)) for label, args, ok in rows]
    anchor = results[0][1]
    print(f"{options.runs} runs each, median wall-clock seconds of the whole process")
    print(f"| {'what':<47} | {'seconds':>7} | {'× anchor':>8} |")
    print(f"|{'-' * 49}|{'-' * 8}:|{'-' * 9}:|")
    for label, seconds in results:
        print(f"| {label:<47} | {seconds:>7.3f} | {seconds / anchor:>8.1f} |")
    help_seconds = results[1][1]
    verdict = "met" if help_seconds < GOAL_SECONDS else "NOT met"
    print(f"goal: flowcap --help under {GOAL_SECONDS} s: {verdict} ({help_seconds:.3f} s)")


if __name__ == "__main__":
    main()
