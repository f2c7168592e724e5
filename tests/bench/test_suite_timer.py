"""The suite timer (bench/suite_timer.py, `make time-tests`) reads pytest's JUnit report and prints its figures.

No timing is asserted: the figures here are made up, and only what is printed from them is checked.
"""

from __future__ import annotations

from bench.suite_timer import Run, _junit, report

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3">
<testcase classname="tests.test_models" name="test_fast" time="0.010" />
<testcase classname="tests.test_models.TestClass" name="test_slow" time="2.500" />
<testcase classname="tests.test_models" name="test_skipped" time="0.001"><skipped message="no" /></testcase>
</testsuite></testsuites>
"""


def test_junit_report_gives_the_count_the_skips_and_each_tests_time(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    tests, skipped, durations = _junit(path)
    assert (tests, skipped) == (3, 1)
    assert durations["tests.test_models.TestClass::test_slow"] == 2.5


def test_report_prints_wall_cpu_count_mean_ratio_and_the_slowest_first():
    baseline = [Run(wall=5.0, cpu=6.0, status=0, tests=10)]
    durations = {f"tests.test_x::test_{n}": n / 10 for n in range(40)}
    suite = [Run(wall=50.0, cpu=90.0, status=0, tests=40, skipped=2, durations=durations)]
    lines = report(baseline, suite)
    assert lines[0] == "baseline (10 tests): wall 5.0 s, user+sys 6.0 s"
    assert lines[1] == "suite (40 tests, 2 skipped): wall 50.0 s, user+sys 90.0 s"
    assert lines[2] == "per test: 1250 ms of wall time; 1950 ms of its own (mean)"
    assert lines[3] == "suite / baseline wall: 10.0"
    slowest = lines[5:]
    assert len(slowest) == 15
    assert slowest[0].endswith("tests.test_x::test_39") and slowest[-1].endswith("tests.test_x::test_25")
