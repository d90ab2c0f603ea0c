"""Running independent checks on both cores: forked children, a few at a time.

:func:`run_forked` calls module-level functions with picklable arguments in
child processes forked from this one (so they inherit its SIGTERM
handling: a terminated child kills the TLC it started and removes its
directory) and returns their results in order.  An exception in the parent
(an interrupt) terminates the children.  With one worker, or one task, the
calls run here, in order.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_forked(tasks: Sequence[tuple[Callable[..., T], tuple[Any, ...]]],
               workers: int) -> list[T]:
    if workers <= 1 or len(tasks) <= 1:
        return [fn(*args) for fn, args in tasks]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        try:
            futures = [pool.submit(fn, *args) for fn, args in tasks]
            return [f.result() for f in futures]
        except BaseException:
            for proc in multiprocessing.active_children():
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
