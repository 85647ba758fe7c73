"""Problem registry: match this week's clusters to known problems so problem ids stay stable.

Rules of :func:`match_clusters`:

* Only a cluster and a known problem of the **same category** can match.
* Similarity is cosine: the dot product of the centroids after normalising them to unit length
  (they are meant to be unit vectors already; a zero or non-finite centroid is an error).
* Assignment is one-to-one, solved per category with the Hungarian algorithm
  (:func:`scipy.optimize.linear_sum_assignment`) over the pairs whose similarity is at least
  ``threshold`` (default 0.80, with a 1e-9 tolerance for rounding); pairs below it are never
  assigned. Among the assignments it maximises the number of matched pairs, then their total
  similarity, so as many ids as possible carry over.
* **Merge** — a known problem left unassigned whose similarity to an assigned cluster is at least
  ``merge_threshold`` (default: ``threshold``) was absorbed by the problem that cluster kept:
  ``(absorbed id, surviving id)``. The survivor is the better-matching one (the assignment always
  gives a cluster its best free match); an absorbed id is recorded once, against its most
  similar cluster.
* **Split** — a cluster left unassigned whose most similar known problem is assigned to another
  cluster with similarity at least ``merge_threshold`` is recorded as a split of that problem; it
  is still listed in ``new`` (it gets a new id; the split says where it came from).
* Deterministic: known problems are sorted by id and clusters by key before anything else (so
  the assignment is solved on the same matrix whatever the input order), ties between equally
  similar candidates for a merge or split go to the smaller id / key, and every list in the
  result is sorted: the same inputs in any order give the same result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from feedback_miner.errors import InputError

__all__ = ["ClusterSummary", "KnownProblem", "MatchResult", "match_clusters", "update_centroid"]

Vector = npt.NDArray[np.float64]

_TOLERANCE = 1e-9


def _as_vector(value: object, owner: str) -> Vector:
    try:
        vec = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"centroid of {owner} must be a numeric vector: {exc}") from exc
    if vec.ndim != 1 or vec.size == 0:
        raise InputError(f"centroid of {owner} must be a non-empty 1-D vector, not {vec.shape}")
    if not np.all(np.isfinite(vec)):
        raise InputError(f"centroid of {owner} has non-finite values (NaN or inf)")
    vec.setflags(write=False)
    return vec


def _check_label(name: str, value: object, owner: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name} of {owner} must be a non-empty string, got {value!r}")


@dataclass(frozen=True, eq=False)
class KnownProblem:
    """A problem already in the registry; ``centroid`` is unit-normalised, shape ``(d,)``."""

    id: str
    category: str
    centroid: Vector

    def __post_init__(self) -> None:
        _check_label("id", self.id, "a known problem")
        owner = f"known problem {self.id!r}"
        _check_label("category", self.category, owner)
        object.__setattr__(self, "centroid", _as_vector(self.centroid, owner))


@dataclass(frozen=True, eq=False)
class ClusterSummary:
    """One of this week's clusters: its key, category, unit centroid and member count."""

    key: int
    category: str
    centroid: Vector
    size: int

    def __post_init__(self) -> None:
        if isinstance(self.key, bool) or not isinstance(self.key, (int, np.integer)):
            raise InputError(f"key of a cluster must be an integer, got {self.key!r}")
        owner = f"cluster {self.key}"
        _check_label("category", self.category, owner)
        size_ok = isinstance(self.size, (int, np.integer)) and not isinstance(self.size, bool)
        if not size_ok or self.size < 1:
            raise InputError(f"size of {owner} must be an integer >= 1, got {self.size!r}")
        object.__setattr__(self, "centroid", _as_vector(self.centroid, owner))


@dataclass(frozen=True)
class MatchResult:
    """How this week's clusters map onto known problems (see the module docstring)."""

    assigned: dict[int, str]
    new: list[int]
    merges: list[tuple[str, str]]
    splits: list[tuple[str, list[int]]]


def _check_threshold(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise InputError(f"{name} must be a number in (0, 1], got {value!r}")
    if not 0.0 < float(value) <= 1.0:
        raise InputError(f"{name} must be a number in (0, 1], got {value!r}")
    return float(value)


def _unit(vec: Vector, owner: str) -> Vector:
    norm = float(np.linalg.norm(vec))
    if norm == 0.0 or not math.isfinite(norm):
        raise InputError(f"centroid of {owner} has zero length; cosine similarity is undefined")
    return vec / norm


def _hungarian(cost: npt.NDArray[np.float64]) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped,unused-ignore]

    rows, cols = linear_sum_assignment(cost)
    return np.asarray(rows), np.asarray(cols)


def _first_max(values: npt.NDArray[np.float64]) -> int:
    """Index of the largest value; the first (smallest id / key) among ties."""
    return int(np.argmax(values))


def match_clusters(
    known: Sequence[KnownProblem],
    clusters: Sequence[ClusterSummary],
    *,
    threshold: float = 0.80,
    merge_threshold: float | None = None,
) -> MatchResult:
    """Assign clusters to known problems one-to-one and report new clusters, merges and splits."""
    thr = _check_threshold("threshold", threshold)
    merge_thr = (
        thr if merge_threshold is None else _check_threshold("merge_threshold", merge_threshold)
    )
    ks = sorted(known, key=lambda k: k.id)
    cs = sorted(clusters, key=lambda c: int(c.key))
    for a, b in zip(ks, ks[1:]):
        if a.id == b.id:
            raise InputError(f"known problem id {a.id!r} appears twice; ids must be unique")
    for x, y in zip(cs, cs[1:]):
        if x.key == y.key:
            raise InputError(f"cluster key {x.key} appears twice; keys must be unique")

    owners = [f"known problem {k.id!r}" for k in ks] + [f"cluster {c.key}" for c in cs]
    vectors = [k.centroid for k in ks] + [c.centroid for c in cs]
    if vectors:
        dim = vectors[0].shape[0]
        for owner, vec in zip(owners, vectors):
            if vec.shape[0] != dim:
                raise InputError(
                    f"centroid of {owner} has dimension {vec.shape[0]}, but {owners[0]} has "
                    f"{dim}; all centroids must have the same dimension"
                )
    units = [_unit(v, o) for o, v in zip(owners, vectors)]
    n_known = len(ks)
    sim = np.full((len(cs), n_known), -np.inf)
    if ks and cs:
        kmat, cmat = np.vstack(units[:n_known]), np.vstack(units[n_known:])
        names = sorted({k.category for k in ks} | {c.category for c in cs})
        code = {cat: n for n, cat in enumerate(names)}
        kcat = np.array([code[k.category] for k in ks])
        same = np.array([code[c.category] for c in cs])[:, None] == kcat[None, :]
        sim = np.where(same, np.clip(cmat @ kmat.T, -1.0, 1.0), -np.inf)

    assigned_pairs: list[tuple[int, int]] = []  # (cluster index, known index)
    allowed = sim >= thr - _TOLERANCE
    for category in sorted({c.category for c in cs}):
        rows = [i for i, c in enumerate(cs) if c.category == category and allowed[i].any()]
        cols = [j for j, k in enumerate(ks) if k.category == category and allowed[:, j].any()]
        if not rows or not cols:
            continue
        block_ok = allowed[np.ix_(rows, cols)]
        big = 2.0 * (min(len(rows), len(cols)) + 1)  # outweighs any total similarity
        cost = np.where(block_ok, -sim[np.ix_(rows, cols)], big)
        for r, c in zip(*_hungarian(cost)):
            if block_ok[r, c]:
                assigned_pairs.append((rows[int(r)], cols[int(c)]))

    known_of = dict(assigned_pairs)  # cluster index -> known index
    taken = set(known_of.values())
    assigned = {int(cs[i].key): ks[j].id for i, j in sorted(assigned_pairs)}
    new_idx = [i for i in range(len(cs)) if int(cs[i].key) not in assigned]

    merges: list[tuple[str, str]] = []
    matched_rows = sorted(i for i, _ in assigned_pairs)
    if matched_rows:
        for j in range(n_known):
            if j in taken:
                continue
            column = sim[matched_rows, j]
            best = _first_max(column)
            if column[best] >= merge_thr - _TOLERANCE:
                survivor = ks[known_of[matched_rows[best]]].id
                merges.append((ks[j].id, survivor))

    split_map: dict[str, list[int]] = {}
    if n_known:
        for i in new_idx:
            j = _first_max(sim[i])
            if j in taken and sim[i, j] >= merge_thr - _TOLERANCE:
                split_map.setdefault(ks[j].id, []).append(int(cs[i].key))

    return MatchResult(
        assigned=assigned,
        new=[int(cs[i].key) for i in new_idx],
        merges=sorted(merges),
        splits=sorted(split_map.items()),
    )


def update_centroid(old: Vector, new: Vector, weight_old: float, weight_new: float) -> Vector:
    """The weighted mean of two centroids, re-normalised to unit length."""
    a, b = _as_vector(old, "the old centroid"), _as_vector(new, "the new centroid")
    if a.shape != b.shape:
        raise InputError(f"old centroid has shape {a.shape} but new has {b.shape}; they must match")
    for name, w in (("weight_old", weight_old), ("weight_new", weight_new)):
        if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)):
            raise InputError(f"{name} must be a finite number >= 0, got {w!r}")
        if not math.isfinite(w) or w < 0:
            raise InputError(f"{name} must be a finite number >= 0, got {w!r}")
    if weight_old + weight_new <= 0:
        raise InputError(
            f"weight_old + weight_new must be > 0, got {weight_old!r} + {weight_new!r}"
        )
    mean: Vector = (float(weight_old) * a + float(weight_new) * b) / float(weight_old + weight_new)
    norm = float(np.linalg.norm(mean))
    if norm <= _TOLERANCE:
        raise InputError("the weighted mean of old and new centroids is the zero vector")
    return mean / norm
