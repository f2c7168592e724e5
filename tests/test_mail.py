"""Mail headers: stored text cannot add a header or break a send, whatever door it came through."""

from __future__ import annotations

import pytest

from incidents.mail import header_text
from incidents.models import Incident, OutboxMessage
from incidents.outbox import outbox_process
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def test_a_title_with_a_header_injection_sends_one_clean_mail_to_the_leads_only(team, lead, mailoutbox):
    incident = IncidentFactory(team=team)
    # Straight into the database, as the admin, an import or the shell could store it past the form checks.
    Incident.objects.filter(pk=incident.pk).update(title="Disk full\r\nBcc: x@y\r\n\r\nbody")
    message = OutboxMessage.objects.create(handler="incident_filed", payload={"incident_id": incident.pk})

    assert outbox_process(message_id=message.pk) is True

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.subject == f"[Hindsight] {incident.reference} filed for Payments: Disk full Bcc: x@y body"
    assert mail.to == [lead.email] and mail.bcc == [] and mail.recipients() == [lead.email]
    headers = mail.message().as_string().split("\n\n", 1)[0]
    assert not any(line.lower().startswith("bcc") for line in headers.splitlines())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\r\nBcc: x@y", "a Bcc: x@y"),
        ("tab\there\x00nul\x1bescape", "tab here nul escape"),
        ("line\u2028separator\u2029paragraph\x85next", "line separator paragraph next"),
        ("right-to-left \u202eoverride", "right-to-left override"),
        ("  many   spaces  ", "many spaces"),
        ("Éclair café ☕ unchanged", "Éclair café ☕ unchanged"),
    ],
)
def test_header_text_is_one_line_without_control_characters(text, expected):
    assert header_text(text, 200) == expected


def test_header_text_is_cut_to_its_length_with_an_ellipsis():
    assert header_text("word " * 100, 20) == "word word word word…"
    assert len(header_text("x" * 500, 200)) == 200
