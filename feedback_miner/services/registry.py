"""Match a week's clusters to the problem registry so problems keep their ids.

One-to-one assignment by centroid similarity (``stages.registry.match_clusters``); a cluster that
also matches an already-assigned problem strongly is a fragment of that problem this week and
joins it (recorded as a split event) instead of becoming a false "new" problem; ids of merged
problems redirect to the survivor and are never reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from feedback_miner.domain import scoring
from feedback_miner.domain.ports import ProblemRecord, ResultsReader
from feedback_miner.domain.types import FeedbackItem, Problem
from feedback_miner.stages.problems import FoundProblems
from feedback_miner.stages.registry import ClusterSummary, KnownProblem, MatchResult, match_clusters

__all__ = ["RegistryInfo", "join_fragments", "match_registry"]


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
    cat_sizes: dict[str, int] = {}
    for c in cats:
        cat_sizes[c] = cat_sizes.get(c, 0) + 1
    merged: dict[str, Problem] = {}
    for p in sorted(found.problems, key=lambda p: -p.size):
        if p.id not in merged:
            merged[p.id] = p
            continue
        keep = merged[p.id]
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
    found.problems = list(merged.values())
