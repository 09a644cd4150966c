"""Webhook signature checks for Shopify and Stripe, over the raw body, in constant time.

Both follow reference/connectors.md §1.7 and §1.8 exactly (behaviour 13 in §4): Shopify sends
base64(HMAC-SHA256(app secret, body)) in `X-Shopify-Hmac-Sha256`; Stripe sends
`Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>]` with hex(HMAC-SHA256(endpoint secret, "t.body"))
and a 300 s tolerance. During a rotation both the current and the previous secret are accepted.
Secrets come only from environment variables and are never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum

STRIPE_TOLERANCE_SECONDS = 300
"""stripe-python's `DEFAULT_TOLERANCE` (reference/connectors.md §1.8 step 5)."""
STRIPE_TIMESTAMP = re.compile(r"[0-9]{1,12}")
"""Unix seconds in ASCII digits; twelve digits reach the year 33658, far past any real header."""
MAX_SIGNATURE_HEADER_CHARS = 2048
"""A real header holds t= and one or two v1= hex digests (under 200 characters)."""


class WebhookProvider(StrEnum):
    """A platform whose signed webhooks the service accepts."""

    SHOPIFY = "shopify"
    STRIPE = "stripe"
    LINKEDIN = "linkedin"


class SignatureRejected(Exception):
    """A delivery failed verification; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def webhook_secrets(
    provider: WebhookProvider, workspace_id: str, environ: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """The current and previous signing secrets of a workspace's provider, whichever are set.

    Read from `OWNLAY_<PROVIDER>_WEBHOOK_SECRET__<WORKSPACE>` and
    `OWNLAY_<PROVIDER>_WEBHOOK_SECRET_PREVIOUS__<WORKSPACE>`, where the workspace is upper-cased
    with '-' as '_' (so `acme-outdoor` reads `..._SECRET__ACME_OUTDOOR`).
    """
    env = os.environ if environ is None else environ
    suffix = re.sub(r"[^A-Z0-9]", "_", workspace_id.upper())
    prefix = f"OWNLAY_{provider.value.upper()}_WEBHOOK_SECRET"
    names = (f"{prefix}__{suffix}", f"{prefix}_PREVIOUS__{suffix}")
    return tuple(env[name] for name in names if env.get(name))


def verify_shopify(raw_body: bytes, signature_header: str | None, secrets: Sequence[str]) -> None:
    """Return if `signature_header` is the base64 HMAC of `raw_body` under any of `secrets`."""
    if not signature_header:
        raise SignatureRejected("X-Shopify-Hmac-Sha256 header is missing", status=401)
    try:
        presented = base64.b64decode(signature_header.strip(), validate=True)
    except ValueError as error:
        raise SignatureRejected("X-Shopify-Hmac-Sha256 is not base64", status=401) from error
    for secret in secrets:
        expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
        if hmac.compare_digest(expected, presented):
            return
    raise SignatureRejected("X-Shopify-Hmac-Sha256 does not match the body", status=401)


def verify_stripe(
    raw_body: bytes,
    signature_header: str | None,
    secrets: Sequence[str],
    *,
    now: datetime,
    tolerance_seconds: int = STRIPE_TOLERANCE_SECONDS,
) -> None:
    """Return if any `v1` signature matches "t.body" under any secret and `t` is recent enough.

    A timestamp more than the tolerance away from `now`, in either direction, is refused: an old
    one is a replay, and stripe-python's past-only check would let a forged future one live long.
    """
    if not signature_header:
        raise SignatureRejected("Stripe-Signature header is missing", status=401)
    timestamp, signatures = _parse_stripe_header(signature_header)
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise SignatureRejected(
            f"Stripe-Signature timestamp is more than {tolerance_seconds} s from the server clock",
            status=400,
        )
    signed_payload = str(timestamp).encode() + b"." + raw_body
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed_payload, hashlib.sha256).hexdigest().encode()
        if any(hmac.compare_digest(expected, candidate) for candidate in signatures):
            return
    raise SignatureRejected("no v1 signature in Stripe-Signature matches the body", status=401)


def _parse_stripe_header(header: str) -> tuple[int, list[bytes]]:
    """The `t=` seconds and the `v1=` signatures as bytes: `hmac.compare_digest` raises
    TypeError on a str holding non-ASCII characters (`v1=²³`), but compares any bytes."""
    if len(header) > MAX_SIGNATURE_HEADER_CHARS:
        raise SignatureRejected(
            f"Stripe-Signature is longer than {MAX_SIGNATURE_HEADER_CHARS} characters", status=400
        )
    timestamp: int | None = None
    signatures: list[bytes] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            # ASCII digits only: str.isdigit() accepts '²' and int() of 5,000 digits raises.
            if not STRIPE_TIMESTAMP.fullmatch(value):
                raise SignatureRejected(
                    "Stripe-Signature t= must be Unix seconds (at most 12 ASCII digits)",
                    status=400,
                )
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value.encode())
    if timestamp is None or not signatures:
        raise SignatureRejected("Stripe-Signature needs t=<unix seconds> and v1=<hex>", status=400)
    return timestamp, signatures
