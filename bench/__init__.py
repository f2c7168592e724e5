"""Hindsight's benchmarks (issue 7): `make bench` runs bench/run.py on PostgreSQL. Not tests: see tests/bench/."""
