"""Hindsight's benchmarks: `make bench` runs bench/run.py on PostgreSQL. Not tests: see tests/bench/."""
