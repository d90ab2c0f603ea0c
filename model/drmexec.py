"""The ``drmexec`` system: threads locking object sets through drm_exec's loop.

Each thread runs, for a number of rounds, the loop of seed 001 patch 01/16
over its own array of GEM objects, whose resvs are ww_mutexes of one class
(:class:`~model.locks.WwClass`, wound-wait or wait-die)::

    drm_exec_init(&exec, flags);
    drm_exec_until_all_locked(&exec) {
        ret = drm_exec_prepare_array(&exec, objs, n, 0);
        drm_exec_retry_on_contention(&exec);
        if (ret) break;
    }
    ...                                   /* every object locked */
    drm_exec_fini(&exec);

Every kernel step of one thread is one action of the system, named by
where the thread is (``pc``):

=========  ===============  ==============================================
pc         action           the step
=========  ===============  ==============================================
init       ``AcquireInit``  ``ww_acquire_init``: a new stamp from the class
lock       ``Lock``         lock ``want[idx]``: acquired, ``-EALREADY`` (a
                            duplicate: accepted when it is the prelocked
                            object or duplicates are ignored, else the
                            loop's error), ``-EDEADLK`` (record it as
                            contended, with a reference), or -- wound-wait
                            -- wound the younger holder and wait
slow       ``SlowLock``     ``dma_resv_lock_slow`` of the contended object,
                            holding nothing; it heads the new pass's list
backoff    ``Backoff``      drm_exec_cleanup after a contention: unlock the
                            last locked object, put its reference
done       ``Done``         ``ww_acquire_done``: the loop is left
unlock     ``Unlock``       drm_exec_fini: unlock the last locked object
fini       ``Fini``         ``ww_acquire_fini``, put the contended
                            reference; the next round, or ``end``
=========  ===============  ==============================================

A step that must wait (its lock is held and it neither dies nor wounds) is
not enabled: calling it raises :class:`~model.errors.Busy` and changes
nothing.  ``AcquireInit``, ``Done`` and ``Fini`` change no lock: a concurrent
implementation's log does not show them (``internal``).

The same step machine runs under the scheduler (:func:`thread_path`), so
the drm_exec the scheduler's programs use is the one the spec checks.

Diagram (``t1`` wants ``a b``, ``t2`` wants ``b a``; wound-wait; ``t1`` is
older).  Each row is a step: thread, action, the object it touches, what it
returns (``tests/test_drmexec.py`` replays the rows)::

    t1  AcquireInit       0
    t2  AcquireInit       0
    t1  Lock      a       0
    t2  Lock      b       0
    t1  Lock      b       wound      t1 is older: it wounds t2 and waits
    t2  Lock      a       EDEADLK    wounded, holding b: back off
    t2  Backoff   b       0
    t1  Lock      b       0
    t1  Done              0
    t1  Unlock    b       0
    t1  Unlock    a       0
    t1  Fini              0
    t2  SlowLock  a       0          holding nothing, it waits for a first
    t2  Lock      b       0
    t2  Lock      a       0          -EALREADY on the prelocked object: taken
    t2  Done              0
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from model.actions import NAME, Action, Param, Vocabulary
from model.errors import Busy, GpuVmError, InvalidArgument, InvariantViolation
from model.locks import WwArg, WwClass, WwCtx, WwMutex
from model.sched import Point, Result
from model.trace import NOP, Event, Tracer

SYSTEM = "drmexec"
PCS = ("init", "lock", "slow", "backoff", "done", "unlock", "fini", "end")
#: the action each pc's step is
ACTION_OF = {"init": "AcquireInit", "lock": "Lock", "slow": "SlowLock", "backoff": "Backoff",
             "done": "Done", "unlock": "Unlock", "fini": "Fini"}
_T = (Param("thread", NAME),)
VOCABULARY = Vocabulary(SYSTEM, (
    Action("AcquireInit", "step_init", _T, ("EBUSY",), internal=True,
           doc="ww_acquire_init: the ticket's stamp"),
    Action("Lock", "step_lock", _T, ("EBUSY",),
           doc="lock the next object: acquired, EALREADY, EDEADLK, or wound and wait"),
    Action("SlowLock", "step_slow", _T, ("EBUSY",),
           doc="lock the contended object on the slow path"),
    Action("Backoff", "step_backoff", _T, ("EBUSY",),
           doc="after EDEADLK: unlock the last locked object"),
    Action("Done", "step_done", _T, ("EBUSY",), internal=True,
           doc="ww_acquire_done: every object is locked"),
    Action("Unlock", "step_unlock", _T, ("EBUSY",),
           doc="drm_exec_fini: unlock the last locked object"),
    Action("Fini", "step_fini", _T, ("EBUSY",), internal=True,
           doc="ww_acquire_fini: put the contended reference, end the round"),
))


@dataclass
class ExecThread:
    """One thread's ``struct drm_exec`` and where its loop is."""

    name: str
    want: list[str]
    pc: str = "init"
    #: drm_exec's locked array, in lock order
    held: list[str] = field(default_factory=list)
    #: how many entries of ``want`` this pass has dealt with
    idx: int = 0
    contended: str = ""
    #: the object this pass took on the slow path (upstream's ``prelocked``)
    pre: str = ""
    #: the stamp of the current or last ticket (0 before the first)
    stamp: int = 0
    rounds: int = 0

    @property
    def ticket(self) -> str:
        return f"ticket:{self.name}"


class DrmExecSystem:
    """Threads running drm_exec's loop over ww_mutexes: the component of ``drmexec``.

    ``config``: ``threads`` (names, in order), ``want`` (thread -> its object
    array, duplicates allowed), ``rounds``, ``algorithm`` (``wound_wait``,
    dma_resv's, or ``wait_die``) and ``dups`` (``DRM_EXEC_IGNORE_DUPLICATES``).
    """

    def __init__(self, threads: Mapping[str, list[str]], rounds: int = 1,
                 algorithm: str = "wound_wait", dups: bool = False,
                 tracer: Tracer = NOP) -> None:
        if not threads or any(not w for w in threads.values()) or rounds < 1:
            raise InvalidArgument("drmexec needs threads with nonempty arrays and rounds >= 1")
        if algorithm not in ("wound_wait", "wait_die"):
            raise InvalidArgument(f"ww algorithm {algorithm!r} (wound_wait or wait_die)")
        self.klass = WwClass("reservation_ww_class", algorithm)
        self.threads = {t: ExecThread(t, list(w)) for t, w in threads.items()}
        self.objs = sorted({o for w in threads.values() for o in w})
        self.locks = {o: WwMutex(o, self.klass) for o in self.objs}
        self.refs = dict.fromkeys(self.objs, 0)
        self.rounds = rounds
        self.dups = dups
        self.tracer = tracer

    # ------------------------------------------------------------ component

    def config(self) -> dict[str, Any]:
        return {"threads": list(self.threads),
                "want": {t: list(th.want) for t, th in self.threads.items()},
                "rounds": self.rounds, "algorithm": self.klass.algorithm, "dups": self.dups}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        want = config["want"]
        return cls({t: list(want[t]) for t in config["threads"]}, int(config["rounds"]),
                   str(config["algorithm"]), bool(config["dups"]))

    def _ctx(self, t: str) -> WwCtx | None:
        return self.klass.ctxs.get(self.threads[t].ticket)

    def abstract(self) -> dict[str, Any]:
        ths = self.threads.values()
        return {
            "owner": {o: m.owner or "" for o, m in self.locks.items()},
            "pc": {th.name: th.pc for th in ths},
            "held": {th.name: list(th.held) for th in ths},
            "idx": {th.name: th.idx for th in ths},
            "contended": {th.name: th.contended for th in ths},
            "pre": {th.name: th.pre for th in ths},
            "stamp": {th.name: th.stamp for th in ths},
            "wounded": {th.name: bool((c := self._ctx(th.name)) and c.wounded) for th in ths},
            "rounds": {th.name: th.rounds for th in ths},
            "clock": self.klass.next_stamp,
            "refs": dict(self.refs),
        }

    def restore(self, abstract: Mapping[str, Any]) -> None:
        """Put the threads, locks, contexts and references in the state ``abstract``."""
        try:
            threads = {}
            for t, th in self.threads.items():
                new = ExecThread(t, th.want, str(abstract["pc"][t]), list(abstract["held"][t]),
                                 int(abstract["idx"][t]), str(abstract["contended"][t]),
                                 str(abstract["pre"][t]), int(abstract["stamp"][t]),
                                 int(abstract["rounds"][t]))
                if new.pc not in PCS or not 0 <= new.idx <= len(new.want) or (
                        new.pc == "lock" and new.idx == len(new.want)) or (
                        new.pc in ("backoff", "unlock") and not new.held) or (
                        new.pc == "slow" and not new.contended) or any(
                        o not in self.locks for o in (*new.held, new.contended, new.pre) if o):
                    raise InvalidArgument(f"thread {t}: pc {new.pc!r}, idx {new.idx}, "
                                          f"held {new.held}, contended {new.contended!r}: "
                                          "not a state of the loop")
                threads[t] = new
            owner = {o: str(abstract["owner"][o]) for o in self.objs}
            for o, t in owner.items():
                if t and o not in threads[t].held:
                    raise InvalidArgument(f"{o} is owned by {t}, which does not list it")
            for t, th in threads.items():
                if any(owner.get(o) != t for o in th.held):
                    raise InvalidArgument(f"{t} lists {th.held}, not all owned by it")
            refs = {o: int(abstract["refs"][o]) for o in self.objs}
            wounded = {t: bool(abstract["wounded"][t]) for t in threads}
            clock = int(abstract["clock"])
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidArgument(f"not a drmexec state: {e!r}") from None
        self.threads = threads
        self.refs = refs
        self.klass.ctxs = {}
        self.klass.next_stamp = clock
        for t, th in threads.items():
            if th.pc not in ("init", "end"):
                self.klass.ctxs[th.ticket] = WwCtx(th.ticket, th.stamp, t, list(th.held),
                                                   wounded[t])
        for o, m in self.locks.items():
            m.owner = owner[o] or None
            m.ctx = threads[owner[o]].ticket if owner[o] else None

    # -------------------------------------------------------------- stepping

    def point(self, t: str) -> Point | None:
        """The point thread ``t`` is at (None once it has ended)."""
        th = self.threads[t]
        pc = th.pc
        if pc == "init":
            return Point("ww_init", th.ticket, label=f"ww_acquire_init({th.ticket})")
        if pc == "lock":
            o = th.want[th.idx]
            return Point("acquire", o, "x", WwArg(th.ticket),
                         label=f"ww_mutex_lock({o}, {th.ticket})")
        if pc == "slow":
            return Point("acquire", th.contended, "x", WwArg(th.ticket, slow=True),
                         label=f"ww_mutex_lock_slow({th.contended}, {th.ticket})")
        if pc in ("backoff", "unlock"):
            return Point("release", th.held[-1], "x", label=f"ww_mutex_unlock({th.held[-1]})")
        if pc == "done":
            return Point("yield", label=f"ww_acquire_done({th.ticket})")
        if pc == "fini":
            return Point("ww_fini", th.ticket, label=f"ww_acquire_fini({th.ticket})")
        return None

    def can(self, t: str) -> tuple[bool, Result, WwCtx | None]:
        """Whether ``t``'s step can be taken now: (proceeds, result, holder it wounds)."""
        p = self.point(t)
        if p is None:
            return False, 0, None
        m = self.locks.get(p.obj) if p.kind == "acquire" else None
        return m.would(t, p) if m is not None else (True, 0, None)

    def enabled(self) -> list[str]:
        """The threads whose step can be taken now (including a wound-wait waiter that
        has a younger holder to wound)."""
        out = []
        for t in self.threads:
            ok, _, wound = self.can(t)
            if ok or wound is not None:
                out.append(t)
        return out

    def next_actions(self) -> list[tuple[str, str]]:
        """Every (action, thread) that can be taken now."""
        return [(ACTION_OF[self.threads[t].pc], t) for t in self.enabled()]

    def step(self, t: str, action: str) -> Result:
        """Take ``t``'s step, which must be ``action``: what drm_exec returns (0,
        ``"EDEADLK"``, ``"EALREADY"``) or ``"wound"`` (it wounded the holder and waits)."""
        th = self.threads.get(t)
        if th is None:
            raise InvalidArgument(f"no thread {t!r} (threads: {', '.join(self.threads)})")
        want = ACTION_OF.get(th.pc)
        try:
            if want != action:
                raise Busy(f"{t} is at {th.pc!r}: its step is {want or 'none (it has ended)'}")
            ok, result, wound = self.can(t)
            if not ok and wound is None:
                p = self.point(t)
                assert p is not None
                holder = self.locks[p.obj].owner
                raise Busy(f"{t} waits for {p.obj}, held by {holder}")
        except GpuVmError as e:
            self.tracer.event(Event(SYSTEM, action, {"thread": t}, None, e.errno_name, t))
            raise
        if wound is not None:
            wound.wounded = True
        out: Result = self._take(th, result) if ok else "wound"
        self.tracer.event(Event(SYSTEM, action, {"thread": t}, out, None, t))
        return out

    def _take(self, th: ExecThread, result: Result) -> Result:
        """Carry out ``th``'s step (enabled, with ``result``) and move its pc on; what
        drm_exec returns (0, ``"EDEADLK"``, or ``"EALREADY"`` when it is the loop's
        error)."""
        p = self.point(th.name)
        assert p is not None
        if p.kind in ("acquire", "release"):
            self.locks[p.obj].perform(th.name, p, result)
        return self._advance(th, p, result)

    def _advance(self, th: ExecThread, p: Point, result: Result) -> Result:
        """drm_exec's bookkeeping after ``th`` took ``p`` (the lock itself is done)."""
        pc = th.pc
        if pc == "init":
            c = self.klass.init(th.ticket, th.name)
            th.stamp = c.stamp
            th.pc, th.idx = "lock", 0
        elif pc == "lock":
            return self._locked(th, p.obj, result)
        elif pc == "slow":
            th.held, th.pre, th.contended = [p.obj], p.obj, ""  # the contention ref stays
            th.pc = "lock"
        elif pc in ("backoff", "unlock"):
            th.held.pop()
            self.refs[p.obj] -= 1
            if not th.held:
                if pc == "backoff":
                    th.pc, th.idx, th.pre = "slow", 0, ""
                else:
                    th.pc = "fini"
        elif pc == "done":
            th.pc = "unlock" if th.held else "fini"
        elif pc == "fini":
            if th.contended:
                self.refs[th.contended] -= 1
            th.contended = th.pre = ""
            th.idx = 0
            self.klass.fini(th.ticket)
            th.rounds += 1
            th.pc = "init" if th.rounds < self.rounds else "end"
        return 0

    def _locked(self, th: ExecThread, obj: str, result: Result) -> Result:
        """drm_exec_prepare_obj's handling of what the lock returned."""
        last = th.idx + 1 == len(th.want)
        if result == "EDEADLK":
            th.contended = obj
            self.refs[obj] += 1
            th.pc = "backoff"
            return "EDEADLK"
        if result == "EALREADY":
            if obj != th.pre and not self.dups:
                th.pc = "unlock" if th.held else "fini"  # the loop's error: fini
                return "EALREADY"
        else:
            th.held.append(obj)
            self.refs[obj] += 1
        th.idx += 1
        th.pc = "done" if last else "lock"
        return 0

    # the actions, through the vocabulary
    def step_init(self, thread: str) -> Result:
        return self.step(thread, "AcquireInit")

    def step_lock(self, thread: str) -> Result:
        return self.step(thread, "Lock")

    def step_slow(self, thread: str) -> Result:
        return self.step(thread, "SlowLock")

    def step_backoff(self, thread: str) -> Result:
        return self.step(thread, "Backoff")

    def step_done(self, thread: str) -> Result:
        return self.step(thread, "Done")

    def step_unlock(self, thread: str) -> Result:
        return self.step(thread, "Unlock")

    def step_fini(self, thread: str) -> Result:
        return self.step(thread, "Fini")


def thread_path(system: DrmExecSystem, t: str) -> Generator[Point, Result, None]:
    """Thread ``t`` of ``system`` as a scheduler path (the program's resources must be
    ``system.locks``): it yields each step's point; the scheduler takes it on the
    locks and sends its result; the path does drm_exec's bookkeeping."""
    th = system.threads[t]
    while (p := system.point(t)) is not None:
        result = yield p
        system._advance(th, p, result)


def check_drmexec(s: DrmExecSystem) -> None:
    """The model's own invariants (notes inv. 36), after every step.

    ExclusionInv: an owned object is in its owner's list and only there;
    OnceInv: no object twice in a list; AllHeldInv: at ``done`` the list holds
    exactly the wanted set; BackoffInv: a thread on the slow path holds
    nothing; RefInv: an object's references are its holders
    plus the threads it is contended for; BaselineInv: all ended -> nothing
    locked, no reference; CtxInv: a live context's acquired locks are its
    list; DeadlockFreeInv: some thread can step, or every one has ended (the
    wait-for cycle is the witness).
    """
    for o, m in s.locks.items():
        holders = [t for t, th in s.threads.items() if o in th.held]
        if holders != ([m.owner] if m.owner else []):
            raise InvariantViolation("ExclusionInv", f"{o}: owner {m.owner or 'nobody'}, "
                                     f"listed by {holders or 'nobody'}")
        expect = len(holders) + sum(th.contended == o for th in s.threads.values())
        if s.refs[o] != expect:
            raise InvariantViolation("RefInv", f"{o}: {s.refs[o]} drm_exec reference(s), "
                                     f"expected {expect}")
    for t, th in s.threads.items():
        if th.pc == "slow" and th.held:
            raise InvariantViolation("BackoffInv", f"{t} waits for {th.contended} on the slow "
                                     f"path holding {th.held}, expected nothing")
        if len(set(th.held)) != len(th.held):
            raise InvariantViolation("OnceInv", f"{t} lists {th.held}")
        if th.pc == "done" and set(th.held) != set(th.want):
            raise InvariantViolation("AllHeldInv", f"{t} left the loop holding {th.held}, "
                                     f"expected {sorted(set(th.want))}")
        c = s._ctx(t)
        if c is not None and sorted(c.acquired) != sorted(th.held):
            raise InvariantViolation("CtxInv", f"{t}: the context holds {c.acquired}, "
                                     f"drm_exec lists {th.held}")
    live = [t for t, th in s.threads.items() if th.pc != "end"]
    if not live:
        if any(s.refs.values()) or any(m.owner for m in s.locks.values()):
            raise InvariantViolation("BaselineInv", "every thread ended with "
                                     f"references {s.refs} and locks held")
        return
    if not s.enabled():
        waits = []
        for t in live:
            p = s.point(t)
            assert p is not None
            waits.append(f"{t} -> {p.obj} -> {s.locks[p.obj].owner}")
        raise InvariantViolation("DeadlockFreeInv", "no thread can step: " + ", ".join(waits))


def check_drmexec_step(before: Mapping[str, Any], action: str, args: Mapping[str, Any],
                       result: Any, after: Mapping[str, Any]) -> None:
    """The contract of one step of thread ``args["thread"]``."""
    t = args["thread"]
    for var in ("pc", "held", "idx", "contended", "pre", "stamp", "rounds"):
        others = {u: v for u, v in after[var].items() if u != t}
        if others != {u: v for u, v in before[var].items() if u != t}:
            raise InvariantViolation("StepInv", f"{action}({t}) changed another thread's {var}")
    changed = {o for o in after["owner"] if after["owner"][o] != before["owner"][o]}
    if any(before["owner"][o] not in ("", t) or after["owner"][o] not in ("", t)
           for o in changed) or len(changed) > 1:
        raise InvariantViolation("StepInv", f"{action}({t}) moved the locks {sorted(changed)}")
    wounded = {u for u in after["wounded"]
               if u != t and after["wounded"][u] != before["wounded"][u]}
    if wounded and (result not in ("wound", "EDEADLK") or len(wounded) > 1
                    or any(not after["wounded"][u] for u in wounded)):
        raise InvariantViolation("StepInv", f"{action}({t}) changed the wound marks of "
                                 f"{sorted(wounded)} (result {result!r})")
    if result == "wound" and (changed or after["pc"][t] != before["pc"][t]):
        raise InvariantViolation("StepInv", f"{action}({t}) wounded and moved on")
