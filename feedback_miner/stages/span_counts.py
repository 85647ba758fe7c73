"""Linear-time span counts for title specificity (the same numbers as ``titles.outside_counts``).

``titles.outside_counts`` returns, per problem, ``total - own``: a full copy of the run's span
counter for every problem, so its cost is problems × distinct spans of the run (quadratic in the
run's size; 5.3 s of CPU at 10,000 texts, docs/PERFORMANCE.md). ``titles.candidates`` only ever
looks up the problem's own spans in it (``outside.get(key, 0)`` for the spans its members use),
so :func:`outside_counts_of_own_spans` keeps just those keys: the same value for every key that
is looked up, at the cost of one pass over the spans. A key missing from both is 0 either way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from feedback_miner.stages.titles import _norm, _spans

__all__ = ["outside_counts_of_own_spans", "span_counts"]


def span_counts(texts: Sequence[str]) -> Counter[tuple[str, ...]]:
    """Lower-cased candidate spans of ``texts`` and how many (text, span) pairs use each."""
    return Counter(tuple(_norm(t) for t in s) for text in texts for s in _spans(text))


def outside_counts_of_own_spans(texts_by_problem: Sequence[Sequence[str]]) -> list[Counter[tuple[str, ...]]]:
    """For each problem, the counts in every other problem's texts of the spans its own texts use.

    Equal to ``titles.outside_counts(texts_by_problem)[k]`` on every key of problem ``k``'s own
    spans (the only keys ``titles.candidates`` reads); keys with no outside use are left out, as
    ``Counter`` subtraction leaves them out.
    """
    per = [span_counts(texts) for texts in texts_by_problem]
    total: Counter[tuple[str, ...]] = Counter()
    for c in per:
        total.update(c)
    return [Counter({key: n for key, own in c.items() if (n := total[key] - own) > 0}) for c in per]
