"""What each feedback field may hold, and how it is made safe before storage.

=====================  =====================================================================
field                  policy
=====================  =====================================================================
text                   personal data redacted (``[EMAIL]``, ``[PHONE]``, ``[CARD]``, ``[IBAN]``)
external_id,           kept when it holds no personal data; otherwise replaced by a stable keyed
customer_id            pseudonym ``pid_<32 hex>`` = HMAC-SHA256(FM_PSEUDONYM_KEY, value), so the
                       same id always maps to the same pseudonym and ingest stays idempotent
source, channel,       personal data redacted (they are shown in breakdowns and digests)
segment, device,
browser, app_version
ticket_status,         closed vocabularies, validated by ingest
satisfaction, category
=====================  =====================================================================

Every field has a length limit (ids 128 characters, as the API); a longer value is a row error,
never silently cut. The pseudonym key has no default: when an identifier needs pseudonymising and
no key is set, :class:`~feedback_miner.errors.ConfigError` names ``FM_PSEUDONYM_KEY``. Changing the
key changes every pseudonym (re-ingested rows would then be stored again): keep it stable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime

from feedback_miner.domain.redact import contains_pii, redact
from feedback_miner.errors import ConfigError, RowError

__all__ = [
    "ID_FIELDS",
    "KEY_ENV",
    "LABEL_FIELDS",
    "LIMITS",
    "MIN_KEY_CHARS",
    "cell_text",
    "check_length",
    "protect_id",
    "protect_label",
    "pseudonym",
    "redact_record",
    "shown",
    "usable_key",
]

KEY_ENV = "FM_PSEUDONYM_KEY"
ID_FIELDS: tuple[str, ...] = ("external_id", "customer_id")
LABEL_FIELDS: tuple[str, ...] = ("source", "channel", "segment", "device", "browser", "app_version")
#: Longest value accepted per field (characters), the same on the file, API and webhook paths.
LIMITS: dict[str, int] = {
    "text": 20_000, "external_id": 128, "customer_id": 128, "source": 64, "channel": 200, "segment": 200,
    "device": 200, "browser": 200, "app_version": 200, "ticket_status": 32, "satisfaction": 8, "category": 32,
}
_PSEUDONYM_PREFIX = "pid_"
_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")


def pseudonym(value: str, key: str) -> str:
    """``pid_`` + 32 hex characters of HMAC-SHA256(key, value); case and outer spaces do not matter."""
    mac = hmac.new(key.encode(), value.strip().casefold().encode(), hashlib.sha256)
    return _PSEUDONYM_PREFIX + mac.hexdigest()[:32]


MIN_KEY_CHARS = 16


def usable_key(key: str | None) -> str | None:
    """The key when it is set and long enough; None when unset; ConfigError when too short
    (the message gives its length, never the key)."""
    if not key:
        return None
    if len(key) < MIN_KEY_CHARS:
        raise ConfigError(f"{KEY_ENV} is {len(key)} characters long; use at least {MIN_KEY_CHARS} "
                          "(e.g. python -c \"import secrets; print(secrets.token_urlsafe(32))\")")
    return key


def protect_id(value: str, key: str | None, *, row: int, field: str) -> str:
    """The id itself when it holds no personal data, else its keyed pseudonym."""
    if not contains_pii(value):
        return value
    if not key:
        raise ConfigError(
            f"row {row}, field '{field}': the value holds personal data (an email, phone, card or IBAN) and must be "
            f"replaced by a keyed pseudonym, but {KEY_ENV} is not set. Set {KEY_ENV} to a secret of at least 16 "
            "characters (e.g. the output of: python -c \"import secrets; print(secrets.token_urlsafe(32))\") "
            "and keep it stable: the same key gives the same pseudonyms."
        )
    return pseudonym(value, usable_key(key) or key)


def protect_label(value: str) -> str:
    """A short free-text label (channel, device, …) with personal data redacted."""
    return redact(value)


def check_length(value: str, *, row: int, field: str) -> str:
    limit = LIMITS.get(field)
    if limit is not None and len(value) > limit:
        raise RowError(row, field, f"{len(value):,} characters, over the limit of {limit:,}; "
                                   "shorten or split it (nothing was cut)")
    return value


def cell_text(value: object, *, row: int, field: str) -> str | None:
    """One cell as text: None/NaN/blank → None; lists and dicts → JSON text; NUL and broken
    encodings rejected. The same for CSV, JSONL, Parquet, API items and webhooks."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        s = "true" if value else "false"
    elif isinstance(value, (list, tuple, dict)):
        try:
            s = json.dumps(value, ensure_ascii=False, default=str)
        except (RecursionError, ValueError):
            raise RowError(row, field, "the value is nested too deeply to store") from None
    elif isinstance(value, (bytes, bytearray)):
        s = bytes(value).decode("utf-8", errors="surrogateescape")
    elif isinstance(value, (datetime, date)):
        s = value.isoformat()
    else:
        s = str(value)
    bad = _BAD_CHAR.search(s)
    if bad and bad.group(0) == "\x00":
        raise RowError(row, field, "contains a NUL character")
    if bad:
        raise RowError(row, field, "broken encoding (value is not valid UTF-8)")
    return s if s.strip() else None


def shown(value: object, width: int = 40) -> str:
    """A value quoted in an error message: cut and redacted, so messages never carry personal data."""
    s = redact(str(value))
    return repr(s if len(s) <= width else s[:width] + "…")


def redact_record(record: Mapping[str, object]) -> dict[str, str]:
    """Every cell of an output row redacted (``classify --output`` writes rows back)."""
    return {k: "" if v is None else redact(str(v)) for k, v in record.items()}
