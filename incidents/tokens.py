"""Secrets and their hashes: API tokens, receipt codes, webhook signatures and request fingerprints.

A leaf module: it imports the standard library only, so that authentication, selectors and services can all
use it without importing one another. What is stored is always a hash, never the secret itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_TOKEN_PREFIX = "hs_"  # noqa: S105 - a marker, not a secret


def api_token_new() -> str:
    """A fresh API token: the marker prefix and 256 random bits."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def api_token_hash(raw: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is as strong as a slow hash here.
    return hashlib.sha256(raw.encode()).hexdigest()


def receipt_code_new() -> str:
    """The code a confidential reporter keeps to look at their near-miss later (192 random bits)."""
    return secrets.token_urlsafe(24)


def receipt_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def github_signature(secret: str, body: bytes) -> str:
    """X-Hub-Signature-256 as GitHub computes it: the HMAC-SHA256 of the body with the hook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request_fingerprint(method: str, path: str, canonical_body: str) -> str:
    """What makes two requests "the same" for an Idempotency-Key: method, path and the canonical body."""
    return hashlib.sha256(f"{method} {path}\n{canonical_body}".encode()).hexdigest()
