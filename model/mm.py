"""The CPU side of a userptr: an mm, its VMAs and pages, and its interval notifiers.

An :class:`Mm` is one process address space at page granularity: CPU VMAs
(``[start, end)`` page ranges), a CPU page table mapping each mapped page
to a physical *frame*, and the frames' contents -- plain integers, so that a
write that lands on the wrong frame, or a read of a freed one, shows.  A
frame is live while a page maps it; a change of backing frees the old one
(it may be handed out again, and ``freed`` remembers every frame ever
freed so a stale access is visible).

Changes of backing, each an *invalidation* of the pages it touches
(``MMU_NOTIFY_*`` events) bracketed by ``invalidate_range_start`` and
``invalidate_range_end`` (:meth:`Mm.begin` and :meth:`Mm.end`):

``munmap``   (``unmap``)   the pages and their VMA part are gone;
``remap``    (``clear``)   each page gets a new frame holding a copy (mremap to
                           new pages, or a COW break);
``migrate``  (``migrate``) each page gets a new frame holding a copy (NUMA or
                           device migration to a new pfn).

The *interval notifiers* (``mmu_interval_notifier``) are the mm's
subscriptions; their sequence protocol, as mm/mmu_notifier.c documents it:

* the mm's ``invalidate_seq`` is odd exactly while an invalidation runs
  (:meth:`Mm.begin` makes it odd, :meth:`Mm.end` even again);
* the invalidation calls every notifier whose range meets it, passing the
  odd ``cur_seq``; a callback records it with ``set_seq`` (under the
  driver's lock), so the notifier's own seq equals the mm's while that
  invalidation runs;
* ``read_begin`` returns the notifier's seq, but cannot proceed while it
  equals the mm's (an invalidation of it is running:
  :class:`~model.errors.Busy` -- a scheduler path waits there);
* ``read_retry(seq)`` is true iff the notifier's seq is no longer ``seq``
  (an invalidation started since ``read_begin``).

A notifier inserted while no invalidation runs gets ``mm seq - 1`` (odd,
never equal to the mm's next one); inserted during one, the mm's seq (so
its first ``read_begin`` waits that invalidation out).

The mm's reference counts (``mm_users``, ``mm_count``) balance
``mmget``/``mmput`` and ``mmgrab``/``mmdrop``; a notifier holds an
``mmgrab``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from model.errors import Busy, Fault, InvalidArgument, NotFound

EVENTS = ("unmap", "clear", "migrate")


@dataclass
class Notifier:
    """One ``mmu_interval_notifier``: pages ``[start, end)``, its seq."""

    name: str
    start: int
    end: int
    seq: int

    def covers(self, page: int) -> bool:
        return self.start <= page < self.end


@dataclass
class Invalidation:
    """An invalidation in progress: its event, its pages, the notifiers left to call."""

    event: str
    pages: tuple[int, ...]
    pending: list[str] = field(default_factory=list)
    called: list[str] = field(default_factory=list)
    blockable: bool = True


@dataclass
class Mm:
    """One ``mm_struct`` at page granularity."""

    vmas: list[tuple[int, int]] = field(default_factory=list)
    pte: dict[int, int] = field(default_factory=dict)
    mem: dict[int, int] = field(default_factory=dict)
    freed: set[int] = field(default_factory=set)
    next_frame: int = 1
    seq: int = 2
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    inv: Invalidation | None = None
    users: int = 1
    count: int = 1

    # ------------------------------------------------------------ pages

    @classmethod
    def with_pages(cls, pages: int, first_frame: int = 1, value: int | None = None,
                   seq: int = 2) -> Mm:
        """An mm with one VMA over pages ``0 .. pages-1``, page p on frame
        ``first_frame + p`` holding ``value`` (by default a distinct one, 100 + p);
        its invalidate seq starts at ``seq`` (even)."""
        mm = cls(vmas=[(0, pages)], next_frame=first_frame, seq=seq)
        for p in range(pages):
            mm.pte[p] = mm._new_frame(100 + p if value is None else value)
        return mm

    def _new_frame(self, value: int) -> int:
        f = self.next_frame
        self.next_frame += 1
        self.mem[f] = value
        return f

    def frame(self, page: int) -> int:
        """The frame backing ``page``; -EFAULT if it is not mapped."""
        f = self.pte.get(page)
        if f is None:
            raise Fault(f"page {page} is not mapped")
        return f

    def cpu_write(self, page: int, value: int) -> None:
        self.mem[self.frame(page)] = value

    def cpu_read(self, page: int) -> int:
        return self.mem[self.frame(page)]

    # ---------------------------------------------------- invalidations

    @property
    def invalidating(self) -> bool:
        return self.seq % 2 == 1

    def begin(self, event: str, pages: tuple[int, ...], blockable: bool = True) -> Invalidation:
        """``invalidate_range_start``: the seq goes odd; every notifier meeting the pages
        is to be called."""
        if event not in EVENTS:
            raise InvalidArgument(f"event {event!r} (events: {', '.join(EVENTS)})")
        if self.inv is not None:
            raise Busy("an invalidation is running (one at a time in this model)")
        if not pages or any(p not in self.pte for p in pages):
            raise Fault(f"pages {list(pages)} are not all mapped")
        self.seq += 1
        hit = [n.name for n in self.notifiers.values() if any(n.covers(p) for p in pages)]
        self.inv = Invalidation(event, tuple(pages), sorted(hit), [], blockable)
        return self.inv

    def change(self) -> list[int]:
        """The CPU page-table change itself, once every callback returned: the old
        frames, now freed."""
        inv = self.inv
        if inv is None or inv.pending:
            raise Busy("no invalidation whose callbacks all returned")
        old = [self.pte[p] for p in inv.pages]
        for p in inv.pages:
            f = self.pte.pop(p)
            if inv.event != "unmap":
                self.pte[p] = self._new_frame(self.mem[f])
        if inv.event == "unmap":
            self._cut(set(inv.pages))
        for f in old:      # freed: its content is gone (reset to 0), it is never reused
            self.freed.add(f)
            self.mem[f] = 0
        return old

    def end(self) -> None:
        """``invalidate_range_end``: the seq goes even; waiters of ``read_begin`` go on."""
        if self.inv is None or self.inv.pending:
            raise Busy("no invalidation to end")
        self.inv = None
        self.seq += 1

    def _cut(self, pages: set[int]) -> None:
        out: list[tuple[int, int]] = []
        for a, b in self.vmas:
            run = [p for p in range(a, b) if p not in pages]
            for p in run:
                if out and out[-1][1] == p and out[-1][0] >= a:
                    out[-1] = (out[-1][0], p + 1)
                else:
                    out.append((p, p + 1))
        self.vmas = out

    # ------------------------------------------------------ notifiers

    def insert(self, name: str, start: int, end: int) -> Notifier:
        """``mmu_interval_notifier_insert``; it takes an ``mmgrab``."""
        if name in self.notifiers:
            raise InvalidArgument(f"notifier {name} is inserted already")
        if not 0 <= start < end:
            raise InvalidArgument(f"[{start}, {end}) is empty")
        n = Notifier(name, start, end, self.seq if self.invalidating else self.seq - 1)
        self.notifiers[name] = n
        self.count += 1
        return n

    def remove(self, name: str) -> None:
        """``mmu_interval_notifier_remove``: not while its invalidation runs (the kernel
        waits it out); it drops the ``mmgrab``."""
        if name not in self.notifiers:
            raise NotFound(f"no notifier {name}")
        if self.notifiers[name].seq == self.seq:
            raise Busy(f"an invalidation of {name} is running")
        del self.notifiers[name]
        self.count -= 1

    def read_begin(self, name: str) -> int:
        """``mmu_interval_read_begin``: the notifier's seq, once no invalidation of it
        runs (-EBUSY: the caller must wait)."""
        n = self.notifiers[name]
        if n.seq == self.seq:
            raise Busy(f"an invalidation of {name} is running")
        return n.seq

    def read_retry(self, name: str, seq: int) -> bool:
        """``mmu_interval_read_retry``: did an invalidation start since ``seq``?"""
        return self.notifiers[name].seq != seq

    def set_seq(self, name: str, cur_seq: int) -> None:
        """``mmu_interval_set_seq``, from a callback."""
        self.notifiers[name].seq = cur_seq

    def called(self, name: str) -> None:
        """The invalidation's callback of ``name`` returned."""
        inv = self.inv
        if inv is None or name not in inv.pending:
            raise Busy(f"no call of {name} is pending")
        inv.pending.remove(name)
        inv.called.append(name)

    # --------------------------------------------------------- refs

    def mmget_not_zero(self) -> bool:
        if self.users == 0:
            return False
        self.users += 1
        return True

    def mmput(self) -> None:
        if self.users <= 0:
            raise InvalidArgument("mmput of an mm with no users")
        self.users -= 1

    def to_json(self) -> dict[str, Any]:
        return {"vmas": [list(v) for v in self.vmas],
                "pte": {str(p): f for p, f in sorted(self.pte.items())},
                "mem": {str(f): v for f, v in sorted(self.mem.items())},
                "freed": sorted(self.freed), "next": self.next_frame, "seq": self.seq,
                "notifiers": {n.name: [n.start, n.end, n.seq]
                              for n in sorted(self.notifiers.values(), key=lambda n: n.name)},
                "inv": None if self.inv is None else {
                    "event": self.inv.event, "pages": list(self.inv.pages),
                    "pending": list(self.inv.pending), "called": list(self.inv.called),
                    "blockable": self.inv.blockable},
                "users": self.users, "count": self.count}

    @staticmethod
    def from_json(d: Any) -> Mm:
        inv = d["inv"]
        return Mm([(int(a), int(b)) for a, b in d["vmas"]],
                  {int(p): int(f) for p, f in d["pte"].items()},
                  {int(f): int(v) for f, v in d["mem"].items()},
                  {int(f) for f in d["freed"]}, int(d["next"]), int(d["seq"]),
                  {str(k): Notifier(str(k), int(a), int(b), int(s))
                   for k, (a, b, s) in d["notifiers"].items()},
                  None if inv is None else Invalidation(
                      str(inv["event"]), tuple(int(p) for p in inv["pages"]),
                      [str(x) for x in inv["pending"]], [str(x) for x in inv["called"]],
                      bool(inv["blockable"])),
                  int(d["users"]), int(d["count"]))
