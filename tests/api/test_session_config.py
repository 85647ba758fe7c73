"""Session settings errors use the project's error tree, so they reach the user as a config error."""

from __future__ import annotations

import pytest

from api.sessions import SessionSigner
from feedback_miner.config import Settings
from feedback_miner.errors import ConfigError


def test_short_session_secret_is_a_config_error_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="FM_SESSION_SECRET must be at least 16 bytes, got 5"):
        SessionSigner.from_settings(Settings(session_secret="short"))
    with pytest.raises(ConfigError):
        SessionSigner(b"x" * 15)
    assert SessionSigner(b"x" * 16).unsign(SessionSigner(b"x" * 16).sign({"iat": 1})) is None  # expired, not an error
