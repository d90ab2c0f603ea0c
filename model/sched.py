"""A deterministic scheduler for kernel paths written as generators.

A kernel path (a bind ioctl, exec, the rebind worker, a notifier, the GPU)
is a generator function that ``yield``s a :class:`Point` at every place
where another thread may run: before taking a lock, reading a seq, waiting
on a fence, writing a page-table entry, allocating.  The value the
scheduler sends back is the point's result (0 for done, or an errno name
such as ``"EDEADLK"`` for a ww_mutex acquire that must back off).  Between
two points a thread runs alone: its code there is atomic.

:class:`Scheduler` runs a :class:`Program` -- a factory of fresh state and
threads, so any schedule can be re-executed from the start -- one point at
a time.  At each step the *enabled* threads are those whose pending point
can proceed now (a lock that is free, a fence that has signalled); a
:data:`Chooser` picks one of them.  The run ends

- ``ok`` when every thread has returned;
- ``deadlock`` when live threads remain and none is enabled: the wait-for
  cycle (thread -> lock -> holder -> ...) is part of the verdict;
- ``violation`` when a thread raises (an assertion, an
  :class:`~model.errors.InvariantViolation`) or the program's invariant
  check fails after a step;
- ``livelock`` when the step bound is hit while no thread finishes.

Every step is recorded as ``(thread, point, result)``: a run's *schedule*
is the sequence of thread names, which :func:`format_schedule` prints as a
short string (``"a*3 b a"``) and :func:`parse_schedule` reads back, so a
schedule replays exactly (:func:`replay_chooser`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

#: a point's result sent back into the thread: None/0 for done, or an errno name
Result = Any
Path = Generator["Point", Result, Any]


@dataclass(frozen=True)
class Point:
    """Where a thread yields: what it is about to do and what it touches.

    ``kind``: ``acquire``, ``release``, ``read``, ``write``, ``wait``,
    ``signal``, ``alloc``, ``yield`` (any other interleaving point).
    ``obj``: the object touched (a lock, a fence, a variable), ``""`` for
    none.  ``mode``: for a lock, ``"x"`` (exclusive), ``"r"`` (shared
    read), ``"w"`` (write); ``arg`` carries the rest (a ww acquire
    context, a slow-path flag, a description).
    """

    kind: str
    obj: str = ""
    mode: str = "x"
    arg: Any = None
    label: str = ""

    def __str__(self) -> str:
        what = self.label or f"{self.kind} {self.obj}".strip()
        return what + (f" ({self.mode})" if self.kind == "acquire" and self.mode != "x" else "")


class Resource(Protocol):
    """A lock, fence or other object the scheduler consults for a point on it."""

    name: str

    def enabled(self, thread: str, point: Point) -> tuple[bool, Result]:
        """Whether ``thread`` may take ``point`` now, and the result it would get."""
        ...

    def perform(self, thread: str, point: Point, result: Result) -> None:
        """Carry out ``point`` (acquire the lock, signal the fence) for ``thread``."""
        ...

    def waits_for(self, thread: str, point: Point) -> list[str]:
        """The threads ``thread`` waits for while ``point`` is not enabled."""
        ...


@dataclass
class Thread:
    name: str
    path: Path
    pending: Point | None = None
    done: bool = False
    value: Any = None
    started: bool = False


class Program(Protocol):
    """A concurrent program: fresh state and threads on every call of ``start``."""

    def start(self) -> tuple[dict[str, Resource], list[Thread]]:
        """The resources (by name) and the threads of one run, from scratch."""
        ...

    def check(self) -> None:
        """Raise an ``AssertionError`` if the state after a step breaks an invariant."""
        ...

    def observe(self, thread: str, point: Point, result: Result) -> None:
        """See a step just taken (the lock checker's hook); raise to report it."""
        ...

    def attempt(self, thread: str, point: Point) -> None:
        """See a thread's next point as it becomes pending, before it may block."""
        ...


@dataclass(frozen=True)
class Event:
    """One scheduled step."""

    thread: str
    point: Point
    result: Result


@dataclass
class Run:
    """What one run of a program under one schedule gave."""

    verdict: str  # "ok", "deadlock", "violation", "livelock"
    events: list[Event] = field(default_factory=list)
    detail: str = ""
    cycle: list[str] = field(default_factory=list)
    #: at each step, the enabled threads and their pending points (for DFS and POR)
    choices: list[list[tuple[str, Point]]] = field(default_factory=list)

    @property
    def schedule(self) -> list[str]:
        return [e.thread for e in self.events]

    @property
    def preemptions(self) -> int:
        return preemptions(self)

    @property
    def switches(self) -> int:
        """Context switches: steps whose thread differs from the one before."""
        s = self.schedule
        return sum(1 for a, b in itertools.pairwise(s) if a != b)


#: picks the next thread: (step number, enabled threads and their points, run so far)
Chooser = Callable[[int, list[tuple[str, Point]], Run], str]


def preemptions(run: Run) -> int:
    """Switches away from a thread that could have gone on (it was still enabled)."""
    count = 0
    for i in range(1, len(run.events)):
        prev, cur = run.events[i - 1].thread, run.events[i].thread
        if prev != cur and any(t == prev for t, _ in run.choices[i]):
            count += 1
    return count


class Scheduler:
    """Runs a :class:`Program` under a :data:`Chooser`, one point at a time."""

    def __init__(self, program: Program, max_steps: int = 500) -> None:
        self.program = program
        self.max_steps = max_steps

    def run(self, choose: Chooser) -> Run:
        resources, threads = self.program.start()
        run = Run("ok")
        by_name = {t.name: t for t in threads}
        for t in threads:
            if not self._advance(t, None, run):
                return run
        for step in range(self.max_steps + 1):
            live = [t for t in threads if not t.done]
            if not live:
                return run
            enabled, results = self._sweep(resources, live)
            if not enabled:
                run.verdict = "deadlock"
                run.cycle = wait_cycle(resources, live)
                run.detail = ("every live thread is blocked: " + "; ".join(
                    f"{t.name} at {t.pending}" for t in live))
                return run
            if step == self.max_steps:
                run.verdict = "livelock"
                run.detail = f"{self.max_steps} steps and {len(live)} thread(s) still running"
                return run
            run.choices.append(enabled)
            name = choose(step, enabled, run)
            if name not in results:
                raise ValueError(f"the schedule picks {name!r}, which is not enabled "
                                 f"(enabled: {', '.join(n for n, _ in enabled)})")
            t = by_name[name]
            point = t.pending
            assert point is not None
            result = results[name]
            res = resources.get(point.obj)
            try:
                if res is not None:
                    res.perform(t.name, point, result)
                self.program.observe(t.name, point, result)
            except AssertionError as e:
                run.events.append(Event(t.name, point, result))
                run.verdict, run.detail = "violation", f"{type(e).__name__}: {e}"
                return run
            run.events.append(Event(t.name, point, result))
            if not self._advance(t, result, run):
                return run
            try:
                self.program.check()
            except AssertionError as e:
                run.verdict, run.detail = "violation", f"{type(e).__name__}: {e}"
                return run
        return run  # pragma: no cover - the loop returns

    def _sweep(self, resources: dict[str, Resource], live: Sequence[Thread]
               ) -> tuple[list[tuple[str, Point]], dict[str, Result]]:
        """The enabled threads and their results.  Asking a resource may change it (a
        wound-wait waiter wounds the holder), which can enable a thread asked before:
        ask again until the answers no longer change."""
        previous: list[tuple[str, Result]] | None = None
        for _ in range(len(live) + 1):
            enabled: list[tuple[str, Point]] = []
            results: dict[str, Result] = {}
            for t in live:
                assert t.pending is not None
                ok, result = self._enabled(resources, t, t.pending)
                if ok:
                    enabled.append((t.name, t.pending))
                    results[t.name] = result
            answers = sorted(results.items())
            if answers == previous:
                break
            previous = answers
        return enabled, results

    @staticmethod
    def _enabled(resources: dict[str, Resource], t: Thread, point: Point
                 ) -> tuple[bool, Result]:
        res = resources.get(point.obj)
        if res is None:
            return True, 0
        return res.enabled(t.name, point)

    def _advance(self, t: Thread, result: Result, run: Run) -> bool:
        """Run ``t`` to its next point and show the point to the program; False (and
        the verdict set) if the thread or the check of its point raised."""
        try:
            if t.started:
                t.pending = t.path.send(result)
            else:
                t.started = True
                t.pending = next(t.path)
            self.program.attempt(t.name, t.pending)
        except StopIteration as stop:
            t.done, t.pending, t.value = True, None, stop.value
        except AssertionError as e:
            run.verdict, run.detail = "violation", f"{t.name}: {type(e).__name__}: {e}"
            return False
        return True


def wait_cycle(resources: dict[str, Resource], live: Sequence[Thread]) -> list[str]:
    """A cycle of the wait-for graph among blocked threads: ``[t1, lock, t2, lock, t1]``."""
    edges: dict[str, list[tuple[str, str]]] = {}
    for t in live:
        assert t.pending is not None
        res = resources.get(t.pending.obj)
        if res is not None:
            edges[t.name] = [(t.pending.obj, w) for w in res.waits_for(t.name, t.pending)]
    for start in edges:
        stack = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for obj, nxt in edges.get(node, []):
                if nxt == start:
                    return [*path, obj, start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, obj, nxt]))
    return []


# ---------------------------------------------------------------- schedules

def format_schedule(schedule: Sequence[str]) -> str:
    """``["a", "a", "a", "b", "a"]`` -> ``"a*3 b a"``."""
    out: list[str] = []
    i = 0
    while i < len(schedule):
        j = i
        while j < len(schedule) and schedule[j] == schedule[i]:
            j += 1
        out.append(schedule[i] if j - i == 1 else f"{schedule[i]}*{j - i}")
        i = j
    return " ".join(out)


def parse_schedule(text: str) -> list[str]:
    """The inverse of :func:`format_schedule`; ``ValueError`` for a malformed string."""
    out: list[str] = []
    for part in text.split():
        name, star, count = part.partition("*")
        if not name or (star and not count.isdigit()):
            raise ValueError(f"not a schedule step: {part!r}")
        out += [name] * (int(count) if star else 1)
    return out


def replay_chooser(schedule: Sequence[str]) -> Chooser:
    """Follow ``schedule`` exactly; past its end, keep running the last thread if it can."""
    def choose(step: int, enabled: list[tuple[str, Point]], run: Run) -> str:
        if step < len(schedule):
            return schedule[step]
        names = [n for n, _ in enabled]
        last = run.events[-1].thread if run.events else names[0]
        return last if last in names else names[0]
    return choose


def first_chooser(step: int, enabled: list[tuple[str, Point]], run: Run) -> str:
    """Run the current thread as long as it can, else the first enabled (no preemption)."""
    names = [n for n, _ in enabled]
    last = run.events[-1].thread if run.events else names[0]
    return last if last in names else names[0]
