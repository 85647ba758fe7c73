"""Describe problems: readable title, keywords (c-TF-IDF), diverse quotes, error codes, breakdowns."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["breakdown", "diverse_quotes", "error_codes", "keywords_by_cluster", "tokens"]

STOP = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "im", "ive", "dont", "didnt", "cant", "doesnt", "isnt", "wont", "its", "it's", "i'm", "i've", "don't", "didn't", "can't", "doesn't", "isn't", "won't", "also", "still", "even", "get", "got", "really", "please", "thanks", "thank", "hi", "hello", "team", "guys", "one", "since", "ever", "every", "again", "already", "yet", "much", "many", "like", "just", "us", "let", "lets", "would", "could", "might", "need", "want", "way", "thing", "things", "time", "today", "yesterday", "week", "ago", "then", "tried", "try"]
)
_TOKEN = re.compile(r"[a-z0-9][a-z0-9'\-]*[a-z0-9]|[a-z]")
_ERR = re.compile(r"\b(?:[A-Z]{2,6}-\d{2,5}|(?:error|err|code)\s*:?\s*#?\s*\d{3,5}|\b[45]\d{2}\s+error)\b", re.I)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("’", "'"))


def _ngrams(toks: Sequence[str], n: int) -> list[str]:
    return [" ".join(toks[i : i + n]) for i in range(len(toks) - n + 1)]


def _terms(text: str) -> set[str]:
    toks = [t for t in tokens(text) if t not in STOP and not t.isdigit() and len(t) > 1]
    return set(toks) | set(_ngrams(toks, 2))


def keywords_by_cluster(texts: Sequence[str], labels: np.ndarray, top: int = 8) -> dict[int, list[str]]:
    """c-TF-IDF keywords per cluster (unclustered texts act as background)."""
    docs = [_terms(t) for t in texts]
    groups = sorted({int(v) for v in labels.tolist()})
    tf: dict[int, Counter[str]] = {g: Counter() for g in groups}
    for d, g in zip(docs, labels.tolist()):
        tf[int(g)].update(d)
    total = Counter[str]()
    for c in tf.values():
        total.update(c)
    avg = sum(sum(c.values()) for c in tf.values()) / max(len(tf), 1)
    out: dict[int, list[str]] = {}
    for g in groups:
        if g < 0:
            continue
        n = max(int((labels == g).sum()), 1)
        scored = [
            (cnt / n * math.log(1 + avg / total[t]), t) for t, cnt in tf[g].items() if cnt >= max(2, 0.05 * n)
        ]
        scored.sort(key=lambda s: (-s[0], s[1]))
        picked: list[str] = []
        for _, t in scored:
            if any(t in p.split() or (" " in t and all(w in picked for w in t.split())) for p in picked):
                continue
            picked.append(t)
            if len(picked) == top:
                break
        out[g] = picked
    return out


def diverse_quotes(X: np.ndarray, texts: Sequence[str], k: int = 3, lam: float = 0.7) -> list[int]:
    """Indices of ``k`` representative yet diverse members (maximal marginal relevance)."""
    if len(texts) == 0:
        return []
    c = X.mean(axis=0)
    c = c / max(float(np.linalg.norm(c)), 1e-12)
    rel = X @ c
    chosen = [int(np.argmax(rel))]
    seen = {texts[chosen[0]].lower()}
    while len(chosen) < min(k, len(texts)):
        red = (X @ X[chosen].T).max(axis=1)
        score = lam * rel - (1 - lam) * red
        for i in np.argsort(-score, kind="stable"):
            if int(i) not in chosen and texts[int(i)].lower() not in seen:
                chosen.append(int(i))
                seen.add(texts[int(i)].lower())
                break
        else:
            break
    return chosen


def error_codes(texts: Sequence[str], top: int = 5) -> list[str]:
    """Error codes or messages quoted in the texts, most frequent first ("PAY-402 (12)")."""
    cnt = Counter[str]()
    forms: dict[str, Counter[str]] = {}
    for t in texts:
        found = {" ".join(x.split()) for x in _ERR.findall(t)}
        for key in {f.upper() for f in found}:
            cnt[key] += 1
        for f in found:
            forms.setdefault(f.upper(), Counter())[f] += 1

    def shown(key: str) -> str:  # the writers' own spelling; a bare code like "pp-1002" in capitals
        form = max(forms[key].items(), key=lambda kv: (kv[1], kv[0].isupper(), kv[0]))[0]
        return form.upper() if re.fullmatch(r"[A-Za-z]{2,6}-\d{2,5}", form) else form

    ranked = sorted(cnt.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [f"{shown(code)} ({n})" for code, n in ranked if n >= 2]


def breakdown(values: Sequence[str | None], top: int = 6) -> dict[str, int]:
    cnt = Counter(v for v in values if v)
    return dict(sorted(cnt.items(), key=lambda kv: (-kv[1], kv[0]))[:top])


def breakdowns(meta: Mapping[str, Sequence[str | None]]) -> dict[str, dict[str, int]]:
    return {k: b for k, vals in meta.items() if (b := breakdown(vals))}
