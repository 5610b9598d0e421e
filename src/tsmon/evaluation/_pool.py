"""Run one function over a corpus's items in worker processes, largest first, results in input order."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


def _context() -> Any:
    # fork: workers inherit the loaded corpus and modules (no re-import of __main__); spawn elsewhere.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _indexed_call(task: tuple[Callable[[Job], Result], int, Job]) -> tuple[int, Result]:
    fn, i, job = task
    return i, fn(job)


def map_corpus(
    fn: Callable[[Job], Result],
    jobs: Sequence[Job],
    *,
    size: Callable[[Job], int],
    workers: int | None = None,
    progress: Callable[[Result], None] | None = None,
) -> list[Result]:
    """``fn`` of every job, the largest (by ``size``) started first so the last to finish is short;
    ``workers`` processes (default one per core; 1: in this process); ``progress`` per result as it lands.
    """
    order = sorted(range(len(jobs)), key=lambda i: -size(jobs[i]))
    workers = min(workers or os.cpu_count() or 1, max(len(jobs), 1))
    done: dict[int, Result] = {}

    def indexed(results: Any) -> None:
        for i, r in results:
            done[i] = r
            if progress:
                progress(r)

    if workers == 1:
        indexed((i, fn(jobs[i])) for i in order)
    else:
        with _context().Pool(workers) as pool:
            # Unordered: progress as each finishes; the index puts it back in place.
            indexed(pool.imap_unordered(_indexed_call, [(fn, i, jobs[i]) for i in order]))
    return [done[i] for i in range(len(jobs))]
