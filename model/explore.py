"""Schedule sources: random, PCT, and bounded exhaustive search with sleep sets.

Each is a way to pick, at every step of a :class:`~model.sched.Scheduler`
run, which enabled thread goes next (the Hypothesis source, which shrinks
a failing schedule, lives in ``checks.sched``; replay of a recorded
schedule is :func:`model.sched.replay_chooser`):

:func:`random_chooser`
    uniform among the enabled threads, from a seed;
:func:`pct_chooser`
    probabilistic concurrency testing (Burckhardt et al.): random thread
    priorities, and ``depth - 1`` random steps at which the running thread
    drops below every other -- a bug of depth ``d`` is found with
    probability at least ``1 / (n * k^(d-1))``;
:func:`explore`
    every schedule with at most ``preemptions`` preemptive context switches
    (CHESS's iterative bounding: bound 0, then 1, ...), re-executing the
    program from the start for each, with sleep sets as the partial-order
    reduction: two steps that touch different objects (or only read one)
    commute, so once one order of them has been explored the other is not.

Steps are *dependent* when they touch the same object and one of them is
not a read; a step that touches nothing commutes with every step.  Every
two ww_mutex steps (acquire contexts' inits and finis, acquires under a
context) are dependent: the class's stamp counter and a wound, which one
context's wait sets on another, tie them together.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from model.locks import WwArg
from model.sched import Chooser, Point, Program, Run, Scheduler


def _ww(p: Point) -> bool:
    return isinstance(p.arg, WwArg) or p.kind in ("ww_init", "ww_fini")


def dependent(p: Point, q: Point) -> bool:
    """Whether the order of ``p`` and ``q`` can matter."""
    if _ww(p) and _ww(q):
        return True  # one class's stamps and wounds: every ww step may affect another's
    if not p.obj or not q.obj or p.obj != q.obj:
        return False
    reads = ("r",)
    return not (p.mode in reads and q.mode in reads and p.kind == q.kind == "acquire")


def random_chooser(seed: int) -> Chooser:
    rng = random.Random(seed)

    def choose(step: int, enabled: list[tuple[str, Point]], run: Run) -> str:
        return enabled[rng.randrange(len(enabled))][0]
    return choose


def pct_chooser(seed: int, threads: list[str], depth: int, max_steps: int) -> Chooser:
    """PCT: priorities from ``seed``; ``depth - 1`` priority change points in ``max_steps``."""
    rng = random.Random(seed)
    order = list(threads)
    rng.shuffle(order)
    prio = {t: depth + i for i, t in enumerate(order)}  # above every change point's value
    changes = sorted(rng.sample(range(max(1, max_steps)), min(depth - 1, max(1, max_steps))))

    def choose(step: int, enabled: list[tuple[str, Point]], run: Run) -> str:
        while changes and changes[0] <= step:
            k = changes.pop(0)
            if run.events:
                prio[run.events[-1].thread] = len(changes) + (k >= 0) - 1
        return max(enabled, key=lambda e: (prio.get(e[0], 0), e[0]))[0]
    return choose


@dataclass
class Exploration:
    """What :func:`explore` found."""

    schedules: int = 0
    steps: int = 0
    pruned: int = 0
    failures: list[Run] = field(default_factory=list)
    complete: bool = True
    bound: int = 0

    @property
    def first(self) -> Run | None:
        """The failing run with the fewest preemptions, then context switches, then steps."""
        if not self.failures:
            return None
        return min(self.failures, key=lambda r: (r.preemptions, r.switches, len(r.events)))


def explore(program: Program, *, preemptions: int = 2, max_steps: int = 200,
            por: bool = True, limit: int = 100_000, stop_at_first: bool = True,
            iterative: bool = True) -> Exploration:
    """Every schedule of ``program`` with at most ``preemptions`` preemptions.

    With ``iterative``, bounds 0, 1, ... are tried in turn and the search
    stops at the first bound with a failure, so the failure found has the
    fewest preemptions.  ``limit`` caps the schedules run (``complete`` is
    False if it is reached).  ``por`` turns the sleep sets on.
    """
    bounds = range(preemptions + 1) if iterative else [preemptions]
    total = Exploration()
    for bound in bounds:
        found = _explore(program, bound, max_steps, por, limit - total.schedules,
                         stop_at_first)
        total.schedules += found.schedules
        total.steps += found.steps
        total.pruned += found.pruned
        total.failures += found.failures
        total.complete = total.complete and found.complete
        total.bound = bound
        if total.failures and stop_at_first:
            break
    return total


@dataclass
class _Node:
    prefix: list[str]
    sleep: dict[str, Point]


def _explore(program: Program, bound: int, max_steps: int, por: bool, limit: int,
             stop_at_first: bool) -> Exploration:
    out = Exploration(bound=bound)
    stack = [_Node([], {})]
    sched = Scheduler(program, max_steps)
    seen_runs: set[tuple[str, ...]] = set()
    while stack:
        if out.schedules >= limit:
            out.complete = False
            break
        node = stack.pop()
        record: list[tuple[list[tuple[str, Point]], str, dict[str, Point]]] = []
        blocked = [False]
        choose = _follow(node, record, por, blocked)
        run = sched.run(choose)
        out.schedules += 1
        out.steps += len(run.events)
        if blocked[0]:
            out.pruned += 1
            continue
        key = tuple(run.schedule)
        if key in seen_runs:
            continue
        seen_runs.add(key)
        if run.verdict != "ok":
            out.failures.append(run)
            if stop_at_first:
                break
        used = _preemptions(record[:len(node.prefix)])
        for j in range(len(record) - 1, len(node.prefix) - 1, -1):
            enabled, chosen, sleep = record[j]
            prev = record[j - 1][1] if j > 0 else None
            done = {chosen: dict(enabled)[chosen]}
            alts = [(t, p) for t, p in enabled if t != chosen and t not in sleep]
            count = used + _preemptions(record[len(node.prefix):j])
            children = []
            for t, p in alts:  # explored in this order: each sleeps on those before it
                preempt = prev is not None and t != prev and any(n == prev for n, _ in enabled)
                if preempt and count + 1 > bound:
                    continue
                inherited = {**sleep, **done} if por else {}
                children.append(_Node([*[c for _, c, _ in record[:j]], t], inherited))
                done[t] = p
            stack.extend(reversed(children))
    return out


def _preemptions(record: list[tuple[list[tuple[str, Point]], str, dict[str, Point]]]) -> int:
    count = 0
    for i in range(1, len(record)):
        prev, cur = record[i - 1][1], record[i][1]
        if prev != cur and any(n == prev for n, _ in record[i][0]):
            count += 1
    return count


def _follow(node: _Node, record: list[tuple[list[tuple[str, Point]], str, dict[str, Point]]],
            por: bool, blocked: list[bool]) -> Callable[[int, list[tuple[str, Point]], Run],
                                                        str]:
    """Follow ``node.prefix``, then run without preemption, keeping the sleep set."""
    sleep: dict[str, Point] = {}

    def choose(step: int, enabled: list[tuple[str, Point]], run: Run) -> str:
        nonlocal sleep
        if step < len(node.prefix):
            name = node.prefix[step]
            if step == len(node.prefix) - 1:
                sleep = dict(node.sleep)
        else:
            names = [n for n, _ in enabled if n not in sleep]
            if not names:
                blocked[0] = True  # every enabled step was explored from here already
                names = [n for n, _ in enabled]
            last = run.events[-1].thread if run.events else names[0]
            name = last if last in names else names[0]
        record.append((list(enabled), name, dict(sleep)))
        point = dict(enabled)[name]
        if por:
            sleep = {t: p for t, p in sleep.items() if t != name and not dependent(p, point)}
        else:
            sleep = {}
        return name
    return choose
