"""Reliability probes of the privacy/hardening issue, rerun against a real server and the real CLI.

    python benchmarks/bench_reliability.py [--out benchmarks/results/reliability.json] [--keep]   (~2 min)

Starts ``feedback-miner serve`` on 127.0.0.1 in a subprocess (uvicorn, the real MiniLM model: torch
for runs, int8 ONNX for /v1/classify, as the server ships) over a fresh SQLite file in a temp dir,
runs every ``feedback-miner`` command in its own process, and prints one row per probe:
``probe | result | figure``. Every figure is measured in this run (counts, status codes, seconds).

The probes themselves (``PROBES``) take a :class:`Harness`; ``tests/integration/test_reliability_probes.py``
runs the same functions in-process (TestClient, CliRunner) so CI fails when one regresses.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feedback_miner.adapters.store import Store, open_store
from feedback_miner.domain.types import FeedbackItem

__all__ = ["PROBES", "CliResult", "Harness", "Outcome", "prepare", "run_probes"]

WEEK = "2026-W46"
PII_TIME = "2026-10-28T10:00:00Z"  # 2026-W44: the probes' rows stay out of the digest week
PSEUDONYM_KEY = "reliability-probe-pseudonym-key-0123456789"
SECRETS = {"zendesk": "zd-probe-secret", "freshdesk": "fd-probe-secret", "jira": "jira-probe-secret"}
SERVER_ENV = {"FM_PSEUDONYM_KEY": PSEUDONYM_KEY, **{f"FM_{k.upper()}_SECRET": v for k, v in SECRETS.items()}}
#: The formats the issue found leaking, plus plus-addressed and upper-case emails that must stay covered,
#: and two phones listed with a slash (found leaking by tests/integration/test_pii_end_to_end.py).
LEAKS: tuple[str, ...] = (
    "555.123.4567", "4111 1111 1111 1111 05/27", "4111111111111111 123", "4111.1111.1111.1111",
    "visa4111111111111111", "jörg@müller.de", "DE89370400440532013000", "+33 6 12 34 56 78",
    "jane.doe+shop@example.co.uk", "JANE.DOE@EXAMPLE.COM", "555.123.4567 / 555.987.6543",
)
LOOKALIKES: tuple[str, ...] = ("order #1234567890", "INV-2026-000123", "2026-11-10 14:30", "PP-1002")
LABELS: tuple[str, ...] = ("channel", "segment", "device", "browser", "app_version")
INJECTIONS: tuple[str, ...] = ("<script>alert(1)</script>", "[x](javascript:alert(1))", "<img src=x onerror=alert(1)>")
RAW_MARKUP: tuple[str, ...] = ("<script", "<img", "](javascript:", "onerror=alert(1)>")  # live in rendered Markdown
HTML_RAW: tuple[str, ...] = ("<script", "<img", 'href="javascript:', "onerror=alert(1)>")  # live in HTML
HUGE_ID = "1180591620717411303424"  # 2**70: overflows SQLite's 64-bit integers
_PID = re.compile(r"pid_[0-9a-f]{32}")
#: An httpx-style client: ``httpx.Client`` on a real socket, or Starlette's TestClient (an ``httpx2.Client``).
Http = Any
Resp = Any


def pii_text(value: str) -> str:
    """A feedback text holding one personal-data value and no other digit or @."""
    return f"Refund failed again, reach me at {value} today please"


# -- harness -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


@dataclass
class Outcome:
    probe: str
    ok: bool
    figure: str
    detail: dict[str, Any] = field(default_factory=dict)


class Harness(Protocol):
    """What a probe needs: HTTP to the server, an in-process app, the CLI, the store's URL, a temp dir."""

    http: Http  # the server (real socket, or a TestClient in tests)
    local: Http  # an app in *this* process over the same store (for in-process revocation)
    keys: dict[str, str]  # one plain key per role
    db_url: str
    tmp: Path

    def cli(self, args: Sequence[str]) -> CliResult: ...

    def client_from(self, address: str) -> Http: ...

    def revoke_elsewhere(self, key_id: str) -> None: ...


@cache
def _store(url: str) -> Store:
    return open_store(url)


def _items(h: Harness) -> dict[int, FeedbackItem]:
    rows = _store(h.db_url).feedback_between(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    return {int(i.id or 0): i for i in rows}


@contextmanager
def _new_items(h: Harness) -> Iterator[list[FeedbackItem]]:
    """Collects the rows stored inside the block."""
    before = set(_items(h))
    out: list[FeedbackItem] = []
    yield out
    out.extend(i for k, i in sorted(_items(h).items()) if k not in before)


def _h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def _write_csv(path: Path, rows: list[dict[str, str]], sep: str = ",") -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=sep)
        w.writeheader()
        w.writerows(rows)
    return path


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _ingest(h: Harness, path: Path, *extra: str) -> CliResult:
    return h.cli(["ingest", str(path), "--db", h.db_url, "--source", "file", *extra])


def _skipped(res: CliResult) -> dict[int, str]:
    """Row number → message of each ``skipped row N…`` line the CLI printed."""
    return {int(m.group(1)): m.group(0) for m in re.finditer(r"skipped row (\d+)[^\n]*", res.err)}


def _leak_free_label(v: str | None) -> bool:
    return v is not None and "@" not in v and not re.search(r"\d", v) and "[" in v


def _runs_of(h: Harness, week: str) -> list[dict[str, Any]]:
    return [r for r in h.http.get("/v1/runs", headers=_h(h.keys["admin"])).json() if r["week"] == week]


def _run(h: Harness, week: str, timeout: float = 600) -> dict[str, Any]:
    """Start the week's run and wait for *that* run (not an earlier one of the week) to end."""
    before = len(_runs_of(h, week))
    r = h.http.post("/v1/runs", json={"week": week}, headers=_h(h.keys["admin"]))
    if r.status_code != 202:
        raise RuntimeError(f"POST /v1/runs: {r.status_code} {r.text}")
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        runs = _runs_of(h, week)
        if len(runs) > before and runs[0]["status"] != "running":
            return runs[0]
        time.sleep(0.3)
    raise RuntimeError(f"run of {week} did not finish in {timeout} s")


def prepare(h: Harness, per_week: int = 120) -> None:
    """One week of demo feedback through the API and its run: the digest probes need problems."""
    from feedback_miner.demo.generate import generate_demo

    items = [{k: v for k, v in r.items() if v not in ("", None)}
             for r in generate_demo(weeks=1, end_week=WEEK, per_week=per_week)]
    for i in range(0, len(items), 50):
        r = h.http.post("/v1/feedback", json={"items": items[i:i + 50]}, headers=_h(h.keys["ingest"]))
        if r.status_code != 200 or r.json()["counts"]["rejected"]:
            raise RuntimeError(f"demo ingest failed: {r.status_code} {r.text[:300]}")
    if _run(h, WEEK)["status"] != "done":
        raise RuntimeError("the demo week's run failed")


# -- personal data ------------------------------------------------------------------------------

def _pii_item(v: str, tag: str) -> dict[str, str]:
    return {"text": pii_text(v), "external_id": f"{tag} {v}", "customer_id": v, "created_at": PII_TIME,
            **{f: v for f in LABELS}}


def _check_pii_rows(rows: list[FeedbackItem], n: int) -> tuple[int, int, list[str]]:
    """(fields checked, leaks, examples of leaks) over the stored rows of a PII probe."""
    checked, bad = 0, []
    for it in rows:
        checks = {"text": _leak_free_label(it.text), "external_id": bool(_PID.fullmatch(it.external_id)),
                  "customer_id": bool(_PID.fullmatch(it.customer_id or "")),
                  **{f: _leak_free_label(getattr(it, f)) for f in LABELS}}
        if it.source not in ("api", "file"):
            checks["source"] = _leak_free_label(it.source)
        checked += len(checks)
        bad += [f"{f}={getattr(it, f)!r}" for f, good in checks.items() if not good]
    if len(rows) != n:
        bad.append(f"{len(rows)} of {n} rows stored")
    return checked, len(bad), bad[:5]


def probe_pii_api(h: Harness) -> Outcome:
    """Each leaking format in the text and every id/label field of /v1/feedback items."""
    with _new_items(h) as rows:
        r = h.http.post("/v1/feedback", json={"items": [_pii_item(v, "api") for v in LEAKS]},
                        headers=_h(h.keys["ingest"]))
    checked, leaks, bad = _check_pii_rows(rows, len(LEAKS))
    ok = r.status_code == 200 and leaks == 0
    return Outcome("PII redacted: API text + ids + labels", ok,
                   f"{len(LEAKS)} formats × {checked // max(1, len(rows))} fields = {checked} stored values, "
                   f"{leaks} leaks", {"status": r.status_code, "leaks": bad})


def probe_pii_cli(h: Harness) -> Outcome:
    """The same values through ``feedback-miner ingest`` (a CSV), source included."""
    rows_in = [{**_pii_item(v, "cli"), "source": v} for v in LEAKS]
    path = _write_csv(h.tmp / "pii.csv", rows_in)
    with _new_items(h) as rows:
        res = _ingest(h, path)
    checked, leaks, bad = _check_pii_rows(rows, len(LEAKS))
    shown = sum(v in res.out + res.err for v in LEAKS)
    ok = res.code == 0 and leaks == 0 and shown == 0
    return Outcome("PII redacted: CLI ingest text + ids + labels + source", ok,
                   f"{checked} stored values, {leaks} leaks; the CLI's output quotes {shown} values",
                   {"exit": res.code, "leaks": bad})


def _zd_post(h: Harness, payload: dict[str, Any] | bytes, *, ts: str | None = None) -> Resp:
    from feedback_miner.adapters.webhooks import zendesk_signature

    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    ts = ts or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return h.http.post("/v1/webhooks/zendesk", content=body, headers={
        **_h(h.keys["ingest"]), "Content-Type": "application/json",
        "X-Zendesk-Webhook-Signature": zendesk_signature(SECRETS["zendesk"], ts, body),
        "X-Zendesk-Webhook-Signature-Timestamp": ts})


def _shared_post(h: Harness, tool: str, payload: dict[str, Any] | bytes) -> Resp:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return h.http.post(f"/v1/webhooks/{tool}", content=body, headers={
        **_h(h.keys["ingest"]), "Content-Type": "application/json", "X-Webhook-Secret": SECRETS[tool]})


def zendesk_event(ticket: str, *, status: str = "OPEN", updated: str = PII_TIME, text: str = "Cannot pay",
                  requester: str | None = "8447388090494") -> dict[str, Any]:
    return {"type": "zen:event-type:ticket.created", "id": f"evt-{ticket}", "time": updated, "detail": {
        "id": ticket, "subject": "Checkout", "description": text, "status": status, "created_at": PII_TIME,
        "updated_at": updated, "requester_id": requester}}


def freshdesk(ticket: str, *, text: str = "Password reset mail never comes", contact: str | None = "5501",
              created: object = PII_TIME) -> dict[str, Any]:
    return {"freshdesk_webhook": {"ticket_id": ticket, "ticket_subject": "Login", "ticket_description": text,
                                  "ticket_status": "Open", "ticket_created_at": created,
                                  "ticket_contact_id": contact}}


def jira(key: str, *, description: object = "The app crashes on login", reporter: str = "5b10a2844c2016") -> dict[str, Any]:
    return {"webhookEvent": "jira:issue_created", "issue": {"id": "10002", "key": key, "fields": {
        "summary": "Crash", "description": description, "status": {"name": "To Do"}, "created": PII_TIME,
        "updated": PII_TIME, "reporter": {"accountId": reporter}}}}


def probe_pii_webhooks(h: Harness) -> Outcome:
    """Ticket id, requester and text of Zendesk, Freshdesk and Jira deliveries carry the values."""
    statuses: list[int] = []
    with _new_items(h) as rows:
        for n, v in enumerate(LEAKS):
            statuses.append(_zd_post(h, zendesk_event(f"zd {v}", text=pii_text(v), requester=v)).status_code)
            statuses.append(_shared_post(h, "freshdesk", freshdesk(f"fd {v}", text=pii_text(v), contact=v)).status_code)
            statuses.append(_shared_post(h, "jira", jira(f"SUP-{n} {v}", description=pii_text(v), reporter=v)).status_code)
    checked, bad = 0, []
    for it in rows:
        checks = {"text": _leak_free_label(it.text), "external_id": bool(_PID.fullmatch(it.external_id)),
                  "customer_id": bool(_PID.fullmatch(it.customer_id or ""))}
        checked += len(checks)
        bad += [f"{it.source}.{f}" for f, good in checks.items() if not good]
    ok = statuses == [200] * len(statuses) and len(rows) == 3 * len(LEAKS) and not bad
    return Outcome("PII redacted: webhook text + ticket id + requester", ok,
                   f"{len(rows)} deliveries (3 tools) × 3 fields = {checked} stored values, {len(bad)} leaks",
                   {"statuses": sorted(set(statuses)), "leaks": bad[:5]})


def probe_lookalikes(h: Harness) -> Outcome:
    """Order numbers, invoice ids, timestamps and error codes survive on the API and the CLI."""
    text = "order #1234567890 not delivered; INV-2026-000123 shows 2026-11-10 14:30 and error PP-1002"
    with _new_items(h) as rows:
        h.http.post("/v1/feedback", json={"items": [{"text": text, "external_id": "look-api", "created_at": PII_TIME}]},
                    headers=_h(h.keys["ingest"]))
        _ingest(h, _write_csv(h.tmp / "look.csv", [{"text": text, "external_id": "look-cli", "created_at": PII_TIME}]))
    kept = [sum(x in it.text for x in LOOKALIKES) for it in rows]
    tokens = sum("[" in it.text for it in rows)
    ok = len(rows) == 2 and kept == [len(LOOKALIKES)] * 2 and tokens == 0
    return Outcome("look-alikes kept (order #, INV-, timestamp, PP-1002)", ok,
                   f"verbatim: API {kept[0] if kept else 0}/4, CLI {kept[1] if len(kept) > 1 else 0}/4; "
                   f"{tokens} placeholders inserted", {"texts": [it.text for it in rows]})


def probe_classify_output(h: Harness) -> Outcome:
    """``classify IN --output OUT``: every cell written back redacted."""
    src = _write_csv(h.tmp / "cls.csv", [{"id": str(n), "text": pii_text(v), "contact": v} for n, v in enumerate(LEAKS)])
    out = h.tmp / "cls_out.csv"
    t0 = time.perf_counter()
    res = h.cli(["classify", str(src), "--output", str(out)])
    secs = time.perf_counter() - t0
    body = out.read_text(encoding="utf-8") if out.exists() else ""
    hits = sum(v in body for v in LEAKS)
    rows = max(0, len(body.strip().splitlines()) - 1)
    ok = res.code == 0 and rows == len(LEAKS) and hits == 0 and "category" in (body.splitlines() or [""])[0]
    return Outcome("classify --output redacted", ok,
                   f"{rows} rows × 2 cells with PII written, {hits} raw values in OUT ({secs:.1f} s with the model)",
                   {"exit": res.code, "err": res.err[-300:]})


# -- ingest -------------------------------------------------------------------------------------

_TIMES: tuple[float, ...] = (1731230000000, 1e20, -1e13, float("nan"))


def _numeric_times(h: Harness, fmt: str) -> tuple[CliResult, list[FeedbackItem]]:
    if fmt == "jsonl":
        recs: list[dict[str, Any]] = [{"text": "good before", "external_id": "nt-a", "created_at": PII_TIME}]
        recs += [{"text": f"numeric time {n}", "external_id": f"nt-{n}", "created_at": v} for n, v in enumerate(_TIMES)]
        recs.append({"text": "good after", "external_id": "nt-z", "created_at": PII_TIME})
        path = h.tmp / "times.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in recs))  # NaN written as the bare token NaN
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        times = [1730109600.0, *_TIMES, 1730109600.0]
        path = h.tmp / "times.parquet"
        pq.write_table(pa.table({"text": [f"parquet time {n}" for n in range(len(times))],
                                 "external_id": [f"pq-{n}" for n in range(len(times))], "created_at": times}), path)
    with _new_items(h) as rows:
        res = _ingest(h, path)
    return res, rows


def probe_numeric_times(h: Harness) -> Outcome:
    figs, ok, detail = [], True, {}
    for fmt in ("jsonl", "parquet"):
        res, rows = _numeric_times(h, fmt)
        errs = _skipped(res)
        named = all("created_at" in m for m in errs.values())
        good = res.code == 0 and len(rows) == 3 and len(errs) == 3 and named and "Traceback" not in res.err
        ok &= good
        figs.append(f"{fmt}: {len(rows)} stored (2 good + epoch ms), {len(errs)} row errors on created_at, exit {res.code}")
        detail[fmt] = list(errs.values())
    return Outcome("numeric times 1731230000000/1e20/-1e13/NaN", ok, "; ".join(figs), detail)


def probe_missing_column(h: Harness) -> Outcome:
    path = _write_csv(h.tmp / "cols.csv", [{"comment": "the app crashes", "when": PII_TIME}])
    with _new_items(h) as rows:
        res = _ingest(h, path, "-c", "text=body")
    errors = [ln for ln in res.err.splitlines() if ln.startswith("error:")]
    named = bool(errors) and "'body'" in errors[0] and "'comment'" in errors[0] and "'when'" in errors[0]
    bad = _write_csv(h.tmp / "allbad.csv", [{"text": "", "created_at": PII_TIME}])
    res_bad = _ingest(h, bad)
    ok = res.code != 0 and len(errors) == 1 and named and not rows and res_bad.code != 0
    return Outcome("missing mapped column → one error, non-zero exit", ok,
                   f"exit {res.code}, {len(errors)} error line naming 'body' and the 2 columns present, "
                   f"{len(rows)} rows stored; a file with no good row exits {res_bad.code}",
                   {"error": errors[:1]})


def probe_delimiters(h: Harness) -> Outcome:
    figs, ok = [], True
    for sep, name in ((";", "semicolon"), ("\t", "tab")):
        recs = [{"id": f"{name}-{n}", "text": f"Paiement refusé, encore, essai {name} {n}", "created_at": PII_TIME}
                for n in range(3)]
        with _new_items(h) as rows:
            res = _ingest(h, _write_csv(h.tmp / f"{name}.csv", recs, sep), "-c", "external_id=id")
        said = f"delimiter: {name}" in res.err
        good = res.code == 0 and said and [i.text for i in rows] == [r["text"] for r in recs]
        ok &= good
        figs.append(f"{name}: {len(rows)}/3 rows, said {'yes' if said else 'no'}")
    return Outcome("semicolon / tab CSV sniffed", ok, "; ".join(figs))


def probe_conflict(h: Harness) -> Outcome:
    recs = [{"external_id": "dup-1", "text": "first text", "created_at": PII_TIME},
            {"external_id": "dup-1", "text": "a different text", "created_at": PII_TIME}]
    with _new_items(h) as rows:
        res = _ingest(h, _write_csv(h.tmp / "dup.csv", recs))
    msg = _skipped(res).get(3, "")
    ok = "conflicts with row 2" in msg and "external_id" in msg and len(rows) == 1
    return Outcome("same id, different text → conflict naming both rows", ok,
                   f"{len(rows)} stored, message: {msg[:90]!r}")


def probe_long_text(h: Harness) -> Outcome:
    recs = [{"external_id": "long-1", "text": "x " * 10_001, "created_at": PII_TIME},
            {"external_id": "long-2", "text": "short and fine", "created_at": PII_TIME}]
    with _new_items(h) as rows:
        res = _ingest(h, _write_jsonl(h.tmp / "long.jsonl", recs))
    msg = _skipped(res).get(1, "")
    api = h.http.post("/v1/feedback", json={"items": [{"text": "y" * 20_001, "created_at": PII_TIME}]},
                      headers=_h(h.keys["ingest"]))
    ok = "20,001 characters" in msg and [i.external_id for i in rows] == ["long-2"] and api.status_code == 422
    return Outcome("text over 20,000 characters reported", ok,
                   f"CLI: row error ({msg.split(': ', 1)[-1][:48]!r}), good row kept: {len(rows)}; API: {api.status_code}")


def probe_json_cells(h: Harness) -> Outcome:
    recs = [{"external_id": "cells-1", "text": ["app", "crashes"], "segment": {"plan": "pro"}, "created_at": PII_TIME}]
    with _new_items(h) as rows:
        _ingest(h, _write_jsonl(h.tmp / "cells.jsonl", recs))
    got = (rows[0].text, rows[0].segment) if rows else None
    ok = got == ('["app", "crashes"]', '{"plan": "pro"}')
    return Outcome("list/dict cells stored as JSON", ok, f"stored {got!r}")


def probe_nul(h: Harness) -> Outcome:
    recs = [{"external_id": "nul-1", "text": "nul\u0000byte", "created_at": PII_TIME},
            {"external_id": "nul-2", "text": "fine", "created_at": PII_TIME}]
    with _new_items(h) as rows:
        res = _ingest(h, _write_jsonl(h.tmp / "nul.jsonl", recs))
        api = h.http.post("/v1/feedback", json={"items": [{"text": "nul\u0000byte", "external_id": "nul-api",
                                                           "created_at": PII_TIME}]}, headers=_h(h.keys["ingest"]))
    cli_msg = _skipped(res).get(1, "")
    result = api.json()["results"][0] if api.status_code == 200 else {}
    api_field = (result.get("error") or {}).get("field")
    with_nul = sum("\x00" in i.text for i in rows)
    ok = ("field 'text'" in cli_msg and "NUL" in cli_msg and result.get("status") == "rejected"
          and api_field == "text" and [i.external_id for i in rows] == ["nul-2"] and with_nul == 0)
    return Outcome("NUL byte: same on CLI and API", ok,
                   f"CLI: row error on text; API: {result.get('status')} on {api_field}; {with_nul} stored with NUL",
                   {"cli": cli_msg, "api": result})


# -- webhooks -----------------------------------------------------------------------------------

def _field_of(r: Resp) -> str:
    try:
        return str(r.json()["fields"][0]["field"])
    except (KeyError, IndexError, ValueError, TypeError):
        return "-"


def probe_webhook_values(h: Harness) -> Outcome:
    got: list[tuple[str, int, str]] = []
    for v in ("1e20", "-1e13", "NaN"):
        body = json.dumps(zendesk_event("zd-time")).replace(f'"created_at": "{PII_TIME}"', f'"created_at": {v}')
        r = _zd_post(h, body.encode())
        got.append((f"zendesk created_at {v}", r.status_code, _field_of(r)))
    r = _shared_post(h, "freshdesk", freshdesk("fd-time", created=-1e18))
    got.append(("freshdesk ticket_created_at -1e18", r.status_code, _field_of(r)))
    nested = '{"type": "doc", "content": [' * 2000 + '"x"' + "]}" * 2000
    r = _shared_post(h, "jira", json.dumps(jira("SUP-DEEP", description="__D__")).replace('"__D__"', nested).encode())
    got.append(("jira description 2,000 deep", r.status_code, _field_of(r)[:40]))
    ok = all(400 <= s < 500 and f != "-" for _, s, f in got) and "created_at" in got[0][2]
    return Outcome("webhook bad values → 4xx naming the field", ok,
                   ", ".join(f"{s} {f}" for _, s, f in got), {"cases": got})


def probe_replay(h: Harness) -> Outcome:
    opened = zendesk_event("zd-replay", status="OPEN", updated="2026-10-28T10:00:00Z")
    solved = zendesk_event("zd-replay", status="SOLVED", updated="2026-10-28T15:00:00Z")
    seq = [_zd_post(h, p).json().get("status") for p in (opened, solved, opened)]
    final = [i for i in _items(h).values() if i.source == "zendesk" and i.external_id == "zd-replay"]
    ok = seq == ["stored", "updated", "stale"] and len(final) == 1 and final[0].ticket_status == "solved"
    return Outcome("replayed OPEN after SOLVED stays solved", ok,
                   f"answers {' → '.join(map(str, seq))}; stored status {final[0].ticket_status if final else None}")


def probe_zendesk_timestamp(h: Harness) -> Outcome:
    codes = [_zd_post(h, zendesk_event("zd-old"), ts=ts).status_code
             for ts in ("2001-01-01T00:00:00Z", (datetime.now(UTC) - timedelta(seconds=600)).strftime("%Y-%m-%dT%H:%M:%SZ"))]
    fresh = _zd_post(h, zendesk_event("zd-old")).status_code
    ok = codes == [401, 401] and fresh == 200
    return Outcome("old Zendesk signature timestamp refused", ok,
                   f"2001: {codes[0]}, 10 min old: {codes[1]}, current: {fresh}")


def probe_webhook_id(h: Harness) -> Outcome:
    long_id = "x" * 5000
    rs = [_zd_post(h, zendesk_event(long_id)), _shared_post(h, "freshdesk", freshdesk(long_id)),
          _shared_post(h, "jira", jira(long_id))]
    ok = all(r.status_code == 422 and "128" in r.text for r in rs)
    return Outcome("5,000-character webhook id refused", ok,
                   ", ".join(f"{r.status_code} {_field_of(r)}" for r in rs))


# -- API and pages ------------------------------------------------------------------------------

def _token(page: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    return m.group(1) if m else ""


def _login(c: Http, key: str) -> Resp:
    return c.post("/login", data={"api_key": key, "csrf": _token(c.get("/login").text), "next": "/"},
                  follow_redirects=False)


def probe_bulk_ids(h: Harness) -> Outcome:
    c = h.client_from("127.0.0.4")
    _login(c, h.keys["lead"])
    token = _token(c.get(f"/digest/{WEEK}").text)
    page = c.post("/review/bulk", data={"csrf": token, "ids": [HUGE_ID], "choice": [f"{HUGE_ID}:other"]},
                  follow_redirects=False)
    api = h.http.post("/v1/review/bulk", content=f'{{"items": [{{"id": {HUGE_ID}, "category": "other"}}]}}',
                      headers={**_h(h.keys["lead"]), "Content-Type": "application/json"})
    ok = bool(token) and 400 <= page.status_code < 500 and 400 <= api.status_code < 500
    return Outcome(f"/review/bulk ids={HUGE_ID}", ok, f"page {page.status_code}, /v1 {api.status_code}")


def _new_key(h: Harness, role: str) -> tuple[str, str]:
    from feedback_miner.adapters.keys import create_key

    key, rec = create_key(_store(h.db_url), role=role, name=f"probe {role} {time.time_ns()}")
    return key, rec.prefix


def probe_revoke_in_process(h: Harness) -> Outcome:
    from feedback_miner.adapters.keys import revoke_key

    key, prefix = _new_key(h, "reader")
    warm = h.local.get("/v1/problems", headers=_h(key)).status_code
    revoke_key(_store(h.db_url), prefix)
    after = [h.local.get("/v1/problems", headers=_h(key)).status_code for _ in range(5)]  # < MAX_FAILURES
    ok = warm == 200 and after == [401] * 5
    return Outcome("revoked key refused at once (same process)", ok,
                   f"cached key {warm}; right after revoke_key: {after.count(200)} of 5 requests answered 200 "
                   f"({after.count(401)}× 401)")


def probe_revoke_elsewhere(h: Harness) -> Outcome:
    from feedback_miner.adapters.keys import KEY_CACHE_TTL_S

    key, prefix = _new_key(h, "reader")
    warm = h.http.get("/v1/problems", headers=_h(key)).status_code
    t0 = time.monotonic()
    h.revoke_elsewhere(prefix)
    t1 = time.monotonic()
    served, status = 0, 200
    while status == 200 and time.monotonic() - t1 < 3 * KEY_CACHE_TTL_S:
        status = h.http.get("/v1/problems", headers=_h(key)).status_code
        served += status == 200
    waited = time.monotonic() - t1
    ok = warm == 200 and status == 401 and waited <= KEY_CACHE_TTL_S + 0.5
    seen = (f"first 401 {waited:.2f} s after `keys revoke` exited ({waited + t1 - t0:.2f} s after it started)"
            if status == 401 else f"still {status} {waited:.0f} s after `keys revoke` exited")
    return Outcome("revoked key refused across processes", ok,
                   f"{seen}, {served} requests served meanwhile; stated bound {KEY_CACHE_TTL_S:g} s",
                   {"seconds_after_exit": round(waited, 3), "served": served})


def probe_login_limit(h: Harness) -> Outcome:
    from feedback_miner.adapters.ratelimit import MAX_FAILURES

    c = h.client_from("127.0.0.2")
    token = _token(c.get("/login").text)
    codes: list[int] = []
    t0 = time.perf_counter()
    for n in range(300):
        r = c.post("/login", data={"api_key": f"fm_00000000_wrong{n}", "csrf": token, "next": "/"},
                   follow_redirects=False)
        codes.append(r.status_code)
        token = _token(r.text) or token
    secs = time.perf_counter() - t0
    right = c.post("/login", data={"api_key": h.keys["reader"], "csrf": token, "next": "/"}, follow_redirects=False)
    first = codes.index(429) + 1 if 429 in codes else None
    ok = (codes[:MAX_FAILURES] == [401] * MAX_FAILURES and set(codes[MAX_FAILURES:]) == {429}
          and right.status_code == 429 and int(right.headers.get("Retry-After", "0")) >= 1)
    return Outcome("300 wrong logins → 429 + Retry-After, right key still limited", ok,
                   f"401×{codes.count(401)}, 429×{codes.count(429)} (first at #{first}) in {secs:.1f} s; right key "
                   f"{right.status_code}, Retry-After {right.headers.get('Retry-After')} s")


def probe_key_limit(h: Harness) -> Outcome:
    c = h.client_from("127.0.0.3")
    codes = [c.get("/v1/problems", headers=_h(f"fm_00000000_guess{n}")).status_code for n in range(300)]
    right = c.get("/v1/problems", headers=_h(h.keys["reader"]))
    from feedback_miner.adapters.ratelimit import MAX_FAILURES

    ok = (codes[:MAX_FAILURES] == [401] * MAX_FAILURES and set(codes[MAX_FAILURES:]) == {429}
          and right.status_code == 429 and int(right.headers.get("Retry-After", "0")) >= 1)
    return Outcome("300 wrong API keys → 429, right key still limited", ok,
                   f"401×{codes.count(401)}, 429×{codes.count(429)}; right key {right.status_code}, "
                   f"Retry-After {right.headers.get('Retry-After')} s")


def probe_markdown_injection(h: Harness) -> Outcome:
    """Three problems renamed to markup, the week re-run: every Markdown output escapes them."""
    lead, reader = _h(h.keys["lead"]), _h(h.keys["reader"])
    top = h.http.get("/v1/problems", params={"week": WEEK, "limit": 3}, headers=reader).json()["items"]
    renamed = [h.http.post(f"/v1/problems/{p['id']}/rename", json={"title": t}, headers=lead).status_code
               for p, t in zip(top, INJECTIONS)]
    _run(h, WEEK)
    pages = h.client_from("127.0.0.5")
    _login(pages, h.keys["reader"])
    outs = {"digest --format md (CLI)": h.cli(["digest", "--week", WEEK, "--format", "md", "--db", h.db_url]).out,
            "/v1/digests?format=md": h.http.get(f"/v1/digests/{WEEK}", params={"format": "md"}, headers=reader).text,
            "/digest/{week}/export md": pages.get(f"/digest/{WEEK}/export", params={"format": "md"}).text,
            "/v1/digests?format=html": h.http.get(f"/v1/digests/{WEEK}", params={"format": "html"}, headers=reader).text}
    raw = {k: sum(m in v for m in (HTML_RAW if "html" in k else RAW_MARKUP)) for k, v in outs.items()}
    shown = {k: sum(x in v for x in ("&lt;script&gt;", "javascript:", "&lt;img")) for k, v in outs.items()}
    ok = len(top) == 3 and renamed == [200] * 3 and not any(raw.values()) and all(n == 3 for n in shown.values())
    return Outcome("Markdown/HTML digest injection escaped", ok,
                   f"{len(top)} problems renamed ({renamed}); raw markup in {sum(n > 0 for n in raw.values())} of "
                   f"{len(outs)} outputs (CLI md, API md, export md, API html); escaped titles shown "
                   f"{sum(shown.values())}/{3 * len(outs)}",
                   {"raw": raw, "shown": shown})


def probe_headers(h: Harness) -> Outcome:
    r = h.http.get(f"/v1/digests/{WEEK}", params={"format": "html"}, headers=_h(h.keys["reader"]))
    csp, sniff = r.headers.get("Content-Security-Policy", ""), r.headers.get("X-Content-Type-Options", "")
    ok = r.status_code == 200 and "default-src 'none'" in csp and "script-src" not in csp and sniff == "nosniff"
    return Outcome("/v1/digests?format=html: CSP + nosniff", ok, f"{r.status_code}; CSP {csp[:40]!r}…; {sniff}")


def probe_runs_admin(h: Harness) -> Outcome:
    codes = {role: h.http.get("/v1/runs", headers=_h(h.keys[role])).status_code for role in ("reader", "lead", "admin")}
    ok = codes == {"reader": 403, "lead": 403, "admin": 200}
    return Outcome("GET /v1/runs admin-only", ok, ", ".join(f"{k} {v}" for k, v in codes.items()))


PROBES: tuple[Callable[[Harness], Outcome], ...] = (
    probe_pii_api, probe_pii_cli, probe_pii_webhooks, probe_lookalikes, probe_classify_output,
    probe_numeric_times, probe_missing_column, probe_delimiters, probe_conflict, probe_long_text, probe_json_cells,
    probe_nul, probe_webhook_values, probe_replay, probe_zendesk_timestamp, probe_webhook_id, probe_bulk_ids,
    probe_revoke_in_process, probe_revoke_elsewhere, probe_login_limit, probe_key_limit, probe_markdown_injection,
    probe_headers, probe_runs_admin,
)


def grep_forms(value: str) -> set[str]:
    """The value as written, as JSON escapes it, and its bare digits (for values with 8 or more)."""
    forms = {value, json.dumps(value)[1:-1]}
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 8:
        forms.add(digits)
    return forms


def raw_grep(paths: Sequence[Path], values: Sequence[str]) -> dict[str, int]:
    """Hits of each value (any of its :func:`grep_forms`, UTF-8 bytes) in the raw bytes of the files."""
    blobs = [p.read_bytes() for p in paths if p.exists()]
    return {v: sum(b.count(f.encode()) for b in blobs for f in grep_forms(v)) for v in values}


def run_probes(h: Harness, probes: Sequence[Callable[[Harness], Outcome]] = PROBES) -> list[Outcome]:
    out = []
    for p in probes:
        t0 = time.perf_counter()
        try:
            o = p(h)
        except Exception as exc:  # noqa: BLE001 — a probe that crashes is a failed probe, reported as such
            o = Outcome(p.__name__, False, f"probe crashed: {type(exc).__name__}: {exc}"[:200])
        o.detail["seconds"] = round(time.perf_counter() - t0, 2)
        out.append(o)
        print(f"  {'pass' if o.ok else 'FAIL'}  {o.probe}", flush=True)
    return out


# -- the real server harness --------------------------------------------------------------------

class RealHarness:
    """The server in a subprocess over a SQLite file; every CLI command in its own process."""

    def __init__(self, tmp: Path, base: str, keys: dict[str, str], db_url: str, local: Http) -> None:
        self.tmp, self.base, self.keys, self.db_url, self.local = tmp, base, keys, db_url, local
        self.http = httpx.Client(base_url=base, timeout=120)
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **SERVER_ENV}

    def cli(self, args: Sequence[str]) -> CliResult:
        p = subprocess.run([sys.executable, "-m", "feedback_miner.cli", *args], env=self.env, cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
        return CliResult(p.returncode, p.stdout, p.stderr)

    def client_from(self, address: str) -> httpx.Client:
        """A client whose connections leave from another loopback address: its own rate-limit bucket."""
        return httpx.Client(base_url=self.base, timeout=60, transport=httpx.HTTPTransport(local_address=address))

    def revoke_elsewhere(self, key_id: str) -> None:
        res = self.cli(["keys", "revoke", key_id, "--db", self.db_url])
        if res.code != 0:
            raise RuntimeError(res.err)


def _table(outcomes: Sequence[Outcome]) -> str:
    w = max(len(o.probe) for o in outcomes)
    lines = [f"{'probe':<{w}} | result | figure", f"{'-' * w}-|--------|-------"]
    lines += [f"{o.probe:<{w}} | {'pass' if o.ok else 'FAIL':<6} | {o.figure}" for o in outcomes]
    return "\n".join(lines)


def main() -> None:
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from api.app import create_app
    from feedback_miner.adapters.keys import ROLES, create_key
    from feedback_miner.config import Settings
    from tests.api.live import live_server

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "reliability.json")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (store, server log, probe files)")
    args = ap.parse_args()
    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="fm-reliability-"))
    db_path = tmp / "store.db"
    db_url = f"sqlite:///{db_path}"
    keys = {r: create_key(_store(db_url), role=r, name=f"bench {r}")[0] for r in ROLES}
    print(f"store {db_path}; starting the server …", flush=True)
    log_path = tmp / "server.log"
    with live_server(db_url, env=SERVER_ENV, log=log_path, timeout=300) as base:
        # the in-process app for the same-process revocation probe: real int8 ONNX model, same store
        local_settings = Settings(database_url=db_url, embedder="onnx-int8", online_embedder="onnx-int8",
                                  pseudonym_key=SecretStr(PSEUDONYM_KEY))
        with TestClient(create_app(local_settings), raise_server_exceptions=False) as local:
            h = RealHarness(tmp, base, keys, db_url, local)
            t0 = time.perf_counter()
            prepare(h)
            print(f"server at {base}; demo week ingested and run in {time.perf_counter() - t0:.1f} s", flush=True)
            outcomes = run_probes(h)
    files = [db_path, db_path.with_name("store.db-wal"), log_path]
    hits = raw_grep(files, LEAKS)
    outcomes.append(Outcome("raw bytes of the SQLite file, WAL and server log", sum(hits.values()) == 0,
                            f"{len(hits)} values × {sum(p.exists() for p in files)} files "
                            f"({sum(p.stat().st_size for p in files if p.exists()) / 1e6:.1f} MB): "
                            f"{sum(hits.values())} hits", {"hits": {k: v for k, v in hits.items() if v}}))
    print()
    print(_table(outcomes))
    passed = sum(o.ok for o in outcomes)
    print(f"\n{passed}/{len(outcomes)} probes pass; {time.perf_counter() - t_start:.0f} s in all")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "command": "python benchmarks/bench_reliability.py",
        "passed": passed, "probes": [asdict(o) for o in outcomes]}, indent=2, ensure_ascii=False, default=str))
    print(f"wrote {args.out}")
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if passed == len(outcomes) else 1)


if __name__ == "__main__":
    main()
