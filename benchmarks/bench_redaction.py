"""Redaction quality: precision and recall per kind on the labelled corpus, phone detection against
the ``phonenumbers`` package, recall on phonenumbers' own example numbers (held out: not written
by us), and redaction speed.

    python benchmarks/bench_redaction.py            # ~30 s; pip install -e ".[bench]" for the comparison

Writes benchmarks/results/redaction.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import log
from feedback_miner.domain.pii_eval import load_corpus, score_corpus
from feedback_miner.domain.redact import DETECTORS, Detector, find_pii, redact

CORPUS = ROOT / "tests" / "data" / "redaction_corpus.jsonl"
OUT = ROOT / "benchmarks" / "results" / "redaction.json"


def _phonenumbers_detector(regions: tuple[str, ...], leniency: Any) -> Detector:
    from phonenumbers import PhoneNumberMatcher

    def find(text: str, claimed: list[tuple[int, int]]) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for region in regions:
            for m in PhoneNumberMatcher(text, region, leniency=leniency):
                if not any(m.start < e and s < m.end for s, e in claimed + spans):
                    spans.append((m.start, m.end))
        return spans

    return find


def _compare_phone_engines(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    engines: list[tuple[str, Detector]] = [("feedback_miner rules (shipped)", dict(DETECTORS)["phone"])]
    try:
        from phonenumbers import Leniency
    except ImportError:
        log("phonenumbers not installed: comparison skipped (pip install -e '.[bench]')")
    else:
        for lev_name in ("VALID", "POSSIBLE"):
            for regions in (("US",), ("US", "GB", "FR", "DE")):
                engines.append((f"phonenumbers {lev_name} {'+'.join(regions)}",
                                _phonenumbers_detector(regions, getattr(Leniency, lev_name))))
    for name, det in engines:
        dets = [d for d in DETECTORS if d[0] != "phone"] + [("phone", det)]
        t0 = time.perf_counter()
        s = score_corpus(cases, dets)
        dt = time.perf_counter() - t0
        p = s.kinds["phone"]
        rows.append({"engine": name, "phone_recall": round(p.recall, 4), "phone_precision": round(p.precision, 4),
                     "lookalikes_changed": s.lookalikes_changed, "keep_strings_lost": s.keeps_lost,
                     "seconds": round(dt, 3)})
    return rows


def _held_out_phone_recall() -> dict[str, Any]:
    """Recall on phonenumbers' example mobile and fixed-line number of every region it knows."""
    try:
        import phonenumbers as pn
    except ImportError:
        return {"skipped": "phonenumbers not installed"}
    F, T = pn.PhoneNumberFormat, pn.PhoneNumberType
    variants = {"international": (F.INTERNATIONAL, "{n}"), "e164": (F.E164, "{n}"),
                "national, after a phone word": (F.NATIONAL, "call me on {n} please"),
                "national, no context": (F.NATIONAL, "{n}")}
    out: dict[str, Any] = {}
    for name, (fmt, template) in variants.items():
        total = hit = 0
        misses: list[str] = []
        for region in sorted(pn.SUPPORTED_REGIONS):
            for typ in (T.MOBILE, T.FIXED_LINE):
                ex = pn.example_number_for_type(region, typ)
                if ex is None:
                    continue
                number = pn.format_number(ex, fmt)
                text = template.format(n=number)
                start = text.index(number)
                covered = {i for s in find_pii(text) if s.kind == "phone" for i in range(s.start, s.end)}
                total += 1
                if all(i in covered for i in range(start, start + len(number)) if not text[i].isspace()):
                    hit += 1
                else:
                    misses.append(number)
        out[name] = {"numbers": total, "recall": round(hit / total, 4), "missed_examples": misses[:8]}
    return out


def _speed(cases: list[dict[str, Any]]) -> dict[str, float]:
    texts = [c["text"] for c in cases]
    long_text = " ".join(texts)[:20_000]
    chars = sum(map(len, texts))
    t0 = time.perf_counter()
    for _ in range(20):
        for t in texts:
            redact(t)
    short = 20 * chars / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(20):
        redact(long_text)
    return {"corpus_chars_per_s": round(short), "ms_per_20k_char_text": round((time.perf_counter() - t0) / 20 * 1e3, 2)}


def _store_grep(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Ingest the corpus through the CLI into a fresh SQLite file, PII also in ids and labels; grep the dump."""
    import csv
    import os
    import sqlite3
    import tempfile

    from typer.testing import CliRunner

    from feedback_miner.cli import app

    with tempfile.TemporaryDirectory() as d:
        src, db = Path(d) / "corpus.csv", Path(d) / "fm.db"
        with src.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["external_id", "customer_id", "segment", "device", "created_at", "text"])
            for n, c in enumerate(cases):
                vals = [p["value"] for p in c["pii"]] or [f"c{n}"]
                w.writerow([f"{vals[0]}#{n}", vals[-1], vals[0], vals[-1], "2026-11-10T10:00:00Z", c["text"]])
        os.environ.setdefault("FM_PSEUDONYM_KEY", "bench-redaction-key-0123456789")
        r = CliRunner().invoke(app, ["ingest", str(src), "--db", f"sqlite:///{db}"])
        con = sqlite3.connect(db)
        dump = "\n".join(con.iterdump())
        con.close()
    values = {p["value"] for c in cases for p in c["pii"]}
    leaked = sorted(v for v in values if v in dump)
    kept = sum(1 for c in cases if not c["pii"] and c["text"] in dump)
    return {"cli_exit": r.exit_code, "pii_values": len(values), "found_in_store": len(leaked), "leaked": leaked,
            "lookalike_texts_stored_verbatim": kept, "lookalikes": sum(1 for c in cases if not c["pii"]),
            "summary": r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""}


def main() -> None:
    cases = load_corpus(CORPUS)
    score = score_corpus(cases)
    log(f"corpus: {score.cases} cases, {score.lookalikes} look-alikes "
        f"({score.lookalikes_changed} changed), {score.keeps_lost} protected strings lost")
    print(f"{'kind':<7}{'labelled':>9}{'recall':>8}{'detected':>9}{'precision':>10}")
    for kind, k in score.kinds.items():
        print(f"{kind:<7}{k.labelled:>9}{k.recall:>8.3f}{k.detected:>9}{k.precision:>10.3f}")
    for f in score.failures:
        print("  ", f)
    engines = _compare_phone_engines(cases)
    print(f"\n{'phone engine':<38}{'recall':>7}{'precision':>10}{'look-alikes hit':>16}")
    for r in engines:
        print(f"{r['engine']:<38}{r['phone_recall']:>7.3f}{r['phone_precision']:>10.3f}{r['lookalikes_changed']:>16}")
    held = _held_out_phone_recall()
    print("\nheld-out: phonenumbers' example numbers (every region, mobile + fixed line)")
    for name, r in held.items():
        print(f"  {name:<32} {r}" if isinstance(r, str) else f"  {name:<32} recall {r['recall']:.3f} of {r['numbers']}")
    grep = _store_grep(cases)
    print(f"\nstore grep: {grep['pii_values']} distinct PII values (in text, ids, segment, device) ingested by the "
          f"CLI into a fresh SQLite file: {grep['found_in_store']} found in its dump; "
          f"{grep['lookalike_texts_stored_verbatim']}/{grep['lookalikes']} look-alike texts stored verbatim "
          f"({grep['summary']})")
    speed = _speed(cases)
    print(f"\nspeed: {speed['corpus_chars_per_s']:,} chars/s on corpus texts; "
          f"{speed['ms_per_20k_char_text']} ms for one 20,000-char text")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"corpus": score.as_dict(), "failures": score.failures, "phone_engines": engines,
                               "held_out_phone": held, "store_grep": grep, "speed": speed}, indent=2, ensure_ascii=False) + "\n")
    log(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
