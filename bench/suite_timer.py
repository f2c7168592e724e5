"""`make time-tests`: time the test suite as a whole, as `make test` runs it (docs/testing.md).

    python -m bench.suite_timer [--runs 1] [--workers auto] [--baseline tests/test_models.py] [-- PYTEST ARGS]

Each run starts pytest in a subprocess, first on the baseline (one small test file: what start-up, the workers
and the test databases cost by themselves), then on the whole suite, taking turns so that a noisy moment hits both
alike. Printed for each: wall time, user+sys CPU time of pytest and every process it waited for, the number of
tests; for the suite also the mean per test, the 15 slowest tests and the ratio to the baseline. Numbers only:
nothing is asserted about them; the exit status is pytest's (a failing test fails the timing run).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess  # nosec B404 - runs this checkout's pytest with fixed arguments
import sys
import tempfile
import time
import xml.etree.ElementTree as ET  # nosec B405 - parses the JUnit file pytest just wrote
from dataclasses import dataclass, field
from pathlib import Path

from bench.timing import Figure

ROOT = Path(__file__).resolve().parent.parent
SLOWEST = 15


@dataclass
class Run:
    wall: float
    cpu: float  # user + sys of pytest and its workers
    status: int
    tests: int = 0
    skipped: int = 0
    durations: dict[str, float] = field(default_factory=dict)  # test id -> setup + call + teardown, seconds


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="How many times to run each (default 1).")
    parser.add_argument("--workers", default=os.environ.get("TEST_WORKERS", "auto"), help="pytest-xdist's -n.")
    parser.add_argument("--baseline", default="tests/test_models.py", help="The small file timed as a baseline.")
    parser.add_argument("pytest_args", nargs="*", help="More pytest arguments for the suite run (after --).")
    return parser.parse_args(argv)


def _junit(path: Path) -> tuple[int, int, dict[str, float]]:
    root = ET.parse(path).getroot()  # noqa: S314 - our own pytest's output
    durations: dict[str, float] = {}
    skipped = 0
    for case in root.iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"  # e.g. tests.test_models::test_x
        durations[name] = float(case.get("time") or 0)
        skipped += case.find("skipped") is not None
    return len(durations), skipped, durations


def run_pytest(args: list[str], *, workers: str) -> Run:
    """One pytest run in a subprocess; its wall and CPU time, and what its JUnit report says."""
    with tempfile.TemporaryDirectory(prefix="suite-timer-") as folder:
        report = Path(folder) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", workers,
                   f"--junitxml={report}", "-o", "junit_duration_report=total", *args]  # fmt: skip
        env = {**os.environ, "DEBUG": os.environ.get("DEBUG", "true")}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.monotonic()
        finished = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=False)  # noqa: S603
        wall = time.monotonic() - began
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        run = Run(wall=wall, cpu=cpu, status=finished.returncode)
        if report.exists():
            run.tests, run.skipped, run.durations = _junit(report)
        return run


def _figure(values: list[float]) -> str:
    figure = Figure(values)
    if len(values) == 1:
        return f"{figure.median:.1f} s"
    return f"{figure.median:.1f} s (min {figure.low:.1f}, max {figure.high:.1f})"


def report(baseline: list[Run], suite: list[Run]) -> list[str]:
    """The printed summary, one line per figure."""
    tests = suite[-1].tests
    walls, cpus = [run.wall for run in suite], [run.cpu for run in suite]
    base_walls, base_cpus = [run.wall for run in baseline], [run.cpu for run in baseline]
    lines = [
        f"baseline ({baseline[-1].tests} tests): wall {_figure(base_walls)}, user+sys {_figure(base_cpus)}",
        f"suite ({tests} tests, {suite[-1].skipped} skipped): wall {_figure(walls)}, user+sys {_figure(cpus)}",
    ]
    if tests:
        per_test = Figure(walls).median / tests
        own = sum(suite[-1].durations.values()) / tests
        lines.append(f"per test: {per_test * 1000:.0f} ms of wall time; {own * 1000:.0f} ms of its own (mean)")
    ratios = [run.wall / base.wall for run, base in zip(suite, baseline, strict=True) if base.wall]
    if ratios:
        lines.append(f"suite / baseline wall: {_figure(ratios).replace(' s', '')}")
    lines.append(f"the {SLOWEST} slowest tests (last run, setup + call + teardown):")
    slowest = sorted(suite[-1].durations.items(), key=lambda item: item[1], reverse=True)[:SLOWEST]
    lines += [f"  {seconds:6.2f} s  {name}" for name, seconds in slowest]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    baseline: list[Run] = []
    suite: list[Run] = []
    for number in range(1, args.runs + 1):
        print(f"run {number} of {args.runs}: baseline {args.baseline}, then the suite", flush=True)
        baseline.append(run_pytest([args.baseline], workers=args.workers))
        suite.append(run_pytest(args.pytest_args, workers=args.workers))
    print("\n".join(report(baseline, suite)))
    failed = [run.status for run in baseline + suite if run.status != 0]
    if failed:
        print(f"pytest failed (exit {failed[0]}): the timings above include failing tests")
    return failed[0] if failed else 0


if __name__ == "__main__":
    sys.exit(main())
