"""Unit tests of feedback_miner.stages.registry: stable problem ids across weeks."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from feedback_miner.stages.registry import (
    ClusterSummary,
    KnownProblem,
    match_clusters,
    update_centroid,
)

DIM = 24
Vec = npt.NDArray[np.float64]


def _unit(v: Vec) -> Vec:
    return v / np.linalg.norm(v)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20260101)


def _random(rng: np.random.Generator) -> Vec:
    return _unit(rng.standard_normal(DIM))


def _near(v: Vec, rng: np.random.Generator, scale: float = 0.05) -> Vec:
    return _unit(v + scale * rng.standard_normal(DIM))


def _cluster(key: int, v: Vec, category: str = "payment", size: int = 10) -> ClusterSummary:
    return ClusterSummary(key=key, category=category, centroid=v, size=size)


def test_identical_centroids_match(rng: np.random.Generator) -> None:
    a, b = _random(rng), _random(rng)
    known = [KnownProblem("P1", "payment", a), KnownProblem("P2", "payment", b)]
    result = match_clusters(known, [_cluster(7, b), _cluster(3, a)])
    assert result.assigned == {3: "P1", 7: "P2"}
    assert result.new == [] and result.merges == [] and result.splits == []


def test_perturbed_centroid_keeps_its_id_and_unrelated_is_new(rng: np.random.Generator) -> None:
    a, b, other = _random(rng), _random(rng), _random(rng)
    known = [KnownProblem("P1", "payment", a), KnownProblem("P2", "payment", b)]
    moved = _near(a, rng)
    assert float(moved @ a) > 0.9
    result = match_clusters(known, [_cluster(1, moved), _cluster(2, other)])
    assert result.assigned == {1: "P1"}
    assert result.new == [2]
    assert result.splits == []


def test_different_categories_never_match(rng: np.random.Generator) -> None:
    a = _random(rng)
    result = match_clusters([KnownProblem("P1", "payment", a)], [_cluster(1, a, "shipping")])
    assert result.assigned == {}
    assert result.new == [1]
    assert result.merges == [] and result.splits == []


def test_two_clusters_near_one_problem_is_one_to_one_with_split(rng: np.random.Generator) -> None:
    a = _random(rng)
    known = [KnownProblem("P1", "payment", a)]
    result = match_clusters(known, [_cluster(5, _near(a, rng)), _cluster(4, a)])
    assert result.assigned == {4: "P1"}  # the better-matching cluster keeps the id
    assert result.new == [5]
    assert result.splits == [("P1", [5])]
    assert result.merges == []


def test_two_problems_near_one_cluster_is_a_merge(rng: np.random.Generator) -> None:
    a = _random(rng)
    known = [KnownProblem("P2", "payment", _near(a, rng)), KnownProblem("P1", "payment", a)]
    result = match_clusters(known, [_cluster(1, a)])
    assert result.assigned == {1: "P1"}
    assert result.merges == [("P2", "P1")]  # (absorbed, survivor = the better match)
    assert result.new == [] and result.splits == []


def test_merge_threshold_is_separate(rng: np.random.Generator) -> None:
    a = _random(rng)
    b = _near(a, rng, scale=0.15)
    sim = float(a @ b)
    known = [KnownProblem("P1", "payment", a), KnownProblem("P2", "payment", b)]
    above = min(1.0, sim + 0.01)
    strict = match_clusters(known, [_cluster(1, a)], threshold=0.5, merge_threshold=above)
    assert strict.merges == []
    loose = match_clusters(known, [_cluster(1, a)], threshold=0.5, merge_threshold=sim - 0.01)
    assert loose.merges == [("P2", "P1")]


def test_result_does_not_depend_on_input_order(rng: np.random.Generator) -> None:
    vs = [_random(rng) for _ in range(6)]
    known = [KnownProblem(f"P{i}", "technical", v) for i, v in enumerate(vs)]
    clusters = [_cluster(10 + i, _near(v, rng), "technical") for i, v in enumerate(vs[:4])]
    clusters.append(_cluster(99, _random(rng), "technical"))
    first = match_clusters(known, clusters)
    second = match_clusters(known[::-1], clusters[::-1])
    assert first == second
    assert first.assigned == {10: "P0", 11: "P1", 12: "P2", 13: "P3"}
    assert first.new == [99]


def test_threshold_is_validated(rng: np.random.Generator) -> None:
    for bad in (0.0, -0.2, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"threshold must be a number in \(0, 1\]"):
            match_clusters([], [], threshold=bad)
    with pytest.raises(ValueError, match=r"merge_threshold must be a number in \(0, 1\], got 2"):
        match_clusters([], [], merge_threshold=2)
    assert match_clusters([], [], threshold=1.0).assigned == {}


def test_mismatched_dimensions_name_the_culprit(rng: np.random.Generator) -> None:
    known = [KnownProblem("P1", "payment", _random(rng))]
    short = _unit(rng.standard_normal(DIM - 1))
    message = r"centroid of cluster 3 has dimension 23, but known problem 'P1' has 24"
    with pytest.raises(ValueError, match=message):
        match_clusters(known, [_cluster(3, short)])


def test_duplicates_and_bad_inputs_are_rejected(rng: np.random.Generator) -> None:
    a = _random(rng)
    with pytest.raises(ValueError, match=r"known problem id 'P1' appears twice"):
        match_clusters([KnownProblem("P1", "payment", a)] * 2, [])
    with pytest.raises(ValueError, match=r"cluster key 1 appears twice"):
        match_clusters([], [_cluster(1, a), _cluster(1, a)])
    with pytest.raises(ValueError, match=r"centroid of cluster 2 has zero length"):
        match_clusters([KnownProblem("P1", "payment", a)], [_cluster(2, np.zeros(DIM))])
    with pytest.raises(ValueError, match=r"size of cluster 2 must be an integer >= 1, got 0"):
        _cluster(2, a, size=0)
    with pytest.raises(ValueError, match=r"centroid of known problem 'P1' must be a non-empty 1-D"):
        KnownProblem("P1", "payment", np.ones((2, 2)))


def test_update_centroid_is_a_renormalised_weighted_mean(rng: np.random.Generator) -> None:
    a, b = _random(rng), _random(rng)
    out = update_centroid(a, b, 3.0, 1.0)
    assert np.linalg.norm(out) == pytest.approx(1.0)
    np.testing.assert_allclose(out, _unit(3 * a + b))
    np.testing.assert_allclose(update_centroid(a, b, 1.0, 0.0), a)
    with pytest.raises(ValueError, match=r"weight_old must be a finite number >= 0, got -1"):
        update_centroid(a, b, -1, 1)
    with pytest.raises(ValueError, match=r"weight_old \+ weight_new must be > 0"):
        update_centroid(a, b, 0, 0)
    with pytest.raises(ValueError, match=r"old centroid has shape \(24,\) but new has \(3,\)"):
        update_centroid(a, np.ones(3), 1, 1)
    with pytest.raises(ValueError, match=r"zero vector"):
        update_centroid(a, -a, 1, 1)


def test_exact_ties_go_to_the_smaller_id_and_key(rng: np.random.Generator) -> None:
    a = _random(rng)
    twins = [KnownProblem("B", "account", a), KnownProblem("A", "account", a)]
    result = match_clusters(twins, [_cluster(2, a, "account"), _cluster(9, a, "account")])
    assert result.assigned == {2: "A", 9: "B"}
    one = match_clusters(twins, [_cluster(9, a, "account")])
    assert one.assigned == {9: "A"} and one.merges == [("B", "A")]


# --------------------------------------------------------------------------- merge after the match


def _rows(v: Vec, n: int, rng: np.random.Generator) -> list[Vec]:
    return [_near(v, rng, 0.02) for _ in range(n)]


def test_near_duplicates_that_match_different_known_problems_stay_apart(rng: np.random.Generator) -> None:
    from feedback_miner.stages.merge import Cluster, merge_anchored

    a = _random(rng)
    X = np.vstack(_rows(a, 9, rng))  # three near-identical clusters of 3
    clusters = [Cluster([0, 1, 2], ["payment"] * 3), Cluster([3, 4, 5], ["payment"] * 3),
                Cluster([6, 7, 8], ["payment"] * 3)]
    out = merge_anchored(X, clusters, ["payment-001", "payment-002", None])
    assert sorted(anchor or "" for _, anchor in out) == ["payment-001", "payment-002"]
    assert sorted(len(c.members) for c, _ in out) == [3, 6]  # the unanchored one joins a known problem
    assert len(merge_anchored(X, clusters, [None, None, None])) == 1


def test_fragments_of_a_new_problem_get_one_id(rng: np.random.Generator) -> None:
    from feedback_miner.domain.types import Problem
    from feedback_miner.services.registry import join_new_fragments
    from feedback_miner.stages.problems import FoundProblems

    a, b = _random(rng), _random(rng)
    X = np.vstack(_rows(a, 6, rng) + _rows(b, 3, rng))
    problems = [Problem(id=f"payment-0{k}", category="payment", title=f"t{k}", keywords=[], member_ids=m,
                        quotes=[]) for k, m in ((1, [0, 1, 2, 3]), (2, [4, 5]), (3, [6, 7, 8]))]
    of: list[str | None] = ["payment-01"] * 4 + ["payment-02"] * 2 + ["payment-03"] * 3
    found = FoundProblems(problems, of, {}, 0)
    ids = {"payment-01": "payment-007", "payment-02": "payment-008", "payment-03": "payment-001"}
    out = join_new_fragments(found, X, ["payment"] * 9, ids, known={"payment-001"})
    assert out == {"payment-01": "payment-007", "payment-02": "payment-007", "payment-03": "payment-001"}


def test_a_fragment_joins_a_known_problem_at_its_own_threshold() -> None:
    from feedback_miner.stages.merge import Cluster, merge_anchored

    e1, e2 = np.eye(DIM)[0], np.eye(DIM)[1]
    X = np.vstack([e1, 0.82 * e1 + np.sqrt(1 - 0.82**2) * e2])  # cosine 0.82
    clusters = [Cluster([0], ["payment"]), Cluster([1], ["payment"])]
    joined = merge_anchored(X, clusters, ["payment-001", None], threshold=0.85, anchored_threshold=0.8)
    assert [(len(c.members), a) for c, a in joined] == [(2, "payment-001")]
    assert len(merge_anchored(X, clusters, [None, None], threshold=0.85, anchored_threshold=0.8)) == 2
