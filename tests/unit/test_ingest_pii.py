"""Field-level personal-data policy: text redacted, identifiers holding PII replaced by a stable keyed
pseudonym, labels redacted; no key means a clear ConfigError, never a raw value stored."""

from __future__ import annotations

import re

import pytest

from feedback_miner.adapters import webhooks
from feedback_miner.domain.pii_policy import pseudonym, redact_record, usable_key
from feedback_miner.errors import ConfigError, InputError
from feedback_miner.stages.ingest import ColumnMapping, IngestReport, parse_row, parse_rows

KEY = "test-key-0123456789abcdef"
T = "2026-11-10T10:00:00Z"
M = ColumnMapping()


def test_ids_holding_personal_data_become_stable_pseudonyms() -> None:
    raw = {"text": "refund please", "created_at": T, "external_id": "jane.doe@example.com",
           "customer_id": "+33 6 12 34 56 78"}
    a = parse_row(raw, 1, M, "api", pseudonym_key=KEY)
    b = parse_row(dict(raw, external_id="JANE.DOE@example.com "), 2, M, "api", pseudonym_key=KEY)
    assert re.fullmatch(r"pid_[0-9a-f]{32}", a.external_id) and re.fullmatch(r"pid_[0-9a-f]{32}", a.customer_id or "")
    assert a.external_id == b.external_id  # idempotent: the same id maps to the same pseudonym
    assert a.external_id == pseudonym("jane.doe@example.com", KEY)
    assert parse_row(raw, 1, M, "api", pseudonym_key=KEY + "x").external_id != a.external_id


@pytest.mark.parametrize("value", ["cust-8812", "ZD-1234567", "5b10ac8d82e05b22cc7d4ef5", "812", "order-20261110"])
def test_ordinary_ids_are_kept_and_need_no_key(value: str) -> None:
    item = parse_row({"text": "hi", "created_at": T, "external_id": value, "customer_id": value}, 1, M, "api")
    assert item.external_id == value and item.customer_id == value


def test_no_key_is_a_config_error_naming_the_variable_and_not_the_value() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_row({"text": "hi", "created_at": T, "customer_id": "jane@example.com"}, 7, M, "api")
    msg = str(exc.value)
    assert "FM_PSEUDONYM_KEY" in msg and "row 7" in msg and "customer_id" in msg and "jane" not in msg


def test_a_short_key_is_refused_without_showing_it() -> None:
    assert usable_key(None) is None and usable_key("") is None and usable_key(KEY) == KEY
    with pytest.raises(ConfigError, match="5 characters") as exc:
        usable_key("s3cr3")
    assert "s3cr3" not in str(exc.value)


@pytest.mark.parametrize("field", ["channel", "segment", "device", "browser", "app_version", "source"])
def test_labels_are_redacted(field: str) -> None:
    item = parse_row({"text": "hi", "created_at": T, field: "Jane jane@example.com +44 7700 900123"}, 1, M, "api")
    value = getattr(item, field)
    assert "@" not in value and "7700" not in value and "[EMAIL]" in value and "[PHONE]" in value


def test_error_messages_never_quote_personal_data() -> None:
    report = IngestReport()
    rows = [(2, {"text": "hi", "created_at": "call 555.123.4567", "rating": "x"}),
            (3, {"text": "hi", "created_at": T, "rating": "jane@example.com"}),
            (4, {"text": "hi", "created_at": T, "ticket_status": "4111 1111 1111 1111"})]
    list(parse_rows(rows, M, default_source="t", report=report))
    text = " ".join(str(e) for e in report.errors)
    assert len(report.errors) == 3
    assert "555.123" not in text and "jane@" not in text and "4111" not in text


def test_webhook_rows_go_through_the_same_policy() -> None:
    payload = {"freshdesk_webhook": {"ticket_id": "jane@example.com", "ticket_subject": "Refund",
                                     "ticket_description": "Call me on +44 7700 900123",
                                     "ticket_contact_id": "jane@example.com", "ticket_status": "Open",
                                     "ticket_created_at": "2026-11-10T10:00:00Z"}}
    item = parse_row(webhooks.map_payload("freshdesk", payload), 0, M, "freshdesk", pseudonym_key=KEY)
    assert item.external_id.startswith("pid_") and item.customer_id == item.external_id
    assert "7700" not in item.text and "[PHONE]" in item.text
    long_id = {"freshdesk_webhook": {**payload["freshdesk_webhook"], "ticket_id": "9" * 5000}}
    with pytest.raises(InputError, match="ticket_id: longer than 128 characters"):  # the webhook adapter refuses it first
        parse_row(webhooks.map_payload("freshdesk", long_id), 0, M, "freshdesk", pseudonym_key=KEY)


def test_output_rows_are_redacted_cell_by_cell() -> None:
    row = {"id": "7", "text": "card 4111 1111 1111 1111 declined", "email": "jane@example.com", "note": None}
    assert redact_record(row) == {"id": "7", "text": "card [CARD] declined", "email": "[EMAIL]", "note": ""}
