"""Deterministic generator of a realistic multi-week marketplace feedback stream.

Used by the README demo command and by tests. Everything is driven by one seeded
:class:`random.Random` owned by each call (no global state, nothing generated at import).

The stream contains recurring problems in several categories (phrased in many varied
ways), ~25-30 % "other" feedback (praise, neutral, off-topic), one *emerging* problem
(PayPal checkout error PP-1002: appears in the second-to-last week and grows strongly in
the last), one *fading* problem (search Error 504: drops sharply in the last two weeks),
metadata correlated with the problems, about 3 % of texts with personal data (emails,
phone numbers, Luhn-valid test card numbers) and a handful of multi-issue texts.

The CSV has no category column: :data:`PROBLEM_CATEGORIES` and
:func:`generate_labeled_demo` expose the ground truth for evaluation only.

Usage: ``python -m feedback_miner.demo.generate demo.csv --weeks 8 --end-week 2026-W46``
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from feedback_miner.demo.phrases import (
    CARDS,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    MULTI_ISSUE_JOINERS,
    OPENERS,
    OTHER_KINDS,
    PHONES,
    PII_CARD,
    PII_EMAIL,
    PII_PHONE,
    PROBLEMS,
    SLOTS,
    ProblemSpec,
)
from feedback_miner.domain.weeks import week_bounds, week_of
from feedback_miner.errors import InputError

DEMO_COLUMNS: tuple[str, ...] = (
    "external_id", "source", "created_at", "channel", "segment", "customer_id", "text",
    "rating", "nps", "ces", "satisfaction", "device", "browser", "app_version", "ticket_status", "opened_at",
    "first_response_at", "resolved_at", "first_contact_resolution", "escalated", "role", "handle_minutes",
)
#: Typical agent handling minutes per channel (log-normal median); a survey comment has none.
_HANDLE_MEDIAN = {"chat": 9.0, "phone": 7.0, "email": 12.0, "messaging": 6.0}

#: Ground truth: problem id -> category id (never written to the CSV).
PROBLEM_CATEGORIES: dict[str, str] = {p.pid: p.category for p in PROBLEMS + OTHER_KINDS}
EMERGING_PROBLEM: str = "paypal_checkout_fails"
FADING_PROBLEM: str = "search_timeout_504"

_OPTIONAL_RE = re.compile(r"\[([^\[\]]*)\]")
_CHOICE_RE = re.compile(r"\{([^{}]*)\}")

_HOUR_WEIGHTS: tuple[float, ...] = (
    1.0, 0.5, 0.3, 0.2, 0.2, 0.4, 1.0, 2.5, 4.5, 6.0, 6.5, 6.5,
    6.0, 6.0, 6.0, 5.5, 5.5, 5.5, 6.0, 6.5, 6.0, 5.0, 3.5, 2.0,
)
_DEVICES: dict[str, tuple[str, float]] = {  # device -> (platform, popularity)
    "iPhone 14": ("ios", 16), "iPhone 15": ("ios", 10), "iPhone 12 mini": ("ios", 4),
    "iPhone SE": ("ios", 4), "iPad": ("ios", 4), "Pixel 7": ("android", 8),
    "Galaxy S23": ("android", 10), "Galaxy A14": ("android", 6), "OnePlus 11": ("android", 3),
    "Windows PC": ("desktop", 22), "MacBook": ("desktop", 13),
}
_PLATFORM_DEVICES: dict[str, tuple[str, ...]] = {
    "android": ("Pixel 7", "Galaxy S23", "Galaxy A14", "OnePlus 11"),
    "mobile": ("iPhone 14", "iPhone 15", "Pixel 7", "Galaxy S23", "Galaxy A14"),
    "small_phone": ("iPhone SE", "iPhone 12 mini", "Galaxy A14"),
    "desktop": ("Windows PC", "MacBook"),
}
_BROWSERS: dict[str, tuple[tuple[str, float], ...]] = {
    "ios": (("Safari", 0.85), ("Chrome", 0.15)),
    "android": (("Chrome", 0.85), ("Firefox", 0.1), ("Edge", 0.05)),
    "Windows PC": (("Chrome", 0.6), ("Edge", 0.28), ("Firefox", 0.12)),
    "MacBook": (("Safari", 0.5), ("Chrome", 0.42), ("Firefox", 0.08)),
}
_SOURCES: tuple[tuple[str, float], ...] = (("zendesk", 0.5), ("freshdesk", 0.25), ("survey", 0.25))
_CHANNELS: dict[str, tuple[tuple[str, float], ...]] = {
    "zendesk": (("chat", 0.45), ("email", 0.4), ("phone", 0.15)),
    "freshdesk": (("email", 0.6), ("chat", 0.3), ("phone", 0.1)),
    "survey": (("chat", 0.3), ("email", 0.3), ("phone", 0.1), ("messaging", 0.3)),
}
_ID_PREFIX: dict[str, str] = {"zendesk": "ZD", "freshdesk": "FD", "survey": "SV"}
_STATUS_OLD: tuple[tuple[str, float], ...] = (
    ("open", 0.04), ("pending", 0.05), ("solved", 0.3), ("closed", 0.53), ("reopened", 0.08))
_STATUS_RECENT: tuple[tuple[str, float], ...] = (
    ("open", 0.18), ("pending", 0.12), ("solved", 0.38), ("closed", 0.24), ("reopened", 0.08))
#: Customers rate the support interaction above the problem itself (support often helps).
SUPPORT_LIFT = 1.5
_RESOLVE_MU: dict[str, float] = {"chat": 0.8, "phone": 1.6, "email": 2.4, "messaging": 2.4}


def parse_iso_week(iso_week: str) -> date:
    """The Monday of an ISO week given as ``YYYY-Www`` (:class:`InputError` if invalid)."""
    return week_bounds(iso_week)[0].date()


def iso_week_label(day: date) -> str:
    """ISO week label (``YYYY-Www``) of a date."""
    return week_of(day)


def demo_weeks(weeks: int = 8, end_week: str = "2026-W46") -> list[str]:
    """The ``weeks`` consecutive ISO week labels ending with ``end_week`` (oldest first)."""
    if weeks < 1:
        raise InputError(f"weeks must be >= 1, got {weeks}")
    last = parse_iso_week(end_week)
    return [iso_week_label(last - timedelta(weeks=weeks - 1 - i)) for i in range(weeks)]


def _pick(rng: random.Random, pairs: Sequence[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in pairs], weights=[w for _, w in pairs])[0]


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def _allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into integer counts proportional to ``weights`` (largest remainder)."""
    norm = sum(weights)
    if norm <= 0 or total <= 0:
        return [0] * len(weights)
    raw = [total * w / norm for w in weights]
    counts = [math.floor(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda k: raw[k] - counts[k], reverse=True)
    for k in order[: total - sum(counts)]:
        counts[k] += 1
    return counts


def _trend_factor(trend: str, index: int, n_weeks: int) -> float:
    if trend == "emerging":
        return 2.2 if index == n_weeks - 1 else 0.35 if index == n_weeks - 2 else 0.0
    if trend == "fading":
        return 0.08 if index == n_weeks - 1 else 0.3 if index == n_weeks - 2 else 1.0
    return 1.0


def _expand(template: str, rng: random.Random, ctx: dict[str, str]) -> str:
    """Expand ``[optional]``, ``{a|b}`` and ``{slot}`` parts of a phrase template."""
    text = _OPTIONAL_RE.sub(lambda m: m.group(1) if rng.random() < 0.5 else "", template)

    def choose(match: re.Match[str]) -> str:
        body = match.group(1)
        if "|" in body:
            return str(rng.choice(body.split("|")))
        return ctx[body] if body in ctx else str(rng.choice(SLOTS[body]))

    for _ in range(3):  # slot values may themselves contain slots
        new = _CHOICE_RE.sub(choose, text)
        if new == text:
            break
        text = new
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"\s+([,.!?])", r"\1", text).strip()


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is "I" or a name like "PayPal"."""
    word = text.split(" ", 1)[0]
    if word in ("I", "I'm", "I've", "I'd") or not word[1:].islower():
        return text
    return text[:1].lower() + text[1:]


class _Generator:
    """Holds the per-call random state: customers, prior reports, id counter."""

    def __init__(self, rng: random.Random, n_customers: int) -> None:
        self.rng = rng
        self.handle_rng = random.Random(0x4A17)  # its own stream: see handle_minutes
        devices = list(_DEVICES)
        popularity = [_DEVICES[d][1] for d in devices]
        self.segment_of: dict[str, str] = {}
        self.device_of: dict[str, str] = {}
        self.pools: dict[str, list[str]] = {"buyer": [], "seller": []}
        for number in rng.sample(range(1, 100000), n_customers):
            cid = f"C{number:05d}"
            segment = "seller" if rng.random() < 0.22 else "buyer"
            self.segment_of[cid] = segment
            self.device_of[cid] = rng.choices(devices, weights=popularity)[0]
            self.pools[segment].append(cid)
        for segment, other in (("buyer", "seller"), ("seller", "buyer")):
            if not self.pools[segment]:  # tiny pools: make sure both segments exist
                self.pools[segment].append(self.pools[other][0])
        self.reported: dict[str, list[str]] = {}

    def customer(self, spec: ProblemSpec, segment: str) -> str:
        rng = self.rng
        prior = [c for c in self.reported.get(spec.pid, ()) if self.segment_of[c] == segment]
        if spec.category != "other" and prior and rng.random() < 0.12:
            cid = rng.choice(prior)  # the same customer reports the problem again
        else:
            cid = rng.choice(self.pools[segment])
        self.reported.setdefault(spec.pid, []).append(cid)
        return cid

    def device(self, spec: ProblemSpec, cid: str) -> str:
        rng = self.rng
        device = self.device_of[cid]
        if rng.random() < 0.1:  # customers own more than one device
            device = rng.choice(list(_DEVICES))
        if spec.platform and device not in _PLATFORM_DEVICES[spec.platform] and rng.random() < 0.92:
            device = rng.choice(_PLATFORM_DEVICES[spec.platform])
        return device

    def app_version(self, spec: ProblemSpec, progress: float) -> str:
        rng = self.rng
        if spec.platform == "android" and spec.app and rng.random() < 0.92:
            return rng.choice(("5.3.0", "5.3.1"))
        late = max(0.0, progress - 0.5)
        return _pick(rng, (("5.2.0", 3 * (1 - progress) + 0.2), ("5.2.1", 2.0),
                           ("5.3.0", 3 * progress + 0.3), ("5.3.1", 4 * late + 0.1)))

    def pii_context(self) -> dict[str, str]:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = rng.choice((f"{first}.{last}", f"{first}{rng.randint(1, 99)}", f"{first[0]}{last}"))
        return {"email": f"{local}@{rng.choice(EMAIL_DOMAINS)}", "phone": rng.choice(PHONES),
                "card": rng.choice(CARDS)}

    def text(self, spec: ProblemSpec, ctx: dict[str, str], survey: bool) -> str:
        rng = self.rng
        parts: list[str] = []
        problem = spec.category != "other"
        if problem and not survey and rng.random() < 0.35:
            parts.append(rng.choice(OPENERS))
        core = _cap(_expand(rng.choice(spec.templates), rng, ctx))
        parts.append(_lower_first(core) if parts else core)  # "Hi, the app ..."
        if spec.details and rng.random() < (0.3 if survey else 0.55):
            parts.append(_cap(_expand(rng.choice(spec.details), rng, ctx)))
        if problem and spec.category in ("payment", "shipping", "technical", "account") \
                and rng.random() < 0.015:  # multi-issue text: problem + feature request
            extra = rng.choice([p for p in PROBLEMS if p.category == "feature_request"])
            parts.append(f"{rng.choice(MULTI_ISSUE_JOINERS)} "
                         f"{_lower_first(_expand(rng.choice(extra.templates), rng, ctx))}")
        if problem and spec.category != "feature_request" and not survey and rng.random() < 0.2:
            parts.append(rng.choice(SLOTS["please"]))
        if rng.random() < 0.035:  # personal data the product must redact
            kinds = [PII_EMAIL, PII_PHONE]
            kinds += [PII_CARD, PII_CARD] if spec.category == "payment" else []
            parts.append(_expand(rng.choice(rng.choice(kinds)), rng, ctx))
        text = " ".join(parts)
        if rng.random() < 0.12:
            text = text.lower()
        if rng.random() < 0.08:
            text = text.rstrip(".")
        if rng.random() < 0.04:
            words = text.split(" ")
            long_words = [k for k, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
            if long_words:
                k = rng.choice(long_words)
                w = words[k]
                j = rng.randrange(1, len(w) - 2)
                words[k] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
                text = " ".join(words)
        return text

    def row(self, spec: ProblemSpec, monday: date, index: int, n_weeks: int) -> dict[str, str]:
        rng = self.rng
        start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
        hour = rng.choices(range(24), weights=_HOUR_WEIGHTS)[0]
        created = start + timedelta(days=rng.randrange(7), hours=hour,
                                    minutes=rng.randrange(60), seconds=rng.randrange(60))
        segment = "seller" if rng.random() < spec.seller_share else "buyer"
        cid = self.customer(spec, segment)
        device = self.device(spec, cid)
        platform = _DEVICES[device][0]
        mobile = platform in ("ios", "android")
        app_prob = 0.95 if spec.app else 0.0 if spec.app is False else 0.6
        use_app = mobile and rng.random() < app_prob
        progress = index / (n_weeks - 1) if n_weeks > 1 else 1.0
        app_version = self.app_version(spec, progress) if use_app else ""
        browser = "app" if use_app else _pick(rng, _BROWSERS[platform if mobile else device])

        if rng.random() < spec.messaging:
            source, channel = "survey", "messaging"
        else:
            source = _pick(rng, _SOURCES)
            channel = _pick(rng, _CHANNELS[source])
        if source == "survey":
            status = "solved" if rng.random() < 0.6 else "closed"
        else:
            status = _pick(rng, _STATUS_RECENT if index == n_weeks - 1 else _STATUS_OLD)

        if channel == "chat":
            delay = timedelta(minutes=min(120.0, math.exp(rng.gauss(1.2, 0.8))))
        elif channel == "phone":
            delay = timedelta(hours=min(24.0, math.exp(rng.gauss(0.3, 1.3))))
        else:
            delay = timedelta(hours=min(72.0, math.exp(rng.gauss(1.4, 0.9))))
        first: datetime | None = created + delay
        if status == "open" and rng.random() < 0.35:
            first = None  # nobody has answered yet
        escalated = rng.random() < spec.escalation + (0.1 if status == "reopened" else 0.0)
        resolved: datetime | None = None
        if status not in ("open", "pending"):
            hours = math.exp(rng.gauss(_RESOLVE_MU[channel], 1.1))
            hours += rng.uniform(12, 72) if escalated else 0.0
            hours += rng.uniform(6, 48) if status == "reopened" else 0.0
            resolved = (first or created) + timedelta(hours=hours)
        total_h = (resolved - created).total_seconds() / 3600 if resolved else None
        fcr = (status in ("solved", "closed") and not escalated and total_h is not None
               and rng.random() < (0.8 if total_h <= 24 else 0.3))

        score = spec.rating + SUPPORT_LIFT + rng.gauss(0, 0.75) + (0.4 if fcr else 0.0)
        score -= 0.5 if escalated else 0.0
        score -= 0.9 if status == "reopened" else 0.3 if status in ("open", "pending") else 0.0
        score -= 0.4 if total_h is not None and total_h > 48 else 0.0
        rating = _clamp(score, 1, 5)
        nps = ""
        if rng.random() < (0.9 if source == "survey" else 0.5):
            nps = str(_clamp(2 * rating - 1 + rng.gauss(0, 1.3) + spec.nps_bias, 0, 10))
        ces = ""
        if rng.random() < 0.3:
            ces = str(_clamp(7.4 - 1.3 * rating + rng.gauss(0, 0.9), 1, 7))

        ctx = {"version": app_version or rng.choice(("5.3.0", "5.3.1")), "device": device,
               "amount": f"{rng.choice('£$€')}{rng.randint(8, 250)}.{rng.randint(0, 99):02d}",
               "days": str(rng.randint(3, 21)), "order_no": f"#{rng.randint(1000000, 9999999)}",
               **self.pii_context()}
        return {
            "external_id": "", "source": source, "created_at": _iso(created), "channel": channel,
            "segment": segment, "customer_id": cid,
            "text": self.text(spec, ctx, source == "survey"),
            "rating": str(rating), "nps": nps, "ces": ces,
            "satisfaction": ("good" if rating >= 4 else "bad") if source == "zendesk" and rng.random() < 0.6 else "", "device": device, "browser": browser,
            "app_version": app_version, "ticket_status": status, "opened_at": _iso(created),
            "first_response_at": _iso(first), "resolved_at": _iso(resolved),
            "first_contact_resolution": "true" if fcr else "false",
            "escalated": "true" if escalated else "false",
            "role": segment, "handle_minutes": self.handle_minutes(channel, source, escalated),
        }

    def handle_minutes(self, channel: str, source: str, escalated: bool) -> str:
        """From its own random stream, so adding it changed none of the other demo values."""
        if source == "survey":
            return ""
        minutes = _HANDLE_MEDIAN.get(channel, 8.0) * math.exp(self.handle_rng.gauss(0, 0.5))
        return f"{minutes * (1.6 if escalated else 1.0):.1f}"


def generate_labeled_demo(weeks: int = 8, end_week: str = "2026-W46", seed: int = 7,
                          per_week: int = 220) -> list[tuple[dict[str, str], str]]:
    """Like :func:`generate_demo` but each row comes with its ground-truth problem id."""
    if per_week < 1:
        raise InputError(f"per_week must be >= 1, got {per_week}")
    labels = demo_weeks(weeks, end_week)
    rng = random.Random(seed)
    gen = _Generator(rng, max(40, per_week * weeks * 2 // 5))
    labeled: list[tuple[dict[str, str], str]] = []
    for index, label in enumerate(labels):
        monday = parse_iso_week(label)
        n_rows = max(1, round(per_week * rng.uniform(0.9, 1.1)))
        n_other = round(n_rows * rng.uniform(0.25, 0.30))
        weights = [p.weight * _trend_factor(p.trend, index, weeks) * rng.lognormvariate(0, 0.15)
                   for p in PROBLEMS]
        plan: list[ProblemSpec] = []
        for spec, count in zip(PROBLEMS, _allocate(n_rows - n_other, weights)):
            plan += [spec] * count
        other_weights = [k.weight * rng.lognormvariate(0, 0.1) for k in OTHER_KINDS]
        for spec, count in zip(OTHER_KINDS, _allocate(n_other, other_weights)):
            plan += [spec] * count
        rng.shuffle(plan)
        labeled += [(gen.row(spec, monday, index, weeks), spec.pid) for spec in plan]
    labeled.sort(key=lambda pair: pair[0]["created_at"])
    counter = 100000 + rng.randrange(900)
    for row, _ in labeled:
        counter += rng.randint(1, 4)
        row["external_id"] = f"{_ID_PREFIX[row['source']]}-{counter}"
    return [({c: row[c] for c in DEMO_COLUMNS}, pid) for row, pid in labeled]


def generate_demo(weeks: int = 8, end_week: str = "2026-W46", seed: int = 7,
                  per_week: int = 220) -> list[dict[str, object]]:
    """Generate the demo feedback stream: one dict per row, keys = :data:`DEMO_COLUMNS`.

    Covers the ``weeks`` ISO weeks ending with ``end_week``; rows are sorted by
    ``created_at``; all values are strings ("" for missing). Same seed -> same rows.
    """
    rows: list[dict[str, object]] = [
        {**row} for row, _ in generate_labeled_demo(weeks, end_week, seed, per_week)]
    return rows


def write_demo_csv(path: str | os.PathLike[str], **kwargs: object) -> int:
    """Write :func:`generate_demo` (``kwargs`` passed through) as UTF-8 CSV; return row count."""
    rows = generate_demo(**kwargs)  # type: ignore[arg-type]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(DEMO_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m feedback_miner.demo.generate OUT.csv [--weeks N] [--end-week W] [--seed S]``."""
    parser = argparse.ArgumentParser(description="Write a synthetic marketplace feedback CSV.")
    parser.add_argument("path", help="output CSV path")
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--end-week", default="2026-W46")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-week", type=int, default=220)
    args = parser.parse_args(argv)
    count = write_demo_csv(args.path, weeks=args.weeks, end_week=args.end_week,
                           seed=args.seed, per_week=args.per_week)
    print(f"wrote {count} rows to {args.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
