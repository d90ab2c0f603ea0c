"""A concurrent program whose threads drive a front-end model's actions.

:class:`ModelProgram` is a :class:`~model.program.KernelProgram` over one
model system (``world.vars["system"]``): threads take the kernel's locks
as scheduler points and call the model's ioctl-level actions between them
(:meth:`ModelProgram.act`), each action atomic and one interleaving point
(a write of the model's state, for the partial-order reduction).  Before an
action a thread may assert a lock (``lockdep_assert_held``, as the driver's
code does at that place): the lock checker then fails the run if the
calling thread does not hold it.  The model's own invariants run after
every step; the lock checker (``model.lock_table``) is on in every run.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

from model.actions import Vocabulary
from model.errors import GpuVmError
from model.lock_table import checker
from model.program import KernelProgram, World
from model.sched import Point, Result

Gen = Generator[Point, Result, Any]


class ModelProgram(KernelProgram):
    """Threads calling ``vocabulary``'s actions on ``world.vars["system"]``."""

    def __init__(self, name: str, make: Callable[[ModelProgram], World],
                 invariant: Callable[[Any], None], vocabulary: Vocabulary,
                 orders: Sequence[str], classes: Mapping[str, str]) -> None:
        super().__init__(name, lambda: make(self),
                         lambda w: invariant(w.vars["system"]),
                         checker=lambda: checker(tuple(orders), classes=dict(classes)))
        self.vocabulary = vocabulary

    def act(self, who: str, action: str, *, held: Sequence[str] = (),
            **args: Any) -> Gen:
        """``action(**args)`` by the thread ``who`` after asserting ``held``: its result, or
        the errno name it raised (the model left the state as it was)."""
        for lock in held:
            yield Point("assert_held", lock, label=f"lockdep_assert_held({lock})")
        shown = ", ".join(f"{k}={v}" for k, v in args.items() if k != "thread")
        yield Point("write", f"{self.vocabulary.system} state", "w",
                    label=f"{action}({shown})")
        try:
            return self.vocabulary.perform(self.world.vars["system"], action, dict(args))
        except GpuVmError as e:
            return e.errno_name

    @property
    def system(self) -> Any:
        return self.world.vars["system"]
