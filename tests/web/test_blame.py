"""Blame-language hints: configured phrases and people as the subject of a failure, each with a system cause."""

from __future__ import annotations

import pytest
from django.urls import reverse

from incidents.blame import BlamePhrase, blame_hints, parse_phrases


def test_default_phrases_are_found_once_each_with_a_suggested_cause():
    text = "Human error. The on-call should have known; they forgot to check. Again human  error."
    hints = blame_hints(
        text, phrases=parse_phrases(["human error=missing-check", "should have known", "forgot to"])
    )
    assert [(h.found, h.cause_slug) for h in hints] == [
        ("Human error", "missing-check"),
        ("should have known", "missing-check"),
        ("forgot to", "missing-check"),
    ]


def test_phrases_match_whole_words_only():
    phrases = [BlamePhrase("careless", "missing-check")]
    assert blame_hints("The carelessly named flag", phrases=phrases) == []
    assert len(blame_hints("A careless rollout", phrases=phrases)) == 1


def test_a_person_named_as_the_subject_of_a_failure_is_pointed_out():
    hints = blame_hints("Then Alice forgot the flag and @bob didn't check.", names=["alice", "bob"], phrases=[])
    assert [h.found for h in hints] == ["Alice forgot", "@bob didn't"]
    assert blame_hints("Alice added a canary check.", names=["alice"], phrases=[]) == []
    assert blame_hints("Al broke it.", names=["al"], phrases=[]) == []  # too short to be sure it is a name


def test_the_phrase_list_comes_from_the_setting(settings, db, client, reporter):
    settings.BLAME_PHRASES = ["cowboy deploy=manual-change"]
    client.force_login(reporter)
    page = client.post(reverse("incidents:preview"), {"body": "A cowboy deploy and human error."}).content.decode()
    assert "<q>cowboy deploy</q>" in page and "Manual change" in page
    assert "<q>human error</q>" not in page


def test_parse_ignores_empty_items_and_defaults_the_cause():
    assert parse_phrases([" Forgot To ", "=x", "sloppy=Config-Drift"]) == [
        BlamePhrase("forgot to", "missing-check"),
        BlamePhrase("sloppy", "config-drift"),
    ]


@pytest.mark.django_db
def test_hints_appear_beside_the_editor(login, reporter, team):
    from tests.factories import IncidentFactory

    incident = IncidentFactory(team=team, status="draft", body="The engineer was careless.")
    page = login(reporter).get(reverse("incidents:incident_edit", args=[incident.reference])).content.decode()
    assert "<q>careless</q>" in page and "Blameless writing" in page
