"""Match a week's clusters to the problem registry so problems keep their ids.

One-to-one assignment by centroid similarity (``stages.registry.match_clusters``); a cluster that
also matches an already-assigned problem strongly is a fragment of that problem this week and
joins it (recorded as a split event) instead of becoming a false "new" problem; ids of merged
problems redirect to the survivor and are never reused.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from feedback_miner.domain import scoring
from feedback_miner.domain.ports import ProblemRecord, ResultsReader
from feedback_miner.domain.types import FeedbackItem, Problem
from feedback_miner.stages.merge import CROSS_CATEGORY_THRESHOLD, MERGE_THRESHOLD, Cluster, merge_anchored
from feedback_miner.stages.problems import FoundProblems
from feedback_miner.stages.registry import ClusterSummary, KnownProblem, MatchResult, match_clusters

__all__ = ["FRAGMENT_THRESHOLD", "RegistryInfo", "join_fragments", "join_new_fragments", "match_registry"]


@dataclass
class RegistryInfo:
    rows: dict[str, ProblemRecord]  # live (not merged) known problems by id
    merged: dict[str, str] = field(default_factory=dict)  # absorbed id -> survivor

    def redirect(self, pid: str) -> str:
        seen = set()
        while pid in self.merged and pid not in seen:
            seen.add(pid)
            pid = self.merged[pid]
        return pid


def match_registry(store: ResultsReader, found: FoundProblems, week: str, threshold: float
                   ) -> tuple[dict[str, str], MatchResult, RegistryInfo]:
    """Registry id for each of this week's local problem ids."""
    all_rows = store.problem_records()
    live = {r.id: r for r in all_rows if r.merged_into is None}
    info = RegistryInfo(live, {r.id: r.merged_into for r in all_rows if r.merged_into})
    known = [KnownProblem(r.id, r.category, r.centroid) for r in live.values() if r.first_week <= week]
    local = {p.id: n for n, p in enumerate(found.problems)}
    clusters = [ClusterSummary(n, p.category, found.centroids[p.id], p.size) for n, p in enumerate(found.problems)]
    match = match_clusters(known, clusters, threshold=threshold)
    for absorbed, survivor in match.merges:
        info.merged[absorbed] = survivor
    fragment_of = {k: known_id for known_id, keys in match.splits for k in keys}
    counter: dict[str, int] = {}
    for r in all_rows:  # merged ids included, so an id is never reused
        cat, _, num = r.id.rpartition("-")
        if num.isdigit():
            counter[cat] = max(counter.get(cat, 0), int(num))
    ids: dict[str, str] = {}
    for p in found.problems:
        k = local[p.id]
        if k in match.assigned:
            ids[p.id] = match.assigned[k]
        elif k in fragment_of:
            ids[p.id] = fragment_of[k]
        else:
            counter[p.category] = counter.get(p.category, 0) + 1
            ids[p.id] = f"{p.category}-{counter[p.category]:03d}"
    return ids, match, info


def join_fragments(found: FoundProblems, items: Sequence[FeedbackItem], cats: Sequence[str]) -> None:
    """Problems that ended up with the same id become one: members joined, severity recomputed
    (priority is computed once, later, from the final problem)."""
    by_item = {int(i.id): i for i in items if i.id is not None}
    cat_of = {int(i.id): c for i, c in zip(items, cats) if i.id is not None}
    joined: set[str] = set()
    cat_sizes: dict[str, int] = {}
    for c in cats:
        cat_sizes[c] = cat_sizes.get(c, 0) + 1
    merged: dict[str, Problem] = {}
    for p in sorted(found.problems, key=lambda p: -p.size):
        if p.id not in merged:
            merged[p.id] = p
            continue
        keep = merged[p.id]
        joined.add(p.id)
        keep.member_ids = keep.member_ids + p.member_ids
        keep.error_codes = keep.error_codes or p.error_codes
        for dim, counts in p.breakdowns.items():
            into = keep.breakdowns.setdefault(dim, {})
            for k, v in counts.items():
                into[k] = into.get(k, 0) + v
    for p in merged.values():
        members = [by_item[m] for m in p.member_ids if m in by_item]
        p.severity_terms = scoring.severity_terms(p.category, members)
        p.severity = scoring.severity(p.severity_terms)
        p.share_of_category = round(p.size / max(cat_sizes.get(p.category, 1), 1), 4)
        if p.id in joined:  # say when the joined members' categories disagree
            votes: dict[str, int] = {}
            for m in p.member_ids:
                if m in cat_of:
                    votes[cat_of[m]] = votes.get(cat_of[m], 0) + 1
            p.member_categories = dict(sorted(votes.items())) if len(votes) > 1 or p.category not in votes else {}
    found.problems = list(merged.values())


FRAGMENT_THRESHOLD = 0.8
"""Centroid cosine at which an unmatched cluster joins a same-category cluster that matched a known
problem this week (the registry's own match threshold). Two unmatched clusters join at
``stages.merge.MERGE_THRESHOLD`` (0.85, measured with bench_problems: 0.8 there lowers banking77
purity 0.72 -> 0.67). Replay: benchmarks/README.md, "One emerging problem, one alert"."""


def join_new_fragments(found: FoundProblems, X: npt.NDArray[np.floating], cats: Sequence[str], ids: Mapping[str, str],
                       known: Collection[str], *, threshold: float = MERGE_THRESHOLD,
                       fragment_threshold: float = FRAGMENT_THRESHOLD,
                       cross_category_threshold: float = CROSS_CATEGORY_THRESHOLD) -> dict[str, str]:
    """The within-week near-duplicate merge, done after the registry match so it respects it:
    clusters that matched different known problems stay apart; an unmatched fragment joins the
    known problem its near duplicate matched (``fragment_threshold``), and fragments of a new problem
    join each other (``threshold``): one new problem, one alert. Returns the registry id of each
    local problem id (``ids`` updated)."""
    index: dict[str, list[int]] = {}
    for n, pid in enumerate(found.problem_of):
        if pid is not None:
            index.setdefault(pid, []).append(n)
    local = [p.id for p in found.problems if index.get(p.id)]
    clusters = [Cluster(index[pid], [cats[n] for n in index[pid]]) for pid in local]
    anchors = [ids[pid] if ids[pid] in known else None for pid in local]
    owner = {n: pid for pid in local for n in index[pid]}
    out = dict(ids)
    for cluster, anchor in merge_anchored(X, clusters, anchors, threshold=threshold, anchored_threshold=fragment_threshold,
                                          cross_category_threshold=cross_category_threshold):
        parts = sorted({owner[n] for n in cluster.members}, key=lambda pid: (-len(index[pid]), pid))
        target = anchor or ids[parts[0]]
        for pid in parts:
            out[pid] = target
    return out
