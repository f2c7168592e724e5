"""Outbound safety: a subscription's URL cannot make Hindsight reach what only its own network reaches. Refused
when it is saved (a form error naming the field) and again before every attempt; the connection goes to the
address that was checked."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from incidents import egress
from incidents.models import WebhookDelivery, WebhookSubscription
from incidents.policies import viewer_for_user
from incidents.services import webhooks as webhook_services
from tests.webhooks.conftest import deliver_all

pytestmark = pytest.mark.django_db

NOT_PUBLIC = "which is not a public address"
REFUSED = [
    ("http://hooks.example.com/in", "Use an https:// URL."),
    ("https://user:secret@hooks.example.com/in", "no user name or password"),
    ("https://127.0.0.1/hook", NOT_PUBLIC),
    ("https://localhost/hook", NOT_PUBLIC),
    ("https://[::1]/hook", NOT_PUBLIC),
    ("https://10.1.2.3/hook", NOT_PUBLIC),
    ("https://172.16.5.4/hook", NOT_PUBLIC),
    ("https://192.168.0.10:8443/hook", NOT_PUBLIC),
    ("https://169.254.169.254/latest/meta-data/", NOT_PUBLIC),  # the cloud's metadata service
    ("https://[fe80::1]/hook", NOT_PUBLIC),
    ("https://[::ffff:127.0.0.1]/hook", NOT_PUBLIC),  # IPv4-mapped IPv6
    ("https://2130706433/hook", NOT_PUBLIC),  # 127.0.0.1 written as one number resolves to loopback too
    ("https://0.0.0.0/hook", NOT_PUBLIC),
    ("https://100.64.0.1/hook", NOT_PUBLIC),  # shared address space
    ("https://224.0.0.1/hook", NOT_PUBLIC),  # multicast
    ("https://hooks.example.com:99999/in", "port"),
    ("https://hooks.example.com:80x/in", "port"),
    ("https://hooks example.com/in", "no spaces"),
    ("ftp://hooks.example.com/in", "Give a full URL"),
    ("hooks.example.com/in", "Give a full URL"),
    ("https://93.184.215.14/" + "a" * 2000, "at most 2000 characters"),
    ("", "Give the URL"),
]


@pytest.fixture(autouse=True)
def _production_defaults(settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOWED_NETWORKS = []


@pytest.mark.parametrize(("url", "says"), REFUSED, ids=[url[:40] or "empty" for url, _ in REFUSED])
def test_a_url_that_may_not_be_reached_is_refused_when_it_is_saved(url, says, lead, team):
    with pytest.raises(Exception) as refused:
        webhook_services.webhook_subscription_create(actor=viewer_for_user(lead), team=team, name="x", url=url)
    assert "url" in refused.value.message_dict and says in refused.value.message_dict["url"][0]
    assert not WebhookSubscription.objects.exists()


def test_a_public_address_is_accepted():
    assert egress.check("https://93.184.215.14/hooks/in?x=1", allow_http=False, allowed=[]).path == "/hooks/in?x=1"


def test_the_page_names_the_url_field_and_saves_nothing(client, lead, team):
    client.force_login(lead)
    response = client.post(
        f"/teams/{team.slug}/webhooks/", {"name": "Metadata", "url": "https://169.254.169.254/"}
    )
    assert response.status_code == 400
    assert NOT_PUBLIC in " ".join(response.context["form"].errors["url"])
    assert not WebhookSubscription.objects.exists()


def test_a_network_allowed_by_the_setting_may_be_reached(settings, lead, team):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    made = webhook_services.webhook_subscription_create(
        actor=viewer_for_user(lead), team=team, name="pipeline", url="https://10.20.3.4/ingest"
    )
    assert made.url == "https://10.20.3.4/ingest"
    with pytest.raises(Exception, match="not a public address"):
        webhook_services.webhook_url_check("https://10.21.0.1/ingest")


def test_a_name_that_also_resolves_to_a_private_address_is_refused(monkeypatch):
    def resolves_to_both(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))]  # fmt: skip

    monkeypatch.setattr(socket, "getaddrinfo", resolves_to_both)
    with pytest.raises(egress.Refused, match="resolves to an address, which is not a public address") as refused:
        egress.check("https://hooks.example.com/in", allow_http=False, allowed=[])
    assert "10.0.0.5" not in str(refused.value)  # a name's private address is not told: no lookup of internal DNS


def test_a_lookup_that_hangs_is_given_up(monkeypatch):
    gate = threading.Event()

    def hangs(host, port, *args, **kwargs):
        gate.wait(5)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", hangs)
    began = time.monotonic()
    with pytest.raises(egress.Refused, match=r"did not resolve within 0\.2 s"):
        egress.resolve(egress.parse("https://slow.example.com/", allow_http=False), allowed=[], timeout=0.2)
    gate.set()
    assert time.monotonic() - began < 2


def test_an_address_no_longer_allowed_is_refused_before_the_attempt(subscribe, lead, team, receiver, settings):
    hook = subscribe(lead, team, "/hook")
    settings.WEBHOOK_ALLOWED_NETWORKS = []  # the loopback receiver is private again
    webhook_services.webhook_test_send(actor=viewer_for_user(lead), subscription=hook)
    deliver_all()
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PENDING  # a failed attempt, retried on the schedule
    assert delivery.last_error.startswith("refused: 127.0.0.1 resolves to 127.0.0.1")


def test_the_connection_goes_to_the_checked_address_and_keeps_the_name(subscribe, lead, team, receiver,
                                                                       monkeypatch):  # fmt: skip
    """A name is resolved once, checked, and that address is dialled: a second resolution (which a rebinding DNS
    server would answer with another address) never happens. The Host header keeps the name."""
    port = int(receiver.base.rsplit(":", 1)[1])
    hook = subscribe(lead, team, "/hook")
    WebhookSubscription.objects.filter(pk=hook.pk).update(url=f"http://hooks.example.test:{port}/hook")
    lookups = []

    def once_loopback_then_elsewhere(host, port, *args, **kwargs):
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "198.51.100.9"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", once_loopback_then_elsewhere)
    webhook_services.webhook_test_send(actor=viewer_for_user(lead), subscription=hook)
    deliver_all()
    (request,) = receiver.at("/hook")
    assert request.headers["host"] == f"hooks.example.test:{port}"
    assert lookups == ["hooks.example.test"] and request.problem == ""
