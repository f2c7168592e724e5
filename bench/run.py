"""`make bench`: load N incidents into a fresh PostgreSQL database and run P1-P7 (see README "Benchmarks").

    python -m bench.run [--incidents 1000000] [--smoke] [--results bench/RESULTS.md]

DATABASE_URL must name a PostgreSQL database whose name starts with "bench"; it is dropped and re-created.
Timings never fail the run; a broken benchmark does (an exception, numbers that differ, API errors, rows
that do not match the 2xx responses), with exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import secrets
import sys
import time
from pathlib import Path

from bench.environment import BENCH_ENVIRONMENT


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--smoke", action="store_true", help="Fewer repeats; for CI, which checks no timing.")
    parser.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    parser.add_argument("--port", type=int, default=8642)
    return parser.parse_args()


def _environment() -> None:
    for name, value in BENCH_ENVIRONMENT.items():
        os.environ[name] = value
    os.environ.setdefault("SECRET_KEY", "bench-" + secrets.token_urlsafe(40))
    os.environ.setdefault("HINDSIGHT_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var" / "bench"))
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("bench: set DATABASE_URL to a PostgreSQL database named bench... (see README 'Benchmarks').")


def main() -> int:
    args = _arguments()
    _environment()
    import django

    django.setup()
    logging.getLogger("axes").setLevel(logging.WARNING)  # every force_login would be logged
    from bench.suite import Suite

    suite = Suite(total=args.incidents, smoke=args.smoke, port=args.port)
    began = time.monotonic()
    try:
        suite.run()
    finally:
        suite.report.command = " ".join(["python -m bench.run", *sys.argv[1:]])
        suite.report.machine = _machine()
        suite.report.seconds = time.monotonic() - began
        results = Path(args.results)
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text(suite.report.markdown())
        print(f"\nResults written to {args.results}")
    if suite.report.broken:
        print("\nBROKEN:\n  " + "\n  ".join(suite.report.broken))
        return 1
    return 0


def _machine() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT version(), current_setting('shared_buffers'), current_setting('work_mem'), current_setting('jit')"
        )
        version, buffers, work_mem, jit = cursor.fetchone()
    memory = ""
    try:
        kilobytes = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kilobytes / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}){memory}; Python "
        f"{platform.python_version()}; {version.split(' on ')[0]} (shared_buffers {buffers}; Hindsight's sessions:"
        f" work_mem {work_mem}, jit {jit})"
    )


if __name__ == "__main__":
    sys.exit(main())
