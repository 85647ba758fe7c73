"""The redaction corpus end to end: no personal-data value of it anywhere a person or a file can see.

Every case of ``tests/data/redaction_corpus.jsonl`` becomes a row whose text is the case's text and
whose ids and labels (external_id, customer_id, source, channel, segment, device, browser,
app_version) carry the case's PII values; 150 demo rows of the same week carry one corpus value each
in their text, ids and labels too, so the week has problems whose quotes and breakdowns could show
them. Then, with FM_PSEUDONYM_KEY set and the real model:

``feedback-miner ingest`` (its own process) → ``run`` → ``digest`` md/json/html → ``classify --output``,
and the API (/v1/digests in three formats, /v1/problems, each /v1/problems/{id} and its /followup,
/v1/classify, /v1/review/queue) and the pages (digest, problem pages, review).

Every PII value of the corpus is looked for in the raw bytes of the SQLite file and its WAL, every
output file, every CLI output and every answer: 0 hits. A value is found in any of the forms a
surface may write it: as written, case-folded, HTML- or JSON-unescaped, Markdown-unescaped, and
(for 8 digits or more) as its bare digits. The search itself is checked on the input file (every
value found) so an empty search cannot pass.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from feedback_miner.adapters.keys import create_key
from feedback_miner.adapters.store import open_store
from feedback_miner.config import Settings
from feedback_miner.demo.generate import generate_demo

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "redaction_corpus.jsonl"
WEEK = "2026-W46"
KEY = "pii-end-to-end-pseudonym-key-0123456789"
ID_LABEL_FIELDS = ("external_id", "customer_id", "source", "channel", "segment", "device", "browser", "app_version")
DEMO_ROWS = 150


def _cases() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def pii_values() -> list[str]:
    """Every labelled PII value of the corpus, once each."""
    return sorted({p["value"] for c in _cases() for p in c["pii"]})


# -- the search ---------------------------------------------------------------------------------

_MD_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+!|~.\-])")
_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def normalise(text: str) -> str:
    """A surface's text with HTML, JSON and Markdown escapes undone, spaces collapsed, case-folded."""
    s = _JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    s = html.unescape(html.unescape(s))
    s = _MD_ESCAPED.sub(r"\1", s)
    return " ".join(s.split()).casefold()


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


@dataclass
class Surface:
    name: str
    text: str
    norm: str = field(init=False)
    digit_runs: str = field(init=False)

    def __post_init__(self) -> None:
        self.norm = normalise(self.text)
        # digit groups joined across the separators a number is written with (space . - / parentheses)
        self.digit_runs = " ".join(_digits(m) for m in re.findall(r"\d[\d .\-/()]*\d", self.norm))


def hits(surface: Surface, value: str) -> bool:
    v = normalise(value)
    if v in surface.norm:
        return True
    d = _digits(value)
    return len(d) >= 8 and d in surface.digit_runs


def find_leaks(surfaces: Sequence[Surface], values: Sequence[str]) -> list[tuple[str, str]]:
    return [(s.name, v) for s in surfaces for v in values if hits(s, v)]


# -- the world ----------------------------------------------------------------------------------

def _rows() -> list[dict[str, Any]]:
    cases, values = _cases(), pii_values()
    rows: list[dict[str, Any]] = []
    for n, c in enumerate(cases):
        vals = [p["value"] for p in c["pii"]]
        row: dict[str, Any] = {"text": c["text"], "created_at": f"2026-11-1{n % 6}T10:{n % 60:02d}:00Z"}
        if vals:
            row |= {f: vals[i % len(vals)] for i, f in enumerate(ID_LABEL_FIELDS)}
            row["external_id"] = f"{c['id']} {vals[0]}"  # unique per row, and holding the value
        else:
            row |= {"external_id": c["id"], "channel": "web"}
        rows.append(row)
    for n, d in enumerate(generate_demo(weeks=1, end_week=WEEK, per_week=DEMO_ROWS)[:DEMO_ROWS]):
        v = values[n % len(values)]
        demo = {k: x for k, x in d.items() if x not in ("", None)}
        rows.append({**demo, "text": f"{d['text']} You can reach me at {v}",
                     **{f: v for f in ID_LABEL_FIELDS}, "external_id": f"{d['external_id']} {v}"})
    return rows


@dataclass
class World:
    tmp: Path
    db: Path
    rows: list[dict[str, Any]]
    surfaces: list[Surface]
    counts: dict[str, int]


def _cli(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "FM_PSEUDONYM_KEY": KEY}
    p = subprocess.run([sys.executable, "-m", "feedback_miner.cli", *args], env=env, cwd=ROOT, capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0, f"feedback-miner {' '.join(args[:2])}: exit {p.returncode}\n{p.stderr[-2000:]}"
    return p


def _login(c: TestClient, key: str) -> None:
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
    assert token is not None
    r = c.post("/login", data={"api_key": key, "csrf": token.group(1), "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text


def _api_surfaces(db_url: str, texts: list[str], real_embedder: Any, shipped_classifier: Any) -> tuple[
        list[Surface], dict[str, int]]:
    settings = Settings(database_url=db_url, pseudonym_key=SecretStr(KEY))
    store = open_store(db_url)
    keys = {r: create_key(store, role=r, name=f"e2e {r}")[0] for r in ("reader", "lead", "ingest")}
    clf, _ = shipped_classifier
    out: list[Surface] = []
    with TestClient(create_app(settings, embedder=real_embedder, classifier=clf, store=store)) as c:
        def get(path: str, key: str, **params: Any) -> str:
            r = c.get(path, params=params, headers={"X-API-Key": keys[key]})
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
            out.append(Surface(f"GET {path} {params or ''}", r.text))
            return r.text

        for fmt in ("json", "md", "html"):
            get(f"/v1/digests/{WEEK}", "reader", format=fmt)
        problems = json.loads(get("/v1/problems", "reader", week=WEEK, limit=200))["items"]
        for p in problems:
            get(f"/v1/problems/{p['id']}", "reader")
            get(f"/v1/problems/{p['id']}/followup", "lead")
            get(f"/v1/problems/{p['id']}/followup", "lead", format="csv")
        get("/v1/review/queue", "lead", week=WEEK, limit=500)
        for i in range(0, len(texts), 64):
            r = c.post("/v1/classify", json={"texts": texts[i:i + 64]}, headers={"X-API-Key": keys["ingest"]})
            assert r.status_code == 200, r.text[:300]
            out.append(Surface(f"POST /v1/classify [{i}:{i + 64}]", r.text))
        _login(c, keys["lead"])
        for path in [f"/digest/{WEEK}", "/review", *(f"/problems/{p['id']}" for p in problems)]:
            r = c.get(path)
            assert r.status_code == 200, (path, r.status_code)
            out.append(Surface(f"page {path}", r.text))
    return out, {"problems": len(problems)}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, real_embedder: Any, shipped_classifier: Any) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("pii_e2e")
    db = tmp / "store.db"
    url = f"sqlite:///{db}"
    rows = _rows()
    src = tmp / "feedback.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    ing = _cli(["ingest", str(src), "--db", url, "--source", "corpus"])
    surfaces = [Surface("feedback-miner ingest (stdout+stderr)", ing.stdout + ing.stderr)]
    run = _cli(["run", "--week", WEEK, "--db", url])
    surfaces.append(Surface("feedback-miner run (stdout+stderr)", run.stdout + run.stderr))
    for fmt in ("md", "json", "html"):
        out = tmp / f"digest.{fmt}"
        _cli(["digest", "--week", WEEK, "--format", fmt, "--db", url, "--out", str(out)])
        surfaces.append(Surface(f"digest --format {fmt}", out.read_text(encoding="utf-8")))
    cls_in, cls_out = tmp / "classify.csv", tmp / "classified.csv"
    with cls_in.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "text", "contact", "note"])
        w.writeheader()
        for n, c in enumerate(_cases()):
            vals = [p["value"] for p in c["pii"]]
            w.writerow({"id": c["id"], "text": c["text"], "contact": vals[0] if vals else "",
                        "note": " / ".join(vals) or f"case {n}"})
    cl = _cli(["classify", str(cls_in), "--output", str(cls_out)])
    surfaces.append(Surface("classify --output file", cls_out.read_text(encoding="utf-8")))
    surfaces.append(Surface("feedback-miner classify (stdout+stderr)", cl.stdout + cl.stderr))
    api, counts = _api_surfaces(url, [c["text"] for c in _cases()] + pii_values(), real_embedder, shipped_classifier)
    surfaces += api
    raw = b"".join(p.read_bytes() for p in (db, db.with_name("store.db-wal")) if p.exists())
    surfaces.append(Surface("raw SQLite bytes (file + WAL)", raw.decode("utf-8", errors="replace")))
    counts |= {"rows": len(rows), "raw_bytes": len(raw)}
    yield World(tmp, db, rows, surfaces, counts)


# -- the assertions -----------------------------------------------------------------------------

def test_the_search_finds_every_value_where_it_is(world: World) -> None:
    """Positive control: every value is found in the input file, and in each escaped form."""
    values = pii_values()
    source = Surface("input", (world.tmp / "feedback.jsonl").read_text(encoding="utf-8"))
    assert [v for v in values if not hits(source, v)] == []
    for v in values:
        for form in (html.escape(v), json.dumps(v), re.sub(r"([+_.()\-])", r"\\\1", v), v.upper()):
            assert hits(Surface("escaped", f"x {form} y"), v), (v, form)


def test_every_row_was_stored_and_the_week_has_problems(world: World) -> None:
    store = open_store(f"sqlite:///{world.db}")
    stored = store.feedback_in_weeks([WEEK])
    assert len(stored) == len(world.rows)
    assert world.counts["problems"] >= 3
    texts = " ".join(i.text for i in stored)
    assert texts.count("[EMAIL]") >= 30 and texts.count("[PHONE]") >= 40 and texts.count("[CARD]") >= 30
    assert texts.count("[IBAN]") >= 20
    with_pii = sum(bool(r.get("customer_id")) for r in world.rows)  # rows whose ids held a value
    assert sum(bool(re.fullmatch(r"pid_[0-9a-f]{32}", i.external_id)) for i in stored) == with_pii
    assert sum(bool(re.fullmatch(r"pid_[0-9a-f]{32}", i.customer_id or "")) for i in stored) == with_pii
    for case in _cases():  # the look-alikes a dev team needs survive
        for keep in case.get("keep", []):
            assert keep in texts, keep
    digest_md = next(s for s in world.surfaces if s.name == "digest --format md").norm
    assert "[email]" in digest_md and "[phone]" in digest_md  # PII-bearing quotes and labels are shown, redacted


def test_no_pii_value_of_the_corpus_on_any_surface(world: World) -> None:
    values = pii_values()
    leaks = find_leaks(world.surfaces, values)
    print(f"\nchecked {len(values)} PII values of the corpus ({len(world.rows)} rows ingested, "
          f"{world.counts['problems']} problems) on {len(world.surfaces)} surfaces "
          f"({world.counts['raw_bytes'] / 1e6:.1f} MB of raw SQLite): {len(leaks)} hits")
    assert leaks == [], leaks[:20]
