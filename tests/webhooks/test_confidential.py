"""Confidential means undetectable, for subscribers too: a subscription without `include_confidential` (only an
admin sets it) receives, byte for byte, the same bodies whether or not a confidential near-miss was filed among
the other events; one with it receives the near-miss. The rule is asked again when each attempt is sent."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from incidents.models import ActionItem, Cause, Environment, Incident, WebhookDelivery
from incidents.policies import viewer_for_user
from incidents.services import (
    action_item_complete,
    action_item_create,
    incident_create,
    incident_update,
    near_miss_report,
)
from incidents.services import webhooks as webhook_services
from incidents.services.chat import chat_overdue_announce
from incidents.services.reports import report_generate
from incidents.weeks import Week
from tests.webhooks.conftest import deliver_all

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 18, 7, 30, tzinfo=dt.UTC)  # a Wednesday morning, frozen for every run
TODAY = NOW.date()


class ActionItemIds:
    """Action items take random ids, so that an item's id tells nothing of the items made before it. Two runs of
    the scenario are compared byte for byte, so here the ids are counted from the same start in each run, and the
    confidential near-miss's items count on a counter of their own (`apart`), as independent of the others as
    random ids are."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.public, self.confidential = itertools.count(1), itertools.count(10**9)
        self.current = self.public

    def next(self) -> int:
        return next(self.current)

    @contextlib.contextmanager
    def apart(self) -> Iterator[None]:
        self.current = self.confidential
        try:
            yield
        finally:
            self.current = self.public


@pytest.fixture
def deterministic_action_item_ids(monkeypatch) -> ActionItemIds:
    ids = ActionItemIds()
    monkeypatch.setattr(ActionItem._meta.get_field("id"), "_get_default", ids.next)
    return ids


@pytest.fixture
def streams(subscribe, lead, admin_user, team, other_team, receiver):
    """The subscriptions compared: the team's lead-made one, an organisation one without confidential items, and
    a control that includes them (an admin's)."""
    subscribe(lead, team, "/team")
    subscribe(admin_user, None, "/organisation")
    subscribe(admin_user, team, "/control", include_confidential=True)
    return receiver


def _public_events(reporter, lead, team, prod) -> list:
    """The ordinary week of a team, through the services every door uses."""
    staging = Environment.objects.get(slug="staging")
    actor = viewer_for_user(lead)
    state = {}

    def file_incident():
        state["incident"] = incident_create(
            actor=actor, team=team, kind=Incident.Kind.INCIDENT, title="Checkout 502s", reporter=lead,
            severity="sev2", environment=prod, status=Incident.Status.IN_REVIEW,
            started_at=NOW - dt.timedelta(days=1),
        ).obj  # fmt: skip

    def file_near_miss():
        near_miss_report(reporter=reporter, team=team, title="Migration nearly locked orders", summary="Review.",
                         environment=staging, caught_by=Incident.CaughtBy.CODE_REVIEW)  # fmt: skip

    def add_action_items():
        for title, due in (("Add a canary", TODAY - dt.timedelta(days=1)), ("Alert on 502s", TODAY)):
            state[title] = action_item_create(actor=actor, incident=state["incident"], title=title,
                                              due_date=due).obj  # fmt: skip

    def close_one():
        action_item_complete(actor=actor, action_item=state["Alert on 502s"])

    def publish():
        incident = state["incident"]
        incident_update(actor=actor, incident=incident, expected_version=incident.version,
                        changes={"status": Incident.Status.PUBLISHED})  # fmt: skip

    def daily_job():
        chat_overdue_announce(today=TODAY)

    def reports():
        report_generate(week=Week.containing(TODAY), team=team)
        report_generate(week=Week.containing(TODAY), team=None)

    return [file_incident, file_near_miss, add_action_items, close_one, publish, daily_job, reports]


def _file_confidential(case, reporter, lead, admin_user, team, other_team, prod) -> None:
    """The near-miss as its reporter files it (an admin for the other team), with its action items."""
    own = case["team"] == "own"
    filing = near_miss_report(
        reporter=reporter if own else admin_user, team=team if own else other_team,
        title="Token nearly pushed to a public repo", summary="A hook stopped it.", environment=prod,
        caught_by=Incident.CaughtBy.AUTOMATED_CHECK, causes=list(Cause.objects.filter(slug__in=case["causes"])),
        confidential=True, severity="sev2",
    )  # fmt: skip
    actor = viewer_for_user(lead if own else admin_user)
    for step in case["action_items"]:
        item = action_item_create(
            actor=actor, incident=filing.incident, title="Rotate the token",
            team={"none": None, "own": team, "other": other_team}[step["team"]],
            due_date=TODAY - dt.timedelta(days=1) if step["overdue"] else TODAY + dt.timedelta(days=7),
        ).obj  # fmt: skip
        if step["done"]:
            action_item_complete(actor=actor, action_item=item)


def _run(receiver, steps, confidential) -> dict[str, list[tuple[str, bytes]]]:
    """Every body each subscription receives (with its timestamp header), in order; nothing is kept."""
    receiver.requests.clear()
    with time_machine.travel(NOW, tick=False), transaction.atomic():
        for index, step in enumerate(steps):
            if confidential is not None and index == confidential[0]:
                confidential[1]()
            step()
        deliver_all()
        transaction.set_rollback(True)
    return {path: [(r.headers["webhook-timestamp"], r.raw) for r in receiver.at(path)]
            for path in ("/team", "/organisation", "/control")}  # fmt: skip


CASES = st.fixed_dictionaries(
    {
        "at": st.integers(0, 6),  # before which of the week's events it is filed
        "team": st.sampled_from(["own", "other"]),
        "causes": st.lists(st.sampled_from(["secret-handling", "missing-check"]), unique=True, max_size=2),
        "action_items": st.lists(
            st.fixed_dictionaries(
                {
                    "team": st.sampled_from(["none", "own", "other"]),
                    "overdue": st.booleans(),
                    "done": st.booleans(),
                }
            ),
            max_size=2,
        ),
    }
)


@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(case=CASES)
@example(case={"at": 2, "team": "own", "causes": ["secret-handling"],
               "action_items": [{"team": "own", "overdue": True, "done": False},
                                {"team": "other", "overdue": True, "done": True}]})  # fmt: skip
@example(case={"at": 0, "team": "other", "causes": [],
               "action_items": [{"team": "own", "overdue": True, "done": False}]})  # fmt: skip
def test_a_confidential_near_miss_changes_nothing_other_subscribers_receive(
    case, streams, deterministic_action_item_ids, reporter, lead, admin_user, team, other_team, prod
):
    steps = _public_events(reporter, lead, team, prod)
    deterministic_action_item_ids.restart()
    without = _run(streams, steps, None)
    deterministic_action_item_ids.restart()

    def file_it() -> None:
        with deterministic_action_item_ids.apart():
            _file_confidential(case, reporter, lead, admin_user, team, other_team, prod)

    with_it = _run(streams, steps, (case["at"], file_it))
    assert without["/team"] and without["/organisation"]
    assert with_it["/team"] == without["/team"], "the team's subscription can tell"
    assert with_it["/organisation"] == without["/organisation"], "the organisation's subscription can tell"
    # The check can fail: the control, which includes the team's confidential near-misses, hears of its own.
    if case["team"] == "own":
        assert len(with_it["/control"]) > len(without["/control"])
        assert b"CNM-1" in b"".join(body for _, body in with_it["/control"])


def test_only_an_admin_lets_a_subscription_receive_confidential_near_misses(client, lead, team, receiver):
    with pytest.raises(PermissionDenied, match="Only an admin"):
        webhook_services.webhook_subscription_create(actor=viewer_for_user(lead), team=team, name="x",
                                                     url=receiver.url("/x"), include_confidential=True)  # fmt: skip
    client.force_login(lead)
    page = client.get(f"/teams/{team.slug}/webhooks/")
    assert "include_confidential" not in page.content.decode()
    client.post(f"/teams/{team.slug}/webhooks/", {"name": "Bot", "url": receiver.url("/bot"),
                                                  "include_confidential": "on"})  # fmt: skip
    assert [s.include_confidential for s in team.webhook_subscriptions.all()] == [False]


def test_a_subscription_that_may_no_longer_see_an_item_is_skipped_when_it_is_sent(
    subscribe, admin_user, lead, reporter, team, prod, receiver
):
    control = subscribe(admin_user, team, "/control", include_confidential=True)
    near_miss_report(reporter=reporter, team=team, title="Secret in a log line", summary="Caught.",
                     environment=prod, caught_by=Incident.CaughtBy.LUCK, confidential=True)  # fmt: skip
    assert control.deliveries.count() == 2  # created and published, queued for the control only
    webhook_services.webhook_subscription_update(actor=viewer_for_user(admin_user), subscription=control,
                                                 changes={"include_confidential": False})  # fmt: skip
    deliver_all()
    assert receiver.requests == []
    assert set(control.deliveries.values_list("status", flat=True)) == {WebhookDelivery.Status.SKIPPED}


def test_an_action_item_moved_to_another_team_before_it_is_sent_is_skipped(subscribe, lead, admin_user, team,
                                                                           other_team, receiver):  # fmt: skip
    subscribe(lead, team, "/team")
    admin = viewer_for_user(admin_user)
    theirs = incident_create(actor=admin, team=other_team, kind=Incident.Kind.INCIDENT, title="Theirs").obj
    item = action_item_create(actor=admin, incident=theirs, title="Fix the shared queue", team=team).obj
    from incidents.services import action_item_update

    action_item_update(actor=admin, action_item=item, changes={"team": None})
    deliver_all()
    assert receiver.at("/team") == []
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.SKIPPED


def test_an_opened_confidential_near_miss_is_announced_to_those_who_could_not_see_it(
    subscribe, admin_user, lead, reporter, team, prod, receiver
):
    plain = subscribe(lead, team, "/plain")
    reader = subscribe(admin_user, team, "/reader", include_confidential=True)
    secret = near_miss_report(reporter=reporter, team=team, title="Secret in a log line", summary="Caught.",
                              environment=prod, caught_by=Incident.CaughtBy.LUCK, confidential=True).incident  # fmt: skip
    assert (plain.deliveries.count(), reader.deliveries.count()) == (0, 2)

    opened = incident_update(actor=viewer_for_user(admin_user), incident=secret, expected_version=secret.version,
                             changes={"confidential": False}).obj  # fmt: skip

    assert sorted(plain.deliveries.values_list("event_type", flat=True)) == [
        "incident.created", "postmortem.published",
    ]  # fmt: skip
    assert reader.deliveries.count() == 2  # it heard of it when it was filed
    deliver_all()
    (created,) = [body for body in receiver.payloads("/plain") if body["type"] == "incident.created"]
    assert created["data"]["reference"] == opened.reference and opened.reference.startswith("NM-")
