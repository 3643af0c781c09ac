"""Candidate configurations solved in worker processes give the schedule of one process."""

from __future__ import annotations

import pickle

import pytest

from intar.kernels import task_graph
from intar.scheduling import load_device, schedule, workers


@pytest.mark.parametrize("kernel", ["self_attention", "vae"])
def test_workers_find_the_schedule_of_one_process(
    kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph, device = task_graph(kernel, small=True), load_device("u280")
    monkeypatch.setenv(workers.JOBS_ENV, "1")
    alone = schedule(graph, device, dsp_budget=64, port_budget=4)
    monkeypatch.setenv(workers.JOBS_ENV, "2")
    monkeypatch.setattr(workers, "MIN_TASKS", 0)
    calls: list[int] = []
    solve = workers.solve_in_workers

    def counted(*args: object) -> object:
        out = solve(*args)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(workers, "solve_in_workers", counted)
    shared = schedule(graph, device, dsp_budget=64, port_budget=4)
    assert any(calls), "no search went to the workers"
    assert pickle.dumps(shared) == pickle.dumps(alone)


def test_a_failing_worker_raises_with_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(workers.JOBS_ENV, "2")
    monkeypatch.setattr(workers, "MIN_TASKS", 0)
    candidates = [("a", True, False), ("b", True, False)]
    with pytest.raises(workers.WorkerError, match="ValueError"):
        workers.solve_in_workers(("not a search",), False, candidates, 1)
    # the next search starts new workers
    assert not workers._workers


def test_workers_that_cannot_start_leave_the_search_here(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(self: object) -> None:
        raise OSError("no processes")

    monkeypatch.setenv(workers.JOBS_ENV, "2")
    monkeypatch.setattr(workers, "MIN_TASKS", 0)
    monkeypatch.setattr(workers._Worker, "__init__", refuse)
    monkeypatch.setattr(workers, "_workers", [])
    candidates = [("a", True, False), ("b", True, False)]
    assert workers.solve_in_workers(("unused",), False, candidates, 1) is None
    assert "searching in one process" in capsys.readouterr().err
