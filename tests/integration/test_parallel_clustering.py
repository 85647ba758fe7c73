"""Categories clustered over two processes give the same labels as one process (real UMAP + HDBSCAN
in a spawned worker)."""

from __future__ import annotations

from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest

from feedback_miner.errors import InputError
from feedback_miner.stages.cluster import PARALLEL_FROM, ClusterParams, cluster_groups


def _groups() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    out = []
    for n, k in ((420, 4), (260, 3), (150, 2), (5, 1)):
        centres = rng.normal(size=(k, 64))
        X = centres[rng.integers(0, k, n)] + rng.normal(scale=0.35, size=(n, 64))
        out.append((X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32))
    return out


def test_two_processes_give_the_same_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    groups = _groups()
    one = cluster_groups(groups, ClusterParams(workers=1))
    submitted: list[int] = []
    submit = ProcessPoolExecutor.submit

    def spy(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        submitted.append(len(args[0]))
        return submit(self, fn, *args, **kwargs)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", spy)
    done: list[int] = []
    two = cluster_groups(groups, ClusterParams(workers=2), on_done=done.append)
    assert submitted, "no group went to the second process"
    assert sorted(done) == [0, 1, 2, 3]
    assert len(two) == len(groups)
    for a, b in zip(one, two):
        assert a.tolist() == b.tolist()
    assert all(len(set(a.tolist()) - {-1}) >= 2 for a in one[:3])


def test_auto_stays_in_one_process_for_a_small_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("a small run must not spawn a process")

    monkeypatch.setattr(ProcessPoolExecutor, "__init__", refuse)
    groups = _groups()  # three groups big enough to cluster, 835 texts in all: under PARALLEL_FROM
    assert sum(len(g) for g in groups) < PARALLEL_FROM
    labels = cluster_groups(groups, ClusterParams(workers=0))
    assert [len(x) for x in labels] == [420, 260, 150, 5]


def test_a_broken_worker_leaves_its_groups_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    groups = _groups()

    def broken(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        f: Future[object] = Future()
        f.set_exception(BrokenProcessPool("worker died"))
        return f

    monkeypatch.setattr(ProcessPoolExecutor, "submit", broken)
    done: list[int] = []
    labels = cluster_groups(groups, ClusterParams(workers=2), on_done=done.append)
    assert sorted(done) == [0, 1, 2, 3]
    assert [a.tolist() for a in labels] == [a.tolist() for a in cluster_groups(groups, ClusterParams(workers=1))]


def test_negative_workers_are_refused() -> None:
    with pytest.raises(InputError, match="workers"):
        ClusterParams(workers=-1)
