"""Session settings errors use the project's error tree, so they reach the user as a config error."""

from __future__ import annotations

import pytest

from api.sessions import SessionSigner
from feedback_miner.adapters.store import Store
from feedback_miner.adapters.tables import app_secrets
from feedback_miner.config import Settings
from feedback_miner.errors import ConfigError


def test_short_session_secret_is_a_config_error_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="FM_SESSION_SECRET must be at least 16 bytes, got 5"):
        SessionSigner.from_settings(Settings(session_secret="short"))
    with pytest.raises(ConfigError):
        SessionSigner(b"x" * 15)
    assert SessionSigner(b"x" * 16).unsign(SessionSigner(b"x" * 16).sign({"iat": 1})) is None  # expired, not an error


def test_without_a_configured_secret_every_process_signs_with_the_stores_one(store: Store) -> None:
    import time

    token = SessionSigner.from_settings(Settings(), store).sign({"kid": 1, "iat": int(time.time())})
    again = SessionSigner.from_settings(Settings(), store)  # another worker: same store, same key
    assert again.unsign(token) is not None
    assert SessionSigner.from_settings(Settings()).unsign(token) is None  # a per-process key would not do
    configured = SessionSigner.from_settings(Settings(session_secret="s" * 20), store)
    assert configured.unsign(token) is None  # FM_SESSION_SECRET wins over the stored key
    with store.tx() as c:
        assert len(c.execute(app_secrets.select()).all()) == 1
