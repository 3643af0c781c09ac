"""The candidate configurations of a large search, solved in worker processes.

A search solves each candidate configuration on its own (`search._candidates`), so the
candidates can run side by side. Each worker is a fresh interpreter (``python -m
intar.scheduling.workers``: the compiler holds MLIR's threads, which a forked child must not
inherit) that takes the candidates of one configuration at a time as it comes free and keeps
its group plans for the next search of the same graph (the weight-storage searches of
`search._schedule`). The parent takes the best recipe, in the same tie-break order as a search
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
    return max(1, min(MAX_JOBS, len(os.sched_getaffinity(0))))


class WorkerError(RuntimeError):
    """A worker failed; the message carries its traceback."""


def _serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """A worker: solve the candidate ranks it is sent, until it is sent None."""
    from .search import prepare_job, solve_ranks

    caches: dict[str, dict] = {}  # search id -> its group plans
    prepared: tuple = ()  # the current job's search and candidates
    while True:
        try:
            msg = pickle.load(requests)
        except EOFError:  # the parent is gone
            return
        if msg is None:
            return
        sid, payload, give_up_early, ranks = msg
        try:
            if payload is not None:
                caches = {sid: caches.get(sid, {})}
                prepared = prepare_job(pickle.loads(payload), give_up_early, caches[sid])
            reply = ("ok", solve_ranks(*prepared, ranks))
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
_owners: dict[str, dict[Any, int]] = {}  # search id -> configuration -> worker index


def _pool(n: int) -> list[_Worker]:
    if len(_workers) != n or any(w.proc.poll() is not None for w in _workers):
        _close_pool()
        _workers.extend(_Worker() for _ in range(n))
    return _workers


def _close_pool() -> None:
    for w in _workers:
        w.close()
    _workers.clear()
    _owners.clear()


atexit.register(_close_pool)


def solve_in_workers(
    job_args: tuple, give_up_early: bool, candidates: list[tuple[Any, bool, bool]], n_tasks: int
) -> list[Any] | None:
    """Each candidate's recipe (None where nothing fits), solved in workers; None when this
    search runs in one process (one job, few tasks or a single configuration)."""
    # one unit per configuration: its sequential and InTAR candidates share group plans
    units: dict[Any, list[int]] = {}
    for rank, (cfg, _, _) in enumerate(candidates):
        units.setdefault(cfg, []).append(rank)
    if jobs() < 2 or len(units) < 2 or n_tasks < MIN_TASKS:
        return None
    pool = _pool(jobs())
    _next_job[0] += 1
    job, payload = _next_job[0], pickle.dumps(job_args)
    # group plans hold for every weight storage (job_args[1]) of one graph and budget
    sid = hashlib.sha256(pickle.dumps((job_args[0], *job_args[2:]))).hexdigest()
    # a configuration goes back to the worker that holds its group plans from the last search
    # of this graph; a worker with none of its own left takes a new one, or another's last
    owner = _owners.setdefault(sid, {})
    for other in [k for k in _owners if k != sid]:
        del _owners[other]
    queues: list[list[Any]] = [[] for _ in pool]
    unowned: list[Any] = []
    for cfg in units:
        k = owner.get(cfg)
        (queues[k] if k is not None else unowned).append(cfg)

    def next_unit(k: int) -> Any:
        if queues[k]:
            return queues[k].pop(0)
        if unowned:
            return unowned.pop(0)
        longest = max(range(len(pool)), key=lambda i: (len(queues[i]), -i))
        return queues[longest].pop() if queues[longest] else None

    results: list[Any] = [None] * len(candidates)
    busy: dict[Any, tuple[int, list[int]]] = {}

    def send(k: int) -> None:
        cfg = next_unit(k)
        if cfg is None:
            return
        w = pool[k]
        w.send((sid, payload if w.job != job else None, give_up_early, units[cfg]))
        w.job, owner[cfg] = job, k
        busy[w.replies] = (k, units[cfg])

    for k in range(len(pool)):
        send(k)
    try:
        while busy:
            for ready in wait(list(busy)):
                k, ranks = busy.pop(ready)
                try:
                    status, value = pickle.load(pool[k].replies)
                except EOFError:
                    raise WorkerError("a search worker exited") from None
                if status != "ok":
                    raise WorkerError(f"a search worker failed:\n{value}")
                for rank, recipe in zip(ranks, value, strict=True):
                    results[rank] = recipe
                send(k)
    except BaseException:
        _close_pool()  # workers may be mid-reply: start afresh next time
        raise
    return results


if __name__ == "__main__":
    _serve(os.fdopen(int(sys.argv[1]), "rb"), os.fdopen(int(sys.argv[2]), "wb"))
