"""Problem titles: a short phrase from the members' own words that names the problem.

Candidates are word spans of 2-6 words inside one clause of a member text (clauses end at
punctuation and at connectives such as "because" or "but", so a title never runs across them);
a span may not start with a filler ("I", "my", "please", "how do") nor end on a word that leaves
the phrase open ("to", "the", "says", "keeps"), so it is never cut mid-phrase. Each candidate is
scored by how many members use it, how specific it is to this problem (against the run's other
problems) and how central it is: the cosine of its own embedding (when an embedder is given) or of
the members that use it to the problem's centroid. Error codes keep their original case
("PP-1002"); a problem whose members mostly quote one code gets it appended ("... with PP-1002").
:func:`assign_titles` gives every problem of a run a different title (next-best candidate first).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_WORDS",
    "TitleCandidate",
    "assign_titles",
    "candidates",
    "fallback_title",
    "outside_counts",
    "rerank",
    "title_tokens",
]

MAX_WORDS = 6
MIN_POOL = 10
"""A problem whose members share fewer title phrases than this (each used by 8% of them) also
ranks the phrases that two members share. Measured with ``benchmarks/bench_problems.py``
(title-names-intent at 0 / 5 / 10 / 20 / always): banking77 0.65 / 0.70 / 0.72 / 0.72 / 0.72, bitext
0.70 / 0.73 / 0.73 / 0.73 / 0.73, the demo 0.76 throughout (its titles unchanged)."""
CONTRAST = 3.0
"""Weight of a title phrase's margin over the run's nearest other problem (``rerank``), measured with
``benchmarks/bench_problems.py``: title-names-intent at 0 / 3 / 10 was 0.62 / 0.65 / 0.64 on banking77,
0.70 / 0.73 / 0.75 on bitext and 0.68 / 0.76 / 0.76 on the demo; 10 also picked fragments in the
demo digest ("Says delivered")."""
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*[A-Za-z0-9]|[A-Za-z0-9]|\[[A-Z]+\]")
_CLAUSE = re.compile(
    r"[.!?;:,()\"\n]|\s-\s|\b(?:because|but|although|though|however|so that|since|unless|whereas|while|"
    r"and then|then|also|otherwise|which|who)\b",
    re.IGNORECASE,
)
_CODE = re.compile(r"^[A-Za-z]{1,6}-?\d{2,5}$")
_FILLER = frozenset(
    ["a", "an", "the", "i", "i'm", "im", "i've", "ive", "i'd", "i'll", "my", "me", "mine", "we", "we're", "our", "us", "you", "your", "yours", "it", "it's", "its", "this", "that", "these", "those", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "doing", "have", "has", "had", "having", "to", "of", "for", "and", "or", "nor", "but", "so", "with", "at", "in", "on", "by", "from", "as", "if", "when", "why", "how", "what", "where", "which", "who", "whom", "whose", "please", "hi", "hello", "hey", "dear", "thanks", "thank", "just", "also", "still", "really", "very", "can", "could", "would", "should", "will", "shall", "may", "might", "must", "there", "here", "then", "than", "some", "any", "all", "about", "into", "up", "out", "off", "over", "only", "again", "even", "yet", "much", "many", "like", "get", "got", "gets", "getting", "want", "wants", "wanted", "need", "needs", "needed", "help", "tell", "know", "let", "lets", "ok", "okay", "yes", "well", "now", "today", "yesterday", "already", "ever", "every", "each", "one", "since", "after", "before", "while", "because", "though", "although", "whether", "else", "other", "another", "such", "same", "own", "guys", "team", "support", "sir", "madam"]
)
_OPEN_END = _FILLER | frozenset(
    ["says", "said", "say", "saying", "keeps", "keep", "kept", "tried", "try", "trying", "make", "makes", "made", "go", "goes", "going", "went", "come", "comes", "came", "give", "gives", "gave", "put", "puts", "take", "takes", "took", "see", "sees", "saw", "seen", "show", "shows", "showed", "use", "uses", "used", "time", "times", "thing", "things", "way", "something", "someone", "anything", "anyone", "problem", "issue", "issues", "trouble", "new", "old", "hasn't", "haven't", "isn't", "aren't", "wasn't", "weren't", "don't", "doesn't", "didn't", "won't", "can't", "cannot", "couldn't", "wouldn't", "shouldn't", "not", "never"]
)
# A phrasal verb or compound noun may end on its particle: "top up", "log in", "sign out".
_PARTICLES = {
    "up": frozenset(["top", "sign", "set", "pick", "show", "back", "load", "open", "mess", "messed", "topped", "signed"]),
    "in": frozenset(["log", "sign", "logging", "signing", "check"]),
    "out": frozenset(["log", "sign", "logged", "check", "checking", "cash"]),
    "back": frozenset(["money", "call", "pay", "paid"]),
}
_JOINERS = frozenset(("and", "or", "&"))
# A verb whose subject was left behind ("[tracking] says delivered", "[it] keeps crashing") cannot open one.
_NO_START = frozenset(["says", "said", "say", "shows", "showed", "keeps", "kept", "tried", "tries", "went", "goes",
                       "came", "comes", "gave", "gives", "took", "takes", "made", "makes", "seems", "seemed"])
_CAN_START = frozenset(["can't", "cannot", "can", "not", "unable", "never", "no", "double", "wrong"])


def title_tokens(text: str) -> list[str]:
    return _WORD.findall(text.replace("’", "'"))


def _norm(tok: str) -> str:
    return tok.lower()


def _spans(text: str) -> dict[tuple[str, ...], bool]:
    """Candidate spans of a text; the flag says whether the span ends its clause."""
    out: dict[tuple[str, ...], bool] = {}
    for clause in _CLAUSE.split(text.replace("’", "'")):
        if not clause:
            continue
        toks = title_tokens(clause)
        low = [_norm(t) for t in toks]
        for i in range(len(toks)):
            if (low[i] in _FILLER and low[i] not in _CAN_START) or low[i] in _NO_START or toks[i].startswith("["):
                continue
            for n in range(2, MAX_WORDS + 1):
                j = i + n
                if j > len(toks):
                    break
                word = low[j - 1]
                if word in _JOINERS and (n > 3 or low[j - 2] in _FILLER):
                    break  # "and" joins two words ("cards and currencies"), not two clauses
                if low[j - 2] in _JOINERS and word in _FILLER:
                    break  # "... and now my account": a second clause starts here
                particle = word in _PARTICLES and low[j - 2] in _PARTICLES[word]
                if toks[j - 1].startswith("[") or (word in _OPEN_END and not particle) or word.isdigit():
                    continue
                span = tuple(toks[i:j])
                out[span] = out.get(span, False) or j == len(toks)
    return out


@dataclass(frozen=True)
class TitleCandidate:
    text: str
    score: float


def _display(forms: Counter[tuple[str, ...]]) -> str:
    best = max(forms.items(), key=lambda kv: (kv[1], kv[0]))[0]
    words = [t.upper() if _CODE.match(t) and any(c.isdigit() for c in t) and any(c.isalpha() for c in t) else t
             for t in best]
    phrase = " ".join(words)
    return phrase[:1].upper() + phrase[1:]


def candidates(
    member_texts: Sequence[str],
    member_vectors: npt.NDArray[np.floating],
    centroid: npt.NDArray[np.floating],
    outside: Counter[tuple[str, ...]],
    n_outside: int,
    *,
    top: int = 24,
) -> list[TitleCandidate]:
    """Ranked title candidates of one problem (best first). ``outside`` counts, per lower-cased span,
    the texts of the run's other problems that use it (``n_outside`` texts in all)."""
    n = len(member_texts)
    users: dict[tuple[str, ...], list[int]] = defaultdict(list)
    forms: dict[tuple[str, ...], Counter[tuple[str, ...]]] = defaultdict(Counter)
    whole: Counter[tuple[str, ...]] = Counter()
    for k, text in enumerate(member_texts):
        for span, bounded in _spans(text).items():
            key = tuple(_norm(t) for t in span)
            if not users[key] or users[key][-1] != k:
                users[key].append(k)
            forms[key][span] += 1
            whole[key] += bounded
    need = max(2, int(np.ceil(0.08 * n))) if n >= 4 else 1
    pool = [(key, ks) for key, ks in users.items() if len(ks) >= need]
    if len(pool) < MIN_POOL and need > 2:
        # Varied wording leaves few phrases shared by 8% of the members; phrases two of them share
        # then compete too, on the same score ("pending transfer" against "account details").
        pool = [(key, ks) for key, ks in users.items() if len(ks) >= 2]
    sims = np.asarray(member_vectors @ centroid, dtype=np.float64)
    scored: list[tuple[float, tuple[str, ...]]] = []
    for key, ks in pool:
        cover = len(ks) / n
        spec = cover / (cover + outside.get(key, 0) / max(n_outside, 1) + 1e-9)
        central = float(sims[ks].mean())
        length = 1.0 + 0.12 * min(len(key) - 2, 2)
        bounds = 1.0 + 0.25 * whole[key] / max(1, sum(forms[key].values()))
        scored.append((cover**0.5 * spec * max(central, 0.0) * length * bounds, key))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return _drop_contained([TitleCandidate(_display(forms[k]), round(s, 6)) for s, k in scored[:top]])


def rerank(
    shortlists: Sequence[Sequence[TitleCandidate]],
    centroids: Sequence[npt.NDArray[np.floating]],
    embed: Callable[[Sequence[str]], npt.NDArray[np.floating]],
    *,
    top: int = 12,
    contrast: float = CONTRAST,
) -> list[list[TitleCandidate]]:
    """Re-rank each problem's candidates by how close each phrase's own embedding is to the problem's
    centroid (one embedding call for the whole run, each distinct phrase once)."""
    flat = [c.text for cands in shortlists for c in cands]
    if not flat:
        return [list(c) for c in shortlists]
    # a phrase shortlisted by several problems is embedded once
    unique = list(dict.fromkeys(flat))
    row = {t: n for n, t in enumerate(unique)}
    V = np.asarray(embed(unique), dtype=np.float64)[[row[t] for t in flat]]
    C = np.stack([np.asarray(c, dtype=np.float64) for c in centroids])
    out: list[list[TitleCandidate]] = []
    pos = 0
    for k, cands in enumerate(shortlists):
        S = V[pos : pos + len(cands)] @ C.T
        pos += len(cands)
        own = S[:, k].copy()
        if len(C) > 1:
            S[:, k] = -np.inf
            rival = S.max(axis=1)
        else:
            rival = np.zeros(len(cands))
        ranked = sorted(((c.score * max(float(p), 0.0) ** 2 * _contrast(float(p), float(r), contrast), c.text)
                         for c, p, r in zip(cands, own, rival)), key=lambda s: (-s[0], s[1]))
        out.append([TitleCandidate(t, round(s, 6)) for s, t in ranked[:top]])
    return out


def _contrast(own: float, rival: float, weight: float) -> float:
    """How much nearer a phrase is to its own problem than to the nearest other problem of the run:
    a phrase that would name a neighbouring problem as well is worth less (``weight`` 0 = ignore)."""
    return float(np.exp(weight * (own - rival)))


def _drop_contained(cands: list[TitleCandidate]) -> list[TitleCandidate]:
    """Keep the order; drop a candidate inside an earlier, better one (a fragment of it)."""
    kept: list[TitleCandidate] = []
    for c in cands:
        low = f" {c.text.lower()} "
        if any(low in f" {k.text.lower()} " for k in kept):
            continue
        kept.append(c)
    return kept


def _with_code(title: str, code: str | None) -> str:
    if code and code.lower() not in title.lower():
        return f"{title} with {code}"
    return title


def assign_titles(
    ranked: Sequence[Sequence[TitleCandidate]],
    fallbacks: Sequence[str],
    codes: Sequence[str | None],
    taken: set[str] | None = None,
) -> list[str]:
    """One title per problem, unique within the run (and against ``taken``, lower-cased titles already
    used): problems are served in the given order (highest priority first), each its best free candidate."""
    used = {t.lower() for t in (taken or set())}
    out: list[str] = []
    for cands, fallback, code in zip(ranked, fallbacks, codes):
        options = [_with_code(c.text, code) for c in cands] + [_with_code(fallback, code)]
        title = next((o for o in options if o.lower() not in used), None)
        if title is None:
            base = options[0]
            extra = next((c.text for c in cands[1:] if c.text.lower() not in base.lower()), None)
            title = f"{base} ({extra.lower()})" if extra else base
            n = 2
            while title.lower() in used:
                title, n = f"{base} ({n})", n + 1
        used.add(title.lower())
        out.append(title)
    return out


def outside_counts(texts_by_problem: Sequence[Sequence[str]]) -> list[Counter[tuple[str, ...]]]:
    """For each problem, the span counts of every other problem's texts (for specificity)."""
    per = [Counter(tuple(_norm(t) for t in s) for text in texts for s in _spans(text)) for texts in texts_by_problem]
    total: Counter[tuple[str, ...]] = Counter()
    for c in per:
        total.update(c)
    return [total - c for c in per]


def fallback_title(member_texts: Sequence[str], central_index: int, keywords: Sequence[str]) -> str:
    """The first clause of the most central member, up to the last word that can end a phrase."""
    if member_texts:
        clause = next((c for c in _CLAUSE.split(member_texts[central_index]) if c and title_tokens(c)), "")
        toks = title_tokens(clause)
        while toks and _norm(toks[0]) in _FILLER and _norm(toks[0]) not in _CAN_START:
            toks.pop(0)
        toks = toks[: MAX_WORDS + 2]
        while toks and (_norm(toks[-1]) in _OPEN_END or toks[-1].startswith("[")):
            toks.pop()
        if len(toks) >= 2:
            phrase = " ".join(toks)
            return phrase[:1].upper() + phrase[1:]
    word = " ".join(keywords[:2]) if keywords else "Unnamed problem"
    return word[:1].upper() + word[1:]
