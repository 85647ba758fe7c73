"""Deliver the weekly digest: compose its summary once, send it to every configured channel.

:func:`compose` turns a :class:`~feedback_miner.stages.digest.Digest` into a
:class:`DigestMessage`: a Slack Block Kit payload (user text escaped for Slack mrkdwn), a plain-text
summary and the self-contained HTML digest for e-mail. :func:`deliver` sends it to each
:class:`Channel`; a channel that fails (a library error) is reported and the others still run.
:func:`next_run` is the weekly schedule (Mondays at a UTC time of day).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol

from feedback_miner.adapters.render import render_digest
from feedback_miner.domain.format import metric_value, plural
from feedback_miner.domain.metrics import MetricValue
from feedback_miner.domain.types import Category
from feedback_miner.errors import FeedbackMinerError, InputError
from feedback_miner.stages.digest import Digest

__all__ = ["Channel", "DeliveryResult", "DigestMessage", "StopFlag", "compose", "deliver", "next_run", "page_url",
           "parse_time_of_day", "run_schedule", "slack_escape"]

TOP = 5  # problems in the summary
_QUOTE_CHARS = 160
_SECTION_CHARS = 2900  # Slack allows 3000 characters per section text


def slack_escape(text: object) -> str:
    """User text made inert in Slack mrkdwn: ``&``, ``<`` and ``>`` escaped (no links, mentions or
    ``<!channel>``), whitespace collapsed."""
    s = " ".join(str(text).split())
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: object) -> str:
    return " ".join(str(text).split())


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


@dataclass(frozen=True)
class _Style:
    esc: Callable[[object], str]
    bold: Callable[[str], str]
    link: Callable[[str, str], str]


_SLACK = _Style(slack_escape, lambda s: f"*{s}*", lambda url, label: f"<{url}|{label}>")
_TEXT = _Style(_plain, lambda s: s, lambda url, label: f"{label}: {url}")


def page_url(public_url: str | None, period: str) -> str | None:
    """The digest page of ``period`` under the pages' base URL (None when it is not configured)."""
    return f"{public_url.rstrip('/')}/digest/{period}" if public_url else None


def _metric_line(m: MetricValue) -> str:
    if m.value is None or not m.enough:
        return f"{m.label}: not enough data ({plural(m.n, 'response')})"
    parts = [f"{m.label}: {metric_value(m.value, m.unit)}"]
    if m.target is not None:
        verdict = "" if m.meets_target is None else ("met, " if m.meets_target else "missed, ")
        gap = metric_value(m.value - m.target, m.unit, change=True)
        parts.append(f"target {metric_value(m.target, m.unit)} ({verdict}gap {gap})")
    if m.change is not None:
        parts.append(f"change {metric_value(m.change, m.unit, change=True)}")
    return ", ".join(parts) + f"; n={m.n}"


def _metric_lines(metrics: Sequence[MetricValue], s: _Style) -> list[str]:
    """Metrics with data first (value, target, gap, change, n); those without any in one line."""
    lines = [s.esc(_metric_line(m)) for m in metrics if m.n > 0]
    empty = [m.label for m in metrics if m.n == 0]
    if empty:
        lines.append(s.esc("No data this period: " + "; ".join(empty)))
    return lines


def _problem_line(p: Mapping[str, Any], s: _Style) -> str:
    status = f", {p['status']}" if p.get("status") else ""
    return (f"{s.bold(s.esc(p['title']))} — {plural(int(p['size']), 'report')}{status} "
            f"({s.esc(Category(p['category']).label)})")


def _sections(d: Digest, s: _Style) -> list[tuple[str, list[str]]]:
    """(heading, lines) of the summary; every piece of text passes through ``s.esc``."""
    c = d.counts
    out: list[tuple[str, list[str]]] = [("", [
        f"Analysed {plural(int(c['analysed']), 'text')}: {plural(int(c['problems']), 'problem')} found, "
        f"{c['other']} not an issue, {c['unclustered']} joined no problem."])]
    if d.metrics:
        out.append(("Metrics vs targets", _metric_lines(d.metrics, s)))
    top = [f"{p.get('rank', i)}. {_problem_line(p, s)}" for i, p in enumerate(d.top_problems[:TOP], start=1)]
    out.append(("Top problems", top or ["No recurring problems were found."]))
    if d.new_and_growing:
        out.append(("New and growing", [f"• {_problem_line(p, s)}" for p in d.new_and_growing[:TOP]]))
    if d.severe_unclustered:
        out.append(("Severe reports that joined no problem", [
            f"• {s.esc(Category(r['category']).label)}: “{s.esc(_short(_plain(r['quote']), _QUOTE_CHARS))}”"
            + (f" ({s.esc(r['reason'])})" if r.get("reason") else "") for r in d.severe_unclustered[:TOP]]))
    back = [f for f in d.fix_watch if f.get("verdict") == "resurfaced"]
    if back:
        out.append(("Resurfaced after a fix", [f"• {s.bold(s.esc(f['title']))} (fixed {s.esc(f['fixed_week'])})"
                                               for f in back]))
    return out


@dataclass(frozen=True)
class DigestMessage:
    """One digest, ready for every channel."""

    period: str
    subject: str
    text: str  # plain text (e-mail text part, logs, dry runs)
    slack: Mapping[str, Any]  # Slack incoming-webhook JSON body (Block Kit, with a text fallback)
    html: str  # the self-contained HTML digest
    url: str | None = None


def _slack_payload(d: Digest, url: str | None, subject: str) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": subject[:150]}}]
    for heading, lines in _sections(d, _SLACK):
        body = (f"*{heading}*\n" if heading else "") + "\n".join(lines)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _short(body, _SECTION_CHARS)}})
    foot = _SLACK.link(url, "Open the digest page") if url else f"Print it: `feedback-miner digest --week {d.period}`"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": foot}]})
    return {"text": subject, "blocks": blocks[:50]}


def _plain_text(d: Digest, url: str | None, subject: str) -> str:
    out = [subject, ""]
    for heading, lines in _sections(d, _TEXT):
        out += ([heading] if heading else []) + lines + [""]
    out.append(_TEXT.link(url, "Digest page") if url else f"Print it: feedback-miner digest --week {d.period}")
    return "\n".join(out) + "\n"


def compose(d: Digest, *, public_url: str | None = None) -> DigestMessage:
    """The digest's summary for Slack and plain text, and its HTML page for e-mail."""
    url = page_url(public_url, d.period)
    subject = f"Feedback Miner: top issues {d.period} ({plural(int(d.counts['problems']), 'problem')})"
    return DigestMessage(period=d.period, subject=subject, text=_plain_text(d, url, subject),
                         slack=_slack_payload(d, url, subject), html=render_digest(d, "html"), url=url)


class Channel(Protocol):
    """Somewhere the digest goes (``adapters.notify``): ``send`` says what it did, or raises a
    library error naming the channel."""

    @property
    def name(self) -> str: ...

    def send(self, message: DigestMessage) -> str: ...


@dataclass(frozen=True)
class DeliveryResult:
    channel: str
    ok: bool
    detail: str


def deliver(message: DigestMessage, channels: Sequence[Channel]) -> list[DeliveryResult]:
    """Send to every channel; one failing does not stop the others."""
    results = []
    for ch in channels:
        try:
            results.append(DeliveryResult(ch.name, True, ch.send(message)))
        except FeedbackMinerError as exc:
            results.append(DeliveryResult(ch.name, False, str(exc)))
    return results


def parse_time_of_day(value: str) -> time:
    """``HH:MM`` (UTC) as a time; :class:`InputError` otherwise."""
    try:
        hh, mm = value.split(":")
        return time(int(hh), int(mm), tzinfo=UTC)
    except ValueError as exc:
        raise InputError(f"FM_SCHEDULE_TIME {value!r} is not a time of day like 06:00 (UTC)") from exc


def next_run(now: datetime, at: time, weekday: int = 0) -> datetime:
    """The first moment strictly after ``now`` that falls on ``weekday`` (0 = Monday) at ``at`` (UTC)."""
    now = now.astimezone(UTC)
    day = now.date() + timedelta(days=(weekday - now.weekday()) % 7)
    cand = datetime.combine(day, at.replace(tzinfo=None), tzinfo=UTC)
    return cand if cand > now else cand + timedelta(days=7)


class StopFlag:
    """Set by a signal handler; read by the schedule loop between small sleeps."""

    def __init__(self) -> None:
        self.stopped = False

    def set(self) -> None:
        self.stopped = True


def run_schedule(cycle: Callable[[datetime], object], at: time, stop: StopFlag, *,
                 clock: Callable[[], datetime], sleep: Callable[[float], None],
                 announce: Callable[[datetime], None] = lambda _: None, step_s: float = 1.0) -> None:
    """Every Monday at ``at`` (UTC) call ``cycle(due)``, until ``stop`` is set.

    Sleeps in steps of at most ``step_s`` seconds, re-reading the clock each time, so a stop
    request (SIGTERM) ends the wait within one step; a cycle that has started runs to its end.
    """
    while not stop.stopped:
        due = next_run(clock(), at)
        announce(due)
        while not stop.stopped and (left := (due - clock()).total_seconds()) > 0:
            sleep(min(step_s, left))
        if stop.stopped:
            return
        cycle(due)
