"""Drawing a userptr trace: a timeline of the threads, then what the step changed.

One column per thread the mode uses (``worker`` in lr, ``exec`` in dmafence,
``fault`` in fault mode); the thread that stepped shows its action, a thread
whose place changed under it shows where it is now (a kernel thread's pc,
the mm's state, the GPU job's), the others ``|``.  The Init state prints the
thread names and where each starts; below each row, one line per part of the
state that changed::

    mm                  bind           worker         pt     gpu
    idle                start          idle           |      running
    bind pc start u1 seq 0 got -
    cpu 0->0 1->1 2->2
    ...
    |                   PinFault u1    |              |      |
    bind pc map u1 seq -1 got 0->0 1->1
    ...
    Notify u1           |              |              |      |
    mm seq 1 inv page 1 (unmap) cb u1:wait u2:todo  (1 inv)
    seqs notifier u1=1 u2=-1 userptr u1=-1 u2=never bind u1=-1 u2=never
    lists invalidated {u1} repin {} rebind {}
    ...
    FenceWait u1        |              |              |      preempted
    mm seq 1 inv page 1 (unmap) cb u1:done u2:todo  (1 inv)
    job preempted uses {} execs 0

The renderer remembers the mode of the trace it was last given (``title`` or
``view``, which ``text`` and ``page`` call first); without one it draws every
thread.  A state from TLC may hold maps as ``[key, value]`` pairs; both are read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from checks.render import PlainRenderer
from checks.traces import Step, Trace

WIDTH = {"mm": 19, "bind": 14, "worker": 14, "fault": 14, "exec": 14, "pt": 6, "gpu": 15}
MODE_THREAD = {"lr": "worker", "dmafence": "exec", "fault": "fault"}
KTHREADS = ("bind", "worker", "fault", "exec")
THREAD_KEYS = ("pc", "cur", "tseq", "got")
MM_ACTIONS = {"InvStart", "Notify", "FenceWait", "Zap", "CpuUpdate", "InvEnd"}
OWNER = {"WorkerStart": "worker", "Resume": "worker", "ExecBegin": "exec", "Arm": "exec",
         "FaultBegin": "fault", "FaultDone": "fault", "PtRun": "pt", "JobStart": "gpu",
         "JobDone": "gpu", "GpuAccess": "gpu"}
NEVER = -2
SEQS = (("notifier", "nseq"), ("userptr", "useq"), ("bind", "bindSeq"))


def _key(k: Any) -> tuple[int, int, str]:  # pages and frames in numeric order
    return (0, int(k), "") if str(k).lstrip("-").isdigit() else (1, 0, str(k))


def _d(x: Any) -> dict[str, Any]:
    """A map: a JSON object, or the ``[key, value]`` pairs of an ITF ``#map``."""
    return {str(k): v for k, v in (x.items() if isinstance(x, dict) else x or ())}


def _set(x: Any) -> str:
    return "{" + " ".join(sorted(map(str, x or ()), key=_key)) + "}"


def _map(x: Any, arrow: str = "->") -> str:
    pairs = sorted(_d(x).items(), key=lambda kv: _key(kv[0]))
    return " ".join(f"{k}{arrow}{'-' if v == -1 else v}" for k, v in pairs) or "-"


def _seqs(x: Any) -> str:
    return " ".join(f"{u}={'never' if v == NEVER else v}" for u, v in _d(x).items()) or "-"


def thread_of(step: Step) -> str:
    if step.action in MM_ACTIONS:
        return "mm"
    return str(step.args["t"]) if "t" in step.args else OWNER.get(step.action) or \
        step.thread or "?"


def label(step: Step) -> str:
    a = step.args
    if step.action == "GpuAccess":
        rw = {"r": "read", "w": "write"}.get(str(a.get("rw")), str(a.get("rw")))
        return f"{rw} {a.get('u')}:{a.get('p')} gt{a.get('g')}"
    return " ".join([step.action, *(str(v) for k, v in a.items() if k != "t")])


def _where(st: dict[str, Any], t: str) -> Any:
    """Where thread ``t`` is: a kernel thread's pc, the mm's state, the GPU job's."""
    if t == "mm":
        return _d(st.get("mm")).get("st")
    if t == "gpu":
        return st.get("job")
    return None if t == "pt" else _d(st.get("pc")).get(t)


def _mm(st: dict[str, Any]) -> str:
    m = _d(st.get("mm"))
    cb = " ".join(f"{u}:{s}" for u, s in _d(m.get("cb")).items())
    inv = "idle" if m.get("st", "idle") == "idle" else \
        f"inv page {m.get('page')} ({m.get('ev')})" + (" changed" if m.get("st") == "end" else "")
    return f"mm seq {st.get('mmSeq')} {inv}" + (f" cb {cb}" if inv != "idle" else "") + \
        f"  ({st.get('invCount', 0)} inv)"


def _job(j: Any) -> str:
    j = _d(j)
    return (f"{j.get('u')} {'fenced' if j.get('fenced') else 'unfenced'} seq {j.get('seq')} "
            f"at {j.get('at')}" + (" listed" if j.get("listed") else "") +
            f" by {j.get('by')} map {_map(j.get('map'))}")


def _gpu(st: dict[str, Any]) -> str:
    pte = " ".join(f"({u},{p})->{f}" for u, p, f in st.get("gpuPte") or ()) or "-"
    tlb = " ".join(f"gt{g} ({u},{p})->{f}" for g, u, p, f in st.get("tlb") or ()) or "-"
    return f"gpu pte {pte}  tlb {tlb}"


def _dma(st: dict[str, Any]) -> str:
    dma = " ".join(f"{e[0]}@{e[1]}" + (f"x{e[2]}" if len(e) > 2 and e[2] != 1 else "")
                   for e in st.get("dma") or ()) or "-"
    return "pinned " + "  ".join(f"{u} {_map(m)}" for u, m in _d(st.get("pinned")).items()) + \
        f"  dma {dma}"


PARTS: tuple[tuple[tuple[str, ...], Callable[[dict[str, Any]], str]], ...] = (
    (("vmLock", "nl"), lambda st: f"locks vm->lock={st.get('vmLock') or '-'} nl="
                                  f"{st.get('nl') or '-'}"),
    (("mm", "mmSeq", "invCount"), _mm),
    (("nseq", "useq", "bindSeq"), lambda st: "seqs " + " ".join(
        f"{n} {_seqs(st.get(k))}" for n, k in SEQS)),
    (("cpuPte",), lambda st: f"cpu {_map(st.get('cpuPte'))}"),
    (("mem", "nextFrame", "expect"), lambda st: f"mem {_map(st.get('mem'), '=')} (next "
        f"{st.get('nextFrame')})  expect {_map(st.get('expect'), '=')}"),
    (("pinned", "dma"), _dma),
    (("invalidated", "repin", "rebind"), lambda st: " ".join(
        ["lists"] + [f"{k} {_set(st.get(k))}" for k in ("invalidated", "repin", "rebind")])),
    (("initialBind", "vmBound", "failed", "zapped"), lambda st: "bound initial " + " ".join(
        [_set(u for u, b in _d(st.get("initialBind")).items() if b)] +
        [f"{n} {_set(st.get(k))}" for n, k in (("vm", "vmBound"), ("failed", "failed"),
                                               ("zapped", "zapped"))])),
    (("ptq",), lambda st: f"ptq [{', '.join(_job(j) for j in st.get('ptq') or ())}]"),
    (("gpuPte", "tlb"), _gpu),
    (("job", "deps", "jobUses", "nexec"), lambda st: (
        f"job {st.get('job')}" + (f" deps {st['deps']}" if st.get("deps") else "") +
        f" uses {_set(st.get('jobUses'))} execs {st.get('nexec', 0)}")),
)
KNOWN = {k for keys, _ in PARTS for k in keys} | {
    "pc", "cur", "tseq", "got", "badRead", "freedTouch", "extra", "lastErr"}


class UserptrRenderer(PlainRenderer):
    """A timeline row per step, then the parts of the state that changed."""

    mode: str | None = None  # the mode of the trace last given to title() or view()

    def title(self, trace: Trace) -> str:
        c = trace.config
        self.mode = c.get("mode") if c.get("mode") in MODE_THREAD else None
        ranges = " ".join(f"{u}=[{r[0]},{r[1]})" for u, r in _d(c.get("userptrs")).items())
        gts = " ".join(map(str, c.get("gts") or ()))
        return (f"userptr ({c.get('profile', 'upstream')}, {c.get('mode', '?')} mode, "
                f"{c.get('pages', '?')} page(s), {ranges or '-'}, GTs {gts or '-'})")

    def view(self, trace: Trace) -> Any:
        self.title(trace)
        return None

    def columns(self, step: Step) -> list[str]:
        mid = [MODE_THREAD[self.mode]] if self.mode else ["worker", "fault", "exec"]
        cols = ["mm", "bind", *mid, "pt", "gpu"]
        actor = thread_of(step)
        if step.index and actor not in cols:
            cols.insert(len(cols) - 2, actor)
        return cols

    def lines(self, step: Step, prev: Step | None) -> list[str]:
        st, before = step.state, (prev.state if prev is not None else None)
        cols = self.columns(step)
        actor = thread_of(step) if prev is not None else None
        out: list[str] = []

        def draw(what: str, fn: Callable[[], list[str]]) -> None:
            try:
                out.extend(fn())
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
                out.append(f"    ({what}: cannot draw: {type(e).__name__}: {e})")

        def row(cells: list[str]) -> str:
            return "    " + " ".join(c.ljust(WIDTH.get(t, 14))
                                     for t, c in zip(cols, cells, strict=True)).rstrip()

        def cell(t: str) -> str:
            try:
                now = _where(st, t)
                moved = now is not None and (before is None or _where(before, t) != now)
                return str(now) if moved else "|"
            except (TypeError, ValueError, AttributeError):
                return "?"

        def timeline() -> list[str]:
            cells = [label(step) if t == actor else cell(t) for t in cols]
            return ([row(cols)] if before is None else []) + [row(cells)]

        def thread(t: str) -> list[str]:
            old = {k: _d(before.get(k)).get(t) for k in THREAD_KEYS} \
                if before is not None else None
            now = {k: _d(st.get(k)).get(t) for k in THREAD_KEYS}
            if now == old or (t not in cols and t != actor) or (old is None and not now["cur"]):
                return []
            return [f"    {t} pc {now['pc']} {now['cur'] or '-'} seq {now['tseq']} "
                    f"got {_map(now['got'])}"]

        draw("timeline", timeline)
        draw("threads", lambda: [line for t in KTHREADS for line in thread(t)])
        for keys, part in PARTS:
            if any(k in st for k in keys) and (before is None or any(
                    st.get(k) != before.get(k) for k in keys)):
                draw("/".join(keys), partial(lambda f: ["    " + f(st)], part))
        for key, what in (("badRead", "BAD READ"), ("freedTouch", "sg built from a freed frame")):
            if st.get(key) and (before is None or not before.get(key)):
                out.append(f"    {what}")
        for k, v in st.items():
            if k not in KNOWN and (before is None or before.get(k) != v):
                out.append(f"    {k} = {json.dumps(v)}")
        return out


RENDERER = UserptrRenderer()
