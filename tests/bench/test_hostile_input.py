"""P7's harness (bench/hostile_input.py) on tiny texts: it reaches every door and computes its ratios.

No timing is asserted here; P7's figures live in the benchmark's results.
"""

from __future__ import annotations

import pytest
from django.test import Client

from bench import hostile_input
from bench.hostile_input import Cost, Result
from bench.suite import Report
from incidents.models import ApiToken, Environment, Incident
from incidents.services import api_token_create

pytestmark = pytest.mark.django_db
FEW = {"[": "[", "a.": "a.", "table rows |a|": "|a|\n"}


@pytest.fixture
def doors(team, reporter):
    _, token = api_token_create(name="bench-p7", team=team, scope=ApiToken.Scope.WRITE)
    client = Client()
    client.force_login(reporter)
    staging = Environment.objects.get(slug="staging")
    requests = hostile_input.request_doors(
        client=client, token=token, team_id=team.pk, environment_id=staging.pk, body_size=300, text_size=100
    )
    return hostile_input.function_doors(size=300) + requests, requests


def test_the_ratio_is_the_cost_at_twice_the_size_over_the_cost_at_the_size():
    assert Cost("render_markdown", "[", 1000, at_n=0.5, at_2n=1.1).ratio == pytest.approx(2.2)


def test_p7_measures_every_family_through_every_door(doors):
    measured, largest = doors
    result = hostile_input.run(measured, repeats=1, families=FEW, largest=largest)

    assert result.broken == []
    assert len(result.costs) == len(measured) * len(FEW)
    assert {cost.door for cost in result.costs} == {door.name for door in measured}
    assert all(cost.at_n > 0 and cost.at_2n > 0 for cost in result.costs)
    assert [name for name, *_ in result.largest] == [door.name for door in largest]
    # The API, the preview and the near-miss form stored or answered for each text they were given.
    assert Incident.objects.filter(title=hostile_input.TITLE, source="bench-p7").exists()
    assert Incident.objects.filter(title=hostile_input.TITLE, kind="near_miss").exists()


def test_p7_reports_a_row_per_door_and_one_against_the_worker_timeout():
    result = Result(
        costs=[Cost("render_markdown", "[", 10, 1.0, 2.0), Cost("render_markdown", "|a|\n", 10, 1.0, 3.0)],
        largest=[("POST /incidents/preview/", "[", 200_000, 4.0)],
    )
    rows = hostile_input.rows(result)
    assert [(name, target, met) for name, _, _, target, met in rows] == [
        ("P7", "<= 2.3", False), ("P7", "< 30 s (gunicorn default)", True),
    ]  # fmt: skip
    assert "worst 3.00 (`\\|a\\|\\n`" in rows[0][2]  # the worst family, readable inside a Markdown table
    table = hostile_input.markdown_table(result)
    assert table.splitlines()[0] == "| family | render_markdown |"
    assert "| `[` | 2.00 |" in table


def test_a_door_that_answers_an_error_is_reported_broken(doors, team, reporter):
    client = Client()
    client.force_login(reporter)
    refused = hostile_input.request_doors(
        client=client, token="not-a-token", team_id=team.pk, environment_id=0, body_size=50, text_size=50
    )
    result = hostile_input.run(refused[:1], repeats=1, families={"[": "["})
    assert result.costs == [] and "answered 401, not 201" in result.broken[0]


def test_the_benchmark_results_carry_p7s_table():
    report = Report(total=10, smoke=True)
    report.tables.append(
        ("P7: cost at 2N / at N, per family and door", "| family | x |\n|---|---|\n| `[` | 2.01 |")
    )
    assert "## P7: cost at 2N / at N, per family and door\n\n| family | x |" in report.markdown()
