"""Redaction on ingest: every positive of the corpus is replaced, every negative is left exactly as it was."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError

from config.env import env_field_policies
from incidents.redaction import redact_fields, redact_text

POSITIVES = [
    ("Contact alice.smith+oncall@example.co.uk now", "email", "Contact [email] now"),
    ("mail ops@corp.example.com.", "email", "mail [email]."),
    ("call +33 6 12 34 56 78", "phone", "call [phone]"),
    ("call +1-202-555-0143 today", "phone", "call [phone] today"),
    ("call (202) 555-0143", "phone", "call [phone]"),
    ("call 202-555-0143 asap", "phone", "call [phone] asap"),
    ("tel 06 12 34 56 78", "phone", "tel [phone]"),
    ("tel 020 7946 0958", "phone", "tel [phone]"),
    ("+44 20 7946 0958", "phone", "[phone]"),
    ("host 10.0.0.12 down", "ip", "host [ip] down"),
    ("from 192.168.1.1:8080", "ip", "from [ip]:8080"),
    ("client 203.0.113.7, retry", "ip", "client [ip], retry"),
    ("subnet 10.20.0.0/16 blocked", "ip", "subnet [ip] blocked"),
    ("ipv6 2001:db8::1 failed", "ip", "ipv6 [ip] failed"),
    ("addr fe80::1ff:fe23:4567:890a%eth0 x", "ip", "addr [ip] x"),
    ("::1 loopback", "ip", "[ip] loopback"),
    ("card 4111 1111 1111 1111 charged", "card", "card [card] charged"),
    ("card 4111-1111-1111-1111", "card", "card [card]"),
    ("amex 378282246310005", "card", "amex [card]"),
    ("mc 5555555555554444", "card", "mc [card]"),
    ("key AKIAIOSFODNN7EXAMPLE leaked", "secret", "key [secret] leaked"),
    ("token ghp_16C7e42F292c6912E7710c838347Ae178B4a end", "secret", "token [secret] end"),
    (
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "secret",
        "[secret]",
    ),
    ("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "secret", "slack [secret]"),
    (
        "hook https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX ok",
        "secret",
        "hook [secret] ok",
    ),
    (
        "jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "secret",
        "jwt [secret]",
    ),
    ("Authorization: Bearer abcdef123456.secretvalue", "secret", "Authorization: Bearer [secret]"),
    (
        "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\nthen",
        "secret",
        "key:\n[secret]\nthen",
    ),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA (truncated paste", "secret", "[secret]"),
    (
        "db postgres://app:hunter2@db.internal:5432/app",
        "secret",
        "db postgres://app:[secret]@db.internal:5432/app",
    ),
    ("GET /login?user=bob&password=hunter2&x=1", "secret", "GET /login?user=bob&password=[secret]&x=1"),
    (
        "url https://api.example.com/v1?api_key=abc123def456",
        "secret",
        "url https://api.example.com/v1?api_key=[secret]",
    ),
    ("set password: S3cr3t!pass in env", "secret", "set password: [secret] in env"),
    ("export SECRET=abcdef123456", "secret", "export SECRET=[secret]"),
]

NEGATIVES = [
    "deployed version 1.2.3 to prod",
    "release v2.10.0-rc.1",
    "v1.2.3.4 shipped",
    "version 10.0.0.1 was tagged",
    "5.4.2.1-beta",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b",
    "short sha 3f78685",
    "digest sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    "at 2026-11-26T07:30:00Z",
    "at 2026-11-26 07:30:00+01:00",
    "12:30:45 logs",
    "time 10:15 to 11:45",
    "epoch 1700000000000",
    "epoch 1732609800",
    "took 1234567 ms",
    "error rate 99.95%",
    "port 8080",
    "issue #4512",
    "INC-42 and NM-7",
    "count 4,111,111",
    "price 1111 1111",
    "order 2026-000123",
    "ratio 3:2:1",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
    "p90 1234.5678",
    "build 20261126.3",
    "k8s pod web-7d9f8c6b5-x2x9z",
    "ssh user@ host",
    "password reset flow broke",
    "the token bucket throttled",
    "Bearer tokens expired",
    "size 1024x768",
    "2001 was a year",
    "deadbeef:cafe",
    "node: v20.20.2",
    "python 3.11.7",
    "ip address of the gateway",
    "see docs/README.md@main",
    "IPv4 range 256.300.1.1",
    "Java 17.0.15",
    "postgres://db.internal:5432/app",
    "already redacted: [email], [secret], password=[secret]",
]


@pytest.mark.parametrize(("text", "kind", "expected"), POSITIVES)
def test_every_positive_is_replaced_by_its_typed_placeholder(text, kind, expected):
    cleaned, found = redact_text(text)
    assert cleaned == expected
    assert found[kind] >= 1


@pytest.mark.parametrize("text", NEGATIVES)
def test_every_negative_is_left_untouched(text):
    assert redact_text(text) == (text, {})


def test_redacting_twice_changes_nothing_more():
    once, _ = redact_text(" ".join(text for text, _, _ in POSITIVES))
    assert redact_text(once) == (once, {})


def test_fields_follow_their_policy_and_report_what_was_found():
    result = redact_fields(
        {"title": "Mail bob@example.com", "summary": "host 10.0.0.1 and 10.0.0.2", "body": "bob@example.com"},
        policies={"body": "off"},
        default="redact",
    )
    assert result.values == {"title": "Mail [email]", "summary": "host [ip] and [ip]", "body": "bob@example.com"}
    assert result.found == {"title": {"email": 1}, "summary": {"ip": 2}}
    assert result.summary() == "title: 1 email; summary: 2 ip"


def test_reject_policy_names_every_field_and_what_it_holds():
    with pytest.raises(ValidationError) as excinfo:
        redact_fields(
            {"title": "key AKIAIOSFODNN7EXAMPLE", "summary": "fine", "trigger": "call 202-555-0143"},
            policies={}, default="reject",
        )  # fmt: skip
    errors = excinfo.value.message_dict
    assert set(errors) == {"title", "trigger"}
    assert "a secret" in errors["title"][0] and "a phone number" in errors["trigger"][0]


def test_field_policies_setting_is_strict():
    assert env_field_policies("P", environ={"P": "title=reject, timeline.text=off"}) == {
        "title": "reject", "timeline.text": "off",
    }  # fmt: skip
    for raw in ("title", "title=maybe", "=redact", "Title=redact"):
        with pytest.raises(ImproperlyConfigured, match=r"P=.* is not valid"):
            env_field_policies("P", environ={"P": raw})
