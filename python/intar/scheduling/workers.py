"""The candidate configurations of a large search, solved in worker processes.

A search solves each candidate configuration on its own (`search._candidates`), so the
candidates can run side by side. Each worker is a fresh interpreter (``python -m
intar.scheduling.workers``: the compiler holds MLIR's threads, which a forked child must not
inherit) that takes one candidate at a time as it comes free, longest first, and keeps its
group plans for the next search of the same graph (the weight-storage searches of
`search._schedule`), which sends it the same candidates again where that costs no time. The
parent takes the best recipe, in the same tie-break order as a search
in one process, and costs that plan again itself, so the schedule is the same whatever the
number of workers.

``INTAR_JOBS`` sets the number of workers (default: the cores this process may use, at most
`MAX_JOBS`); 1 solves every candidate in the calling process.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import pickle
import subprocess
import sys
import time
import traceback
from multiprocessing.connection import wait
from typing import IO, Any

JOBS_ENV = "INTAR_JOBS"
MAX_JOBS = 8
MIN_TASKS = 16
"""Graphs with fewer tasks are searched in one process: their searches take about a second."""


def jobs() -> int:
    """Worker processes for a search (``INTAR_JOBS``, else the usable cores, at most 8)."""
    env = os.environ.get(JOBS_ENV, "").strip()
    if env:
        return max(1, int(env))
    return max(1, min(MAX_JOBS, os.process_cpu_count() or 1))


class WorkerError(RuntimeError):
    """A worker failed; the message carries its traceback."""


def _serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """A worker: solve the candidate it is sent, until it is sent None."""
    from .search import prepare_job, solve_rank

    caches: dict[str, dict] = {}  # search id -> its group plans
    prepared: tuple = ()  # the current job's search and candidates
    while True:
        try:
            msg = pickle.load(requests)
        except EOFError:  # the parent is gone
            return
        if msg is None:
            return
        sid, payload, give_up_early, rank = msg
        try:
            if payload is not None:
                caches = {sid: caches.get(sid, {})}
                job_args, candidates = pickle.loads(payload)
                prepared = prepare_job(job_args, give_up_early, caches[sid], False, candidates)
            reply = ("ok", solve_rank(*prepared, rank))
        except Exception:  # reported to the parent, which raises it
            reply = ("error", traceback.format_exc())
        pickle.dump(reply, replies)
        replies.flush()


class _Worker:
    def __init__(self) -> None:
        to_child, self_in = os.pipe()
        self_out, from_child = os.pipe()
        env = dict(os.environ)
        paths = [p for p in sys.path if p and os.path.isdir(p)]
        env["PYTHONPATH"] = os.pathsep.join(paths)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", __name__, str(to_child), str(from_child)],
            pass_fds=(to_child, from_child),
            stdin=subprocess.DEVNULL,
            env=env,
        )
        os.close(to_child)
        os.close(from_child)
        self.requests = os.fdopen(self_in, "wb")
        self.replies = os.fdopen(self_out, "rb")
        self.job = -1  # the last job it was sent

    def send(self, msg: object) -> None:
        pickle.dump(msg, self.requests)
        self.requests.flush()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.send(None)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.requests.close()
        self.replies.close()


_workers: list[_Worker] = []
_next_job = [0]
# search id -> (candidate -> the worker that solved it last, candidate -> its seconds)
_history: dict[str, tuple[dict[int, int], dict[int, float]]] = {}


def _pool(n: int) -> list[_Worker]:
    if len(_workers) != n or any(w.proc.poll() is not None for w in _workers):
        _close_pool()
        _workers.extend(_Worker() for _ in range(n))
    return _workers


def _close_pool() -> None:
    for w in _workers:
        w.close()
    _workers.clear()
    _history.clear()


atexit.register(_close_pool)


def solve_in_workers(
    job_args: tuple, give_up_early: bool, candidates: list[tuple[Any, bool, bool]], n_tasks: int
) -> list[Any] | None:
    """Each candidate's recipe (None where nothing fits), solved in workers; None when this
    search runs in one process (one job, few tasks or a single candidate)."""
    if jobs() < 2 or len(candidates) < 2 or n_tasks < MIN_TASKS:
        return None
    try:
        pool = _pool(jobs())
    except OSError as e:  # no processes to be had: search here
        print(
            f"intar: search workers did not start ({e}); searching in one process", file=sys.stderr
        )
        _close_pool()
        return None
    _next_job[0] += 1
    # the candidates go along: finding them again would cost each worker about half a second
    job, payload = _next_job[0], pickle.dumps((job_args, candidates))
    # group plans hold for every weight storage (job_args[1]) of one graph and budget
    sid = hashlib.sha256(pickle.dumps((job_args[0], *job_args[2:]))).hexdigest()
    for other in [k for k in _history if k != sid]:
        del _history[other]
    owner, seconds = _history.setdefault(sid, ({}, {}))

    # the longest candidates go first (the longest seen in the searches of this graph so far,
    # then InTAR phases on the most cores), each to the worker that holds its group plans
    # when that worker is free, else to the first free one
    def prior(rank: int) -> int:
        cfg, singletons, whole = candidates[rank]
        return 0 if singletons or whole else len(cfg.cores)

    todo = sorted(range(len(candidates)), key=lambda r: (-seconds.get(r, 0.0), -prior(r), r))
    results: list[Any] = [None] * len(candidates)
    busy: dict[Any, tuple[int, int, float]] = {}

    def send(k: int) -> None:
        if not todo:
            return
        mine = [r for r in todo if owner.get(r) == k]
        pick = todo[0]
        if mine and seconds.get(mine[0], 0.0) >= seconds.get(pick, 0.0) / 2:
            pick = mine[0]
        todo.remove(pick)
        w = pool[k]
        w.send((sid, payload if w.job != job else None, give_up_early, pick))
        w.job, owner[pick] = job, k
        busy[w.replies] = (k, pick, time.monotonic())

    for k in range(len(pool)):
        send(k)
    try:
        while busy:
            for ready in wait(list(busy)):
                k, rank, start = busy.pop(ready)
                try:
                    status, value = pickle.load(pool[k].replies)
                except EOFError:
                    raise WorkerError("a search worker exited") from None
                if status != "ok":
                    raise WorkerError(f"a search worker failed:\n{value}")
                results[rank] = value
                seconds[rank] = max(seconds.get(rank, 0.0), time.monotonic() - start)
                send(k)
    except BaseException:
        _close_pool()  # workers may be mid-reply: start afresh next time
        raise
    return results


if __name__ == "__main__":
    _serve(os.fdopen(int(sys.argv[1]), "rb"), os.fdopen(int(sys.argv[2]), "wb"))
