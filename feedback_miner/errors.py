"""The one error tree of Feedback Miner.

Every error the library raises derives from :class:`FeedbackMinerError`; third-party errors are
re-raised with ``from exc`` at the adapter that met them. The API maps them to status codes in one
place (``api/errors.py``)::

    FeedbackMinerError
    ├── ConfigError            a setting is missing or invalid
    ├── InputError             bad user input (a file, a column mapping, an option); also a ValueError
    │   └── RowError           one bad row: carries its row number and field
    ├── NotFoundError          a week, problem or artefact that does not exist
    ├── ModelError             a model or artefact cannot be loaded or is unfitted
    │   └── NotFittedError     an estimator used before fit()
    ├── StoreError             the SQL store failed
    ├── ConflictError          the action conflicts with current state (e.g. a run in progress)
    ├── DeliveryError          a digest channel (Slack, e-mail) could not deliver
    ├── AuthError              a missing or invalid API key / signature
    │   └── PermissionDenied   a valid key without the needed role
    └── RateLimited            too many failed key checks from one client: retry after N seconds
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "ConflictError",
    "DeliveryError",
    "FeedbackMinerError",
    "InputError",
    "ModelError",
    "NotFittedError",
    "NotFoundError",
    "PermissionDenied",
    "RateLimited",
    "RowError",
    "StoreError",
]


class FeedbackMinerError(Exception):
    """Base class of every error raised by Feedback Miner."""


class ConfigError(FeedbackMinerError):
    pass


class InputError(FeedbackMinerError, ValueError):
    """Bad input. Also a :class:`ValueError`, as scikit-learn's ``NotFittedError`` is both its
    library's error and the builtin one, so generic callers can still catch ``ValueError``."""


class RowError(InputError):
    def __init__(self, row: int, field: str | None, reason: str) -> None:
        self.row = row
        self.field = field
        self.reason = reason
        where = f"row {row}" + (f", field '{field}'" if field else "")
        super().__init__(f"{where}: {reason}")


class NotFoundError(FeedbackMinerError):
    pass


class ModelError(FeedbackMinerError):
    pass


class NotFittedError(ModelError):
    pass


class StoreError(FeedbackMinerError):
    pass


class ConflictError(FeedbackMinerError):
    pass


class DeliveryError(FeedbackMinerError):
    """A channel could not deliver the digest (network, server refusal); the message names the channel."""


class AuthError(FeedbackMinerError):
    pass


class PermissionDenied(AuthError):
    pass


class RateLimited(FeedbackMinerError):
    def __init__(self, retry_after_s: int, message: str) -> None:
        self.retry_after_s = max(1, int(retry_after_s))
        super().__init__(message)
