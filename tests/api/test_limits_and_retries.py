"""Safe retries with Idempotency-Key, write throttling and the body size limit."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from incidents.api import idempotency
from incidents.models import IdempotencyRecord, Incident

pytestmark = pytest.mark.django_db

URL = "/api/v1/incidents/"
ITEM = {"kind": "incident", "title": "Checkout 500s"}


def test_idempotency_key_replays_the_first_response(writer):
    first = writer.post(URL, ITEM, HTTP_IDEMPOTENCY_KEY="key-1")
    retry = writer.post(URL, ITEM, HTTP_IDEMPOTENCY_KEY="key-1")
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Incident.objects.count() == 1


def test_same_key_with_a_different_body_gets_422(writer):
    writer.post(URL, ITEM, HTTP_IDEMPOTENCY_KEY="key-1")
    response = writer.post(URL, {**ITEM, "title": "Something else"}, HTTP_IDEMPOTENCY_KEY="key-1")
    assert response.status_code == 422
    assert Incident.objects.count() == 1


def test_retry_while_the_first_request_runs_gets_409(writer):
    # The first request with this key and body has claimed it and is still running.
    running = SimpleNamespace(method="POST", path=URL, data=ITEM)
    IdempotencyRecord.objects.create(
        token=writer.token, key="key-1", request_fingerprint=idempotency._fingerprint(running)
    )
    response = writer.post(URL, ITEM, HTTP_IDEMPOTENCY_KEY="key-1")
    assert response.status_code == 409
    assert not Incident.objects.exists()


def test_bad_input_releases_the_key_for_a_corrected_retry(writer):
    bad = writer.post(URL, {"kind": "incident"}, HTTP_IDEMPOTENCY_KEY="key-1")
    assert bad.status_code == 400
    fixed = writer.post(URL, ITEM, HTTP_IDEMPOTENCY_KEY="key-1")
    assert fixed.status_code == 201


def test_keys_belong_to_their_token(writer, other_writer):
    writer.post(URL, ITEM, HTTP_IDEMPOTENCY_KEY="shared")
    assert other_writer.post(URL, ITEM, HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    assert Incident.objects.count() == 2


def test_malformed_idempotency_key_names_the_header(writer):
    response = writer.post(URL, ITEM, HTTP_IDEMPOTENCY_KEY="x" * 300)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/releases/", {"service": "checkout-api", "version": "1.0"}),
        ("/api/v1/deployments/", {"service": "checkout-api", "version": "1.0", "environment": "prod",
                                  "status": "succeeded"}),
    ],
)  # fmt: skip
def test_every_create_honours_the_key(writer, service, url, body):
    first = writer.post(url, body, HTTP_IDEMPOTENCY_KEY="k")
    retry = writer.post(url, body, HTTP_IDEMPOTENCY_KEY="k")
    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()


def test_writes_are_throttled_with_retry_after(writer, settings):
    settings.API_WRITE_THROTTLE_RATE = "2/min"
    statuses = [writer.post(URL, {**ITEM, "title": f"n{n}"}).status_code for n in range(3)]
    assert statuses == [201, 201, 429]
    response = writer.post(URL, ITEM)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert writer.get(URL).status_code == 200  # reads are not throttled
    assert Incident.objects.count() == 2


def test_throttle_counts_per_token(writer, other_writer, settings):
    settings.API_WRITE_THROTTLE_RATE = "1/min"
    assert writer.post(URL, ITEM).status_code == 201
    assert other_writer.post(URL, ITEM).status_code == 201


def test_oversize_body_gets_413_with_a_json_body(writer, settings):
    settings.API_MAX_BODY_BYTES = 2048
    response = writer.post(URL, {**ITEM, "summary": "x" * 4000})
    assert response.status_code == 413
    assert "2048" in response.json()["detail"]
    assert not Incident.objects.exists()


def test_oversize_body_without_content_length_gets_413(writer, settings):
    import io

    from incidents.api.exceptions import PayloadTooLarge
    from incidents.api.parsers import LimitedJSONParser

    settings.API_MAX_BODY_BYTES = 1024
    with pytest.raises(PayloadTooLarge):
        LimitedJSONParser().parse(io.BytesIO(b'{"a": "' + b"x" * 2000 + b'"}'))


def test_non_json_body_gets_415(writer):
    response = writer.client.post(URL, "kind=incident", content_type="text/plain")
    assert response.status_code == 415


def test_null_character_in_a_query_parameter_is_400(reader):
    response = reader.get(URL, {"environment": "pr\x00od"})
    assert response.status_code == 400
    assert "environment" in response.json()
