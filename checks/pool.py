"""Running independent checks on both cores: forked children, a few at a time.

:func:`run_forked` calls module-level functions with picklable arguments in
child processes forked from this one (so they inherit its SIGTERM
handling: a terminated child kills the TLC it started and removes its
directory) and returns their results in order.  At most ``workers`` calls
are ever handed to the pool at once, so an interrupt in the parent (or a
call that raises) leaves nothing queued: the children running are
terminated and no further call starts.  With one worker, or one task, the
calls run here, in order.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")


def run_forked(tasks: Sequence[tuple[Callable[..., T], tuple[Any, ...]]],
               workers: int) -> list[T]:
    if workers <= 1 or len(tasks) <= 1:
        return [fn(*args) for fn, args in tasks]
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    results: dict[int, T] = {}
    running: dict[Future[T], int] = {}
    todo = list(enumerate(tasks))
    try:
        while todo or running:
            while todo and len(running) < workers:
                i, (fn, args) = todo.pop(0)
                running[pool.submit(fn, *args)] = i
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in done:
                results[running.pop(f)] = f.result()
    except BaseException:
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [results[i] for i in range(len(tasks))]
