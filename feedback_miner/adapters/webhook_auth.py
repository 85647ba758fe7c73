"""Who may call the ticketing-tool webhooks: signature, shared-secret and timestamp checks.

* Zendesk signs every delivery: ``X-Zendesk-Webhook-Signature`` is
  ``base64(HMAC-SHA256(secret, timestamp + raw body))`` and the signed timestamp travels in
  ``X-Zendesk-Webhook-Signature-Timestamp`` (ISO 8601). A delivery whose timestamp is more than
  :data:`ZENDESK_TOLERANCE_S` from the server's clock is refused, so a captured delivery cannot be
  replayed later.
* Jira Cloud admin webhooks with a secret sign the body: ``X-Hub-Signature: sha256=<hex
  HMAC-SHA256(secret, raw body)>``. The body's own ``timestamp`` (epoch ms) is then signed too and
  must be within :data:`JIRA_TOLERANCE_S` (Jira retries failed deliveries for up to 30 minutes).
* Freshdesk cannot sign; it (and Jira Automation's "Send web request") sends a static shared secret
  in ``X-Webhook-Secret``. A static secret proves who sent a request but not when: a captured
  request can be resent until the secret is rotated. Replays still cannot roll a ticket back
  (older events never overwrite newer state), but use HTTPS and rotate the secret if one leaks.

Every comparison is constant-time. Errors are :class:`AuthError` (401), or :class:`ConfigError`
(503) when the tool's ``FM_<TOOL>_SECRET`` is not set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from datetime import UTC, datetime

from feedback_miner.errors import AuthError, ConfigError

__all__ = [
    "JIRA_TOLERANCE_S",
    "ZENDESK_TOLERANCE_S",
    "check_jira_timestamp",
    "hub_signature",
    "verify_jira",
    "verify_shared_secret",
    "verify_zendesk",
    "zendesk_signature",
]

ZENDESK_TOLERANCE_S = 300
JIRA_TOLERANCE_S = 3600


def _need(secret: str | None, tool: str) -> str:
    if not secret:
        raise ConfigError(f"the {tool} webhook is not configured: set FM_{tool.upper()}_SECRET on the server")
    return secret


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp + body)) — what Zendesk sends."""
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def hub_signature(secret: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256(secret, body) — what a Jira webhook with a secret sends."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _header_time(value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise AuthError("X-Zendesk-Webhook-Signature-Timestamp: not an ISO 8601 time") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _within(sent: datetime, now: datetime, tolerance_s: int, what: str) -> None:
    skew = (now - sent).total_seconds()
    if abs(skew) > tolerance_s:
        when = f"{skew:.0f} s old" if skew > 0 else f"{-skew:.0f} s in the future"
        raise AuthError(f"{what} is {when}; deliveries more than {tolerance_s} s from the server's clock are "
                        "refused (replay protection; check the server's clock)")


def verify_zendesk(secret: str | None, signature: str | None, timestamp: str | None, body: bytes, *,
                   now: datetime | None = None, tolerance_s: int = ZENDESK_TOLERANCE_S) -> datetime:
    """Check a Zendesk delivery's signature and timestamp; return the signed time."""
    key = _need(secret, "zendesk")
    if not signature or not timestamp:
        raise AuthError("missing X-Zendesk-Webhook-Signature or X-Zendesk-Webhook-Signature-Timestamp header")
    if not hmac.compare_digest(zendesk_signature(key, timestamp, body).encode(),
                               signature.strip().encode("utf-8", "replace")):
        raise AuthError("the Zendesk webhook signature does not match this body and timestamp")
    sent = _header_time(timestamp)
    _within(sent, _now(now), tolerance_s, "X-Zendesk-Webhook-Signature-Timestamp")
    return sent


def verify_shared_secret(secret: str | None, given: str | None, tool: str) -> None:
    """Raise :class:`AuthError` unless ``given`` equals the configured secret (constant time)."""
    key = _need(secret, tool)
    if not given:
        raise AuthError(f"missing X-Webhook-Secret header for the {tool} webhook")
    if not hmac.compare_digest(key.encode(), given.encode("utf-8", "surrogatepass")):
        raise AuthError(f"the {tool} webhook secret does not match")


def verify_jira(secret: str | None, hub_sig: str | None, shared: str | None, body: bytes) -> bool:
    """Check a Jira delivery: the HMAC ``X-Hub-Signature`` if present, else the shared secret.

    Returns True when the body was HMAC-signed (its ``timestamp`` can then be trusted).
    """
    key = _need(secret, "jira")
    if hub_sig:
        if not hmac.compare_digest(hub_signature(key, body).encode(), hub_sig.strip().encode("utf-8", "replace")):
            raise AuthError("the Jira webhook X-Hub-Signature does not match this body")
        return True
    if not shared:
        raise AuthError("missing X-Hub-Signature (Jira webhook secret) or X-Webhook-Secret header for the jira webhook")
    verify_shared_secret(key, shared, "jira")
    return False


def check_jira_timestamp(value: object, *, now: datetime | None = None, tolerance_s: int = JIRA_TOLERANCE_S) -> None:
    """The signed body's ``timestamp`` (epoch ms) must be recent; absent is allowed (Automation bodies)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AuthError("timestamp: expected the delivery time in epoch milliseconds")
    try:
        sent = datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise AuthError("timestamp: not a time in epoch milliseconds") from None
    _within(sent, _now(now), tolerance_s, "the signed body's timestamp")
