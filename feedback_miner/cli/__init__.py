"""``feedback-miner …``: commands only — parse, build collaborators once, call a service, print.

Each module registers its commands on :data:`app`; importing this package loads no model and
opens no store.
"""

from __future__ import annotations

from feedback_miner.cli import deliver, embed, ingest, keys, model, problems, runs  # noqa: F401 - registers the commands
from feedback_miner.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
