"""The benchmark steps, in order: load the recent tenth, measure, load the rest, measure P1-P6, explain, P7."""

from __future__ import annotations

import gc
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench import api_throughput, bulk_load, handsql, hostile_input, load
from bench.timing import Figure, measure, measure_interleaved, ratio_figure
from incidents.models import Environment, Incident, Team
from incidents.selectors.reports import report_data
from incidents.services import api_token_create
from incidents.services.reports import report_generate

# P5: three filters and a full-text query, as a person would narrow the list down.
LIST_QUERY = "team=payments&environment=prod&severity=sev2&q=certificate"
PAGE_URL = f"/incidents/?{LIST_QUERY}"
API_URL = f"/api/v1/incidents/?{LIST_QUERY}"
VIEWER = "chen"  # a member of Payments, not an admin: the visibility rules apply


@dataclass
class Row:
    name: str
    what: str
    figure: str
    target: str
    met: bool | None


@dataclass
class Report:
    total: int
    smoke: bool
    command: str = ""
    machine: str = ""
    seconds: float = 0.0
    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    explains: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, str]] = field(default_factory=list)  # (title, Markdown table)
    broken: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        verdict = {True: "met", False: "NOT MET", None: "-"}[row.met]
        print(f"{row.name}: {row.figure}  [target {row.target}: {verdict}]", flush=True)

    def note(self, text: str) -> None:
        self.details.append(text)
        print(f"  {text}", flush=True)

    def markdown(self) -> str:
        lines = [
            "# Benchmark results",
            "",
            f"- Command: `{self.command}` (`make bench`), {self.total:,} incidents"
            + (" (smoke run: few repeats, timings not meaningful)" if self.smoke else ""),
            f"- Machine: {self.machine}",
            f"- Wall time: {self.seconds / 60:.1f} min",
            "- Figures are medians with (min, max) over the repeats, after a warm-up. Ratios compare runs taken"
            " in turn in the same process, so a noisy machine slows both sides.",
            "",
            "| | what | result | target | met |",
            "|---|---|---|---|---|",
        ]
        for row in self.rows:
            met = {True: "yes", False: "**no**", None: "-"}[row.met]
            lines.append(f"| {row.name} | {row.what} | {row.figure} | {row.target} | {met} |")
        if self.broken:
            lines += ["", "## Broken", "", *[f"- {item}" for item in self.broken]]
        lines += ["", "## Details", "", *[f"- {item}" for item in self.details]]
        for title, table in self.tables:
            lines += ["", f"## {title}", "", table]
        lines += ["", "## Query plans (EXPLAIN (ANALYZE, BUFFERS))", ""]
        for title, plan in self.explains:
            lines += [f"### {title}", "", "```", plan.rstrip(), "```", ""]
        return "\n".join(lines) + "\n"


def _reset_database() -> None:
    """Drop and re-create the bench database (its name must start with "bench")."""
    name = settings.DATABASES["default"]["NAME"]
    if not name.startswith("bench"):
        raise SystemExit(f"bench: refusing to drop database {name!r}; use one whose name starts with 'bench'.")
    params = settings.DATABASES["default"]
    connection.close()
    with psycopg.connect(
        dbname="postgres",
        host=params.get("HOST") or None,
        port=params.get("PORT") or None,
        user=params.get("USER") or None,
        password=params.get("PASSWORD") or None,
        autocommit=True,
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    data = json.loads(json.dumps(data, default=str))
    data.pop("generated_at", None)
    return data


def _differences(left: Any, right: Any, path: str = "") -> list[str]:
    if isinstance(left, dict) and isinstance(right, dict):
        found = []
        for key in sorted(set(left) | set(right)):
            found += _differences(left.get(key, "<missing>"), right.get(key, "<missing>"), f"{path}.{key}")
        return found
    return [] if left == right else [f"{path}: report_data {left!r} != hand SQL {right!r}"]


class Suite:
    def __init__(self, *, total: int, smoke: bool, port: int) -> None:
        self.total, self.smoke, self.port = total, smoke, port
        self.report = Report(total=total, smoke=smoke)
        # The smoke run (CI) checks that every step still works, not its timings: fewer and shorter repeats.
        self.repeats = 3 if smoke else 9
        self.requests = 10 if smoke else 60
        self.bursts, self.burst_seconds = (1, 1.0) if smoke else (3, 10.0)  # P4, per side
        self.batch = 200 if smoke else 20_000  # P6
        self.week = load.report_week()
        self.small: dict[str, Any] = {}

    # --- steps ----------------------------------------------------------------------------------------

    def run(self) -> None:
        _reset_database()
        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)  # as a production deploy does
        recent = load.load_recent(self.total)
        load.analyze()
        self.report.note(f"Loaded the recent {recent.incidents:,} incidents in {recent.seconds:.0f} s.")
        self._prepare_viewers()
        self.small["report"] = measure(self._report_orm, repeats=self.repeats)
        self.small["queries"] = self._query_counts()
        print(f"at {recent.incidents:,}: report_data {self.small['report'].ms()}", flush=True)
        older = load.load_older(self.total)
        began = time.monotonic()
        load.analyze()
        rate = (recent.incidents + older.incidents) / (recent.seconds + older.seconds)
        self.report.note(
            f"Loaded the older {older.incidents:,} incidents in {older.seconds:.0f} s (VACUUM ANALYZE"
            f" {time.monotonic() - began:.0f} s); {rate:,.0f} incidents/s with their links overall."
        )
        # P7 comes last: the rows it posts (titled "P7 hostile input") must not be in what the others measure.
        for step in (self.p1_p2_p3, self.p5, self.p4, self.p6, self.explain, self.p7):
            try:
                step()
            except Exception as error:  # a broken step is reported, and the others still run
                self.report.broken.append(f"{step.__name__}: {type(error).__name__}: {error}")
                print(f"BROKEN {step.__name__}: {error!r}", flush=True)

    def _prepare_viewers(self) -> None:
        User = get_user_model()
        self.viewer = User.objects.get(username=VIEWER)
        _, self.token = api_token_create(name="bench", team=Team.objects.get(slug="payments"), scope="write")

    def _report_orm(self) -> dict[str, Any]:
        return report_data(week=self.week, team=None)

    def _report_hand(self) -> dict[str, Any]:
        return handsql.report_numbers(week=self.week)

    # --- P1, P2, P3 -----------------------------------------------------------------------------------

    def p1_p2_p3(self) -> None:
        figures = measure_interleaved({"orm": self._report_orm, "hand": self._report_hand}, repeats=self.repeats)
        orm, hand = figures["orm"], figures["hand"]
        differences = _differences(_comparable(self._report_orm()), _comparable(self._report_hand()))
        if differences:
            self.report.broken.append("P1 numbers differ: " + "; ".join(differences[:10]))
        ratio, low, high = ratio_figure(orm, hand)
        self.report.add(Row(
            "P1", "weekly report aggregation (report_data, organisation) / hand-written SQL, same numbers",
            f"{ratio:.2f} (min {low:.2f}, max {high:.2f}); {orm.ms()} vs {hand.ms()}; numbers "
            + ("equal" if not differences else "DIFFER"),
            "<= 1.5, numbers equal", ratio <= 1.5 and not differences,
        ))  # fmt: skip
        generate = measure(lambda: report_generate(week=self.week, team=None), repeats=self.repeats)
        ratio2 = generate.median / hand.median
        self.report.add(Row(
            "P2", "report generated and stored end to end (report_generate) / P1's hand-written SQL",
            f"{ratio2:.2f} (min {generate.low / hand.median:.2f}, max {generate.high / hand.median:.2f});"
            f" {generate.ms()}", "<= 2", ratio2 <= 2,
        ))  # fmt: skip
        small: Figure = self.small["report"]
        ratio3 = orm.median / small.median
        self.report.add(Row(
            "P3", f"report_data at {self.total:,} / at {load.recent_share(self.total):,} incidents",
            f"{ratio3:.2f} (min {orm.low / small.median:.2f}, max {orm.high / small.median:.2f});"
            f" {orm.ms()} vs {small.ms()}", "<= 1.5", ratio3 <= 1.5,
        ))  # fmt: skip

    # --- P5 -------------------------------------------------------------------------------------------

    def _client(self) -> Client:
        client = Client()
        client.force_login(self.viewer)
        return client

    def _get(self, client: Client, url: str, **headers: str) -> None:
        response = client.get(url, **headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")

    def _query_counts(self) -> dict[str, int]:
        client, counts = self._client(), {}
        api = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}
        for name, url, headers in (("page", PAGE_URL, {}), ("api", API_URL, api)):
            with CaptureQueriesContext(connection) as queries:
                self._get(client, url, **headers)
            counts[name] = len(queries.captured_queries)
        return counts

    def p5(self) -> None:
        """Measured in this process with the web server's garbage-collection settings (config/wsgi.py)."""
        saved = gc.get_threshold()
        from config.wsgi import tune_garbage_collection  # importing it tunes this process, as in the server

        tune_garbage_collection()
        try:
            self._p5()
        finally:
            gc.unfreeze()
            gc.set_threshold(*saved)

    def _p5(self) -> None:
        client = self._client()
        api = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}
        counts = self._query_counts()
        small = self.small["queries"]
        for name, label, url, headers in (
            ("page", "incident list page", PAGE_URL, {}),
            ("api", "API incident list", API_URL, api),
        ):
            figure = measure(lambda url=url, headers=headers: self._get(client, url, **headers),
                             warmup=3, repeats=self.requests)  # fmt: skip
            p95 = figure.p95()
            same = counts[name] == small[name]
            self.report.add(Row(
                "P5", f"{label} at {self.total:,} rows, 3 filters + q (`{url}`)",
                f"p95 {p95 * 1000:.0f} ms (median {figure.median * 1000:.0f}, min {figure.low * 1000:.0f}, max"
                f" {figure.high * 1000:.0f}); {counts[name]} queries (at"
                f" {load.recent_share(self.total):,}: {small[name]})",
                "p95 <= 150 ms, query count independent of rows", p95 <= 0.150 and same,
            ))  # fmt: skip

    # --- P4 -------------------------------------------------------------------------------------------

    def p4(self) -> None:
        log = Path(settings.VAR_DIR) / "bench-gunicorn.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        connection.close()  # the server's workers get their own connections
        server = api_throughput.start_server(port=self.port, log=log)
        sides = {
            "baseline": (api_throughput.BASELINE_PATH, "bench-baseline"),
            "api": (api_throughput.API_PATH, "bench-api"),
        }
        bursts: dict[str, list[api_throughput.Burst]] = {name: [] for name in sides}
        try:
            for path, source in sides.values():  # warm-up
                api_throughput.burst(
                    port=self.port, path=path, source=f"{source}-warmup", token=self.token,
                    seconds=min(1.0, self.burst_seconds),
                )  # fmt: skip
            for _ in range(self.bursts):
                for name, (path, source) in sides.items():
                    bursts[name].append(
                        api_throughput.burst(
                            port=self.port, path=path, source=source, token=self.token, seconds=self.burst_seconds
                        )
                    )
        finally:
            api_throughput.stop_server(server)
        self._p4_result(sides, bursts)

    def _p4_result(self, sides: dict[str, tuple[str, str]], bursts: dict[str, list[api_throughput.Burst]]) -> None:
        rates = {name: Figure([burst.rate for burst in items]) for name, items in bursts.items()}
        errors = sum(burst.errors for items in bursts.values() for burst in items)
        for name, (_, source) in sides.items():
            ok = sum(burst.ok for burst in bursts[name])
            rows = Incident.objects.filter(source=source).count()
            self.report.note(f"P4 {name}: {ok} responses 2xx, {rows} rows with source {source!r}.")
            if rows != ok:
                self.report.broken.append(f"P4 {name}: {rows} rows stored but {ok} 2xx responses")
        if errors:
            samples = [s for items in bursts.values() for burst in items for s in burst.error_samples][:5]
            self.report.broken.append(f"P4: {errors} requests failed, e.g. {samples}")
        ratio = rates["api"].median / rates["baseline"].median
        pairs = [a.rate / b.rate for a, b in zip(bursts["api"], bursts["baseline"], strict=True)]
        self.report.add(Row(
            "P4", f"POST /api/v1/incidents/ under gunicorn, {api_throughput.CLIENTS} clients / minimal insert view",
            f"{ratio:.2f} (min {min(pairs):.2f}, max {max(pairs):.2f}); {rates['api'].median:.0f} vs"
            f" {rates['baseline'].median:.0f} requests/s; {errors} errors",
            ">= 0.35, zero errors, rows = 2xx", ratio >= 0.35 and not errors,
        ))  # fmt: skip

    # --- P6 -------------------------------------------------------------------------------------------

    def p6(self) -> None:
        batch = self.batch
        now = load.load_now()
        bulk_load.loader_and_copy(incidents=batch // 4, now=now, seed=90)  # warm-up
        results = [bulk_load.loader_and_copy(incidents=batch, now=now, seed=91 + n) for n in range(3)]
        loader = Figure([rows / seconds for rows, seconds, _ in results])
        copy = Figure([rows / seconds for rows, _, seconds in results])
        ratio = loader.median / copy.median
        pairs = [copy_s / load_s for _, load_s, copy_s in results]
        self.report.add(Row(
            "P6", f"bulk loader (seed_demo, {batch:,} incidents and their rows) / COPY of the same rows",
            f"{ratio:.2f} (min {min(pairs):.2f}, max {max(pairs):.2f}); {loader.median:,.0f} vs"
            f" {copy.median:,.0f} rows/s ({results[0][0]:,} rows a batch)",
            ">= 0.25", ratio >= 0.25,
        ))  # fmt: skip

    # --- P7 -------------------------------------------------------------------------------------------

    def p7(self) -> None:
        """Hostile text through every text door (bench/hostile_input.py): cost at 2N / at N."""
        doors, largest = hostile_input.doors_for(
            client=self._client(), token=self.token, team_id=Team.objects.get(slug="payments").pk,
            environment_id=Environment.objects.get(slug="staging").pk, smoke=self.smoke,
        )  # fmt: skip
        repeats = 1 if self.smoke else hostile_input.FULL_REPEATS
        result = hostile_input.with_server_gc(
            lambda: hostile_input.run(doors, repeats=repeats, largest=largest, smoke=self.smoke)
        )
        for name, what, figure, target, met in hostile_input.rows(result):
            self.report.add(Row(name, what, figure, target, met))
        self.report.tables.append(
            ("P7: cost at 2N / at N, per family and door", hostile_input.markdown_table(result))
        )
        self.report.broken += result.broken

    # --- EXPLAIN --------------------------------------------------------------------------------------

    def explain(self) -> None:
        with CaptureQueriesContext(connection) as queries:
            self._report_orm()
        self._explain_slowest("report_data", queries.captured_queries, 4)
        client = self._client()
        for name, url, headers in (
            ("list page", PAGE_URL, {}),
            ("API list", API_URL, {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}),
        ):
            with CaptureQueriesContext(connection) as queries:
                self._get(client, url, **headers)
            self._explain_slowest(name, queries.captured_queries, 3)

    def _explain_slowest(self, label: str, captured: list[dict[str, str]], count: int) -> None:
        plans = []
        with connection.cursor() as cursor:
            for query in captured:
                sql = query["sql"]
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
                match = re.search(r"Execution Time: ([\d.]+) ms", plan)
                plans.append((float(match.group(1)) if match else 0.0, sql, plan))
        plans.sort(key=lambda item: -item[0])
        for milliseconds, sql, plan in plans[:count]:
            title = f"{label}: {milliseconds:.1f} ms"
            self.report.explains.append((title, f"{sql}\n\n{plan}"))
