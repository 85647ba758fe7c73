"""The one place numbers and user text are formatted for people: Markdown, HTML and the pages."""

from __future__ import annotations

import re

__all__ = ["md_cell", "md_escape", "metric_value", "pct", "plural"]


def pct(v: float | None, digits: int = 0) -> str:
    """A share as a percentage (``0.5`` → ``50%``); ``n/a`` for None."""
    return "n/a" if v is None else f"{v * 100:.{digits}f}%"


def metric_value(value: float | None, unit: str | None, *, change: bool = False) -> str:
    """A metric value in its unit: share ``53.0%`` (change ``+1.2 pp``), points ``+12``, hours ``3.5 h``."""
    if value is None:
        return "—"
    sign = "+" if change else ""
    if unit == "share":
        return f"{value * 100:+.1f} pp" if change else f"{value * 100:.1f}%"
    if unit == "points":
        text = f"{value:+.0f}"
        return "0" if text in ("+0", "-0") else text
    if unit == "hours":
        return f"{value:{sign}.1f} h"
    if unit == "minutes":
        return f"{value:{sign}.1f} min"
    if unit == "count":
        return f"{value:{sign}.0f}"
    return f"{value:{sign}.1f}"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 problem``, ``2 problems`` (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def md_escape(text: object) -> str:
    """User-controlled text made inert in Markdown: no HTML tags, links, images or emphasis."""
    s = " ".join(str(text).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def md_cell(text: object) -> str:
    """:func:`md_escape` for a table cell (pipes and newlines are escaped too)."""
    return md_escape(text)
