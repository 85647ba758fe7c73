"""Scoring a redactor against the labelled corpus (``tests/data/redaction_corpus.jsonl``).

One case is ``{"id", "kind", "text", "pii": [{"kind", "value"}], "keep": [...]}``: ``pii`` lists the
spans that must be redacted (by value; found in the text in order), ``keep`` strings that must
survive verbatim; a ``lookalike`` case has no ``pii`` and must come out unchanged.

* A labelled span is *recalled* when detections of its kind cover every non-space character.
* A detection is a *true positive* when it overlaps a labelled span of its kind, else a false positive.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from feedback_miner.domain.redact import DETECTORS, KINDS, Detector, find_pii, redact
from feedback_miner.errors import InputError

__all__ = ["CorpusScore", "KindScore", "load_corpus", "score_corpus"]


@dataclass
class KindScore:
    labelled: int = 0
    recalled: int = 0
    detected: int = 0
    true_positive: int = 0

    @property
    def recall(self) -> float:
        return self.recalled / self.labelled if self.labelled else 1.0

    @property
    def precision(self) -> float:
        return self.true_positive / self.detected if self.detected else 1.0


@dataclass
class CorpusScore:
    kinds: dict[str, KindScore] = field(default_factory=lambda: {k: KindScore() for k in KINDS})
    cases: int = 0
    lookalikes: int = 0
    lookalikes_changed: int = 0
    keeps_lost: int = 0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cases": self.cases, "lookalikes": self.lookalikes, "lookalike_false_positives": self.lookalikes_changed,
            "keep_strings_lost": self.keeps_lost,
            "kinds": {k: {"labelled": s.labelled, "recalled": s.recalled, "detected": s.detected,
                          "true_positive": s.true_positive, "recall": round(s.recall, 4),
                          "precision": round(s.precision, 4)} for k, s in self.kinds.items()},
        }


def load_corpus(path: str | Path) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _gold_spans(text: str, pii: Iterable[Mapping[str, str]]) -> list[tuple[str, int, int]]:
    spans: list[tuple[str, int, int]] = []
    cursor: dict[str, int] = {}
    for p in pii:
        start = text.find(p["value"], cursor.get(p["value"], 0))
        if start < 0:
            raise InputError(f"corpus: {p['value']!r} is not in {text!r}")  # a corpus bug, not input
        cursor[p["value"]] = start + 1
        spans.append((p["kind"], start, start + len(p["value"])))
    return spans


def score_corpus(cases: Sequence[Mapping[str, Any]],
                 detectors: Sequence[tuple[str, Detector]] = DETECTORS) -> CorpusScore:
    score = CorpusScore()
    for case in cases:
        text: str = case["text"]
        score.cases += 1
        gold = _gold_spans(text, case.get("pii", []))
        found = find_pii(text, detectors)
        for kind, start, end in gold:
            ks = score.kinds[kind]
            ks.labelled += 1
            covered = {i for f in found if f.kind == kind for i in range(f.start, f.end)}
            if all(i in covered for i in range(start, end) if not text[i].isspace()):
                ks.recalled += 1
            else:
                score.failures.append(f"{case['id']}: missed {kind} {text[start:end]!r}")
        for f in found:
            ks = score.kinds[f.kind]
            ks.detected += 1
            if any(k == f.kind and f.start < e and s < f.end for k, s, e in gold):
                ks.true_positive += 1
            else:
                score.failures.append(f"{case['id']}: false {f.kind} {text[f.start:f.end]!r}")
        out = redact(text, detectors)
        if not gold:
            score.lookalikes += 1
            if out != text:
                score.lookalikes_changed += 1
        for keep in case.get("keep", []):
            if keep not in out:
                score.keeps_lost += 1
                score.failures.append(f"{case['id']}: lost {keep!r} -> {out!r}")
    return score
