"""Accounts: log-in and log-out only. There is no self-service password reset or change (admins set passwords)."""

from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, reverse

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # tests/factories.py UserFactory

REMOVED = [
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/MQ/set-password/",
    "/accounts/reset/done/",
    "/accounts/password_change/",
    "/accounts/password_change/done/",
]


@pytest.mark.parametrize("url", REMOVED)
def test_password_reset_and_change_pages_do_not_exist(client, reporter, url):
    assert client.get(url).status_code == 404
    assert client.post(url, {"email": reporter.email}).status_code == 404
    client.force_login(reporter)
    assert client.get(url).status_code == 404


def test_a_reset_request_with_a_forged_host_sends_no_mail(client, reporter, mailoutbox):
    response = client.post("/accounts/password_reset/", {"email": reporter.email}, HTTP_HOST="localhost:31337")
    assert response.status_code in (400, 404)
    assert mailoutbox == []


@pytest.mark.parametrize("name", ["password_reset", "password_change", "admin_password_reset"])
def test_no_reset_or_change_route_is_named(name):
    with pytest.raises(NoReverseMatch):
        reverse(name)


def test_the_login_pages_offer_no_reset_link(client):
    for url in (reverse("login"), reverse("admin:login")):
        page = client.get(url).content.decode()
        assert "password_reset" not in page and "Forgotten your password" not in page, url


def test_a_member_logs_in_with_their_password_and_out_again(client, reporter):
    home = reverse("incidents:home")
    response = client.post(reverse("login"), {"username": "rita", "password": PASSWORD, "next": home})
    assert response.status_code == 302 and response["Location"] == home
    assert b"Log out" in client.get(home).content

    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get(home)["Location"].startswith(reverse("login"))


def test_a_wrong_password_is_a_form_error(client, reporter):
    response = client.post(reverse("login"), {"username": "rita", "password": "not it"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
